/*
 * dmc_arith.h - the arithmetic contract of the integer engine.
 *
 * Every target (the native engine, the WebAssembly workbench, the generated
 * microcontroller header and the PyTorch simulation in python/) computes
 * exactly the integers defined here. This file is C99 and C++ at once; the
 * exporter copies it verbatim into generated headers, so it includes nothing
 * beyond <stdint.h> and <stddef.h>.
 *
 * 1. Activations are int8 with a per-tensor scale s and zero point z:
 *        real = s * (q - z),   q in [-128, 127].
 *    Zero is always exact (q = z), so padding and ReLU need no rounding.
 *
 * 2. Weights are symmetric per output channel, b bits (b = 2, 4 or 8),
 *    zero point 0, in the narrow range [-(2^(b-1) - 1), 2^(b-1) - 1]:
 *        real = s_w[c] * q,   s_w[c] = max|w_c| / (2^(b-1) - 1).
 *    So 2 bits are ternary {-1, 0, 1}, 4 bits [-7, 7], 8 bits [-127, 127].
 *
 * 3. Packing: a row (the weights of one output channel, in OHWI order) starts
 *    on a byte boundary and holds 8/b elements per byte, element i in bits
 *    [(i % (8/b)) * b, ...) of byte i / (8/b), as b-bit two's complement. For
 *    4 bits that is element 2i in the low nibble and 2i+1 in the high nibble
 *    (the CMSIS-NN / TFLite Micro layout). A row of n elements takes
 *    (n * b + 7) / 8 bytes; unused high bits of its last byte are zero.
 *    Kernels unpack in the inner loop with shifts and masks
 *    (dmc_unpack_s4/s2); no unpacked copy of the weights ever exists.
 *
 * 4. Bias: int32, in units of s_in * s_w[c]. The input zero point is folded
 *    into it once, at compression time:
 *        acc[c] = bias[c] + sum_i w[c][i] * q_in[i]
 *        bias[c] = round(b_real[c] / (s_in * s_w[c])) - z_in * sum_i w[c][i]
 *    so the inner loop is a plain int8 x int8 dot product. Convolution
 *    padding therefore reads z_in (the quantized real zero), never 0.
 *
 * 5. Requantization of an int32 accumulator to the output tensor:
 *        M[c] = s_in * s_w[c] / s_out = m * 2^-shift,  m an int32 in
 *        [2^30, 2^31), shift in [1, 62];
 *        q_out = clamp(z_out + ((acc * m + 2^(shift-1)) >> shift),
 *                      act_min, act_max)
 *    computed in int64 with an arithmetic shift: one rounding rule, round
 *    half up (towards +infinity). A ReLU that follows the layer is fused as
 *    act_min = z_out. No float, no division, no data-dependent branch.
 *    A ReLU with an upper bound M (ReLU6: M = 6) is fused the same way with
 *        act_max = min(127, z_out + round_half_up(M / s_out))
 *    computed once at compression time in double; calibration measures the
 *    output range clipped to [0, M], so usually s_out = M / 255, z_out =
 *    -128 and act_max = 127, and the clamp bites only when the range seen
 *    is wider than M. Example: s_out = 0.05, z_out = -128, M = 6:
 *    act_max = min(127, -128 + round(120.0)) = -8. A stand-alone ReLU6
 *    (after pooling) keeps its input's s and z and clamps to [z, act_max].
 *
 * 6. Average pooling divides by the window size the same way: the window
 *    sum of (q - z) is requantized with the multiplier and shift of
 *    1 / (k * k), then z is added back (input and output share s and z).
 *
 * 7. Depthwise convolution (dmc_depthwise.h) is rules 2 to 5 with one
 *    filter per channel: channel c's row holds its kernel * kernel weights
 *    (row-major ky, kx), with its own scale s_w[c], bias, multiplier and
 *    shift; the accumulator sums in that order, padding reads z_in.
 *
 * 8. Global average pooling (dmc_pool.h) keeps the input's s and z. Each
 *    channel's sum S of (q - z) over all N = H * W positions is
 *    requantized with the multiplier and shift of 1 / N (as rule 6):
 *        q_out = clamp(z + ((S * m + 2^(shift-1)) >> shift), -128, 127)
 *    so it rounds half up like everything else, without a division at run
 *    time. m approximates 1 / N to 31 bits; for N a power of two it is
 *    exact. Example: N = 7 * 7 = 49, 1/49 = 0.65306 * 2^-5 -> m =
 *    1402438301, shift = 36; S = -100 gives (-100 * m + 2^35) >> 36 =
 *    floor(-2.0408 + 0.5) = -2, so q_out = z - 2.
 *
 * Worked example (a 4-bit linear layer, one output channel):
 *    input  s_in = 0.02,  z_in = -128  (real 0 .. 5.1)
 *    weights w = [0.30, -0.15, 0.07]   -> max|w| = 0.30, s_w = 0.30 / 7
 *            q_w = round([7, -3.5, 1.633]) = [7, -3, 2]   (round half up)
 *            packed: byte 0 = (7 & 15) | ((-3 & 15) << 4) = 0x07 | 0xD0
 *                           = 0xD7, byte 1 = 0x02
 *    bias   b = 0.1 -> round(0.1 / (0.02 * 0.30 / 7)) = round(116.67) = 117
 *           folded: 117 - (-128) * (7 - 3 + 2) = 117 + 768 = 885
 *    output s_out = 0.05, z_out = -20, no ReLU
 *           M = 0.02 * (0.30 / 7) / 0.05 = 0.0171428...
 *             = 0.548571... * 2^-5 -> m = round(0.548571 * 2^31)
 *             = 1178048173, shift = 31 + 5 = 36
 *    input  q_in = [-28, 22, -128]  (real 2.0, 3.0, 0.0)
 *    acc = 885 + 7 * -28 + -3 * 22 + 2 * -128 = 885 - 196 - 66 - 256 = 367
 *    (acc * m + 2^35) >> 36 = 6.29... -> 6;  q_out = -20 + 6 = -14
 *    real output s_out * (q_out - z_out) = 0.30; the float layer gives
 *    0.30 * 2 - 0.15 * 3 + 0.1 = 0.25; the gap is 4-bit weight error.
 *    (tests/test_arith.cpp checks these numbers.)
 */
