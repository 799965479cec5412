// The engine's 128-bit SIMD dot products and requantization
// (engine/src/simd/dot_simd.h), which its ..._simd128 kernels are built
// from, against the plain loops of engine/kernels/dmc_dot.h, on every
// length 1..100 and bit width. (The kernels themselves are compared with
// the reference in test_kernels.cpp.)
#include <gtest/gtest.h>

#include <random>

#include "dmc/quantize.h"
#include "dmc_dot.h"
#include "simd/dot_simd.h"

using namespace dmc;

#if DMC_SIMD128
namespace {

std::vector<int8_t> random_values(std::mt19937 &rng, size_t n) {
    std::uniform_int_distribution<int> d(-128, 127);
    std::vector<int8_t> v(n);
    for (auto &x : v) x = int8_t(d(rng));
    return v;
}

// One packed row of n random weights, with the slack the engine allocates.
std::vector<uint8_t> random_row(std::mt19937 &rng, int bits, int32_t n) {
    const int qmax = weight_qmax(bits);
    std::uniform_int_distribution<int> w(-qmax, qmax);
    std::vector<int8_t> q(static_cast<size_t>(n));
    for (auto &v : q) v = int8_t(w(rng));
    std::vector<uint8_t> packed(size_t(dmc_row_bytes(n, bits) + kWeightSlackBytes), 0xAB); // slack: anything readable
    pack_row(q.data(), n, bits, packed.data());
    return packed;
}

} // namespace

TEST(KernelsSimd, DotProductsEqualThePlainLoops) {
    std::mt19937 rng(99);
    for (int bits : {8, 4, 2}) {
        for (int32_t n = 1; n <= 100; ++n) {
            const int32_t padded = dmc_padded_length(n);
            const std::vector<uint8_t> w = random_row(rng, bits, n);
            std::vector<int8_t> x(size_t(4 * padded), 0);
            for (int p = 0; p < 4; ++p) {
                const std::vector<int8_t> v = random_values(rng, size_t(n));
                std::copy(v.begin(), v.end(), x.begin() + p * padded);
            }
            int32_t plain[4], fast[4];
            if (bits == 8) dmc_dot4_w8(x.data(), padded, w.data(), n, plain);
            if (bits == 4) dmc_dot4_w4(x.data(), padded, w.data(), n, plain);
            if (bits == 2) dmc_dot4_w2(x.data(), padded, w.data(), n, plain);
            simd::dot4_bits(x.data(), padded, w.data(), n, bits, fast);
            for (int p = 0; p < 4; ++p) {
                ASSERT_EQ(fast[p], plain[p]) << "bits " << bits << " n " << n << " input " << p;
                // dot1 reads exactly n values: give it an unpadded copy.
                const std::vector<int8_t> exact(x.begin() + p * padded, x.begin() + p * padded + n);
                ASSERT_EQ(simd::dot_bits(exact.data(), w.data(), n, bits), plain[p]);
            }
        }
    }
}

TEST(KernelsSimd, RequantizeFourEqualsTheScalarRule) {
    std::mt19937 rng(98);
    std::uniform_int_distribution<int32_t> any(INT32_MIN / 2, INT32_MAX / 2), small(-100000, 100000);
    std::uniform_int_distribution<int32_t> mult(0, INT32_MAX), shift(1, 62), zp(-128, 127);
    const int32_t edges[] = {0, 1, -1, INT32_MAX / 2, INT32_MIN / 2, 12345, -12345};
    for (int t = 0; t < 200000; ++t) {
        int32_t acc[4];
        for (int k = 0; k < 4; ++k) acc[k] = t % 3 == 0 ? any(rng) : small(rng);
        if (t < 7) acc[t % 4] = edges[t];
        const int32_t bias = small(rng), m = t % 5 == 0 ? INT32_MAX : mult(rng), s = shift(rng), z = zp(rng);
        const int32_t lo = t % 2 ? z : -128, hi = 127;
        int8_t plain[8] = {0}, fast[8] = {0};
        dmc_requantize4_plain(acc, bias, m, s, z, lo, hi, plain, 2);
        simd::requantize4_store(acc, bias, m, s, z, lo, hi, fast, 2);
        for (int k = 0; k < 8; ++k)
            ASSERT_EQ(fast[k], plain[k]) << "acc " << acc[k / 2] << " bias " << bias << " m " << m << " shift " << s
                                         << " zp " << z;
    }
}
#else
TEST(KernelsSimd, NotBuilt) { GTEST_FAIL() << "this build has no 128-bit SIMD (SSE4.2 or wasm SIMD128)"; }
#endif
