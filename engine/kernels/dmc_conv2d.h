/*
 * dmc_conv2d.h - integer 2-D convolution, NHWC activations, OHWI weights
 * packed at 8, 4 or 2 bits (see dmc_arith.h for the arithmetic).
 */
#ifndef DMC_CONV2D_H
#define DMC_CONV2D_H

#include <string.h>

#include "dmc_dot.h"

typedef struct dmc_conv2d_s8 {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel, stride, padding; /* square kernel; 0 <= padding < kernel */
    int32_t bits;                    /* 8, 4 or 2 */
    const uint8_t *weights;          /* out_c rows of dmc_row_bytes(kernel*kernel*in_c, bits) */
    const int32_t *bias;             /* out_c, input zero point folded in */
    const int32_t *multiplier;       /* out_c, in [2^30, 2^31) */
    const int8_t *shift;             /* out_c, in [1, 62] */
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t act_min, act_max; /* act_min = output_zero_point when a ReLU is fused */
} dmc_conv2d_s8;

/* Output pixels computed together: each filter row is unpacked once per
 * block and applied to this many receptive fields. */
#define DMC_CONV_BLOCK 4

/* Bytes of scratch dmc_conv2d_s8_run needs: DMC_CONV_BLOCK receptive
 * fields, each zero-padded to dmc_padded_length(). */
static inline int32_t dmc_conv2d_s8_scratch_bytes(const dmc_conv2d_s8 *p)
{
    return DMC_CONV_BLOCK * dmc_padded_length(p->kernel * p->kernel * p->in_c);
}

/* Copies n bytes: 8, 4, 2, 1 at a time with fixed-size memcpy, which every
 * compiler turns into plain loads and stores. A receptive field's rows are
 * a few bytes long (5 for a 5x5 kernel on one channel), where a call to the
 * library's memcpy costs more than the copy. */
static inline void dmc_copy_bytes(int8_t *d, const int8_t *s, int32_t n)
{
    for (; n >= 8; n -= 8, d += 8, s += 8) memcpy(d, s, 8);
    if (n & 4) {
        memcpy(d, s, 4);
        d += 4;
        s += 4;
    }
    if (n & 2) {
        memcpy(d, s, 2);
        d += 2;
        s += 2;
    }
    if (n & 1) *d = *s;
}

/* Gathers the receptive field of output pixel (oy, ox) into col, in OHWI
 * order, writing the input zero point where the window leaves the image.
 * It writes the field's kernel * kernel * in_c bytes only: the zeros that
 * pad it to dmc_padded_length() are the caller's, written once. */
static inline void dmc_conv2d_s8_gather(const dmc_conv2d_s8 *p, const int8_t *in, int32_t oy,
                                        int32_t ox, int8_t *col)
{
    const int32_t k = p->kernel, c = p->in_c;
    const int32_t y0 = oy * p->stride - p->padding, x0 = ox * p->stride - p->padding;
    const int32_t x_lo = x0 < 0 ? -x0 : 0;
    const int32_t x_hi = x0 + k > p->in_w ? p->in_w - x0 : k; /* valid kx in [x_lo, x_hi) */
    const int8_t pad = (int8_t)p->input_zero_point;
    int32_t ky;
    for (ky = 0; ky < k; ++ky) {
        const int32_t iy = y0 + ky;
        int8_t *dst = col + ky * k * c;
        if (iy < 0 || iy >= p->in_h) {
            memset(dst, pad, (size_t)(k * c));
            continue;
        }
        if (x_lo > 0) memset(dst, pad, (size_t)(x_lo * c));
        dmc_copy_bytes(dst + x_lo * c, in + ((size_t)iy * p->in_w + (size_t)(x0 + x_lo)) * (size_t)c,
                       (x_hi - x_lo) * c);
        if (x_hi < k) memset(dst + x_hi * c, pad, (size_t)((k - x_hi) * c));
    }
}

#if DMC_ARM_DSP
/* The Cortex-M DSP convolution (same integers as dmc_conv2d_s8_run's plain
 * loops, in the same scratch). Two output pixels at a time: each receptive
 * field is gathered as int8 into the upper half of its 2 * stride bytes of
 * scratch (the plain path's four int8 fields make room for two int16 ones),
 * then widened once, in place and front to back, into int16 pairs ordered
 * the way one 32-bit word of the layer's packed weights pairs up (see
 * dmc_dot2_dsp_w8/w4/w2): a group of 4 (8 bits), 8 (4 bits) or 16 (2 bits)
 * values per weight word, zero-padded to a whole group. The inner loop then
 * runs two output channels by two pixels: per weight word, one load and
 * one spread per channel, no sign extension of activations, 4 SMLADs per
 * 4 values. The last, partial weight word of a row is read byte by byte
 * (never past the row). Widening group g reads int8 bytes
 * [stride + G g, stride + G (g + 1)) before it writes int16 bytes
 * [2 G g, 2 G (g + 1)), which lie below every byte still to be read, since
 * G (g + 1) <= stride. */
static inline int32_t dmc_dsp_group(int32_t bits)
{
    return bits == 8 ? 4 : (bits == 4 ? 8 : 16);
}

