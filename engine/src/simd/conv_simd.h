// conv_simd.h - the integer convolution and linear layer with 128-bit
// SIMD, for the native engine (SSE4.2, where AVX2 is missing: avx2.cpp) and
// the browser (WebAssembly SIMD128): the table's ..._simd128 variants
// (kernel_table.h). Engine-only: they give the same integers as
// dmc_conv2d_s8_run and dmc_linear_s8_run (engine/kernels/), which the
// exported headers use, and tests compare them on odd shapes.
//
// dmc_conv2d_s8_run takes one output channel at a time against a block of
// four receptive fields, gathered into a small scratch just before use.
// Here the fields of as many blocks as the scratch holds are gathered at
// once (conv_gather.h), and two output channels share each widened field
// chunk (a 4-pixel x 2-channel tile of accumulators), which halves those
// loads and widenings. A layer with an odd number of output channels takes
// its last channel through dot4 alone. Also the linear layer, a row at a
// time with dot1 (its input is read in place).
#pragma once

#include <algorithm>

#include "conv_gather.h"
#include "conv_one_channel.h"
#include "dmc_linear.h"
#include "dot_simd.h"

#if DMC_SIMD128

namespace dmc {
namespace simd {

// Where the tiles of output channels oc and oc + 1 put their sums (j = 0
// or 1: which of the two), built once per channel pair so that their
// constants are set up once: requantized to the output's bytes (PairBytes)
// or, bias added, to int32 accumulators (PairAccumulators). For an odd last
// channel, oc + 1 does not exist and only j = 0 is called.
struct PairBytes {
    Requantizer requantize[2];
    V bias[2];
    int8_t *out; // channel oc's byte of pixel 0
    size_t out_c;

    PairBytes(const dmc_conv2d_s8 *p, int8_t *o, int32_t oc) : out(o + oc), out_c(size_t(p->out_c)) {
        for (int32_t j = 0; j < 2; ++j) {
            const int32_t c = oc + j < p->out_c ? oc + j : oc;
            requantize[j] = Requantizer(p->multiplier[c], p->shift[c], p->output_zero_point, p->act_min, p->act_max);
            bias[j] = set32(p->bias[c]);
        }
    }

    // The sums of pixels first .. first + 3, of which the first `count` exist.
    void operator()(int32_t j, V sums, int32_t first, int32_t count) const {
        const V r = requantize[j](add32x(sums, bias[j]));
        int8_t *o = out + size_t(first) * out_c + size_t(j);
        if (count == DMC_CONV_BLOCK) {
            store4_strided(r, o, out_c);
            return;
        }
        int32_t lanes[4];
        std::memcpy(lanes, &r, 16);
        for (int32_t k = 0; k < count; ++k) o[size_t(k) * out_c] = int8_t(lanes[k]);
    }
};

struct PairAccumulators {
    V bias[2];
    int32_t *acc;
    size_t out_c;

    PairAccumulators(const dmc_conv2d_s8 *p, int32_t *a, int32_t oc) : acc(a + oc), out_c(size_t(p->out_c)) {
        for (int32_t j = 0; j < 2; ++j) bias[j] = set32(p->bias[oc + j < p->out_c ? oc + j : oc]);
    }

