/*
 * dmc_dot.h - the inner loop: int8 activations times packed b-bit weights,
 * summed into int32. Every integer kernel spends its time here.
 *
 * The plain C loops below are the definition. The Cortex-M DSP path further
 * down (selected by the compiler's __ARM_FEATURE_DSP, on M4/M7) returns the
 * same integers faster; tests compare it with these loops. The engine's own
 * SIMD kernels for x86 and WebAssembly are separate functions
 * (engine/src/kernel_table.h), never substituted in here: this file is what
 * an exported header compiles, on every target.
 */
#ifndef DMC_DOT_H
#define DMC_DOT_H

#include "dmc_arith.h"

/* The receptive fields handed to dmc_dot4 (the convolution's scratch) are
 * zero-padded to a multiple of DMC_DOT_PAD values, so that the engine's
 * vectorised convolutions, which gather fields the same way, can read whole
 * 16-value chunks: the padding multiplies whatever it meets by 0. dmc_dot
 * reads exactly n values (a linear layer reads its input in place). The
 * plain loops below never read past n. */
#define DMC_DOT_PAD 16

static inline int32_t dmc_padded_length(int32_t n)
{
    return (n + DMC_DOT_PAD - 1) / DMC_DOT_PAD * DMC_DOT_PAD;
}

/* sum_i x[i] * w[i], w as int8. */
static inline int32_t dmc_dot_w8(const int8_t *DMC_RESTRICT x, const uint8_t *DMC_RESTRICT w_row,
                                 int32_t n)
{
    const int8_t *w = (const int8_t *)w_row;
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; ++i) acc += (int32_t)x[i] * (int32_t)w[i];
    return acc;
}

/* sum_i x[i] * w[i], w packed two 4-bit values per byte (low nibble first). */
static inline int32_t dmc_dot_w4(const int8_t *DMC_RESTRICT x, const uint8_t *DMC_RESTRICT w_row,
                                 int32_t n)
{
    int32_t acc = 0;
    int32_t pairs = n >> 1;
    int32_t j;
    for (j = 0; j < pairs; ++j) {
        uint32_t b = w_row[j];
        acc += (int32_t)x[2 * j] * dmc_unpack_s4(b, 0);
        acc += (int32_t)x[2 * j + 1] * dmc_unpack_s4(b, 1);
    }
    if (n & 1) acc += (int32_t)x[n - 1] * dmc_unpack_s4(w_row[pairs], 0);
    return acc;
}

/* sum_i x[i] * w[i], w packed four 2-bit values per byte (lowest bits first). */
static inline int32_t dmc_dot_w2(const int8_t *DMC_RESTRICT x, const uint8_t *DMC_RESTRICT w_row,
                                 int32_t n)
{
    int32_t acc = 0;
    int32_t quads = n >> 2;
    int32_t j, k;
    for (j = 0; j < quads; ++j) {
        uint32_t b = w_row[j];
        const int8_t *xs = x + 4 * j;
        acc += (int32_t)xs[0] * dmc_unpack_s2(b, 0);
        acc += (int32_t)xs[1] * dmc_unpack_s2(b, 1);
        acc += (int32_t)xs[2] * dmc_unpack_s2(b, 2);
        acc += (int32_t)xs[3] * dmc_unpack_s2(b, 3);
    }
    for (k = 0; k < (n & 3); ++k)
        acc += (int32_t)x[4 * quads + k] * dmc_unpack_s2(w_row[quads], (int)k);
    return acc;
}

/* Four inputs against one row: out[p] = sum_i x[p * x_stride + i] * w[i],
 * p = 0..3. Each weight is unpacked once and used four times, which is
 * what makes sub-byte weights cheap in a convolution (four output pixels
 * share every filter). */
