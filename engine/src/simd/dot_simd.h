// dot_simd.h - the inner dot products with 128-bit SIMD, for the native
// engine (x86 SSE4.1) and the browser (WebAssembly SIMD128): the same
// integers as the plain loops in engine/kernels/dmc_dot.h, which tests
// check on every length and bit width. Engine-only: exported headers use
// the plain loops (and the Cortex-M DSP path), not this file.
//
// Each 16-weight chunk is unpacked once into 16 int8 values (nibbles and
// crumbs are spread with shifts, masks and byte interleaves, then sign-
// extended with (v ^ m) - m), widened to int16 and multiplied with the
// widened activations by a pairwise multiply-add into int32 lanes. The
// kernels zero-pad activations to whole chunks, and the engine allocates a
// chunk of slack after the weights, so the last chunk is read whole: its
// extra weights meet zeros.
#pragma once

#include <cstring>

#include "dmc_arith.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#define DMC_SIMD128 1
#elif defined(__SSE4_1__)
#include <smmintrin.h>
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
inline V load8(const void *p) { return wasm_v128_load64_zero(p); }
inline V load4(const void *p) { return wasm_v128_load32_zero(p); }
inline V splat8(int8_t v) { return wasm_i8x16_splat(v); }
inline V and_(V a, V b) { return wasm_v128_and(a, b); }
inline V xor_(V a, V b) { return wasm_v128_xor(a, b); }
inline V sub8(V a, V b) { return wasm_i8x16_sub(a, b); }
inline V shr16(V a, int n) { return wasm_u16x8_shr(a, uint32_t(n)); }
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
#else
using V = __m128i;
inline V load16(const void *p) { return _mm_loadu_si128(static_cast<const __m128i *>(p)); }
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
#endif

// 16 consecutive weights of a packed row, as int8 lanes in element order.
// `chunk` points at the chunk's first byte (16 * bits / 8 bytes).
template <int Bits> inline V unpack16(const uint8_t *chunk);

template <> inline V unpack16<8>(const uint8_t *chunk) { return load16(chunk); }

template <> inline V unpack16<4>(const uint8_t *chunk) {
    const V b = load8(chunk), nibble = splat8(0x0F), sign = splat8(0x08);
    const V v = interleave8(and_(b, nibble), and_(shr16(b, 4), nibble));
    return sub8(xor_(v, sign), sign);
}

template <> inline V unpack16<2>(const uint8_t *chunk) {
    const V b = load4(chunk), crumb = splat8(0x03), sign = splat8(0x02);
    const V c0 = and_(b, crumb), c1 = and_(shr16(b, 2), crumb);
    const V c2 = and_(shr16(b, 4), crumb), c3 = and_(shr16(b, 6), crumb);
    const V v = interleave16(interleave8(c0, c1), interleave8(c2, c3));
    return sub8(xor_(v, sign), sign);
}

// acc += x (16 int8) . w (16 int8), in four int32 lanes.
inline V madd16(V acc, V x, V w_low, V w_high) {
    return add32(acc, add32(madd(widen_low(x), w_low), madd(widen_high(x), w_high)));
}

// sum over P inputs x_p (P = 1 or 4, x_stride apart) of x_p . w, n values.
// Reads whole chunks: x_p is zero-padded to dmc_padded_length(n) values and
// the weights are readable one chunk past the row (DMC_DOT_OVERRIDE).
template <int Bits, int P>
inline void dot(const int8_t *x, int32_t x_stride, const uint8_t *w_row, int32_t n, int32_t *out) {
    constexpr int kChunkBytes = 16 * Bits / 8;
    V acc[P];
    for (int p = 0; p < P; ++p) acc[p] = zero();
    const int32_t chunks = (n + 15) / 16;
    for (int32_t c = 0; c < chunks; ++c) {
        const V w = unpack16<Bits>(w_row + c * kChunkBytes);
        const V w_low = widen_low(w), w_high = widen_high(w);
        for (int p = 0; p < P; ++p) acc[p] = madd16(acc[p], load16(x + p * x_stride + 16 * c), w_low, w_high);
    }
    for (int p = 0; p < P; ++p) out[p] = sum32(acc[p]);
}

} // namespace simd
} // namespace dmc

static inline int32_t dmc_dot_fast(const int8_t *x, const uint8_t *w_row, int32_t n, int32_t bits) {
    int32_t out;
    if (bits == 8) dmc::simd::dot<8, 1>(x, 0, w_row, n, &out);
    else if (bits == 4) dmc::simd::dot<4, 1>(x, 0, w_row, n, &out);
    else dmc::simd::dot<2, 1>(x, 0, w_row, n, &out);
    return out;
}

static inline void dmc_dot4_fast(const int8_t *x, int32_t x_stride, const uint8_t *w_row, int32_t n,
                                 int32_t bits, int32_t out[4]) {
    if (bits == 8) dmc::simd::dot<8, 4>(x, x_stride, w_row, n, out);
    else if (bits == 4) dmc::simd::dot<4, 4>(x, x_stride, w_row, n, out);
    else dmc::simd::dot<2, 4>(x, x_stride, w_row, n, out);
}

#define DMC_DOT_OVERRIDE 1

#endif // DMC_SIMD128
