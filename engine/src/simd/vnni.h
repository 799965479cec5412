// vnni.h - the integer convolution and linear layer with VNNI's VPDPBUSD,
// in its two encodings: AVX-VNNI (VEX; Intel since Alder Lake, AMD since
// Zen 5) and AVX-512 VNNI with AVX-512VL (EVEX, on 256-bit registers; Intel
// since Ice Lake and Cascade Lake, AMD Zen 4). The table's ..._avxvnni
// and ..._avx512vnni variants (kernel_table.h), which the engine runs where
// the CPU has them. Engine-only, the same integers as dmc_conv2d_s8_run and
// dmc_linear_s8_run. The arithmetic is conv_u8s8.h's; vnni_kernels.h says
// which layer takes which path.
#pragma once

#include "dmc_conv2d.h"
#include "dmc_linear.h"

#include <cstdint>

namespace dmc {

// True if this build has the variant and the CPU runs it (AVX2 included:
// one-input-channel convolutions run avx2.cpp's kernel). Call the
// functions below only where it is.
bool avxvnni_available();
bool avx512vnni_available();

// Arguments as the AVX2 variants' (avx2.h).
void conv2d_s8_avxvnni(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room);
void conv2d_s8_accumulators_avxvnni(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                    int64_t room);
void linear_s8_avxvnni(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room);

void conv2d_s8_avx512vnni(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room);
void conv2d_s8_accumulators_avx512vnni(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                       int64_t room);
void linear_s8_avx512vnni(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room);

} // namespace dmc
