// depthwise_simd.h - integer depthwise convolution with 128-bit SIMD, for
// the engine (native SSE4.2, browser SIMD128): the table's
// depthwise_conv2d_s8_simd128. Engine-only: the same integers as
// dmc_depthwise_conv2d_s8_run (sums of exact products, in any order),
// which tests compare it with on every shape and bit width.
//
// The plain kernel walks one channel at a time through a window of
// usually nine taps, unpacking each weight where it is used. In NHWC the
// channels of one pixel are contiguous, so this one runs eight channels at
// once: their weights are unpacked once per call into int16 lanes, two
// taps interleaved ([w_t c, w_t+1 c] per channel), so that one pairwise
// multiply-add gives every channel's two products, summed, in an int32
// lane. The input is read as 8 bytes per tap, widened, and interleaved the
// same way; a tap in the padding reads the input zero point, which the
// folded bias cancels (dmc_arith.h rule 4). Channels past the last whole
// group of eight, and windows of more than kMaxTaps taps, go through the
// plain accumulator. No scratch: the unpacked weights of one group live
// on the stack (kMaxTaps / 2 pairs of two vectors).
#pragma once

#include "simd/dot_simd.h"

#if DMC_SIMD128

#include "dmc_depthwise.h"

namespace dmc {
namespace simd {

#if defined(__wasm_simd128__)
inline V interleave16_high(V a, V b) { // a4 b4 a5 b5 a6 b6 a7 b7 (16-bit lanes)
    return wasm_i8x16_shuffle(a, b, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}
inline V splat16(int16_t v) { return wasm_i16x8_splat(v); }
inline V load_i32x4(const int32_t *p) { return wasm_v128_load(p); }
inline void store_i32x4(int32_t *p, V v) { wasm_v128_store(p, v); }
#else
inline V interleave16_high(V a, V b) { return _mm_unpackhi_epi16(a, b); }
inline V splat16(int16_t v) { return _mm_set1_epi16(v); }
inline V load_i32x4(const int32_t *p) { return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p)); }
inline void store_i32x4(int32_t *p, V v) { _mm_storeu_si128(reinterpret_cast<__m128i *>(p), v); }
#endif

constexpr int kMaxTaps = 25; // up to 5 x 5 windows; larger ones run the plain way

// The weights of channels c0..c0+7, two taps per pair: pair[j][0] holds
// channels 0-3 of taps 2j and 2j+1 interleaved, pair[j][1] channels 4-7.
// An odd last tap is paired with zero weights. dy, dx: each tap's place in
// the window (set once, so that the pixel loop does not divide).
struct DepthwiseGroup {
    V pair[(kMaxTaps + 1) / 2][2];
    int32_t dy[kMaxTaps], dx[kMaxTaps];
};

inline void unpack_group(const dmc_depthwise_conv2d_s8 *p, int32_t c0, DepthwiseGroup *g) {
    const int32_t taps = p->kernel * p->kernel;
    const size_t row = size_t(dmc_row_bytes(taps, p->bits));
    alignas(16) int16_t w[kMaxTaps + 1][8] = {};
    for (int32_t c = 0; c < 8; ++c) {
        const uint8_t *r = p->weights + size_t(c0 + c) * row;
        for (int32_t t = 0; t < taps; ++t) w[t][c] = int16_t(dmc_packed_get(r, t, p->bits));
    }
    for (int32_t t = 0; t < taps; ++t) {
        g->dy[t] = t / p->kernel;
        g->dx[t] = t % p->kernel;
    }
    for (int32_t j = 0; 2 * j < taps; ++j) {
        const V a = load16(w[2 * j]), b = load16(w[2 * j + 1]);
        g->pair[j][0] = interleave16(a, b);
        g->pair[j][1] = interleave16_high(a, b);
    }
}

// Tap t's eight input channels at output pixel (oy, ox) as int16 lanes:
// the input, or the zero point where the tap falls in the padding.
inline V tap_input(const dmc_depthwise_conv2d_s8 *p, const int8_t *in, const DepthwiseGroup &g, int32_t c0,
                   int32_t oy, int32_t ox, int32_t t, V zero_point) {
    const int32_t iy = oy * p->stride - p->padding + g.dy[t];
    const int32_t ix = ox * p->stride - p->padding + g.dx[t];
    if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) return zero_point;
    return widen_low(load8(in + (size_t(iy) * size_t(p->in_w) + size_t(ix)) * size_t(p->channels) + size_t(c0)));
}

