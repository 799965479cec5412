// avxvnni.cpp - the VNNI variants (vnni.h) with AVX-VNNI's VEX encoding of
// VPDPBUSD. This file alone is compiled with -mavxvnni; internal linkage
// everywhere but the entry points, as in avx2.cpp and for the same reason.
#include "vnni.h"

#include <cstdlib>

#if defined(__AVXVNNI__) && defined(__AVX2__)
#include <cpuid.h>

#include "vnni_kernels.h"

namespace dmc {
namespace {

struct DpbusdVex {
    static constexpr int kMaxBits = 8;
    static __m256i step(__m256i acc, __m256i v, __m256i x) { return _mm256_dpbusd_avx_epi32(acc, v, x); }
    static __m256i pair(__m256i acc, __m256i v0, __m256i x0, __m256i v1, __m256i x1) {
        return step(step(acc, v0, x0), v1, x1);
    }
};

// AVX2 (which also says the OS keeps the 256-bit registers), and AVX-VNNI:
// CPUID leaf 7, subleaf 1, EAX bit 4 (asked directly: Clang 14's
// __builtin_cpu_supports does not know it).
bool cpu_has_avxvnni() {
    __builtin_cpu_init();
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __builtin_cpu_supports("avx2") && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax >> 4 & 1u);
}

} // namespace

bool avxvnni_available() {
    static const bool available = cpu_has_avxvnni();
    return available;
}

void conv2d_s8_avxvnni(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room) {
    vnni_conv2d<DpbusdVex>(p, in, out, scratch, room);
}

void conv2d_s8_accumulators_avxvnni(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                    int64_t room) {
    vnni_conv2d_accumulators<DpbusdVex>(p, in, acc, scratch, room);
}

void linear_s8_avxvnni(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t *, int64_t) {
    vnni_linear<DpbusdVex>(p, in, out);
}

} // namespace dmc

#else // not compiled for AVX-VNNI: never available

namespace dmc {
bool avxvnni_available() { return false; }
void conv2d_s8_avxvnni(const dmc_conv2d_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
void conv2d_s8_accumulators_avxvnni(const dmc_conv2d_s8 *, const int8_t *, int32_t *, int8_t *, int64_t) {
    std::abort();
}
void linear_s8_avxvnni(const dmc_linear_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
} // namespace dmc

#endif