static inline void dmc_store32(void *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* One group held in registers, widened into dst: 4 values (8 bits), 8
 * values in two words (4 bits). */
static inline __attribute__((always_inline)) void dmc_conv_dsp_widen8(int8_t *dst, uint32_t v)
{
    const uint32_t x02 = dmc_sxtb16(v), x13 = dmc_sxtb16_ror8(v);
    dmc_store32(dst, x02);
    dmc_store32(dst + 4, x13);
}

static inline __attribute__((always_inline)) void dmc_conv_dsp_widen4(int8_t *dst, uint32_t va, uint32_t vb)
{
    const uint32_t p0 = dmc_pkhbt16(va, vb), p1 = dmc_pkhtb16(vb, va);
    const uint32_t x04 = dmc_sxtb16(p0), x15 = dmc_sxtb16_ror8(p0);
    const uint32_t x26 = dmc_sxtb16(p1), x37 = dmc_sxtb16_ror8(p1);
    dmc_store32(dst, x04);
    dmc_store32(dst + 4, x26);
    dmc_store32(dst + 8, x15);
    dmc_store32(dst + 12, x37);
}

static inline __attribute__((always_inline)) void dmc_conv_dsp_widen(int8_t *dst, const int8_t *src,
                                                                     int32_t groups, int32_t bits)
{
    int32_t g = 0;
    if (bits == 8) /* two groups per step: fewer loop instructions (reads stay ahead of writes) */
        for (; g + 2 <= groups; g += 2) {
            const uint32_t va = dmc_load32(src), vb = dmc_load32(src + 4);
            const uint32_t a02 = dmc_sxtb16(va), a13 = dmc_sxtb16_ror8(va);
            const uint32_t b02 = dmc_sxtb16(vb), b13 = dmc_sxtb16_ror8(vb);
            dmc_store32(dst, a02);
            dmc_store32(dst + 4, a13);
            dmc_store32(dst + 8, b02);
            dmc_store32(dst + 12, b13);
            src += 8;
            dst += 16;
        }
    for (; g < groups; ++g) {
        if (bits == 8) {
            dmc_conv_dsp_widen8(dst, dmc_load32(src));
            src += 4;
            dst += 8;
        } else if (bits == 4) {
            dmc_conv_dsp_widen4(dst, dmc_load32(src), dmc_load32(src + 4));
            src += 8;
            dst += 16;
        } else {
            const uint32_t va = dmc_load32(src), vb = dmc_load32(src + 4);
            const uint32_t vc = dmc_load32(src + 8), vd = dmc_load32(src + 12);
            const uint32_t p0 = dmc_pkhbt16(va, vc), p1 = dmc_pkhtb16(vc, va);
            const uint32_t p2 = dmc_pkhbt16(vb, vd), p3 = dmc_pkhtb16(vd, vb);
            const uint32_t x08 = dmc_sxtb16(p0), x19 = dmc_sxtb16_ror8(p0);
            const uint32_t x2a = dmc_sxtb16(p1), x3b = dmc_sxtb16_ror8(p1);
            const uint32_t x4c = dmc_sxtb16(p2), x5d = dmc_sxtb16_ror8(p2);
            const uint32_t x6e = dmc_sxtb16(p3), x7f = dmc_sxtb16_ror8(p3);
            dmc_store32(dst, x08);
            dmc_store32(dst + 4, x4c);
            dmc_store32(dst + 8, x19);
            dmc_store32(dst + 12, x5d);
            dmc_store32(dst + 16, x2a);
            dmc_store32(dst + 20, x6e);
            dmc_store32(dst + 24, x3b);
            dmc_store32(dst + 28, x7f);
            src += 16;
            dst += 32;
        }
    }
}

/* One quad (4 values) of two channels against two widened fields:
 * ea, eb are the channels' weight bytes for the quad, spread (top bits);
 * x0, x1 the pixels' two words of int16 pairs. */
#define DMC_CONV_QUAD_C(ea, eb, x0, x1)                                                           \
    do {                                                                                          \
        const uint32_t wa02_ = dmc_sxtb16(ea), wa13_ = dmc_sxtb16_ror8(ea);                       \
        const uint32_t wb02_ = dmc_sxtb16(eb), wb13_ = dmc_sxtb16_ror8(eb);                       \
        const uint32_t p0a_ = dmc_load32(x0), p0b_ = dmc_load32((x0) + 4);                        \
        const uint32_t p1a_ = dmc_load32(x1), p1b_ = dmc_load32((x1) + 4);                        \
        DMC_SMLAD2(a00, p0a_, p0b_, wa02_, wa13_);                                                \
        DMC_SMLAD2(a01, p1a_, p1b_, wa02_, wa13_);                                                \
        DMC_SMLAD2(a10, p0a_, p0b_, wb02_, wb13_);                                                \
        DMC_SMLAD2(a11, p1a_, p1b_, wb02_, wb13_);                                                \
        (x0) += 8;                                                                                \
        (x1) += 8;                                                                                \
    } while (0)

#if defined(__OPTIMIZE__) && defined(__GNUC__)
/* One quad (4 values) of two channels as one asm statement: the weight
 * words t0, t1 spread by SPREAD (in place), then 4 SMLADs per channel pair
 * against the pixels' fields x0, x1 (each advanced by 8 bytes). 11 register
 * operands: GCC cannot satisfy a statement of more than 12 when r7 is the
 * Thumb frame pointer (-fno-omit-frame-pointer: 13 allocatable registers,
 * and it refuses the translation unit), as it refused the former loop in
 * one statement (14 operands, every register but sp and pc). The words are
 * loaded in C from wa, wb, again for each quad after the first (the
 * "memory" clobber keeps the compiler from merging the loads: no copy of
 * the word occupies a register). */
#define DMC_CONV_QUAD_ASM(SPREAD)                                                                 \
    do {                                                                                          \
        uint32_t t0_ = dmc_load32(wa), t1_ = dmc_load32(wb), t2_, t3_, t4_;                       \
        __asm__ volatile(SPREAD "sxtb16 %[t2], %[t0]\n\t"                                          \
                                "sxtb16 %[t3], %[t1]\n\t"                                          \
                                "ldr %[t4], [%[x0]], #8\n\t"                                       \
                                "smlad %[a00], %[t4], %[t2], %[a00]\n\t"                           \
                                "smlad %[a10], %[t4], %[t3], %[a10]\n\t"                           \
                                "ldr %[t4], [%[x1]], #8\n\t"                                       \
                                "smlad %[a01], %[t4], %[t2], %[a01]\n\t"                           \
                                "smlad %[a11], %[t4], %[t3], %[a11]\n\t"                           \
                                "sxtb16 %[t2], %[t0], ror #8\n\t"                                  \
                                "sxtb16 %[t3], %[t1], ror #8\n\t"                                  \
                                "ldr %[t4], [%[x0], #-4]\n\t"                                      \
                                "smlad %[a00], %[t4], %[t2], %[a00]\n\t"                           \
                                "smlad %[a10], %[t4], %[t3], %[a10]\n\t"                           \
                                "ldr %[t4], [%[x1], #-4]\n\t"                                      \
                                "smlad %[a01], %[t4], %[t2], %[a01]\n\t"                           \
                                "smlad %[a11], %[t4], %[t3], %[a11]"                                \
                         : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11),    \
                           [x0] "+r"(x0), [x1] "+r"(x1), [t0] "+r"(t0_), [t1] "+r"(t1_),          \
                           [t2] "=&r"(t2_), [t3] "=&r"(t3_), [t4] "=&r"(t4_)                      \
                         :                                                                        \
                         : "cc", "memory");                                                       \
    } while (0)
