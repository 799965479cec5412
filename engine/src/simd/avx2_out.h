// avx2_out.h - what the 256-bit convolution tiles share (avx2.cpp, and
// conv_u8s8.h in the AVX2 and VNNI files): the requantization of a tile's
// eight sums, their reduction, and where they go. Every file that includes
// it is compiled for its own instruction set, so everything here has
// internal linkage (an anonymous namespace): no copy can reach another
// file through the linker.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "dmc_conv2d.h"

namespace dmc {
namespace {

inline __m256i max64(__m256i a, __m256i b) { return _mm256_blendv_epi8(b, a, _mm256_cmpgt_epi64(a, b)); }
inline __m256i min64(__m256i a, __m256i b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b)); }

// The contract's rule 5 on eight int32 sums: lanes 0-3 of channel oc0,
// lanes 4-7 of channel oc1. As in dot_simd.h's requantize4: 2^62 added
// makes each product non-negative, so the logical shift floors it, and
// 2^(62 - shift) is taken back after. The constants are set up once per
// channel pair.
struct Requantize8 {
    __m256i bias, m, shift, offset, back, lo, hi, zero_point;

    Requantize8() = default;
    Requantize8(const dmc_conv2d_s8 *p, int32_t oc0, int32_t oc1) {
        const int32_t s0 = p->shift[oc0], s1 = p->shift[oc1];
        const int32_t b0 = p->bias[oc0], b1 = p->bias[oc1];
        bias = _mm256_setr_epi32(b0, b0, b0, b0, b1, b1, b1, b1);
        m = _mm256_setr_epi32(p->multiplier[oc0], 0, p->multiplier[oc0], 0, p->multiplier[oc1], 0,
                              p->multiplier[oc1], 0);
        shift = _mm256_setr_epi64x(s0, s0, s1, s1);
        const int64_t o0 = (int64_t(1) << 62) + (int64_t(1) << (s0 - 1));
        const int64_t o1 = (int64_t(1) << 62) + (int64_t(1) << (s1 - 1));
        offset = _mm256_setr_epi64x(o0, o0, o1, o1);
        const int64_t k0 = int64_t(1) << (62 - s0), k1 = int64_t(1) << (62 - s1);
        back = _mm256_setr_epi64x(k0, k0, k1, k1);
        lo = _mm256_set1_epi64x(p->act_min - p->output_zero_point);
        hi = _mm256_set1_epi64x(p->act_max - p->output_zero_point);
        zero_point = _mm256_set1_epi32(p->output_zero_point);
    }

    __m256i operator()(__m256i acc) const {
        acc = _mm256_add_epi32(acc, bias);
        // Even int32 lanes, then odd ones, as signed 64-bit products.
        __m256i even = _mm256_mul_epi32(acc, m), odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), m);
        even = _mm256_sub_epi64(_mm256_srlv_epi64(_mm256_add_epi64(even, offset), shift), back);
        odd = _mm256_sub_epi64(_mm256_srlv_epi64(_mm256_add_epi64(odd, offset), shift), back);
        even = min64(max64(even, lo), hi);
        odd = min64(max64(odd, lo), hi);
        const __m256i both = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
        return _mm256_add_epi32(both, zero_point);
    }
};

// The sum of v's eight int32 lanes (wrapping, as the lanes do).
inline int32_t sum8(__m256i v) {
    const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i q = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtsi128_si32(_mm_add_epi32(q, _mm_shuffle_epi32(q, _MM_SHUFFLE(2, 3, 0, 1))));
}

// The four sums of each of a[0..3] (8 lanes each) as lanes 0-3, and of
// b[0..3] as lanes 4-7.
inline __m256i sum_tile(const __m256i a[4], const __m256i b[4]) {
    const __m256i sa = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
    const __m256i sb = _mm256_hadd_epi32(_mm256_hadd_epi32(b[0], b[1]), _mm256_hadd_epi32(b[2], b[3]));
    // sa: [a's low-half sums | a's high-half sums], the same for sb.
    return _mm256_add_epi32(_mm256_permute2x128_si256(sa, sb, 0x20), _mm256_permute2x128_si256(sa, sb, 0x31));
}

// Where a tile's eight sums go (Out): requantized to the output's bytes,
// or, bias added, to int32 accumulators. Set up once per channel pair.
struct RequantizedOut {
    Requantize8 requantize;
    int8_t *out;
    size_t out_c;
    bool pair; // oc1 != oc: an odd last channel runs as its own pair, only its first byte stored

    RequantizedOut(const dmc_conv2d_s8 *p, int8_t *o, int32_t oc, int32_t oc1)
        : requantize(p, oc, oc1), out(o + oc), out_c(size_t(p->out_c)), pair(oc1 != oc) {}

    void operator()(__m256i sums, int32_t first, int32_t count) const {
        const __m256i r = requantize(sums);
        // Pixel k's two bytes: channel oc's in the low byte.
        const __m128i pairs = _mm_or_si128(_mm_and_si128(_mm256_castsi256_si128(r), _mm_set1_epi32(0xFF)),
                                           _mm_slli_epi32(_mm256_extracti128_si256(r, 1), 8));
        int32_t lanes[4];
        _mm_storeu_si128(reinterpret_cast<__m128i *>(lanes), pairs);
        int8_t *o = out + size_t(first) * out_c;
        for (int32_t k = 0; k < count; ++k) {
            if (pair) {
                const uint16_t two = uint16_t(lanes[k]);
                std::memcpy(o + size_t(k) * out_c, &two, 2);
            } else {
                o[size_t(k) * out_c] = int8_t(lanes[k]);
            }
        }
    }
};

struct AccumulatorOut {
    __m256i bias;
    int32_t *acc;
    size_t out_c;
    bool pair;

    AccumulatorOut(const dmc_conv2d_s8 *p, int32_t *a, int32_t oc, int32_t oc1)
        : acc(a + oc), out_c(size_t(p->out_c)), pair(oc1 != oc) {
        const int32_t b0 = p->bias[oc], b1 = p->bias[oc1];
        bias = _mm256_setr_epi32(b0, b0, b0, b0, b1, b1, b1, b1);
    }

    void operator()(__m256i sums, int32_t first, int32_t count) const {
        int32_t lanes[8];
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(lanes), _mm256_add_epi32(sums, bias));
        int32_t *a = acc + size_t(first) * out_c;
        for (int32_t k = 0; k < count; ++k) {
            a[size_t(k) * out_c] = lanes[k];
            if (pair) a[size_t(k) * out_c + 1] = lanes[4 + k];
        }
    }
};

} // namespace
} // namespace dmc