static inline void dmc_dot4_w8(const int8_t *DMC_RESTRICT x, int32_t x_stride,
                               const uint8_t *DMC_RESTRICT w_row, int32_t n, int32_t out[4])
{
    const int8_t *w = (const int8_t *)w_row;
    const int8_t *x0 = x, *x1 = x + x_stride, *x2 = x + 2 * x_stride, *x3 = x + 3 * x_stride;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t wi = w[i];
        a0 += x0[i] * wi;
        a1 += x1[i] * wi;
        a2 += x2[i] * wi;
        a3 += x3[i] * wi;
    }
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
}

static inline void dmc_dot4_w4(const int8_t *DMC_RESTRICT x, int32_t x_stride,
                               const uint8_t *DMC_RESTRICT w_row, int32_t n, int32_t out[4])
{
    const int8_t *x0 = x, *x1 = x + x_stride, *x2 = x + 2 * x_stride, *x3 = x + 3 * x_stride;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t i;
    for (i = 0; i + 1 < n; i += 2) {
        const uint32_t b = w_row[i >> 1];
        const int32_t lo = dmc_unpack_s4(b, 0), hi = dmc_unpack_s4(b, 1);
        a0 += x0[i] * lo + x0[i + 1] * hi;
        a1 += x1[i] * lo + x1[i + 1] * hi;
        a2 += x2[i] * lo + x2[i + 1] * hi;
        a3 += x3[i] * lo + x3[i + 1] * hi;
    }
    if (n & 1) {
        const int32_t lo = dmc_unpack_s4(w_row[i >> 1], 0);
        a0 += x0[i] * lo;
        a1 += x1[i] * lo;
        a2 += x2[i] * lo;
        a3 += x3[i] * lo;
    }
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
}

static inline void dmc_dot4_w2(const int8_t *DMC_RESTRICT x, int32_t x_stride,
                               const uint8_t *DMC_RESTRICT w_row, int32_t n, int32_t out[4])
{
    const int8_t *x0 = x, *x1 = x + x_stride, *x2 = x + 2 * x_stride, *x3 = x + 3 * x_stride;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t wi = dmc_unpack_s2(w_row[i >> 2], (int)(i & 3));
        a0 += x0[i] * wi;
        a1 += x1[i] * wi;
        a2 += x2[i] * wi;
        a3 += x3[i] * wi;
    }
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
}

#if defined(__ARM_FEATURE_DSP) && !defined(DMC_NO_DSP)
#define DMC_ARM_DSP 1
#include <string.h>

/* Cortex-M4/M7 DSP extension. SMLAD multiplies the two signed 16-bit
 * halves of two words pairwise and adds both products to an accumulator, in
 * one cycle; SXTB16 sign-extends bytes 0 and 2 of a word into its halves
 * (with ROR #8: bytes 1 and 3). So four int8 activations and four weights
 * make two SMLADs. Sub-byte weights are first spread so that each lands in
 * the top bits of its byte (4 bits: value * 16, 2 bits: value * 64), and the
 * sum is divided back exactly by an arithmetic shift at the end: every term
 * is a multiple of 16 (64), and |sum| stays below 2^31 for any fan-in the
 * engine accepts (100,000 * 128 * 8 * 16 < 2^31). Same integers as the
 * plain loops. */
static inline uint32_t dmc_sxtb16(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}

static inline uint32_t dmc_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

static inline int32_t dmc_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

static inline uint32_t dmc_load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* an unaligned-safe load: one LDR on M4/M7 */
    return v;
}

/* Weights i..i+3 of a row as two words of 16-bit halves: elements (0, 2)
 * and (1, 3), times 1 (8 bits), 16 (4 bits) or 64 (2 bits). */
static inline void dmc_dsp_weights_w8(const uint8_t *w_row, int32_t i, uint32_t *w02, uint32_t *w13)
{
    const uint32_t v = dmc_load32(w_row + i);
    *w02 = dmc_sxtb16(v);
    *w13 = dmc_sxtb16_ror8(v);
}