#define DMC_SPREAD_NONE ""
#define DMC_SPREAD(SHIFT, MASK)                                                                   \
    "lsl %[t0], %[t0], #" #SHIFT "\n\tand %[t0], %[t0], #" #MASK "\n\t"                           \
    "lsl %[t1], %[t1], #" #SHIFT "\n\tand %[t1], %[t1], #" #MASK "\n\t"
#define DMC_SPREAD_AND(MASK) "and %[t0], %[t0], #" #MASK "\n\tand %[t1], %[t1], #" #MASK "\n\t"

/* acc += the n > 0 weight words of two channels at wa, wb against the
 * widened fields x0, x1. The loop keeps 14 values live (3 beyond the asm's
 * 11: wa, wb, n), every register but sp and pc without a frame pointer.
 * Inlined into the pass loop, GCC split the accumulators' live ranges and
 * moved them every word (4 more instructions per int8 word, +10% for
 * LeNet-5); out of line (dmc_conv_dsp_words8/4/2), with nothing else
 * live, it places all 14 without a move or a spill. With a frame pointer
 * one of them spills: slower, never refused. (An optimising build only:
 * without one the C version, dmc_conv_dsp_word, runs; in C, compilers
 * schedule the values into more registers than the core has and spill.) */
static inline __attribute__((always_inline)) void dmc_conv_dsp_words(const int8_t *x0, const int8_t *x1,
                                                                     const uint8_t *wa, const uint8_t *wb,
                                                                     int32_t n, int32_t bits, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    do {
        if (bits == 8) {
            DMC_CONV_QUAD_ASM(DMC_SPREAD_NONE);
        } else if (bits == 4) {
            DMC_CONV_QUAD_ASM(DMC_SPREAD(4, 0xF0F0F0F0));
            DMC_CONV_QUAD_ASM(DMC_SPREAD_AND(0xF0F0F0F0));
        } else {
            DMC_CONV_QUAD_ASM(DMC_SPREAD(6, 0xC0C0C0C0));
            DMC_CONV_QUAD_ASM(DMC_SPREAD(4, 0xC0C0C0C0));
            DMC_CONV_QUAD_ASM(DMC_SPREAD(2, 0xC0C0C0C0));
            DMC_CONV_QUAD_ASM(DMC_SPREAD_AND(0xC0C0C0C0));
        }
        wa += 4;
        wb += 4;
    } while (--n != 0);
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

static __attribute__((noinline, unused)) void dmc_conv_dsp_words8(const int8_t *x0, const int8_t *x1,
                                                                  const uint8_t *wa, const uint8_t *wb, int32_t n,
                                                                  int32_t acc[4])
{
    dmc_conv_dsp_words(x0, x1, wa, wb, n, 8, acc);
}

static __attribute__((noinline, unused)) void dmc_conv_dsp_words4(const int8_t *x0, const int8_t *x1,
                                                                  const uint8_t *wa, const uint8_t *wb, int32_t n,
                                                                  int32_t acc[4])
{
    dmc_conv_dsp_words(x0, x1, wa, wb, n, 4, acc);
}

static __attribute__((noinline, unused)) void dmc_conv_dsp_words2(const int8_t *x0, const int8_t *x1,
                                                                  const uint8_t *wa, const uint8_t *wb, int32_t n,
                                                                  int32_t acc[4])
{
    dmc_conv_dsp_words(x0, x1, wa, wb, n, 2, acc);
}

static inline __attribute__((always_inline)) void dmc_conv_dsp_words_bits(const int8_t *x0, const int8_t *x1,
                                                                          const uint8_t *wa, const uint8_t *wb,
                                                                          int32_t n, int32_t bits, int32_t acc[4])
{
    if (bits == 8) dmc_conv_dsp_words8(x0, x1, wa, wb, n, acc);
    else if (bits == 4) dmc_conv_dsp_words4(x0, x1, wa, wb, n, acc);
    else dmc_conv_dsp_words2(x0, x1, wa, wb, n, acc);
}
#endif

/* Up to 4 bytes of a row as a little-endian word, zeros beyond n. */
static inline uint32_t dmc_load32_partial(const uint8_t *p, int32_t n)
{
    uint32_t v = 0;
    int32_t k;
    for (k = 0; k < n && k < 4; ++k) v |= (uint32_t)p[k] << (8 * k);
    return v;
}

/* The last, partial word of a row (left bytes, 1..4, after `whole` whole
 * words), zeros beyond: with a whole word before it, one load that ends
 * where the row ends, shifted down; else byte by byte. Never past the row. */
static inline uint32_t dmc_load32_tail(const uint8_t *p, int32_t left, int32_t whole)
{
    if (whole > 0) return dmc_load32(p + left - 4) >> (32 - 8 * left);
    return dmc_load32_partial(p, left);
}

/* One weight word of two channels (wa, wb) against two widened fields
 * (advanced past it): the word's G / 4 quads, in C. */
static inline __attribute__((always_inline)) void dmc_conv_dsp_word(uint32_t wa, uint32_t wb,
                                                                    const int8_t **px0, const int8_t **px1,
                                                                    int32_t bits, int32_t *pa00,
                                                                    int32_t *pa01, int32_t *pa10,
                                                                    int32_t *pa11)
{
    const int32_t quads = bits == 8 ? 1 : (bits == 4 ? 2 : 4);
    const int8_t *x0 = *px0, *x1 = *px1;
    int32_t a00 = *pa00, a01 = *pa01, a10 = *pa10, a11 = *pa11, q;
    for (q = 0; q < quads; ++q) {
        uint32_t ea, eb;
        if (bits == 8) {
            ea = wa;
            eb = wb;
        } else if (bits == 4) {
            ea = (q == 0 ? wa << 4 : wa) & 0xF0F0F0F0u;
            eb = (q == 0 ? wb << 4 : wb) & 0xF0F0F0F0u;
        } else {
            ea = (wa << (6 - 2 * q)) & 0xC0C0C0C0u;
            eb = (wb << (6 - 2 * q)) & 0xC0C0C0C0u;
        }
        DMC_CONV_QUAD_C(ea, eb, x0, x1);
    }
    *px0 = x0;
    *px1 = x1;
    *pa00 = a00;
    *pa01 = a01;
    *pa10 = a10;
    *pa11 = a11;
}

/* The last 1 or 2 values of a row (scalar) one by one, where a zero-padded
 * word would cost 4 (8 bits) or 8 (4 bits) values for them: t0, t1 point at
 * the fields' int8 values after their whole groups (never widened: the
 * widening stops before them), wa, wb at the rows' bytes after their whole
 * words. acc as dmc_conv_dsp_block's: with add = 0 it sets acc before the
 * asm loop (at 8 bits, where the loop's sums are not scaled: run after the
 * loop it reloaded and stored the four sums once more, 1-2% of conv1),
 * with add = 1 it adds to the final sums (at 4 bits, where that measured
 * faster). */
static inline __attribute__((always_inline)) void dmc_conv_dsp_scalar(const int8_t *t0, const int8_t *t1,
                                                                      const uint8_t *wa, const uint8_t *wb,
                                                                      int32_t scalar, int32_t bits, int32_t acc[4],
                                                                      int32_t add)
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0, j;
    for (j = 0; j < scalar; ++j) {
        const int32_t ka = dmc_packed_get(wa, j, bits), kb = dmc_packed_get(wb, j, bits);
        a00 += t0[j] * ka;
        a01 += t1[j] * ka;
        a10 += t0[j] * kb;
        a11 += t1[j] * kb;
    }
    acc[0] = add ? acc[0] + a00 : a00;
    acc[1] = add ? acc[1] + a01 : a01;
    acc[2] = add ? acc[2] + a10 : a10;
    acc[3] = add ? acc[3] + a11 : a11;
}

