// conv_gather.h - gathers a convolution's receptive fields for the engine's
// SIMD convolutions (conv_simd.h, avx2.cpp): the same fields as
// dmc_conv2d_s8_gather's, zero-padded to whole 16-byte chunks. The
// functions have internal linkage (static): avx2.cpp is compiled for
// another instruction set, and must not share code with the rest of the
// engine through the linker.
#pragma once

#include <cstddef>
#include <cstring>

#include "dmc_conv2d.h"

namespace dmc {
// Buffers for the SIMD kernels (0: the convolution's gathered fields or the
// linear layer's padded input, 1: the convolution's padded input), the
// calling thread's own, of at least `bytes` bytes, contents unspecified,
// valid until its next call with the same `which` (defined in
// executor.cpp).
int8_t *simd_buffer(int which, int64_t bytes);
} // namespace dmc

// Every copy below moves whole 16-byte words, so it may read up to 15
// bytes past the end of what it needs and write up to 16 past it: the
// buffers have kGatherSlack bytes of slack.
constexpr int32_t kGatherSlack = 16;

// The padded input: a copy of the input with the padding written out (the
// input zero point) on every side, so that every window lies inside it;
// a copy even without padding, since the 16-byte reads may run past the
// input's end (into the copy's slack). `inside` is the layer over it,
// without padding. `buffer` holds padded_input_bytes(p) bytes.
static inline int64_t padded_input_bytes(const dmc_conv2d_s8 *p) {
    return (int64_t(p->in_h) + 2 * p->padding) * (int64_t(p->in_w) + 2 * p->padding) * p->in_c + kGatherSlack;
}

static inline const int8_t *pad_input(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *buffer,
                                      dmc_conv2d_s8 *inside) {
    *inside = *p;
    inside->in_h = p->in_h + 2 * p->padding;
    inside->in_w = p->in_w + 2 * p->padding;
    inside->padding = 0;
    const size_t row = size_t(inside->in_w) * size_t(p->in_c), edge = size_t(p->padding) * size_t(p->in_c);
    if (p->padding > 0) std::memset(buffer, p->input_zero_point, size_t(padded_input_bytes(p)));
    for (int32_t y = 0; y < p->in_h; ++y)
        std::memcpy(buffer + (size_t(y) + size_t(p->padding)) * row + edge, in + size_t(y) * (row - 2 * edge),
                    row - 2 * edge);
    return buffer;
}

// The receptive field of output pixel (oy, ox) of `inside` (no padding),
// as dmc_conv2d_s8_gather writes it, then zeros up to the next multiple of
// 16. Each row is copied in 16-byte words; a word that runs past its row is
// overwritten by the next row, and the last row's by the zeros.
static inline void gather_field(const dmc_conv2d_s8 *inside, const int8_t *in, int32_t oy, int32_t ox, int8_t *col) {
    const int32_t k = inside->kernel, c = inside->in_c, n = k * c;
    const int8_t *src = in + (size_t(oy) * size_t(inside->stride) * size_t(inside->in_w) +
                              size_t(ox) * size_t(inside->stride)) * size_t(c);
    for (int32_t ky = 0; ky < k; ++ky, src += size_t(inside->in_w) * size_t(c))
        for (int32_t i = 0; i < n; i += 16) std::memcpy(col + ky * n + i, src + i, 16);
    std::memset(col + k * n, 0, 16);
}

// The fields of kGatherPixels output pixels are gathered before any is
// read: each channel (pair) then runs over all of them with its weights and
// requantization constants set up once, and no 16-byte load comes right
// after the small stores that wrote its bytes (it would wait for them: no
// store-to-load forwarding). A multiple of DMC_CONV_BLOCK.
constexpr int32_t kGatherPixels = 64 * DMC_CONV_BLOCK;

// Gathers the fields of output pixels [first, first + count) (count <=
// kGatherPixels), `field_stride` bytes apart, into `fields`; (oy, ox) is
// pixel `first` and is stepped past the last one (no division).
static inline void gather_fields(const dmc_conv2d_s8 *p, const int8_t *in, int32_t count, int32_t field_stride,
                                 int8_t *fields, int32_t &oy, int32_t &ox) {
    for (int32_t k = 0; k < count; ++k) {
        gather_field(p, in, oy, ox, fields + k * field_stride);
        if (++ox == p->out_w) {
            ox = 0;
            ++oy;
        }
    }
}

// What both SIMD convolutions set up before their loops.
struct ConvSetup {
    dmc_conv2d_s8 inside;  // the layer over the padded input, without padding
    const int8_t *in;      // the padded input
    int32_t depth;         // values in a receptive field
    int32_t stride;        // bytes from one gathered field to the next: depth padded to whole chunks
    int32_t chunks;        // 16-value chunks in a field
    int32_t pixels;        // output pixels
    int8_t *fields;        // room for kGatherPixels fields (and the slack)
};

static inline ConvSetup conv_setup(const dmc_conv2d_s8 *p, const int8_t *in) {
    ConvSetup c;
    c.in = pad_input(p, in, dmc::simd_buffer(1, padded_input_bytes(p)), &c.inside);
    c.depth = p->kernel * p->kernel * p->in_c;
    c.stride = dmc_padded_length(c.depth);
    c.chunks = c.stride / 16;
    c.pixels = p->out_h * p->out_w;
    c.fields = dmc::simd_buffer(0, kGatherPixels * c.stride + kGatherSlack);
    return c;
}
