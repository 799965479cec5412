/*
 * dmc_linear.h - integer fully connected layer, weights [out][in] packed at
 * 8, 4 or 2 bits (see dmc_arith.h for the arithmetic).
 */
#ifndef DMC_LINEAR_H
#define DMC_LINEAR_H

#include "dmc_dot.h"

typedef struct dmc_linear_s8 {
    int32_t in_features, out_features;
    int32_t bits;              /* 8, 4 or 2 */
    const uint8_t *weights;    /* out_features rows of dmc_row_bytes(in_features, bits) */
    const int32_t *bias;       /* out_features, input zero point folded in */
    const int32_t *multiplier; /* out_features, in [2^30, 2^31) */
    const int8_t *shift;       /* out_features, in [1, 62] */
    int32_t output_zero_point;
    int32_t act_min, act_max; /* act_min = output_zero_point when a ReLU is fused */
} dmc_linear_s8;

#if DMC_ARM_DSP
/* The Cortex-M DSP path: two rows per pass (each input word widened once
 * for both), one copy per bit width; dmc_linear_s8_run below only
 * dispatches, so that a compiler which sees a constant layer keeps the
 * widths the model uses and no other. */
static inline __attribute__((always_inline)) void dmc_linear_s8_run_dsp_bits(const dmc_linear_s8 *p,
                                                                             const int8_t *in, int8_t *out,
                                                                             int32_t bits)
{
    const int32_t row_bytes = dmc_row_bytes(p->in_features, bits);
    const int32_t n_out = p->out_features;
    /* a layer of one row pairs it with itself (its second result, the same
     * value, lands on the first) */
    const int32_t second = n_out > 1 ? 1 : 0;
    int32_t o;
    for (o = 0; o < n_out; o += 2) {
        const uint8_t *w;
        int32_t acc[2], r;
        /* an odd last row is paired with the row before it, computed again:
         * no second loop in the code for a lone row (100-250 bytes) */
        if (o + 1 == n_out && o > 0) --o;
        w = p->weights + (size_t)o * (size_t)row_bytes;
        if (bits == 8) dmc_dot2_dsp_w8(in, w, w + second * row_bytes, p->in_features, acc);
        else if (bits == 4) dmc_dot2_dsp_w4(in, w, w + second * row_bytes, p->in_features, acc);
        else dmc_dot2_dsp_w2(in, w, w + second * row_bytes, p->in_features, acc);
        for (r = 0; r < 2; ++r)
            out[o + second * r] = dmc_requantize_dsp(p->bias[o + second * r] + acc[r], p->multiplier[o + second * r],
                                                     p->shift[o + second * r], p->output_zero_point, p->act_min,
                                                     p->act_max);
    }
}

static inline void dmc_linear_s8_run_dsp_w8(const dmc_linear_s8 *p, const int8_t *in, int8_t *out)
{
    dmc_linear_s8_run_dsp_bits(p, in, out, 8);
}

static inline void dmc_linear_s8_run_dsp_w4(const dmc_linear_s8 *p, const int8_t *in, int8_t *out)
{
    dmc_linear_s8_run_dsp_bits(p, in, out, 4);
}

static inline void dmc_linear_s8_run_dsp_w2(const dmc_linear_s8 *p, const int8_t *in, int8_t *out)
{
    dmc_linear_s8_run_dsp_bits(p, in, out, 2);
}
#endif

static inline DMC_DSP_DISPATCH void dmc_linear_s8_run(const dmc_linear_s8 *p, const int8_t *in, int8_t *out)
{
    const int32_t row_bytes = dmc_row_bytes(p->in_features, p->bits);
    int32_t o;
#if DMC_ARM_DSP
    if (p->bits == 8) dmc_linear_s8_run_dsp_w8(p, in, out);
    else if (p->bits == 4) dmc_linear_s8_run_dsp_w4(p, in, out);
    else dmc_linear_s8_run_dsp_w2(p, in, out);
    return;
#endif
    for (o = 0; o < p->out_features; ++o) {
        const int32_t acc =
            p->bias[o] + dmc_dot(in, p->weights + (size_t)o * (size_t)row_bytes, p->in_features, p->bits);
        out[o] = dmc_requantize(acc, p->multiplier[o], p->shift[o], p->output_zero_point,
                                p->act_min, p->act_max);
    }
}

#endif /* DMC_LINEAR_H */