static inline void dmc_dsp_weights_w4(const uint8_t *w_row, int32_t i, uint32_t *w02, uint32_t *w13)
{
    /* nibbles n0..n3 in bits 0-15; n0, n2 (n1, n3) go to the top nibble of bytes 0 and 2 */
    const uint32_t b = (uint32_t)w_row[i >> 1] | ((uint32_t)w_row[(i >> 1) + 1] << 8);
    *w02 = dmc_sxtb16(((b << 4) & 0xF0u) | ((b << 12) & 0xF00000u));
    *w13 = dmc_sxtb16((b & 0xF0u) | ((b << 8) & 0xF00000u));
}

static inline void dmc_dsp_weights_w2(const uint8_t *w_row, int32_t i, uint32_t *w02, uint32_t *w13)
{
    /* crumbs c0..c3 in bits 0-7; c0, c2 (c1, c3) go to the top crumb of bytes 0 and 2 */
    const uint32_t b = w_row[i >> 2];
    *w02 = dmc_sxtb16(((b << 6) & 0xC0u) | ((b << 18) & 0xC00000u));
    *w13 = dmc_sxtb16(((b << 4) & 0xC0u) | ((b << 16) & 0xC00000u));
}

static inline void dmc_dsp_weights(const uint8_t *w_row, int32_t i, int32_t bits, uint32_t *w02,
                                   uint32_t *w13)
{
    if (bits == 8) dmc_dsp_weights_w8(w_row, i, w02, w13);
    else if (bits == 4) dmc_dsp_weights_w4(w_row, i, w02, w13);
    else dmc_dsp_weights_w2(w_row, i, w02, w13);
}

/* The dispatchers below call these with a constant `bits`, so the compiler
 * makes one copy per width, with straight-line unpacking in the loop. */
static inline int32_t dmc_dot_dsp_bits(const int8_t *x, const uint8_t *w_row, int32_t n, int32_t bits)
{
    const int32_t groups = n & ~3, scale_shift = bits == 8 ? 0 : (bits == 4 ? 4 : 6);
    int32_t acc = 0, i;
    for (i = 0; i < groups; i += 4) {
        uint32_t w02, w13;
        const uint32_t v = dmc_load32(x + i);
        dmc_dsp_weights(w_row, i, bits, &w02, &w13);
        acc = dmc_smlad(dmc_sxtb16_ror8(v), w13, dmc_smlad(dmc_sxtb16(v), w02, acc));
    }
    acc >>= scale_shift; /* exact: every term is a multiple of 2^scale_shift */
    for (; i < n; ++i) acc += (int32_t)x[i] * dmc_packed_get(w_row, i, bits);
    return acc;
}

static inline void dmc_dot4_dsp_bits(const int8_t *x, int32_t x_stride, const uint8_t *w_row, int32_t n,
                                     int32_t bits, int32_t out[4])
{
    const int8_t *x0 = x, *x1 = x + x_stride, *x2 = x + 2 * x_stride, *x3 = x + 3 * x_stride;
    const int32_t groups = n & ~3, scale_shift = bits == 8 ? 0 : (bits == 4 ? 4 : 6);
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, i;
    for (i = 0; i < groups; i += 4) {
        uint32_t w02, w13, v;
        dmc_dsp_weights(w_row, i, bits, &w02, &w13);
        v = dmc_load32(x0 + i);
        a0 = dmc_smlad(dmc_sxtb16_ror8(v), w13, dmc_smlad(dmc_sxtb16(v), w02, a0));
        v = dmc_load32(x1 + i);
        a1 = dmc_smlad(dmc_sxtb16_ror8(v), w13, dmc_smlad(dmc_sxtb16(v), w02, a1));
        v = dmc_load32(x2 + i);
        a2 = dmc_smlad(dmc_sxtb16_ror8(v), w13, dmc_smlad(dmc_sxtb16(v), w02, a2));
        v = dmc_load32(x3 + i);
        a3 = dmc_smlad(dmc_sxtb16_ror8(v), w13, dmc_smlad(dmc_sxtb16(v), w02, a3));
    }
    a0 >>= scale_shift;
    a1 >>= scale_shift;
    a2 >>= scale_shift;
    a3 >>= scale_shift;
    for (; i < n; ++i) {
        const int32_t wi = dmc_packed_get(w_row, i, bits);
        a0 += x0[i] * wi;
        a1 += x1[i] * wi;
        a2 += x2[i] * wi;
        a3 += x3[i] * wi;
    }
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
}

