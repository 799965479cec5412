/*
 * dmc_pool.h - integer max and average pooling, NHWC. Pooling keeps the
 * input's scale and zero point, so max pooling is exact and average pooling
 * rounds once (dmc_arith.h, rule 6).
 */
#ifndef DMC_POOL_H
#define DMC_POOL_H

#include "dmc_arith.h"

typedef struct dmc_pool2d_s8 {
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t kernel, stride, padding; /* square window; 0 <= padding < kernel */
    int32_t zero_point;              /* average pooling: the tensor's zero point */
    int32_t multiplier, shift;       /* average pooling: 1 / (kernel * kernel) */
} dmc_pool2d_s8;

static inline void dmc_maxpool2d_s8_run(const dmc_pool2d_s8 *p, const int8_t *in, int8_t *out)
{
    const int32_t c_n = p->channels;
    int32_t oy, ox, ky, kx, c;
    for (oy = 0; oy < p->out_h; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            int8_t *o = out + ((size_t)oy * p->out_w + (size_t)ox) * (size_t)c_n;
            for (c = 0; c < c_n; ++c) o[c] = DMC_ACT_MIN;
            /* padded positions are skipped: they never win a max */
            for (ky = 0; ky < p->kernel; ++ky) {
                const int32_t iy = oy * p->stride - p->padding + ky;
                if (iy < 0 || iy >= p->in_h) continue;
                for (kx = 0; kx < p->kernel; ++kx) {
                    const int32_t ix = ox * p->stride - p->padding + kx;
                    const int8_t *i;
                    if (ix < 0 || ix >= p->in_w) continue;
                    i = in + ((size_t)iy * p->in_w + (size_t)ix) * (size_t)c_n;
                    for (c = 0; c < c_n; ++c)
                        o[c] = (int8_t)dmc_max_i32(o[c], i[c]);
                }
            }
        }
    }
}

static inline void dmc_avgpool2d_s8_run(const dmc_pool2d_s8 *p, const int8_t *in, int8_t *out)
{
    const int32_t c_n = p->channels;
    int32_t oy, ox, ky, kx, c;
    for (oy = 0; oy < p->out_h; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            for (c = 0; c < c_n; ++c) {
                /* padded positions hold real zero: they add nothing to the sum
                 * but count in the divisor (PyTorch's count_include_pad) */
                int32_t sum = 0;
                for (ky = 0; ky < p->kernel; ++ky) {
                    const int32_t iy = oy * p->stride - p->padding + ky;
                    if (iy < 0 || iy >= p->in_h) continue;
                    for (kx = 0; kx < p->kernel; ++kx) {
                        const int32_t ix = ox * p->stride - p->padding + kx;
                        if (ix < 0 || ix >= p->in_w) continue;
                        sum += in[((size_t)iy * p->in_w + (size_t)ix) * (size_t)c_n + (size_t)c] -
                               p->zero_point;
                    }
                }
                out[((size_t)oy * p->out_w + (size_t)ox) * (size_t)c_n + (size_t)c] =
                    dmc_requantize(sum, p->multiplier, p->shift, p->zero_point, DMC_ACT_MIN,
                                   DMC_ACT_MAX);
            }
        }
    }
}

/* Global average pooling: H x W x C -> 1 x 1 x C (dmc_arith.h, rule 8). */
typedef struct dmc_global_avgpool2d_s8 {
    int32_t in_h, in_w, channels;
    int32_t zero_point;        /* the tensor's, input and output alike */
    int32_t multiplier, shift; /* 1 / (in_h * in_w) */
} dmc_global_avgpool2d_s8;

/* Sums each channel's (q - z) over every position (at most 2^22 * 255 in
 * magnitude: no int32 overflow), then requantizes once. No scratch. */
static inline void dmc_global_avgpool2d_s8_run(const dmc_global_avgpool2d_s8 *p, const int8_t *in,
                                               int8_t *out)
{
    const int32_t positions = p->in_h * p->in_w, c_n = p->channels;
    int32_t c, i;
    for (c = 0; c < c_n; ++c) {
        int32_t sum = 0;
        for (i = 0; i < positions; ++i) sum += in[(size_t)i * (size_t)c_n + (size_t)c] - p->zero_point;
        out[c] = dmc_requantize(sum, p->multiplier, p->shift, p->zero_point, DMC_ACT_MIN, DMC_ACT_MAX);
    }
}

#endif /* DMC_POOL_H */