    void operator()(int32_t j, V sums, int32_t first, int32_t count) const {
        int32_t lanes[4];
        const V with_bias = add32x(sums, bias[j]);
        std::memcpy(lanes, &with_bias, 16);
        int32_t *a = acc + size_t(first) * out_c + size_t(j);
        for (int32_t k = 0; k < count; ++k) a[size_t(k) * out_c] = lanes[k];
    }
};

// Chunk c of a channel's weights as int16 lanes (the low and the high
// eight), each times 2^kScaleShift<Bits> (unpack16): unpacked from the
// packed row as it goes (PackedRow), or from a copy unpacked beforehand
// (UnpackedRow).
struct Chunk16 {
    V low, high;
};
template <int Bits> struct PackedRow {
    const uint8_t *w;
    Chunk16 operator()(int32_t c) const {
        const V u = unpack16<Bits>(w + c * (16 * Bits / 8));
        return {widen_low(u), widen_high(u)};
    }
};
struct UnpackedRow {
    const Chunk16 *w;
    Chunk16 operator()(int32_t c) const { return w[c]; }
};

// The chunks of a channel pair's rows unpacked on the stack (8 KB), once
// for all the tiles of a batch of fields: deeper fields unpack per tile.
constexpr int32_t kUnpackedChunks = 128;

// The 4-pixel x 2-channel tile of fields x (stride apart) against rows w0
// and w1: the dot products of channel 0's pixels into s0, channel 1's
// into s1.
template <int Bits, typename Row>
inline void tile_sums(const int8_t *x, int32_t stride, int32_t chunks, Row w0, Row w1, V &s0, V &s1) {
    V a0[4] = {zero(), zero(), zero(), zero()}, a1[4] = {zero(), zero(), zero(), zero()};
    for (int32_t c = 0; c < chunks; ++c) {
        const Chunk16 u0 = w0(c), u1 = w1(c);
        for (int k = 0; k < 4; ++k) {
            const V xk = load16(x + k * stride + 16 * c);
            const V xl = widen_low(xk), xh = widen_high(xk);
            a0[k] = add32(a0[k], add32(madd(xl, u0.low), madd(xh, u0.high)));
            a1[k] = add32(a1[k], add32(madd(xl, u1.low), madd(xh, u1.high)));
        }
    }
    s0 = unscale<Bits>(sum4(a0[0], a0[1], a0[2], a0[3]));
    s1 = unscale<Bits>(sum4(a1[0], a1[1], a1[2], a1[3]));
}

// The convolution's tiles: for each pair of output channels oc, oc + 1,
// an Out built on `target` takes the dot products (bias not added) of
// each channel at output pixels first .. first + 3 (PairBytes). The unused
// fields of a partial last block hold stale bytes of the scratch: their
// sums are computed and never stored.
template <int Bits, typename Out, typename Target>
inline void conv2d_tiles(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *scratch, int64_t room, Target *target) {
    const ConvSetup setup = conv_setup(p, in, scratch, room);
    const int32_t depth = setup.depth, stride = setup.stride, chunks = setup.chunks, pixels = setup.pixels;
    const int32_t row_bytes = dmc_row_bytes(depth, Bits);
    const int8_t *fields = setup.fields;
    const bool unpack = chunks <= kUnpackedChunks;
    Chunk16 unpacked[2][kUnpackedChunks];
    int32_t oy = 0, ox = 0;
    for (int32_t batch = 0; batch < pixels; batch += setup.batch) {
        const int32_t batch_pixels = std::min(pixels - batch, setup.batch);
        gather_fields(setup, batch_pixels, oy, ox);
        for (int32_t oc = 0; oc < p->out_c; oc += 2) {
            const uint8_t *w = p->weights + size_t(oc) * size_t(row_bytes);
            const Out out(p, target, oc);
            if (oc + 1 == p->out_c) { // an odd last channel alone
                for (int32_t b = 0; b < batch_pixels; b += DMC_CONV_BLOCK)
                    out(0, dot4<Bits>(fields + b * stride, stride, w, depth), batch + b,
                        std::min(batch_pixels - b, int32_t(DMC_CONV_BLOCK)));
                break;
            }
            const PackedRow<Bits> w0{w}, w1{w + row_bytes};
            for (int32_t c = 0; unpack && c < chunks; ++c) unpacked[0][c] = w0(c), unpacked[1][c] = w1(c);
            for (int32_t b = 0; b < batch_pixels; b += DMC_CONV_BLOCK) {
                const int8_t *x = fields + b * stride;
                V s0, s1;
                if (unpack) tile_sums<Bits>(x, stride, chunks, UnpackedRow{unpacked[0]}, UnpackedRow{unpacked[1]}, s0, s1);
                else tile_sums<Bits>(x, stride, chunks, w0, w1, s0, s1);
                const int32_t count = std::min(batch_pixels - b, int32_t(DMC_CONV_BLOCK));
                out(0, s0, batch + b, count);
                out(1, s1, batch + b, count);
            }
        }
    }
}

template <int Bits> inline void linear_run(const dmc_linear_s8 *p, const int8_t *in, int8_t *out) {
    const int32_t row_bytes = dmc_row_bytes(p->in_features, Bits);
    for (int32_t o = 0; o < p->out_features; ++o) {
        const int32_t acc = p->bias[o] + dot1<Bits>(in, p->weights + size_t(o) * size_t(row_bytes), p->in_features);
        out[o] = int8_t(dmc_requantize(acc, p->multiplier[o], p->shift[o], p->output_zero_point, p->act_min,
                                       p->act_max));
    }
}

} // namespace simd

// The table's entries (kernel_table.h): dmc_conv2d_s8_run's and
// dmc_linear_s8_run's integers. room: the scratch's size, at least
// simd_conv2d_scratch_bytes(p); the convolution gathers as many fields at
// once as it holds (the same integers whatever the number).
// A one-channel layer takes conv_one_channel.h's path, which does not
// depend on the bit width.
inline void conv2d_s8_simd128(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room) {
    if (one_channel_applies(p)) simd::conv2d_one_channel<simd::OneChannelBytes>(p, in, out);
    else if (p->bits == 8) simd::conv2d_tiles<8, simd::PairBytes>(p, in, scratch, room, out);
    else if (p->bits == 4) simd::conv2d_tiles<4, simd::PairBytes>(p, in, scratch, room, out);
    else simd::conv2d_tiles<2, simd::PairBytes>(p, in, scratch, room, out);
}

// The int32 accumulators of the convolution, bias included (the values
// dmc_conv2d_s8_run requantizes), out_h x out_w x out_c of them into acc:
// what calibration measures.
inline void conv2d_s8_accumulators_simd128(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                           int64_t room) {
    if (one_channel_applies(p)) simd::conv2d_one_channel<simd::OneChannelAccumulators>(p, in, acc);
    else if (p->bits == 8) simd::conv2d_tiles<8, simd::PairAccumulators>(p, in, scratch, room, acc);
    else if (p->bits == 4) simd::conv2d_tiles<4, simd::PairAccumulators>(p, in, scratch, room, acc);
    else simd::conv2d_tiles<2, simd::PairAccumulators>(p, in, scratch, room, acc);
}

// No scratch: the input is read in place, its last partial chunk through
// a zeroed 16-byte copy on the stack.
inline void linear_s8_simd128(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t * /*scratch*/,
                              int64_t /*room*/) {
    if (p->bits == 8) simd::linear_run<8>(p, in, out);
    else if (p->bits == 4) simd::linear_run<4>(p, in, out);
    else simd::linear_run<2>(p, in, out);
}

} // namespace dmc

#endif // DMC_SIMD128
