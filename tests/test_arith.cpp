// The arithmetic contract (engine/kernels/dmc_arith.h): the worked example,
// the rounding rule, packing round trips, and parameter derivation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "dmc/error.h"
#include "dmc/quantize.h"
#include "dmc_arith.h"
#include "dmc_dot.h"

using namespace dmc;

TEST(Arith, WorkedExampleFromTheHeader) {
    // The header's example is written in decimal; the weights go through
    // float32 here, the scales are the example's exact doubles.
    const double s_in = 0.02, s_w = 0.30 / 7;
    const int32_t z_in = -128;
    const std::vector<float> w = {0.30f, -0.15f, 0.07f};
    const QuantizedWeights q = quantize_weights(w, 1, 3, 4);
    EXPECT_DOUBLE_EQ(q.scales[0], double(0.30f) / 7.0);
    EXPECT_EQ(q.packed[0], 0xD7); // 7 | (-3 << 4)
    EXPECT_EQ(q.packed[1], 0x02);
    EXPECT_EQ(q.row_sums[0], 6);

    const double step = s_in * s_w;
    const int32_t bias = int32_t(round_half_up(0.1 / step)) - z_in * q.row_sums[0];
    EXPECT_EQ(bias, 885);

    const FixedPointMultiplier m = quantize_multiplier(step / 0.05);
    EXPECT_EQ(m.multiplier, 1178048173);
    EXPECT_EQ(m.shift, 36);

    const int8_t x[3] = {-28, 22, -128};
    const int32_t acc = bias + dmc_dot_w4(x, q.packed.data(), 3);
    EXPECT_EQ(acc, 367);
    EXPECT_EQ(dmc_requantize(acc, m.multiplier, m.shift, -20, -128, 127), -14);
}

TEST(Arith, RescaleRoundsHalfUp) {
    // multiplier 2^30, shift 31: exactly acc / 2.
    const int32_t half = 1 << 30;
    EXPECT_EQ(dmc_rescale(5, half, 31), 3);   // 2.5 -> 3
    EXPECT_EQ(dmc_rescale(-5, half, 31), -2); // -2.5 -> -2 (towards +infinity)
    EXPECT_EQ(dmc_rescale(7, half, 31), 4);   // 3.5 -> 4
    EXPECT_EQ(dmc_rescale(-7, half, 31), -3); // -3.5 -> -3
    EXPECT_EQ(dmc_rescale(-6, half, 31), -3);
    EXPECT_EQ(dmc_rescale(0, half, 31), 0);
    // The largest magnitudes stay exact in int64.
    EXPECT_EQ(dmc_rescale(INT32_MAX, INT32_MAX, 62), 1);
    EXPECT_EQ(dmc_rescale(INT32_MIN, INT32_MAX, 31), int64_t(INT32_MIN) + 1);
}

TEST(Arith, RequantizeClampsWithoutOverflow) {
    EXPECT_EQ(dmc_requantize(INT32_MAX, INT32_MAX, 1, 0, -128, 127), 127);
    EXPECT_EQ(dmc_requantize(INT32_MIN, INT32_MAX, 1, 0, -128, 127), -128);
    EXPECT_EQ(dmc_requantize(-1000, 1 << 30, 31, 5, 5, 127), 5); // fused ReLU at the zero point
    EXPECT_EQ(dmc_requantize(100, 1 << 30, 31, -128, -128, 127), -78);
}

TEST(Arith, BranchFreeMinMaxClamp) {
    std::mt19937 rng(1);
    std::uniform_int_distribution<int32_t> d(-(1 << 29), 1 << 29);
    for (int i = 0; i < 10000; ++i) {
        const int32_t a = d(rng), b = d(rng);
        ASSERT_EQ(dmc_min_i32(a, b), std::min(a, b));
        ASSERT_EQ(dmc_max_i32(a, b), std::max(a, b));
        ASSERT_EQ(dmc_clamp_i32(a, -128, 127), std::max(-128, std::min(127, a)));
    }
}

TEST(Arith, UnpackSignExtends) {
    for (uint32_t nib = 0; nib < 16; ++nib) {
        const int32_t expect = nib < 8 ? int32_t(nib) : int32_t(nib) - 16;
        EXPECT_EQ(dmc_unpack_s4(nib, 0), expect);
        EXPECT_EQ(dmc_unpack_s4(nib << 4, 1), expect);
    }
    const int32_t crumbs[4] = {0, 1, -2, -1};
    for (uint32_t c = 0; c < 4; ++c)
        for (int pos = 0; pos < 4; ++pos) EXPECT_EQ(dmc_unpack_s2(c << (2 * pos), pos), crumbs[c]);
}

