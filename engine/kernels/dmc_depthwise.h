/*
 * dmc_depthwise.h - integer depthwise 2-D convolution: one k x k filter per
 * channel, NHWC activations, weights [channels][kernel][kernel] packed at
 * 8, 4 or 2 bits, one row per channel (see dmc_arith.h for the arithmetic;
 * rule 7 for this op).
 */
#ifndef DMC_DEPTHWISE_H
#define DMC_DEPTHWISE_H

#include "dmc_arith.h"

typedef struct dmc_depthwise_conv2d_s8 {
    int32_t in_h, in_w, channels; /* the output has the same channels */
    int32_t out_h, out_w;
    int32_t kernel, stride, padding; /* square kernel; 0 <= padding < kernel */
    int32_t bits;                    /* 8, 4 or 2 */
    const uint8_t *weights;          /* channels rows of dmc_row_bytes(kernel*kernel, bits) */
    const int32_t *bias;             /* channels, input zero point folded in */
    const int32_t *multiplier;       /* channels, in [2^30, 2^31) */
    const int8_t *shift;             /* channels, in [1, 62] */
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t act_min, act_max; /* a fused ReLU / ReLU6: act_min = output_zero_point, act_max its max */
} dmc_depthwise_conv2d_s8;

/* The int32 accumulator of channel c at output pixel (oy, ox), bias
 * included. A padded position reads the input zero point, which the folded
 * bias cancels (dmc_arith.h rule 4), exactly as in dmc_conv2d.h. The
 * window holds kernel * kernel (usually 9) weights, so each is unpacked
 * where it is used; the bits test does not change inside a layer. */
static inline int32_t dmc_depthwise_conv2d_s8_accumulator(const dmc_depthwise_conv2d_s8 *p,
                                                          const int8_t *in, int32_t oy, int32_t ox,
                                                          int32_t c)
{
    const int32_t k = p->kernel, c_n = p->channels;
    const uint8_t *w = p->weights + (size_t)c * (size_t)dmc_row_bytes(k * k, p->bits);
    const int32_t y0 = oy * p->stride - p->padding, x0 = ox * p->stride - p->padding;
    int32_t acc = p->bias[c], ky, kx;
    for (ky = 0; ky < k; ++ky) {
        const int32_t iy = y0 + ky;
        for (kx = 0; kx < k; ++kx) {
            const int32_t ix = x0 + kx;
            const int32_t inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            const int32_t v = inside ? in[((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)c_n + (size_t)c]
                                     : p->input_zero_point;
            acc += dmc_packed_get(w, ky * k + kx, p->bits) * v;
        }
    }
    return acc;
}

/* out (out_h x out_w x channels) = depthwise conv(in (in_h x in_w x channels)).
 * No scratch; in and out must not overlap. */
static inline void dmc_depthwise_conv2d_s8_run(const dmc_depthwise_conv2d_s8 *p, const int8_t *in,
                                               int8_t *out)
{
    int32_t oy, ox, c;
    for (oy = 0; oy < p->out_h; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            int8_t *o = out + ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)p->channels;
            for (c = 0; c < p->channels; ++c)
                o[c] = dmc_requantize(dmc_depthwise_conv2d_s8_accumulator(p, in, oy, ox, c),
                                      p->multiplier[c], p->shift[c], p->output_zero_point,
                                      p->act_min, p->act_max);
        }
    }
}

#endif /* DMC_DEPTHWISE_H */
