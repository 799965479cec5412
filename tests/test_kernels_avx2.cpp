// The kernel tests again, with the engine's AVX2 convolution and linear
// layer (engine/src/simd/avx2.cpp), which the engine runs wherever the CPU
// has AVX2. On a CPU without it the engine never calls them, and their
// tests are reported as skipped (the plain kernel stands in, so that the
// test's own checks still hold).
#include "simd/avx2.h"
#include "simd/dot_simd.h"

#include <gtest/gtest.h>

namespace {
void conv2d_avx2_or_skip(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    if (dmc::avx2_available()) return dmc::conv2d_s8_run_avx2(p, in, out, scratch);
    dmc_conv2d_s8_run(p, in, out, scratch);
    GTEST_SKIP() << "this CPU or build has no AVX2; the engine uses conv_simd.h";
}
void linear_avx2_or_skip(const dmc_linear_s8 *p, const int8_t *in, int8_t *out) {
    if (dmc::avx2_available()) return dmc::linear_s8_run_avx2(p, in, out);
    dmc_linear_s8_run(p, in, out);
    GTEST_SKIP() << "this CPU or build has no AVX2; the engine uses dmc_linear.h";
}
} // namespace

#define KERNELS KernelsAvx2
#define CONV2D_RUN conv2d_avx2_or_skip
#define LINEAR_RUN linear_avx2_or_skip
#include "test_kernels.cpp"