static inline int32_t dmc_dot_dsp(const int8_t *x, const uint8_t *w_row, int32_t n, int32_t bits)
{
    if (bits == 8) return dmc_dot_dsp_bits(x, w_row, n, 8);
    if (bits == 4) return dmc_dot_dsp_bits(x, w_row, n, 4);
    return dmc_dot_dsp_bits(x, w_row, n, 2);
}

static inline void dmc_dot4_dsp(const int8_t *x, int32_t x_stride, const uint8_t *w_row, int32_t n,
                                int32_t bits, int32_t out[4])
{
    if (bits == 8) dmc_dot4_dsp_bits(x, x_stride, w_row, n, 8, out);
    else if (bits == 4) dmc_dot4_dsp_bits(x, x_stride, w_row, n, 4, out);
    else dmc_dot4_dsp_bits(x, x_stride, w_row, n, 2, out);
}

/* dmc_requantize, the same integers, cheaper for shift >= 33 (the usual
 * case), in 32-bit arithmetic: 2^(shift-1) is then a multiple of 2^32, so
 * floor((acc * m + 2^(shift-1)) / 2^shift)
 *   = floor((h + 2^(shift-33)) / 2^(shift-32)),  h = floor(acc * m / 2^32)
 * (one SMULL's upper word; |h| < 2^30, so nothing overflows), and the
 * result plus the zero point needs no saturation before the clamp to
 * [act_min, act_max] (inside int8, where dmc_requantize's +-2^24
 * saturation cannot change the outcome). */
static __attribute__((noinline, unused)) int8_t dmc_requantize_dsp_slow(int32_t acc, int32_t multiplier,
                                                                        int32_t shift, int32_t zero_point,
                                                                        int32_t act_min, int32_t act_max)
{
    return dmc_requantize(acc, multiplier, shift, zero_point, act_min, act_max);
}

static inline int8_t dmc_requantize_dsp(int32_t acc, int32_t multiplier, int32_t shift, int32_t zero_point,
                                        int32_t act_min, int32_t act_max)
{
    if (shift >= 33) {
        const int32_t h = (int32_t)(((int64_t)acc * (int64_t)multiplier) >> 32);
        int32_t v = ((h + (1 << (shift - 33))) >> (shift - 32)) + zero_point;
        v = v < act_min ? act_min : v;
        v = v > act_max ? act_max : v;
        return (int8_t)v;
    }
    return dmc_requantize_dsp_slow(acc, multiplier, shift, zero_point, act_min, act_max); /* rare: out of line */
}

/* Two rows against one input, for the fully connected layers: out[r] =
 * sum_i x[i] * w_r[i], r = 0, 1. Each input word is sign-extended once and
 * used by both rows. The main loop takes 8 inputs (8 and 4 bits) or 16 (2
 * bits) per pass, with one 32-bit load per row per pass. Sub-byte weights
 * keep the top-bits trick, spread with one AND per word of bytes:
 *   4 bits: W holds nibbles n0..n7; (W << 4) & 0xF0F0F0F0 has n0, n2, n4, n6
 *   in the top nibbles of its bytes and W & 0xF0F0F0F0 has n1, n3, n5, n7,
 *   so SXTB16 (ROR #8) gives the pairs (n0, n4), (n2, n6), (n1, n5),
 *   (n3, n7), each value times 16. The inputs are paired the same way by
 *   one PKHBT and one PKHTB per 8 (shared by the two rows):
 *   bytes (x0, x1, x4, x5) and (x2, x3, x6, x7).
 *   2 bits: W holds crumbs c0..c15; (W << 6), (W << 4), (W << 2), W, each
 *   & 0xC0C0C0C0, give pairs (c_k, c_k+8) times 64; the inputs are paired
 *   (x_k, x_k+8) the same way.
 * A remainder of 4 or more uses the 4-value step of dmc_dot_dsp_bits, the
 * last n % 4 values the plain loop. Same integers as the plain loops. */
