// dot_simd.h - the inner dot products and the requantization of four
// outputs with 128-bit SIMD, for the native engine (x86 SSE4.2) and the
// browser (WebAssembly SIMD128): the same
// integers as the plain loops in engine/kernels/dmc_dot.h, which tests
// check on every length and bit width. Engine-only: exported headers use
// the plain loops (and the Cortex-M DSP path), not this file.
//
// Each 16-weight chunk is unpacked once into 16 int8 values (nibbles and
// crumbs shifted into the top bits of their bytes, masked and interleaved:
// see unpack16), widened to int16 and multiplied with the
// widened activations by a pairwise multiply-add into int32 lanes. The
// convolutions gather their fields zero-padded to whole chunks, and the
// engine's packed weights have a chunk of slack after the last row
// (kWeightSlackBytes), so the last chunk is read whole: its extra weights
// meet zeros.
#pragma once

#include <cstring>

#include "dmc_arith.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#define DMC_SIMD128 1
#elif defined(__SSE4_2__)
#include <nmmintrin.h>
#define DMC_SIMD128 1
#else
#define DMC_SIMD128 0
#endif

#if DMC_SIMD128

namespace dmc {
namespace simd {

#if defined(__wasm_simd128__)
using V = v128_t;
inline V load16(const void *p) { return wasm_v128_load(p); }
inline void store(void *p, V v) { wasm_v128_store(p, v); }
inline V max8(V a, V b) { return wasm_i8x16_max(a, b); }
inline V load8(const void *p) { return wasm_v128_load64_zero(p); }
inline V load4(const void *p) { return wasm_v128_load32_zero(p); }
inline V splat8(int8_t v) { return wasm_i8x16_splat(v); }
inline V and_(V a, V b) { return wasm_v128_and(a, b); }
inline V xor_(V a, V b) { return wasm_v128_xor(a, b); }
inline V sub8(V a, V b) { return wasm_i8x16_sub(a, b); }
inline V shr16(V a, int n) { return wasm_u16x8_shr(a, uint32_t(n)); }
inline V shl16(V a, int n) { return wasm_i16x8_shl(a, uint32_t(n)); }
inline V sra32(V a, int n) { return wasm_i32x4_shr(a, uint32_t(n)); }
inline V interleave8(V a, V b) { // a0 b0 a1 b1 ... a7 b7
    return wasm_i8x16_shuffle(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}
inline V interleave16(V a, V b) { // a0 b0 a1 b1 a2 b2 a3 b3 (16-bit lanes)
    return wasm_i8x16_shuffle(a, b, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}
inline V widen_low(V a) { return wasm_i16x8_extend_low_i8x16(a); }
inline V widen_high(V a) { return wasm_i16x8_extend_high_i8x16(a); }
inline V madd(V a, V b) { return wasm_i32x4_dot_i16x8(a, b); }
inline V add32(V a, V b) { return wasm_i32x4_add(a, b); }
inline V zero() { return wasm_i32x4_splat(0); }
inline int32_t sum32(V a) {
    return wasm_i32x4_extract_lane(a, 0) + wasm_i32x4_extract_lane(a, 1) +
           wasm_i32x4_extract_lane(a, 2) + wasm_i32x4_extract_lane(a, 3);
}
// [sum(a), sum(b), sum(c), sum(d)]
inline V sum4(V a, V b, V c, V d) {
    const V ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
    const V cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 1, 4, 5), wasm_i32x4_shuffle(c, d, 2, 3, 6, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 2, 4, 6), wasm_i32x4_shuffle(ab, cd, 1, 3, 5, 7));
}
inline V set32(int32_t v) { return wasm_i32x4_splat(v); }
inline V set64(int64_t v) { return wasm_i64x2_splat(v); }
inline V add32x(V a, V b) { return wasm_i32x4_add(a, b); }
// Signed 32 x 32 -> 64-bit products of lanes 0, 1 (low) and 2, 3 (high).
inline V mul_low64(V a, V b) { return wasm_i64x2_extmul_low_i32x4(a, b); }
inline V mul_high64(V a, V b) { return wasm_i64x2_extmul_high_i32x4(a, b); }
inline V add64(V a, V b) { return wasm_i64x2_add(a, b); }
inline V sub64(V a, V b) { return wasm_i64x2_sub(a, b); }
inline V shr64_logical(V a, int n) { return wasm_u64x2_shr(a, uint32_t(n)); }
inline V max64(V a, V b) { return wasm_v128_bitselect(a, b, wasm_i64x2_gt(a, b)); }
inline V min64(V a, V b) { return wasm_v128_bitselect(b, a, wasm_i64x2_gt(a, b)); }
// The low 32 bits of the four 64-bit lanes of lo (0, 1) and hi (2, 3).
inline V narrow64(V lo, V hi) { return wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6); }
inline void store4_strided(V v, int8_t *out, size_t stride) {
    out[0] = int8_t(wasm_i32x4_extract_lane(v, 0));
    out[stride] = int8_t(wasm_i32x4_extract_lane(v, 1));
    out[2 * stride] = int8_t(wasm_i32x4_extract_lane(v, 2));
    out[3 * stride] = int8_t(wasm_i32x4_extract_lane(v, 3));
}
// Eight vectors of four int32 values in [-128, 127] (r[j]: channel j at
// pixels 0-3) as bytes by pixel: lo holds pixel 0's eight channels, then
// pixel 1's; hi pixels 2 and 3.
inline void pixel_bytes(const V r[8], V &lo, V &hi) {
    const V a = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(r[0], r[1]), wasm_i16x8_narrow_i32x4(r[2], r[3]));
    const V b = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(r[4], r[5]), wasm_i16x8_narrow_i32x4(r[6], r[7]));
    // a: channel 0's four pixels, channel 1's, ...; to pixel 0's four channels, pixel 1's, ...
    const V ta = wasm_i8x16_shuffle(a, a, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const V tb = wasm_i8x16_shuffle(b, b, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    lo = wasm_i32x4_shuffle(ta, tb, 0, 4, 1, 5);
    hi = wasm_i32x4_shuffle(ta, tb, 2, 6, 3, 7);
}
#else
using V = __m128i;
inline V load16(const void *p) { return _mm_loadu_si128(static_cast<const __m128i *>(p)); }
inline void store(void *p, V v) { _mm_storeu_si128(static_cast<__m128i *>(p), v); }
inline V max8(V a, V b) { return _mm_max_epi8(a, b); }
inline V load8(const void *p) { return _mm_loadl_epi64(static_cast<const __m128i *>(p)); }
inline V load4(const void *p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm_cvtsi32_si128(v);
}
inline V splat8(int8_t v) { return _mm_set1_epi8(v); }
inline V and_(V a, V b) { return _mm_and_si128(a, b); }
inline V xor_(V a, V b) { return _mm_xor_si128(a, b); }
inline V sub8(V a, V b) { return _mm_sub_epi8(a, b); }
inline V shr16(V a, int n) { return _mm_srl_epi16(a, _mm_cvtsi32_si128(n)); }
inline V shl16(V a, int n) { return _mm_sll_epi16(a, _mm_cvtsi32_si128(n)); }
inline V sra32(V a, int n) { return _mm_sra_epi32(a, _mm_cvtsi32_si128(n)); }
inline V interleave8(V a, V b) { return _mm_unpacklo_epi8(a, b); }
inline V interleave16(V a, V b) { return _mm_unpacklo_epi16(a, b); }
inline V widen_low(V a) { return _mm_cvtepi8_epi16(a); }
inline V widen_high(V a) { return _mm_cvtepi8_epi16(_mm_srli_si128(a, 8)); }
inline V madd(V a, V b) { return _mm_madd_epi16(a, b); }
inline V add32(V a, V b) { return _mm_add_epi32(a, b); }
inline V zero() { return _mm_setzero_si128(); }
inline int32_t sum32(V a) {
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, _MM_SHUFFLE(1, 0, 3, 2)));
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(a);
}
// [sum(a), sum(b), sum(c), sum(d)]
inline V sum4(V a, V b, V c, V d) {
    return _mm_hadd_epi32(_mm_hadd_epi32(a, b), _mm_hadd_epi32(c, d));
}
inline V set32(int32_t v) { return _mm_set1_epi32(v); }
inline V set64(int64_t v) { return _mm_set1_epi64x(v); }
inline V add32x(V a, V b) { return _mm_add_epi32(a, b); }
// Signed 32 x 32 -> 64-bit products of lanes 0, 1 (low) and 2, 3 (high).
inline V mul_low64(V a, V b) {
    return _mm_mul_epi32(_mm_shuffle_epi32(a, _MM_SHUFFLE(1, 1, 0, 0)), _mm_shuffle_epi32(b, _MM_SHUFFLE(1, 1, 0, 0)));
}
inline V mul_high64(V a, V b) {
    return _mm_mul_epi32(_mm_shuffle_epi32(a, _MM_SHUFFLE(3, 3, 2, 2)), _mm_shuffle_epi32(b, _MM_SHUFFLE(3, 3, 2, 2)));
}
inline V add64(V a, V b) { return _mm_add_epi64(a, b); }
inline V sub64(V a, V b) { return _mm_sub_epi64(a, b); }
inline V shr64_logical(V a, int n) { return _mm_srl_epi64(a, _mm_cvtsi32_si128(n)); }
inline V max64(V a, V b) { return _mm_blendv_epi8(b, a, _mm_cmpgt_epi64(a, b)); }
inline V min64(V a, V b) { return _mm_blendv_epi8(a, b, _mm_cmpgt_epi64(a, b)); }
// The low 32 bits of the four 64-bit lanes of lo (0, 1) and hi (2, 3).
inline V narrow64(V lo, V hi) {
    return _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(lo), _mm_castsi128_ps(hi), _MM_SHUFFLE(2, 0, 2, 0)));
}
inline void store4_strided(V v, int8_t *out, size_t stride) {
    out[0] = int8_t(_mm_extract_epi8(v, 0));
    out[stride] = int8_t(_mm_extract_epi8(v, 4));
    out[2 * stride] = int8_t(_mm_extract_epi8(v, 8));
    out[3 * stride] = int8_t(_mm_extract_epi8(v, 12));
}
inline void pixel_bytes(const V r[8], V &lo, V &hi) {
    const V a = _mm_packs_epi16(_mm_packs_epi32(r[0], r[1]), _mm_packs_epi32(r[2], r[3]));
    const V b = _mm_packs_epi16(_mm_packs_epi32(r[4], r[5]), _mm_packs_epi32(r[6], r[7]));
    const V by_pixel = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const V ta = _mm_shuffle_epi8(a, by_pixel), tb = _mm_shuffle_epi8(b, by_pixel);
    lo = _mm_unpacklo_epi32(ta, tb);
    hi = _mm_unpackhi_epi32(ta, tb);
}
#endif

