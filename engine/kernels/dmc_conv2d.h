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

/* out (out_h x out_w x out_c) = conv(in (in_h x in_w x in_c)).
 * scratch: dmc_conv2d_s8_scratch_bytes(p) bytes, not overlapping in/out.
 * Output pixels are taken in blocks of DMC_CONV_BLOCK in raster order; the
 * last block of the image may be partial. */
static inline void dmc_conv2d_s8_run(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out,
                                     int8_t *scratch)
{
    const int32_t depth = p->kernel * p->kernel * p->in_c;
    const int32_t stride = dmc_padded_length(depth); /* of the fields in scratch */
    const int32_t row_bytes = dmc_row_bytes(depth, p->bits);
    const int32_t pixels = p->out_h * p->out_w;
    int32_t first, k, oc;
    int32_t oy = 0, ox = 0; /* the next pixel to gather, stepped (no division) */
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