/* acc = {pixel 0 x row a, pixel 1 x row a, pixel 0 x row b, pixel 1 x row b},
 * added to acc's values on entry (dmc_conv_dsp_scalar's: at 8 bits the last
 * values' products, otherwise zeros) */
static inline __attribute__((always_inline)) void dmc_conv_dsp_block(const int8_t *x0, const int8_t *x1,
                                                                     const uint8_t *wa, const uint8_t *wb,
                                                                     int32_t depth, int32_t row_bytes,
                                                                     int32_t whole, int32_t scalar,
                                                                     int32_t bits, int32_t acc[4])
{
    const int32_t group = dmc_dsp_group(bits), full = whole;
    const int32_t scale_shift = bits == 8 ? 0 : (bits == 4 ? 4 : 6);
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
#if defined(__OPTIMIZE__) && defined(__GNUC__)
    /* bytes of a field per weight word: 8 per quad */
    const int32_t step = 8 * (bits == 8 ? 1 : (bits == 4 ? 2 : 4));
    if (full > 0) dmc_conv_dsp_words_bits(x0, x1, wa, wb, full, bits, acc);
    if (scalar == 0 && full * group < depth) { /* the last row's partial word: never read past the row */
        uint32_t tail[2];
        tail[0] = dmc_load32_tail(wa + 4 * full, row_bytes - 4 * full, full);
        tail[1] = dmc_load32_tail(wb + 4 * full, row_bytes - 4 * full, full);
        dmc_conv_dsp_words_bits(x0 + full * step, x1 + full * step, (const uint8_t *)&tail[0],
                                (const uint8_t *)&tail[1], 1, bits, acc);
    }
    a00 = acc[0];
    a01 = acc[1];
    a10 = acc[2];
    a11 = acc[3];
#else
    int32_t g;
    for (g = 0; g < full; ++g) {
        dmc_conv_dsp_word(dmc_load32(wa), dmc_load32(wb), &x0, &x1, bits, &a00, &a01, &a10, &a11);
        wa += 4;
        wb += 4;
    }
    if (scalar == 0 && full * group < depth) { /* the last row's partial word: never read past the row */
        const int32_t left = row_bytes - 4 * full;
        dmc_conv_dsp_word(dmc_load32_tail(wa, left, full), dmc_load32_tail(wb, left, full), &x0, &x1, bits,
                          &a00, &a01, &a10, &a11);
    }
#endif
    acc[0] = a00 >> scale_shift; /* exact: every term is a multiple of 2^scale_shift */
    acc[1] = a01 >> scale_shift;
    acc[2] = a10 >> scale_shift;
    acc[3] = a11 >> scale_shift;
}