// 16 consecutive weights of a packed row, as int8 lanes in element order,
// each times 2^kScaleShift<Bits>: a sub-byte weight is moved into the top
// bits of its byte (a shift and a mask), where the byte's sign is the
// weight's, so no sign extension is needed (as on the Cortex-M DSP path in
// dmc_dot.h). Every product is then a multiple of 2^kScaleShift, and the
// sums are divided back exactly by an arithmetic shift (unscale); they stay
// below 2^31 for any fan-in the engine accepts (100,000 * 128 * 8 * 16).
// `chunk` points at the chunk's first byte (16 * bits / 8 bytes).
template <int Bits> constexpr int kScaleShift = 8 - Bits;
template <int Bits> inline V unpack16(const uint8_t *chunk);

template <> inline V unpack16<8>(const uint8_t *chunk) { return load16(chunk); }

template <> inline V unpack16<4>(const uint8_t *chunk) {
    const V b = load8(chunk), top = splat8(int8_t(0xF0));
    return interleave8(and_(shl16(b, 4), top), and_(b, top));
}

template <> inline V unpack16<2>(const uint8_t *chunk) {
    const V b = load4(chunk), top = splat8(int8_t(0xC0));
    const V c0 = and_(shl16(b, 6), top), c1 = and_(shl16(b, 4), top);
    const V c2 = and_(shl16(b, 2), top), c3 = and_(b, top);
    return interleave16(interleave8(c0, c1), interleave8(c2, c3));
}

