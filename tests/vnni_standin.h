// vnni_standin.h - the VNNI variants' code with an AVX2 stand-in for
// VPDPBUSD (vnni_standin.cpp), for the kernel tests. Call only where
// isa_available(Isa::Avx2).
#pragma once

#include <cstdint>

#include "dmc_conv2d.h"
#include "dmc_linear.h"

namespace dmc {
void conv2d_s8_vnni_standin(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room);
void conv2d_s8_accumulators_vnni_standin(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                         int64_t room);
void linear_s8_vnni_standin(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room);
} // namespace dmc
