// avx2.h - the integer convolution and linear layer with AVX2 (x86-64),
// chosen at run time where the CPU has it (see avx2.cpp). Engine-only, the
// same integers as dmc_conv2d_s8_run and dmc_linear_s8_run.
#pragma once

#include "dmc_conv2d.h"
#include "dmc_linear.h"

#include <cstdint>

namespace dmc {

// True if this build has the AVX2 kernels and the CPU runs them.
bool avx2_available();
// What the engine uses: available, unless the environment sets DMC_NO_AVX2
// (to time or test the 128-bit path).
bool avx2_enabled();

// dmc_conv2d_s8_run's signature; the scratch is not needed. Call only where
// avx2_enabled().
void conv2d_s8_run_avx2(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch);
// dmc_linear_s8_run's signature. Call only where avx2_enabled().
void linear_s8_run_avx2(const dmc_linear_s8 *p, const int8_t *in, int8_t *out);

} // namespace dmc