/* Requantizes channel c's accumulators of the pass's two pixels into o[0]
 * and o[second] (second = 0: one pixel). Out of line: inlined, its values
 * would crowd the pass loop's registers. */
static __attribute__((noinline, unused)) void dmc_conv_dsp_out2(const dmc_conv2d_s8 *p, int32_t c, int32_t acc0,
                                                                int32_t acc1, int8_t *o, int32_t second)
{
    const int32_t bias = p->bias[c], multiplier = p->multiplier[c], shift = p->shift[c];
    const int32_t zero_point = p->output_zero_point, act_min = p->act_min, act_max = p->act_max;
    /* only for shift < 33 (dmc_conv_dsp_out2_fast takes the rest): the
     * plain requantization, no second copy of the fast case */
    const int8_t q0 = dmc_requantize_dsp_slow(bias + acc0, multiplier, shift, zero_point, act_min, act_max);
    if (second) o[second] = dmc_requantize_dsp_slow(bias + acc1, multiplier, shift, zero_point, act_min, act_max);
    o[0] = q0;
}

/* dmc_conv_dsp_out2 for the usual shift >= 33 (dmc_requantize_dsp's fast
 * case) in line, the channel's constants taken once for both pixels; o[second]
 * is written first, so that second = 0 leaves pixel 0's value. */
static inline __attribute__((always_inline)) int8_t dmc_conv_dsp_rq(int32_t acc, int32_t multiplier, int32_t round,
                                                                    int32_t s, int32_t zero_point, int32_t act_min,
                                                                    int32_t act_max)
{
    const int32_t h = (int32_t)(((int64_t)acc * (int64_t)multiplier) >> 32);
    int32_t v = ((h + round) >> s) + zero_point;
    /* SSAT clamps to the int8 range in one instruction; a bound inside it
     * (a fused ReLU's act_min, a layer constant) takes one more step */
    __asm__("ssat %0, #8, %1" : "=r"(v) : "r"(v));
    if (act_min > DMC_ACT_MIN) v = v < act_min ? act_min : v;
    if (act_max < DMC_ACT_MAX) v = v > act_max ? act_max : v;
    return (int8_t)v;
}

static inline __attribute__((always_inline)) void dmc_conv_dsp_out2_fast(const dmc_conv2d_s8 *p, int32_t c,
                                                                         int32_t acc0, int32_t acc1, int8_t *o,
                                                                         int32_t second)
{
    const int32_t shift = p->shift[c];
    if (shift >= 33) {
        const int32_t bias = p->bias[c], multiplier = p->multiplier[c];
        const int32_t round = 1 << (shift - 33), s = shift - 32;
        const int32_t zero_point = p->output_zero_point, act_min = p->act_min, act_max = p->act_max;
        o[second] = dmc_conv_dsp_rq(bias + acc1, multiplier, round, s, zero_point, act_min, act_max);
        o[0] = dmc_conv_dsp_rq(bias + acc0, multiplier, round, s, zero_point, act_min, act_max);
        return;
    }
    dmc_conv_dsp_out2(p, c, acc0, acc1, o, second); /* rare: out of line */
}

/* dmc_conv2d_s8_gather, with a short way for a window inside the image:
 * its kernel rows copied, no bounds and no padding. */
static inline void dmc_conv_dsp_gather(const dmc_conv2d_s8 *p, const int8_t *in, int32_t oy, int32_t ox,
                                       int8_t *col)
{
    const int32_t k = p->kernel, c = p->in_c, y0 = oy * p->stride - p->padding;
    const int32_t x0 = ox * p->stride - p->padding;
    if (y0 >= 0 && x0 >= 0 && y0 + k <= p->in_h && x0 + k <= p->in_w) {
        const int32_t row = k * c, in_row = p->in_w * c;
        const int8_t *src = in + ((size_t)y0 * (size_t)p->in_w + (size_t)x0) * (size_t)c;
        int32_t ky;
        for (ky = 0; ky < k; ++ky, col += row, src += in_row) dmc_copy_bytes(col, src, row);
        return;
    }
    dmc_conv2d_s8_gather(p, in, oy, ox, col);
}

/* One kernel row of a one-channel field inside the image: k bytes of an
 * input row, a word at a time, then byte by byte (no call to memcpy, which
 * costs more than a 5-byte row). */
static inline __attribute__((always_inline)) void dmc_conv_c1_row(int8_t *col, const int8_t *src, int32_t k)
{
    int32_t j;
    for (j = 0; j + 4 <= k; j += 4) dmc_store32(col + j, dmc_load32(src + j));
    for (; j < k; ++j) col[j] = src[j];
}

/* A one-channel field that leaves the image: rows above or below it are
 * the input zero point (a word at a time), rows that leave it sideways
 * tap by tap; which taps are padding depends on the position only, never
 * on the data. */
