// one_channel.h - what both SIMD one-input-channel convolutions (the 128-bit
// one in conv_one_channel.h, the AVX2 one in avx2.cpp) set up: when they
// apply, the weights as tap pairs, and the input rows widened. Plain C++,
// internal linkage (static), as conv_gather.h: avx2.cpp is compiled for
// another instruction set and must share no code through the linker.
//
// With one input channel a receptive field is only kernel x kernel values
// (25 for 5x5, padded to 32), so gathering fields costs as much as the dot
// products. These kernels gather nothing: the kernel's input rows are
// widened to int16 once per output row (padding columns and rows hold the
// input zero point, which is what a gathered field holds there), and each
// tap pair (kx, kx + 1) of a row is one pairwise multiply-add over several
// output pixels at once,
//     lanes (x[o + kx], x[o + kx + 1]) for o = ox, ox + 1, ..., times the
//     broadcast pair (w[kx], w[kx + 1]),
// shared by eight output channels (an odd kernel's last tap pairs with a
// zero weight). The weights are unpacked to their values once per call, so
// every bit width runs the same loop. Stack only: no scratch.
#pragma once

#include <cstdint>

#include "dmc_conv2d.h"

// The stack buffers' limits; a layer beyond them takes the gathering path.
constexpr int32_t kOneChannelMaxKernel = 7;
constexpr int32_t kOneChannelMaxOut = 32;   // output channels
constexpr int32_t kOneChannelMaxRow = 512;  // a padded input row, in values, slack included
constexpr int32_t kOneChannelSlack = 16;    // values past the padded row that the last pixels' loads reach
constexpr int32_t kOneChannelMaxPairs = kOneChannelMaxOut * kOneChannelMaxKernel * ((kOneChannelMaxKernel + 1) / 2);

static inline bool one_channel_applies(const dmc_conv2d_s8 *p) {
    return p->in_c == 1 && p->stride == 1 && p->kernel <= kOneChannelMaxKernel && p->out_c <= kOneChannelMaxOut &&
           p->in_w + 2 * p->padding + kOneChannelSlack <= kOneChannelMaxRow;
}

// The int16 values of a padded input row, slack included.
static inline int32_t one_channel_row_length(const dmc_conv2d_s8 *p) {
    return p->in_w + 2 * p->padding + kOneChannelSlack;
}

// The weights as tap pairs, int16 w[kx] in the low half and w[kx + 1] in
// the high half, grouped by eight output channels: group g, kernel row ky,
// pair q, then the eight channels side by side. The channels past out_c
// and the tap past an odd kernel are zero.
static inline void one_channel_pairs(const dmc_conv2d_s8 *p, int32_t *pairs) {
    const int32_t k = p->kernel, per_row = (k + 1) / 2, groups = (p->out_c + 7) / 8;
    const int32_t row_bytes = dmc_row_bytes(k * k, p->bits);
    for (int32_t g = 0; g < groups; ++g)
        for (int32_t ky = 0; ky < k; ++ky)
            for (int32_t q = 0; q < per_row; ++q)
                for (int32_t j = 0; j < 8; ++j) {
                    const int32_t oc = 8 * g + j, kx = 2 * q;
                    const uint8_t *w = p->weights + size_t(oc) * size_t(row_bytes);
                    const int32_t lo = oc < p->out_c ? dmc_packed_get(w, ky * k + kx, p->bits) : 0;
                    const int32_t hi = oc < p->out_c && kx + 1 < k ? dmc_packed_get(w, ky * k + kx + 1, p->bits) : 0;
                    pairs[((g * k + ky) * per_row + q) * 8 + j] = int32_t((uint32_t(lo) & 0xFFFFu) | (uint32_t(hi) << 16));
                }
}

// The kernel's input rows for output row oy, widened, one_channel_row_length
// values each, padded with the input zero point (rows above and below the
// image entirely).
static inline void one_channel_rows(const dmc_conv2d_s8 *p, const int8_t *in, int32_t oy, int16_t *rows) {
    const int16_t zp = int16_t(p->input_zero_point);
    const int32_t row_len = one_channel_row_length(p);
    for (int32_t ky = 0; ky < p->kernel; ++ky) {
        int16_t *r = rows + ky * row_len;
        const int32_t iy = oy + ky - p->padding;
        for (int32_t x = 0; x < row_len; ++x) r[x] = zp;
        if (iy < 0 || iy >= p->in_h) continue;
        const int8_t *src = in + size_t(iy) * size_t(p->in_w);
        for (int32_t x = 0; x < p->in_w; ++x) r[p->padding + x] = src[x];
    }
}
