// Weight quantization: every weight within half a step of its float value,
// and the signal-to-noise ratio within a named budget per bit width.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "dmc/quantize.h"

using namespace dmc;

namespace {

// Budgets for Gaussian weights, max-abs scaling, rows of 150 (a LeNet conv2
// filter), whose largest magnitude is about 2.8 sigma. At 8 and 4 bits the
// step is 2.8 sigma / qmax and the noise step^2 / 12: ~44 dB and ~19 dB.
// Ternary (2 bits) zeroes every |w| below 1.4 sigma (84% of them) and maps
// the rest to +-2.8 sigma: noise ~0.59 sigma^2, ~2.3 dB. Budgets sit a
// little below those figures.
struct Budget {
    int bits;
    double min_sqnr_db;
};
const Budget kBudgets[] = {{8, 40.0}, {4, 15.5}, {2, 2.0}};

} // namespace

TEST(Quantize, WeightsWithinHalfAStepAndSqnrBudget) {
    std::mt19937 rng(5);
    std::normal_distribution<float> gauss(0.0f, 0.05f);
    const int rows = 64;
    for (const Budget &b : kBudgets) {
        for (int64_t n : {150, 151, 25, 7}) {
            std::vector<float> w(size_t(rows * n));
            for (float &v : w) v = gauss(rng);
            const QuantizedWeights q = quantize_weights(w, rows, n, b.bits);
            ASSERT_EQ(q.row_bytes, (n * b.bits + 7) / 8);
            ASSERT_EQ(q.bytes(), rows * q.row_bytes);
            ASSERT_EQ(int64_t(q.packed.size()), q.bytes() + kWeightSlackBytes);
            const std::vector<float> back = dequantize_weights(q);
            double signal = 0.0, noise = 0.0;
            for (int r = 0; r < rows; ++r) {
                const double half_step = q.scales[size_t(r)] / 2.0;
                for (int64_t i = 0; i < n; ++i) {
                    const size_t k = size_t(r * n + i);
                    const double err = double(back[k]) - double(w[k]);
                    ASSERT_LE(std::fabs(err), half_step * (1.0 + 1e-6))
                        << "bits " << b.bits << " row " << r << " element " << i;
                    signal += double(w[k]) * w[k];
                    noise += err * err;
                }
            }
            const double sqnr = 10.0 * std::log10(signal / noise);
            if (n >= 150) {
                EXPECT_GE(sqnr, b.min_sqnr_db) << "bits " << b.bits << " rows of " << n;
            }
        }
    }
}

TEST(Quantize, ScaleIsMaxAbsOverQmaxAndExtremesAreExact) {
    const std::vector<float> w = {0.5f, -1.0f, 0.25f, 0.0f, /* row 2 */ 0.0f, 0.0f, 0.0f, 0.0f,
                                  /* row 3 */ 2.0f, 1.0f, -0.5f, 0.1f};
    for (int bits : {2, 4, 8}) {
        const QuantizedWeights q = quantize_weights(w, 3, 4, bits);
        const double qmax = weight_qmax(bits);
        EXPECT_DOUBLE_EQ(q.scales[0], 1.0 / qmax);
        EXPECT_DOUBLE_EQ(q.scales[1], 2.0 / qmax); // all-zero row borrows the layer's largest
        EXPECT_DOUBLE_EQ(q.scales[2], 2.0 / qmax);
        const std::vector<float> back = dequantize_weights(q);
        EXPECT_FLOAT_EQ(back[1], -1.0f);
        EXPECT_FLOAT_EQ(back[8], 2.0f);
        for (int i = 4; i < 8; ++i) EXPECT_EQ(back[size_t(i)], 0.0f);
    }
    // Ternary: |w| below half the max goes to 0, above to +-max.
    const QuantizedWeights t = quantize_weights(w, 3, 4, 2);
    const std::vector<float> back = dequantize_weights(t);
    EXPECT_FLOAT_EQ(back[0], 1.0f);  // 0.5 / 1.0 = 0.5 rounds half up to 1
    EXPECT_FLOAT_EQ(back[2], 0.0f);  // 0.25 -> 0
    EXPECT_FLOAT_EQ(back[10], 0.0f); // -0.5 / 2.0 = -0.25 -> 0
}