// Sums of products with unpack16<Bits> weights, back to the true integers.
template <int Bits> inline V unscale(V sums) { return kScaleShift<Bits> == 0 ? sums : sra32(sums, kScaleShift<Bits>); }

// acc += x (16 int8) . w (16 int8), in four int32 lanes.
inline V madd16(V acc, V x, V w_low, V w_high) {
    return add32(acc, add32(madd(widen_low(x), w_low), madd(widen_high(x), w_high)));
}

// The accumulators of P inputs x_p (P = 1 or 4, x_stride apart) against
// one row of n weights, as int32 lanes (sum them for the dot product).
// Reads whole chunks: x_p must be readable and zero up to
// dmc_padded_length(n), and the weights readable one chunk past the row
// (kWeightSlackBytes).
template <int Bits, int P>
inline void dot_lanes(const int8_t *x, int32_t x_stride, const uint8_t *w_row, int32_t n, V acc[P]) {
    constexpr int kChunkBytes = 16 * Bits / 8;
    for (int p = 0; p < P; ++p) acc[p] = zero();
    const int32_t chunks = (n + 15) / 16;
    for (int32_t c = 0; c < chunks; ++c) {
        const V w = unpack16<Bits>(w_row + c * kChunkBytes);
        const V w_low = widen_low(w), w_high = widen_high(w);
        for (int p = 0; p < P; ++p) acc[p] = madd16(acc[p], load16(x + p * x_stride + 16 * c), w_low, w_high);
    }
}

