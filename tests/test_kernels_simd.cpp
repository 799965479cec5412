// The kernel tests again, with the engine's SIMD dot products
// (engine/src/simd/dot_simd.h) in place of the plain loops, its 128-bit
// convolution (conv_simd.h) and its row-wise max pooling
// (maxpool_rows.h); plus a direct comparison of the dot products on every
// length and bit width.
#include "simd/conv_simd.h"
#include "simd/dot_simd.h"
#include "simd/maxpool_rows.h"

#if DMC_SIMD128
#define KERNELS KernelsSimd
#define CONV2D_RUN dmc_conv2d_s8_run_simd128
#define MAXPOOL_RUN dmc_maxpool2d_s8_run_rows
#include "test_kernels.cpp"

TEST(KernelsSimd, DotProductsEqualThePlainLoops) {
    std::mt19937 rng(99);
    for (int bits : {8, 4, 2}) {
        for (int32_t n = 1; n <= 100; ++n) {
            const int32_t padded = dmc_padded_length(n);
            const RandomLayer l = random_layer(rng, bits, 1, n, false);
            std::vector<int8_t> x(size_t(4 * padded), 0);
            for (int p = 0; p < 4; ++p) {
                const std::vector<int8_t> v = random_tensor(rng, size_t(n));
                std::copy(v.begin(), v.end(), x.begin() + p * padded);
            }
            int32_t plain[4], fast[4];
            if (bits == 8) dmc_dot4_w8(x.data(), padded, l.packed.data(), n, plain);
            if (bits == 4) dmc_dot4_w4(x.data(), padded, l.packed.data(), n, plain);
            if (bits == 2) dmc_dot4_w2(x.data(), padded, l.packed.data(), n, plain);
            dmc_dot4_fast(x.data(), padded, l.packed.data(), n, bits, fast);
            for (int p = 0; p < 4; ++p) {
                ASSERT_EQ(fast[p], plain[p]) << "bits " << bits << " n " << n << " input " << p;
                // dmc_dot reads exactly n values: give it an unpadded copy.
                const std::vector<int8_t> exact(x.begin() + p * padded, x.begin() + p * padded + n);
                ASSERT_EQ(dmc_dot_fast(exact.data(), l.packed.data(), n, bits), plain[p]);
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
        dmc_requantize4_fast(acc, bias, m, s, z, lo, hi, fast, 2);
        for (int k = 0; k < 8; ++k)
            ASSERT_EQ(fast[k], plain[k]) << "acc " << acc[k / 2] << " bias " << bias << " m " << m << " shift " << s
                                         << " zp " << z;
    }
}
TEST(KernelsSimd, ConvAccumulatorsEqualTheReference) {
    // What calibration measures: every int32 accumulator, bias included.
    std::mt19937 rng(97);
    const ConvCase cases[] = {{1, 6, 28, 28, 5, 1, 2}, {6, 16, 14, 14, 5, 1, 0}, {3, 7, 9, 7, 3, 2, 1},
                              {2, 5, 17, 19, 3, 1, 1}, {7, 3, 11, 5, 3, 2, 0}};
    for (int bits : {8, 4, 2})
        for (const ConvCase &c : cases) {
            const int64_t depth = int64_t(c.kernel) * c.kernel * c.in_c;
            const RandomLayer l = random_layer(rng, bits, c.out_c, depth, false);
            const std::vector<int8_t> in = random_tensor(rng, size_t(c.h * c.w * c.in_c));
            const std::vector<int64_t> reference = reference_conv_accumulators(c, l, in);
            const std::vector<int32_t> want(reference.begin(), reference.end());
            std::vector<int32_t> got(want.size(), 12345);
            const dmc_conv2d_s8 p = conv_params(c, l);
            dmc_conv2d_s8_accumulators_simd128(&p, in.data(), got.data());
            ASSERT_EQ(got, want) << "conv " << c.in_c << "->" << c.out_c << " " << c.h << "x" << c.w << " bits " << bits;
        }
}
#else
TEST(KernelsSimd, NotBuilt) { GTEST_FAIL() << "this build has no 128-bit SIMD (SSE4.1 or wasm SIMD128)"; }
#endif