// The accumulators of channels c0..c0+7 at (oy, ox), bias included.
inline void group_accumulators(const dmc_depthwise_conv2d_s8 *p, const int8_t *in, const DepthwiseGroup &g,
                               int32_t c0, int32_t oy, int32_t ox, int32_t acc[8]) {
    const int32_t taps = p->kernel * p->kernel;
    const V zp = splat16(int16_t(p->input_zero_point));
    V lo = load_i32x4(p->bias + c0), hi = load_i32x4(p->bias + c0 + 4);
    for (int32_t j = 0; 2 * j < taps; ++j) {
        const V a = tap_input(p, in, g, c0, oy, ox, 2 * j, zp);
        const V b = 2 * j + 1 < taps ? tap_input(p, in, g, c0, oy, ox, 2 * j + 1, zp) : zero();
        lo = add32(lo, madd(interleave16(a, b), g.pair[j][0]));
        hi = add32(hi, madd(interleave16_high(a, b), g.pair[j][1]));
    }
    store_i32x4(acc, lo);
    store_i32x4(acc + 4, hi);
}

// Calls emit(element, channel, acc) for every accumulator of the layer's
// output (element: the index in the out_h x out_w x channels tensor).
template <typename Emit>
inline void depthwise_each_accumulator(const dmc_depthwise_conv2d_s8 *p, const int8_t *in, Emit emit) {
    const int32_t C = p->channels;
    const int32_t grouped = p->kernel * p->kernel <= kMaxTaps ? C / 8 * 8 : 0;
    for (int32_t c0 = 0; c0 < grouped; c0 += 8) {
        DepthwiseGroup g;
        unpack_group(p, c0, &g);
        int32_t acc[8];
        for (int32_t oy = 0; oy < p->out_h; ++oy)
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                group_accumulators(p, in, g, c0, oy, ox, acc);
                const size_t at = (size_t(oy) * size_t(p->out_w) + size_t(ox)) * size_t(C) + size_t(c0);
                for (int32_t c = 0; c < 8; ++c) emit(at + size_t(c), c0 + c, acc[c]);
            }
    }
    for (int32_t oy = 0; oy < p->out_h; ++oy)
        for (int32_t ox = 0; ox < p->out_w; ++ox)
            for (int32_t c = grouped; c < C; ++c)
                emit((size_t(oy) * size_t(p->out_w) + size_t(ox)) * size_t(C) + size_t(c), c,
                     dmc_depthwise_conv2d_s8_accumulator(p, in, oy, ox, c));
}

} // namespace simd

inline void depthwise_conv2d_s8_simd128(const dmc_depthwise_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *,
                                        int64_t) {
    simd::depthwise_each_accumulator(p, in, [&](size_t e, int32_t c, int32_t acc) {
        out[e] = dmc_requantize(acc, p->multiplier[c], p->shift[c], p->output_zero_point, p->act_min, p->act_max);
    });
}

inline void depthwise_conv2d_s8_accumulators_simd128(const dmc_depthwise_conv2d_s8 *p, const int8_t *in,
                                                     int32_t *acc, int8_t *, int64_t) {
    simd::depthwise_each_accumulator(p, in, [&](size_t e, int32_t, int32_t a) { acc[e] = a; });
}

} // namespace dmc

#endif // DMC_SIMD128