static inline __attribute__((always_inline)) void dmc_conv_c1_gather_border(const dmc_conv2d_s8 *p,
                                                                            const int8_t *in, int32_t y0,
                                                                            int32_t x0, int8_t *col)
{
    const int32_t k = p->kernel, in_w = p->in_w, in_h = p->in_h;
    const int8_t pad = (int8_t)p->input_zero_point;
    const uint32_t pads = (uint32_t)(uint8_t)pad * 0x01010101u;
    /* the taps [lo, hi) of each row lie inside the image */
    const int32_t lo = x0 < 0 ? -x0 : 0, hi = x0 + k > in_w ? in_w - x0 : k;
    int32_t ky, kx;
    for (ky = 0; ky < k; ++ky, col += k) {
        const int32_t iy = y0 + ky;
        const int8_t *row;
        if (lo > 0 || hi < k || iy < 0 || iy >= in_h) {
            for (kx = 0; kx + 4 <= k; kx += 4) dmc_store32(col + kx, pads);
            for (; kx < k; ++kx) col[kx] = pad;
            if (iy < 0 || iy >= in_h) continue;
        }
        row = in + (size_t)iy * (size_t)in_w;
        if (lo == 0 && hi == k) {
            dmc_conv_c1_row(col, row + x0, k);
            continue;
        }
        for (kx = lo; kx < hi; ++kx) col[kx] = row[x0 + kx];
    }
}

/* The field of a layer with one input channel (an image's first layer):
 * inside the image, each kernel row is k bytes of one input row, copied a
 * word at a time and then byte by byte. Always inlined, so that a constant
 * layer's kernel size unrolls the copies. */
static inline __attribute__((always_inline)) void dmc_conv_c1_gather(const dmc_conv2d_s8 *p, const int8_t *in,
                                                                     int32_t oy, int32_t ox, int8_t *col)
{
    const int32_t k = p->kernel, in_w = p->in_w;
    const int32_t y0 = oy * p->stride - p->padding, x0 = ox * p->stride - p->padding;
    if (y0 >= 0 && x0 >= 0 && y0 + k <= p->in_h && x0 + k <= in_w) {
        const int8_t *src = in + (size_t)y0 * (size_t)in_w + (size_t)x0;
        int32_t ky;
        if (k == 5) { /* the usual first layer, 5x5: straight-line rows (a loop costs half again) */
            dmc_conv_c1_row(col, src, 5);
            dmc_conv_c1_row(col + 5, src + in_w, 5);
            dmc_conv_c1_row(col + 10, src + 2 * in_w, 5);
            dmc_conv_c1_row(col + 15, src + 3 * in_w, 5);
            dmc_conv_c1_row(col + 20, src + 4 * in_w, 5);
            return;
        }
        for (ky = 0; ky < k; ++ky, col += k, src += in_w) dmc_conv_c1_row(col, src, k);
        return;
    }
    dmc_conv_c1_gather_border(p, in, y0, x0, col);
}

/* Is the window of output pixel (oy, ox) inside the image? */
static inline int32_t dmc_conv_inside(const dmc_conv2d_s8 *p, int32_t oy, int32_t ox)
{
    const int32_t y0 = oy * p->stride - p->padding, x0 = ox * p->stride - p->padding;
    return y0 >= 0 && x0 >= 0 && y0 + p->kernel <= p->in_h && x0 + p->kernel <= p->in_w;
}

/* A 5x5 one-channel window inside the image (r0: its first row), straight
 * into the widened field (8 and 4 bits: 24 values, 6 words of 4 bytes in
 * tap order, each taken with one unaligned load or two merged), and the
 * 25th value into bytes[24] (int8, for dmc_conv_dsp_scalar): no int8 copy
 * of the window is written and read back. The loads stay inside rows 0 to
 * 4 of the window's image rows: r1 - 1 is in row r0's image row, r2 + 5
 * at most the first byte of the image row after r2's. */
static inline __attribute__((always_inline)) void dmc_conv_c1_field5(const int8_t *r0, int32_t in_w, int8_t *field,
                                                                     int8_t *bytes, int32_t bits)
{
    const int8_t *r1 = r0 + in_w, *r2 = r1 + in_w, *r3 = r2 + in_w, *r4 = r3 + in_w;
    uint16_t h0, h1;
    uint32_t q0, q1, q2, q3, q4, q5;
    memcpy(&h0, r1 + 3, 2);
    memcpy(&h1, r2, 2);
    q0 = dmc_load32(r0);                                                   /* r0[0..3] */
    q1 = (dmc_load32(r1 - 1) & 0xFFFFFF00u) | (uint8_t)r0[4];              /* r0[4], r1[0..2] */
    q2 = (uint32_t)h0 | ((uint32_t)h1 << 16);                               /* r1[3..4], r2[0..1] */
    q3 = (dmc_load32(r2 + 2) & 0x00FFFFFFu) | ((uint32_t)(uint8_t)r3[0] << 24); /* r2[2..4], r3[0] */
    q4 = dmc_load32(r3 + 1);                                               /* r3[1..4] */
    q5 = dmc_load32(r4);                                                   /* r4[0..3] */
    bytes[24] = r4[4];
    if (bits == 8) {
        dmc_conv_dsp_widen8(field, q0);
        dmc_conv_dsp_widen8(field + 8, q1);
        dmc_conv_dsp_widen8(field + 16, q2);
        dmc_conv_dsp_widen8(field + 24, q3);
        dmc_conv_dsp_widen8(field + 32, q4);
        dmc_conv_dsp_widen8(field + 40, q5);
    } else {
        dmc_conv_dsp_widen4(field, q0, q1);
        dmc_conv_dsp_widen4(field + 16, q2, q3);
        dmc_conv_dsp_widen4(field + 32, q4, q5);
    }
}

/* The same for a 3x3 window: 8 values as 2 words (r0[0..2] and r1[0];
 * r1[1..2] and r2[0..1]), the 9th into bytes[8]. r0[3] is read and
 * replaced: it lies in r0's image row or is the first byte of the next. */
