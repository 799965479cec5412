/*
 * dmc_dot.h - the inner loop: int8 activations times packed b-bit weights,
 * summed into int32. Every integer kernel spends its time here.
 *
 * The plain C loops below are the definition. A target may replace them
 * with faster code that returns the same integers; tests compare each
 * variant with these loops on odd lengths.
 */
#ifndef DMC_DOT_H
#define DMC_DOT_H

#include "dmc_arith.h"

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

/* Dispatch on the layer's bit width (a per-layer constant, not data). */
static inline int32_t dmc_dot(const int8_t *x, const uint8_t *w_row, int32_t n, int32_t bits)
{
    if (bits == 8) return dmc_dot_w8(x, w_row, n);
    if (bits == 4) return dmc_dot_w4(x, w_row, n);
    return dmc_dot_w2(x, w_row, n);
}

#endif /* DMC_DOT_H */
