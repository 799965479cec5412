// The kernel tests again, with the engine's AVX2 convolution
// (engine/src/simd/conv_avx2.cpp), which the engine runs wherever the CPU
// has AVX2. On a CPU without it the engine never calls it, and the
// convolution test says so instead of passing.
#include "simd/conv_avx2.h"
#include "simd/dot_simd.h"

#include <gtest/gtest.h>

namespace {
void conv2d_avx2_or_skip(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    if (!dmc::conv2d_avx2_available()) GTEST_SKIP() << "this CPU or build has no AVX2; the engine uses conv_simd.h";
    dmc::conv2d_s8_run_avx2(p, in, out, scratch);
}
} // namespace

#define KERNELS KernelsAvx2
#define CONV2D_RUN conv2d_avx2_or_skip
#include "test_kernels.cpp"