// Every value of every bit width, at every odd and even length up to 37.
TEST(Arith, PackUnpackRoundTripsAllWidthsAndLengths) {
    std::mt19937 rng(7);
    for (int bits : {2, 4, 8}) {
        const int qmax = weight_qmax(bits);
        std::uniform_int_distribution<int> d(-qmax, qmax);
        for (int n = 1; n <= 37; ++n) {
            std::vector<int8_t> values(static_cast<size_t>(n)), back(static_cast<size_t>(n));
            for (auto &v : values) v = int8_t(d(rng));
            values[0] = int8_t(-qmax);
            values[size_t(n - 1)] = int8_t(qmax);
            std::vector<uint8_t> packed(size_t(dmc_row_bytes(n, bits)) + 1, 0xEE);
            pack_row(values.data(), n, bits, packed.data());
            EXPECT_EQ(packed.back(), 0xEE) << "wrote past the row, bits " << bits << " n " << n;
            unpack_row(packed.data(), n, bits, back.data());
            ASSERT_EQ(values, back) << "bits " << bits << " n " << n;
            // Unused high bits of the last byte are zero.
            const int used = (n * bits) % 8;
            if (used) {
                EXPECT_EQ(packed[size_t(dmc_row_bytes(n, bits) - 1)] >> used, 0);
            }
        }
    }
}

TEST(Arith, PackingLayoutIsLowNibbleFirst) {
    const int8_t v4[3] = {1, -2, 3};
    uint8_t p4[2];
    pack_row(v4, 3, 4, p4);
    EXPECT_EQ(p4[0], 0xE1);
    EXPECT_EQ(p4[1], 0x03);
    const int8_t v2[5] = {1, -1, 0, 1, -1};
    uint8_t p2[2];
    pack_row(v2, 5, 2, p2);
    EXPECT_EQ(p2[0], 0x01 | 0x0C | 0x00 | 0x40);
    EXPECT_EQ(p2[1], 0x03);
}

TEST(Arith, ActivationParamsKeepZeroExact) {
    const QuantParams relu = activation_params(0.0, 5.1);
    EXPECT_EQ(relu.zero_point, -128);
    EXPECT_DOUBLE_EQ(relu.scale, 0.02);
    const QuantParams sym = activation_params(-1.0, 1.0);
    EXPECT_EQ(sym.zero_point, -1); // -128 - round_half_up(-127.5) = -128 + 127
    const QuantParams positive = activation_params(2.0, 3.0); // widened to [0, 3]
    EXPECT_EQ(positive.zero_point, -128);
    EXPECT_DOUBLE_EQ(positive.scale, 3.0 / 255.0);
    const QuantParams zero = activation_params(0.0, 0.0);
    EXPECT_EQ(zero.zero_point, -128);
}

TEST(Arith, MultiplierRepresentsTheRealFactor) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> exponent(-30.0, 29.0);
    for (int i = 0; i < 2000; ++i) {
        const double real = std::pow(2.0, exponent(rng));
        const FixedPointMultiplier m = quantize_multiplier(real);
        ASSERT_GE(m.multiplier, 1 << 30);
        ASSERT_GE(m.shift, 1);
        ASSERT_LE(m.shift, 62);
        const double represented = std::ldexp(double(m.multiplier), -m.shift);
        ASSERT_LE(std::fabs(represented - real) / real, 1.0 / (1 << 30)) << real;
    }
    EXPECT_EQ(quantize_multiplier(0.0).multiplier, 0);
    EXPECT_THROW(quantize_multiplier(double(1 << 30)), Error);
    EXPECT_THROW(quantize_multiplier(-1.0), Error);
    EXPECT_THROW(quantize_multiplier(std::nan("")), Error);
    // Below 2^-31 the shift saturates at 62 and the multiplier shrinks.
    const FixedPointMultiplier tiny = quantize_multiplier(std::ldexp(1.0, -40));
    EXPECT_EQ(tiny.shift, 62);
    EXPECT_EQ(tiny.multiplier, 1 << 22);
}