static inline uint32_t dmc_pkhbt16(uint32_t lo, uint32_t hi) /* lo[15:0] | hi[15:0] << 16 */
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

static inline uint32_t dmc_pkhtb16(uint32_t hi, uint32_t lo) /* hi[31:16] << 16 | lo[31:16] */
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}

/* acc += the four products of the bytes of x and w_a, w_b already paired
 * (x02 with w02, x13 with w13) */
#define DMC_SMLAD2(acc, x02, x13, w02, w13) ((acc) = dmc_smlad((x13), (w13), dmc_smlad((x02), (w02), (acc))))

/* The rest of a row pair after the main loop: 4 values at a time, then
 * one by one; then the sums, divided back by 2^scale_shift. */
static inline void dmc_dot2_dsp_rest(const int8_t *x, const uint8_t *w0, const uint8_t *w1, int32_t i,
                                     int32_t n, int32_t bits, int32_t a0, int32_t a1, int32_t out[2])
{
    const int32_t scale_shift = bits == 8 ? 0 : (bits == 4 ? 4 : 6);
    const int32_t tail = n & 3, groups_end = n - tail; /* i is a multiple of 4 */
    int32_t k;
    for (; i < groups_end; i += 4) {
        uint32_t w02, w13;
        const uint32_t v = dmc_load32(x + i), x02 = dmc_sxtb16(v), x13 = dmc_sxtb16_ror8(v);
        dmc_dsp_weights(w0, i, bits, &w02, &w13);
        DMC_SMLAD2(a0, x02, x13, w02, w13);
        dmc_dsp_weights(w1, i, bits, &w02, &w13);
        DMC_SMLAD2(a1, x02, x13, w02, w13);
    }
    a0 >>= scale_shift; /* exact: every term is a multiple of 2^scale_shift */
    a1 >>= scale_shift;
    for (k = 0; k < tail; ++k) { /* at most 3 (a plain i < n bound misleads GCC -O3's checks) */
        a0 += (int32_t)x[groups_end + k] * dmc_packed_get(w0, groups_end + k, bits);
        a1 += (int32_t)x[groups_end + k] * dmc_packed_get(w1, groups_end + k, bits);
    }
    out[0] = a0;
    out[1] = a1;
}

static inline void dmc_dot2_dsp_w8(const int8_t *x, const uint8_t *w0, const uint8_t *w1, int32_t n,
                                   int32_t out[2])
{
    int32_t a0 = 0, a1 = 0, i;
    for (i = 0; i + 8 <= n; i += 8) {
        const uint32_t va = dmc_load32(x + i), vb = dmc_load32(x + i + 4);
        const uint32_t xa02 = dmc_sxtb16(va), xa13 = dmc_sxtb16_ror8(va);
        const uint32_t xb02 = dmc_sxtb16(vb), xb13 = dmc_sxtb16_ror8(vb);
        uint32_t w;
        w = dmc_load32(w0 + i);
        DMC_SMLAD2(a0, xa02, xa13, dmc_sxtb16(w), dmc_sxtb16_ror8(w));
        w = dmc_load32(w1 + i);
        DMC_SMLAD2(a1, xa02, xa13, dmc_sxtb16(w), dmc_sxtb16_ror8(w));
        w = dmc_load32(w0 + i + 4);
        DMC_SMLAD2(a0, xb02, xb13, dmc_sxtb16(w), dmc_sxtb16_ror8(w));
        w = dmc_load32(w1 + i + 4);
        DMC_SMLAD2(a1, xb02, xb13, dmc_sxtb16(w), dmc_sxtb16_ror8(w));
    }
    dmc_dot2_dsp_rest(x, w0, w1, i, n, 8, a0, a1, out);
}