static inline __attribute__((always_inline)) void dmc_conv_c1_field3(const int8_t *r0, int32_t in_w, int8_t *field,
                                                                     int8_t *bytes, int32_t bits)
{
    const int8_t *r1 = r0 + in_w, *r2 = r1 + in_w;
    uint16_t h0, h1;
    uint32_t q0, q1;
    memcpy(&h0, r1 + 1, 2);
    memcpy(&h1, r2, 2);
    q0 = (dmc_load32(r0) & 0x00FFFFFFu) | ((uint32_t)(uint8_t)r1[0] << 24);
    q1 = (uint32_t)h0 | ((uint32_t)h1 << 16);
    bytes[8] = r2[2];
    if (bits == 8) {
        dmc_conv_dsp_widen8(field, q0);
        dmc_conv_dsp_widen8(field + 8, q1);
    } else {
        dmc_conv_dsp_widen4(field, q0, q1);
    }
}

static inline __attribute__((always_inline)) void dmc_conv2d_s8_run_dsp_bits(const dmc_conv2d_s8 *p,
                                                                             const int8_t *in, int8_t *out,
                                                                             int8_t *scratch, int32_t bits,
                                                                             int32_t one_channel)
{
    const int32_t depth = p->kernel * p->kernel * p->in_c;
    const int32_t stride = dmc_padded_length(depth);
    const int32_t group = dmc_dsp_group(bits);
    const int32_t words = (depth + group - 1) / group; /* weight words per row, the last maybe partial */
    const int32_t padded = words * group;               /* <= stride */
    /* 1 or 2 values beyond the whole weight words go one by one: at 8 bits,
     * and at 4 bits with one input channel (a 3x3 or 5x5 field). The shared
     * 4-bit copy (in_c > 1) pads them to a whole word instead: with scalar a
     * compile-time 0 its field preparation has one gather, which GCC inlines
     * (dsconv: 192 bytes less at -O2, 1% fewer instructions, 3.5% at -Os). */
    const int32_t rest = depth - depth / group * group;
    const int32_t scalar = (bits == 8 || (bits == 4 && one_channel)) && rest <= 2 ? rest : 0;
    const int32_t row_bytes = dmc_row_bytes(depth, bits);
    const int32_t pixels = p->out_h * p->out_w, out_c = p->out_c, out_w = p->out_w;
    const uint8_t *const weights = p->weights;
    int8_t *const field[2] = {scratch, scratch + 2 * stride};
    int32_t first, k, oc, oy = 0, ox = 0;
    for (first = 0; first < pixels; first += 2) {
        const int32_t count = pixels - first < 2 ? 1 : 2;
        const int8_t *x1 = field[count - 1];
        int8_t *o = out + (size_t)first * (size_t)out_c;
        for (k = 0; k < count; ++k) {
            int8_t *bytes = field[k] + stride;
            int32_t z;
            /* (scalar is 1 for a 3x3 or 5x5 field at 8 and 4 bits) */
            if (one_channel && (p->kernel == 5 || p->kernel == 3) && scalar > 0 && dmc_conv_inside(p, oy, ox)) {
                const int8_t *r0 = in + (size_t)(oy * p->stride - p->padding) * (size_t)p->in_w +
                                   (size_t)(ox * p->stride - p->padding);
                if (p->kernel == 5) dmc_conv_c1_field5(r0, p->in_w, field[k], bytes, bits);
                else dmc_conv_c1_field3(r0, p->in_w, field[k], bytes, bits);
            } else if (scalar > 0) { /* the last values stay int8, in place */
                if (one_channel) dmc_conv_c1_gather(p, in, oy, ox, bytes);
                else dmc_conv_dsp_gather(p, in, oy, ox, bytes);
                dmc_conv_dsp_widen(field[k], bytes, depth / group, bits);
            } else {
                if (one_channel) dmc_conv_c1_gather(p, in, oy, ox, bytes);
                else dmc_conv_dsp_gather(p, in, oy, ox, bytes);
                /* zeros from depth to padded (at most 15 bytes), by words: a
                 * byte loop would become a call to memset */
                z = depth & ~3;
                if (z < depth) {
                    dmc_store32(bytes + z, dmc_load32(bytes + z) & ~(0xFFFFFFFFu << (8 * (depth - z))));
                    z += 4;
                }
                for (; z < padded; z += 4) dmc_store32(bytes + z, 0);
                dmc_conv_dsp_widen(field[k], bytes, words, bits);
            }
            if (++ox == out_w) {
                ox = 0;
                ++oy;
            }
        }
        for (oc = 0; oc < out_c; oc += 2) {
            /* an odd last channel runs against itself; only its first copy is stored */
            const int32_t ob = oc + 1 < out_c ? oc + 1 : oc;
            const uint8_t *wa = weights + (size_t)oc * (size_t)row_bytes;
            const uint8_t *wb = weights + (size_t)ob * (size_t)row_bytes;
            const int8_t *t0 = field[0] + stride + depth / group * group, *t1 = x1 + stride + depth / group * group;
            int32_t acc[4];
            /* the last values' products: first at 8 bits (the asm loop's sums
             * are unscaled there), after the asm loop at 4 bits */
            dmc_conv_dsp_scalar(t0, t1, wa + 4 * (depth / group), wb + 4 * (depth / group), bits == 8 ? scalar : 0,
                                bits, acc, 0);
            /* a partial last word is loaded whole when another row follows row b */
            dmc_conv_dsp_block(field[0], x1, wa, wb, depth, row_bytes,
                               scalar > 0 ? depth / group : (ob + 1 < out_c ? words : depth / group), scalar,
                               bits, acc);
            if (bits != 8)
                dmc_conv_dsp_scalar(t0, t1, wa + 4 * (depth / group), wb + 4 * (depth / group), scalar, bits, acc, 1);
            dmc_conv_dsp_out2_fast(p, oc, acc[0], acc[1], o + oc, count == 2 ? out_c : 0);
            if (ob != oc) dmc_conv_dsp_out2_fast(p, ob, acc[2], acc[3], o + ob, count == 2 ? out_c : 0);
        }
    }
}

