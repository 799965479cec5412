// avx2.h - the integer convolution and linear layer with AVX2 (x86-64):
// the table's ..._avx2 variants (kernel_table.h), which the engine runs
// where the CPU has AVX2 (see avx2.cpp). Engine-only, the same integers as
// dmc_conv2d_s8_run and dmc_linear_s8_run.
#pragma once

#include "dmc_conv2d.h"
#include "dmc_linear.h"

#include <cstdint>

namespace dmc {

// True if this build has the AVX2 kernels and the CPU runs them. Call the
// functions below only where it is.
bool avx2_available();

// room: the scratch's size, at least simd_conv2d_scratch_bytes(p)
// (conv_gather.h); the convolution gathers as many fields at once as it
// holds.
void conv2d_s8_avx2(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room);
// The int32 accumulators, bias included, out_h x out_w x out_c into acc.
void conv2d_s8_accumulators_avx2(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                 int64_t room);
// Needs no scratch.
void linear_s8_avx2(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room);

} // namespace dmc