static inline void dmc_dot2_dsp_w4(const int8_t *x, const uint8_t *w0, const uint8_t *w1, int32_t n,
                                   int32_t out[2])
{
    int32_t a0 = 0, a1 = 0, i;
    for (i = 0; i + 8 <= n; i += 8) {
        const uint32_t va = dmc_load32(x + i), vb = dmc_load32(x + i + 4);
        const uint32_t p0 = dmc_pkhbt16(va, vb), p1 = dmc_pkhtb16(vb, va);
        const uint32_t x04 = dmc_sxtb16(p0), x15 = dmc_sxtb16_ror8(p0);
        const uint32_t x26 = dmc_sxtb16(p1), x37 = dmc_sxtb16_ror8(p1);
        uint32_t w, e, o;
        w = dmc_load32(w0 + (i >> 1));
        e = (w << 4) & 0xF0F0F0F0u;
        o = w & 0xF0F0F0F0u;
        DMC_SMLAD2(a0, x04, x26, dmc_sxtb16(e), dmc_sxtb16_ror8(e));
        DMC_SMLAD2(a0, x15, x37, dmc_sxtb16(o), dmc_sxtb16_ror8(o));
        w = dmc_load32(w1 + (i >> 1));
        e = (w << 4) & 0xF0F0F0F0u;
        o = w & 0xF0F0F0F0u;
        DMC_SMLAD2(a1, x04, x26, dmc_sxtb16(e), dmc_sxtb16_ror8(e));
        DMC_SMLAD2(a1, x15, x37, dmc_sxtb16(o), dmc_sxtb16_ror8(o));
    }
    dmc_dot2_dsp_rest(x, w0, w1, i, n, 4, a0, a1, out);
}

static inline void dmc_dot2_dsp_w2(const int8_t *x, const uint8_t *w0, const uint8_t *w1, int32_t n,
                                   int32_t out[2])
{
    int32_t a0 = 0, a1 = 0, i;
    for (i = 0; i + 16 <= n; i += 16) {
        const uint32_t va = dmc_load32(x + i), vb = dmc_load32(x + i + 4);
        const uint32_t vc = dmc_load32(x + i + 8), vd = dmc_load32(x + i + 12);
        const uint32_t p0 = dmc_pkhbt16(va, vc), p1 = dmc_pkhtb16(vc, va); /* x0 x1 x8 x9, x2 x3 x10 x11 */
        const uint32_t p2 = dmc_pkhbt16(vb, vd), p3 = dmc_pkhtb16(vd, vb); /* x4 x5 x12 x13, x6 x7 x14 x15 */
        const uint32_t x08 = dmc_sxtb16(p0), x19 = dmc_sxtb16_ror8(p0);
        const uint32_t x2a = dmc_sxtb16(p1), x3b = dmc_sxtb16_ror8(p1);
        const uint32_t x4c = dmc_sxtb16(p2), x5d = dmc_sxtb16_ror8(p2);
        const uint32_t x6e = dmc_sxtb16(p3), x7f = dmc_sxtb16_ror8(p3);
        uint32_t w, c0, c1, c2, c3;
        /* byte j of W holds c4j..c4j+3: (W << 6) & m puts c0, c4, c8, c12 on top */
        w = dmc_load32(w0 + (i >> 2));
        c0 = (w << 6) & 0xC0C0C0C0u;
        c1 = (w << 4) & 0xC0C0C0C0u;
        c2 = (w << 2) & 0xC0C0C0C0u;
        c3 = w & 0xC0C0C0C0u;
        DMC_SMLAD2(a0, x08, x4c, dmc_sxtb16(c0), dmc_sxtb16_ror8(c0));
        DMC_SMLAD2(a0, x19, x5d, dmc_sxtb16(c1), dmc_sxtb16_ror8(c1));
        DMC_SMLAD2(a0, x2a, x6e, dmc_sxtb16(c2), dmc_sxtb16_ror8(c2));
        DMC_SMLAD2(a0, x3b, x7f, dmc_sxtb16(c3), dmc_sxtb16_ror8(c3));
        w = dmc_load32(w1 + (i >> 2));
        c0 = (w << 6) & 0xC0C0C0C0u;
        c1 = (w << 4) & 0xC0C0C0C0u;
        c2 = (w << 2) & 0xC0C0C0C0u;
        c3 = w & 0xC0C0C0C0u;
        DMC_SMLAD2(a1, x08, x4c, dmc_sxtb16(c0), dmc_sxtb16_ror8(c0));
        DMC_SMLAD2(a1, x19, x5d, dmc_sxtb16(c1), dmc_sxtb16_ror8(c1));
        DMC_SMLAD2(a1, x2a, x6e, dmc_sxtb16(c2), dmc_sxtb16_ror8(c2));
        DMC_SMLAD2(a1, x3b, x7f, dmc_sxtb16(c3), dmc_sxtb16_ror8(c3));
    }
    dmc_dot2_dsp_rest(x, w0, w1, i, n, 2, a0, a1, out);
}

