// vnni_standin.cpp - the VNNI variants' code (vnni_kernels.h over
// conv_u8s8.h) with an exact AVX2 stand-in for VPDPBUSD, so that a machine
// without VNNI still tests everything those variants run but the one
// instruction: 8-bit weights on the byte path, their biasing, the
// dispatch. test_kernels.cpp runs the kernel suite on it where the CPU has
// AVX2 (the lent VNNI machine ran the real variants: README).
//
// Compiled with -mavx2, as avx2.cpp is, and for the same reason kept to
// internal linkage and raw pointers: no C++ library template compiled
// here may become the copy the rest of the tests link.
#include "vnni_standin.h"

#include <cstdlib>

#if defined(__AVX2__)
#include "simd/vnni_kernels.h"

namespace dmc {
namespace {

// acc += the products v * x (v unsigned, x signed bytes), as VPDPBUSD
// adds them, though to other lanes: both halves widened to int16 (v at
// most 255, so VPMADDWD's pairs are exact) and multiplied pairwise. The
// kernels only ever sum all lanes, so which lane holds a product does not
// matter.
struct DpbusdStandIn {
    static constexpr int kMaxBits = 8;
    static __m256i step(__m256i acc, __m256i v, __m256i x) {
        const __m256i low = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm256_castsi256_si128(v)),
                                              _mm256_cvtepi8_epi16(_mm256_castsi256_si128(x)));
        const __m256i high = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm256_extracti128_si256(v, 1)),
                                               _mm256_cvtepi8_epi16(_mm256_extracti128_si256(x, 1)));
        return _mm256_add_epi32(acc, _mm256_add_epi32(low, high));
    }
    static __m256i pair(__m256i acc, __m256i v0, __m256i x0, __m256i v1, __m256i x1) {
        return step(step(acc, v0, x0), v1, x1);
    }
};

} // namespace

void conv2d_s8_vnni_standin(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room) {
    vnni_conv2d<DpbusdStandIn>(p, in, out, scratch, room);
}

void conv2d_s8_accumulators_vnni_standin(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                         int64_t room) {
    vnni_conv2d_accumulators<DpbusdStandIn>(p, in, acc, scratch, room);
}

void linear_s8_vnni_standin(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t *, int64_t) {
    vnni_linear<DpbusdStandIn>(p, in, out);
}

} // namespace dmc

#else // no AVX2 in this build: the tests skip the stand-in (its Isa is AVX2)

namespace dmc {
void conv2d_s8_vnni_standin(const dmc_conv2d_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
void conv2d_s8_accumulators_vnni_standin(const dmc_conv2d_s8 *, const int8_t *, int32_t *, int8_t *, int64_t) {
    std::abort();
}
void linear_s8_vnni_standin(const dmc_linear_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
} // namespace dmc

#endif