// One input against one row, reading exactly n values of x (the linear
// layer's input is a tensor in the arena, not a padded copy): the whole
// chunks in place, the last partial one through a zeroed copy.
template <int Bits> inline int32_t dot1(const int8_t *x, const uint8_t *w_row, int32_t n) {
    const int32_t whole = n / 16 * 16;
    V acc[1];
    dot_lanes<Bits, 1>(x, 0, w_row, whole, acc);
    if (whole < n) {
        alignas(16) int8_t tail[16] = {0};
        std::memcpy(tail, x + whole, size_t(n - whole));
        const V w = unpack16<Bits>(w_row + whole * Bits / 8);
        acc[0] = madd16(acc[0], load16(tail), widen_low(w), widen_high(w));
    }
    return sum32(acc[0]) >> kScaleShift<Bits>; // exact: see unpack16
}

template <int Bits> inline V dot4(const int8_t *x, int32_t x_stride, const uint8_t *w_row, int32_t n) {
    V acc[4];
    dot_lanes<Bits, 4>(x, x_stride, w_row, n, acc);
    return unscale<Bits>(sum4(acc[0], acc[1], acc[2], acc[3]));
}

// dmc_requantize on four lanes (the contract's rule 5, exactly): the int64
// products get 2^62 added, which makes them non-negative, so a logical
// shift floors them; 2^(62 - shift) is subtracted back afterwards. The
// clamp to [act_min - zp, act_max - zp] on 64-bit lanes, then + zp, is the
// scalar clamp of (value + zp). A Requantizer holds one channel's
// constants, set up once where a kernel requantizes many vectors of it.
struct Requantizer {
    V m, offset, back, lo, hi, zp;
    int32_t shift;

    Requantizer() = default;
    Requantizer(int32_t multiplier, int32_t shift_, int32_t zero_point, int32_t act_min, int32_t act_max)
        : m(set32(multiplier)), offset(set64((int64_t(1) << 62) + (int64_t(1) << (shift_ - 1)))),
          back(set64(int64_t(1) << (62 - shift_))), lo(set64(act_min - zero_point)), hi(set64(act_max - zero_point)),
          zp(set32(zero_point)), shift(shift_) {}

    V operator()(V acc) const {
        V p0 = sub64(shr64_logical(add64(mul_low64(acc, m), offset), shift), back);
        V p1 = sub64(shr64_logical(add64(mul_high64(acc, m), offset), shift), back);
        p0 = min64(max64(p0, lo), hi);
        p1 = min64(max64(p1, lo), hi);
        return add32x(narrow64(p0, p1), zp);
    }
};

inline V requantize4(V acc, int32_t multiplier, int32_t shift, int32_t zero_point, int32_t act_min,
                     int32_t act_max) {
    return Requantizer(multiplier, shift, zero_point, act_min, act_max)(acc);
}

// dmc_dot and dmc_dot4 with these loops, for any bit width (the tests
// compare them with the plain loops; the kernels call the templates).
inline int32_t dot_bits(const int8_t *x, const uint8_t *w_row, int32_t n, int32_t bits) {
    if (bits == 8) return dot1<8>(x, w_row, n);
    if (bits == 4) return dot1<4>(x, w_row, n);
    return dot1<2>(x, w_row, n);
}

inline void dot4_bits(const int8_t *x, int32_t x_stride, const uint8_t *w_row, int32_t n, int32_t bits,
                      int32_t out[4]) {
    const V sums = bits == 8 ? dot4<8>(x, x_stride, w_row, n)
                             : bits == 4 ? dot4<4>(x, x_stride, w_row, n) : dot4<2>(x, x_stride, w_row, n);
    std::memcpy(out, &sums, 16);
}

// dmc_requantize4_plain with requantize4: the same bytes.
inline void requantize4_store(const int32_t acc[4], int32_t bias, int32_t multiplier, int32_t shift,
                              int32_t zero_point, int32_t act_min, int32_t act_max, int8_t *out, size_t stride) {
    V v;
    std::memcpy(&v, acc, 16);
    v = add32x(v, set32(bias));
    store4_strided(requantize4(v, multiplier, shift, zero_point, act_min, act_max), out, stride);
}

} // namespace simd
} // namespace dmc

#endif // DMC_SIMD128
