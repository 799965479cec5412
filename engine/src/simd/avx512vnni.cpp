// avx512vnni.cpp - the VNNI variants (vnni.h) with AVX-512 VNNI's EVEX
// encoding of VPDPBUSD, on 256-bit registers (AVX-512VL). This file alone
// is compiled with -mavx512vnni -mavx512vl; internal linkage everywhere but
// the entry points, as in avx2.cpp and for the same reason.
#include "vnni.h"

#include <cstdlib>

#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX2__)
#include "vnni_kernels.h"

namespace dmc {
namespace {

struct DpbusdEvex {
    static constexpr int kMaxBits = 8;
    static __m256i step(__m256i acc, __m256i v, __m256i x) { return _mm256_dpbusd_epi32(acc, v, x); }
    static __m256i pair(__m256i acc, __m256i v0, __m256i x0, __m256i v1, __m256i x1) {
        return step(step(acc, v0, x0), v1, x1);
    }
};

bool cpu_has_avx512vnni() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
}

} // namespace

bool avx512vnni_available() {
    static const bool available = cpu_has_avx512vnni();
    return available;
}

void conv2d_s8_avx512vnni(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room) {
    vnni_conv2d<DpbusdEvex>(p, in, out, scratch, room);
}

void conv2d_s8_accumulators_avx512vnni(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                    int64_t room) {
    vnni_conv2d_accumulators<DpbusdEvex>(p, in, acc, scratch, room);
}

void linear_s8_avx512vnni(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t *, int64_t) {
    vnni_linear<DpbusdEvex>(p, in, out);
}

} // namespace dmc

#else // not compiled for AVX-512 VNNI: never available

namespace dmc {
bool avx512vnni_available() { return false; }
void conv2d_s8_avx512vnni(const dmc_conv2d_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
void conv2d_s8_accumulators_avx512vnni(const dmc_conv2d_s8 *, const int8_t *, int32_t *, int8_t *, int64_t) {
    std::abort();
}
void linear_s8_avx512vnni(const dmc_linear_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
} // namespace dmc

#endif
