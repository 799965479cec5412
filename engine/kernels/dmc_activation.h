/*
 * dmc_activation.h - the model's boundaries and the stand-alone ReLU:
 * input quantization, output dequantization, argmax, ReLU as a clamp.
 * (A ReLU that directly follows a conv or linear layer is fused into its
 * output stage instead; see act_min in dmc_conv2d.h.)
 */
#ifndef DMC_ACTIVATION_H
#define DMC_ACTIVATION_H

#include "dmc_arith.h"

/* ReLU on an int8 tensor: real 0 is q = zero_point. Works in place. */
static inline void dmc_relu_s8_run(const int8_t *in, int8_t *out, int32_t n, int32_t zero_point)
{
    int32_t i;
    for (i = 0; i < n; ++i) out[i] = (int8_t)dmc_max_i32(in[i], zero_point);
}

/* ReLU with an upper bound (ReLU6): clamps to [zero_point, act_max], where
 * act_max is the quantized max (dmc_arith.h, rule 5). Works in place. */
static inline void dmc_clamp_s8_run(const int8_t *in, int8_t *out, int32_t n, int32_t zero_point,
                                    int32_t act_max)
{
    int32_t i;
    for (i = 0; i < n; ++i) out[i] = (int8_t)dmc_clamp_i32(in[i], zero_point, act_max);
}

/* Quantizes one raw input value x (before normalisation) to int8:
 *     q = clamp(zero_point + floor((x - mean) * inv_scale + 0.5), -128, 127)
 * where inv_scale = 1 / (std * s_in). The product is stored through a
 * volatile float so that no compiler fuses it with the + 0.5 into one
 * fused multiply-add: every target rounds the same float32 values. */
static inline int8_t dmc_quantize_input(float x, float mean, float inv_scale, int32_t zero_point)
{
    volatile float scaled = (x - mean) * inv_scale;
    float t = scaled + 0.5f;
    int32_t floor_t;
    t = t < -1000.0f ? -1000.0f : t; /* keeps the conversion defined; NaN goes to the low end */
    t = t > 1000.0f ? 1000.0f : t;
    t = t == t ? t : -1000.0f;
    floor_t = (int32_t)t; /* truncates towards zero ... */
    floor_t -= (float)floor_t > t ? 1 : 0; /* ... so step down for negative fractions */
    return (int8_t)dmc_clamp_i32(zero_point + floor_t, DMC_ACT_MIN, DMC_ACT_MAX);
}

static inline float dmc_dequantize(int8_t q, float scale, int32_t zero_point)
{
    return scale * (float)((int32_t)q - zero_point);
}

/* Index of the largest value; a tie goes to the lowest index. */
static inline int32_t dmc_argmax_s8(const int8_t *v, int32_t n)
{
    int32_t best = 0, i;
    for (i = 1; i < n; ++i) best = v[i] > v[best] ? i : best;
    return best;
}

#endif /* DMC_ACTIVATION_H */