static inline void dmc_dot2_dsp(const int8_t *x, const uint8_t *w0, const uint8_t *w1, int32_t n,
                                int32_t bits, int32_t out[2])
{
    if (bits == 8) dmc_dot2_dsp_w8(x, w0, w1, n, out);
    else if (bits == 4) dmc_dot2_dsp_w4(x, w0, w1, n, out);
    else dmc_dot2_dsp_w2(x, w0, w1, n, out);
}
/* The layers' run functions only dispatch on the bit width on this path:
 * always inlined, so that a constant layer (an exported header's) keeps the
 * widths the model uses and no other, even at -Os. */
#define DMC_DSP_DISPATCH __attribute__((always_inline))
#else
#define DMC_ARM_DSP 0
#define DMC_DSP_DISPATCH
#endif

/* Requantizes four accumulators of one output channel (bias added here)
 * into out[0], out[stride], out[2 * stride], out[3 * stride]. */
static inline void dmc_requantize4_plain(const int32_t acc[4], int32_t bias, int32_t multiplier,
                                         int32_t shift, int32_t zero_point, int32_t act_min,
                                         int32_t act_max, int8_t *out, size_t stride)
{
    int k;
    for (k = 0; k < 4; ++k)
        out[(size_t)k * stride] =
            dmc_requantize(bias + acc[k], multiplier, shift, zero_point, act_min, act_max);
}

/* Dispatch on the layer's bit width (a per-layer constant, not data). */
#if DMC_ARM_DSP
#define dmc_dot dmc_dot_dsp
#define dmc_dot4 dmc_dot4_dsp
#define dmc_requantize4 dmc_requantize4_plain
#else
static inline int32_t dmc_dot(const int8_t *x, const uint8_t *w_row, int32_t n, int32_t bits)
{
    if (bits == 8) return dmc_dot_w8(x, w_row, n);
    if (bits == 4) return dmc_dot_w4(x, w_row, n);
    return dmc_dot_w2(x, w_row, n);
}

static inline void dmc_dot4(const int8_t *x, int32_t x_stride, const uint8_t *w_row, int32_t n,
                            int32_t bits, int32_t out[4])
{
    if (bits == 8) dmc_dot4_w8(x, x_stride, w_row, n, out);
    else if (bits == 4) dmc_dot4_w4(x, x_stride, w_row, n, out);
    else dmc_dot4_w2(x, x_stride, w_row, n, out);
}

#define dmc_requantize4 dmc_requantize4_plain
#endif

#endif /* DMC_DOT_H */