static __attribute__((noinline, unused)) void dmc_conv2d_s8_run_dsp_w8(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out,
                                            int8_t *scratch)
{
    dmc_conv2d_s8_run_dsp_bits(p, in, out, scratch, 8, 0);
}

/* in_c == 1: a copy of its own, usually called once (a model's first
 * layer), so that the compiler inlines it and folds the layer's constants */
static __attribute__((noinline, unused)) void dmc_conv2d_s8_run_dsp_c1_w8(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out,
                                               int8_t *scratch)
{
    dmc_conv2d_s8_run_dsp_bits(p, in, out, scratch, 8, 1);
}

static __attribute__((noinline, unused)) void dmc_conv2d_s8_run_dsp_w4(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out,
                                            int8_t *scratch)
{
    dmc_conv2d_s8_run_dsp_bits(p, in, out, scratch, 4, 0);
}

/* in_c == 1: a copy of its own, usually called once (a model's first
 * layer), so that the compiler inlines it and folds the layer's constants */
static __attribute__((noinline, unused)) void dmc_conv2d_s8_run_dsp_c1_w4(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out,
                                               int8_t *scratch)
{
    dmc_conv2d_s8_run_dsp_bits(p, in, out, scratch, 4, 1);
}

static __attribute__((noinline, unused)) void dmc_conv2d_s8_run_dsp_w2(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out,
                                            int8_t *scratch)
{
    dmc_conv2d_s8_run_dsp_bits(p, in, out, scratch, 2, 0);
}

/* in_c == 1: a copy of its own, usually called once (a model's first
 * layer), so that the compiler inlines it and folds the layer's constants */
static __attribute__((noinline, unused)) void dmc_conv2d_s8_run_dsp_c1_w2(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out,
                                               int8_t *scratch)
{
    dmc_conv2d_s8_run_dsp_bits(p, in, out, scratch, 2, 1);
}
#endif

/* out (out_h x out_w x out_c) = conv(in (in_h x in_w x in_c)).
 * scratch: dmc_conv2d_s8_scratch_bytes(p) bytes, not overlapping in/out.
 * Output pixels are taken in blocks of DMC_CONV_BLOCK in raster order; the
 * last block of the image may be partial. */
static inline DMC_DSP_DISPATCH void dmc_conv2d_s8_run(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out,
                                     int8_t *scratch)
{
    const int32_t depth = p->kernel * p->kernel * p->in_c;
    const int32_t stride = dmc_padded_length(depth); /* of the fields in scratch */
    const int32_t row_bytes = dmc_row_bytes(depth, p->bits);
    const int32_t pixels = p->out_h * p->out_w;
    int32_t first, k, oc;
    int32_t oy = 0, ox = 0; /* the next pixel to gather, stepped (no division) */
#if DMC_ARM_DSP
    if (p->in_c == 1) {
        if (p->bits == 8) dmc_conv2d_s8_run_dsp_c1_w8(p, in, out, scratch);
        else if (p->bits == 4) dmc_conv2d_s8_run_dsp_c1_w4(p, in, out, scratch);
        else dmc_conv2d_s8_run_dsp_c1_w2(p, in, out, scratch);
        return;
    }
    if (p->bits == 8) dmc_conv2d_s8_run_dsp_w8(p, in, out, scratch);
    else if (p->bits == 4) dmc_conv2d_s8_run_dsp_w4(p, in, out, scratch);
    else dmc_conv2d_s8_run_dsp_w2(p, in, out, scratch);
    return;
#endif
    for (k = 0; k < DMC_CONV_BLOCK; ++k) /* the fields' zero padding, once */
        memset(scratch + k * stride + depth, 0, (size_t)(stride - depth));
    for (first = 0; first < pixels; first += DMC_CONV_BLOCK) {
        const int32_t count = pixels - first < DMC_CONV_BLOCK ? pixels - first : DMC_CONV_BLOCK;
        for (k = 0; k < count; ++k) {
            dmc_conv2d_s8_gather(p, in, oy, ox, scratch + k * stride);
            if (++ox == p->out_w) {
                ox = 0;
                ++oy;
            }
        }
        for (oc = 0; oc < p->out_c; ++oc) {
            const uint8_t *w = p->weights + (size_t)oc * (size_t)row_bytes;
            int8_t *o = out + (size_t)first * (size_t)p->out_c + (size_t)oc;
            int32_t acc[DMC_CONV_BLOCK];
            if (count == DMC_CONV_BLOCK) {
                dmc_dot4(scratch, stride, w, depth, p->bits, acc);
                dmc_requantize4(acc, p->bias[oc], p->multiplier[oc], p->shift[oc],
                                p->output_zero_point, p->act_min, p->act_max, o,
                                (size_t)p->out_c);
                continue;
            }
            for (k = 0; k < count; ++k)
                o[(size_t)k * (size_t)p->out_c] =
                    dmc_requantize(p->bias[oc] + dmc_dot(scratch + k * stride, w, depth, p->bits),
                                   p->multiplier[oc], p->shift[oc], p->output_zero_point,
                                   p->act_min, p->act_max);
        }
    }
}

#endif /* DMC_CONV2D_H */