#ifndef DMC_ARITH_H
#define DMC_ARITH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define DMC_RESTRICT
#else
#define DMC_RESTRICT restrict
#endif

#define DMC_ACT_MIN (-128)
#define DMC_ACT_MAX 127

/* Branch-free min/max of int32 values (no conditional jump even on
 * Cortex-M0, which has no conditional select). */
static inline int32_t dmc_min_i32(int32_t a, int32_t b)
{
    int32_t d = a - b;
    return b + (d & (d >> 31));
}

static inline int32_t dmc_max_i32(int32_t a, int32_t b)
{
    int32_t d = a - b;
    return a - (d & (d >> 31));
}

static inline int32_t dmc_clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    return dmc_min_i32(dmc_max_i32(v, lo), hi);
}

/* (acc * multiplier) * 2^-shift, rounded half up. shift is in [1, 62]. */
static inline int64_t dmc_rescale(int32_t acc, int32_t multiplier, int32_t shift)
{
    int64_t product = (int64_t)acc * (int64_t)multiplier;
    return (product + ((int64_t)1 << (shift - 1))) >> shift;
}

/* The full output stage: rescale, add the output zero point, clamp to
 * [act_min, act_max]. The rescaled value is first saturated to +-2^24 (far
 * outside any int8 range, so the result is unchanged) to make the
 * branch-free int32 clamp safe from overflow. */
static inline int8_t dmc_requantize(int32_t acc, int32_t multiplier, int32_t shift,
                                    int32_t zero_point, int32_t act_min, int32_t act_max)
{
    int64_t scaled = dmc_rescale(acc, multiplier, shift);
    int64_t big = (int64_t)1 << 24;
    int64_t d_lo = scaled + big, d_hi = scaled - big;
    scaled -= d_lo & (d_lo >> 63);  /* max(scaled, -2^24) */
    scaled -= d_hi & ~(d_hi >> 63); /* min(scaled, 2^24)  */
    return (int8_t)dmc_clamp_i32((int32_t)scaled + zero_point, act_min, act_max);
}

/* Sign-extend the low `bits` bits of v (xor-subtract: defined behaviour in
 * C, unlike an arithmetic right shift of a negative value). */
static inline int32_t dmc_unpack_s4(uint32_t byte, int nibble)
{
    uint32_t v = (byte >> (4 * nibble)) & 0xFu;
    return (int32_t)(v ^ 0x8u) - 8;
}

static inline int32_t dmc_unpack_s2(uint32_t byte, int crumb)
{
    uint32_t v = (byte >> (2 * crumb)) & 0x3u;
    return (int32_t)(v ^ 0x2u) - 2;
}

/* Bytes of one packed row of n weights of `bits` bits. */
static inline int32_t dmc_row_bytes(int32_t n, int32_t bits)
{
    return (n * bits + 7) / 8;
}

/* Element i of a packed row, for tests and tools (not for inner loops). */
static inline int32_t dmc_packed_get(const uint8_t *row, int32_t i, int32_t bits)
{
    if (bits == 8) return (int32_t)((const int8_t *)row)[i];
    if (bits == 4) return dmc_unpack_s4(row[i >> 1], (int)(i & 1));
    return dmc_unpack_s2(row[i >> 2], (int)(i & 3));
}

#endif /* DMC_ARITH_H */
