// conv_u8s8.h - the convolution and the linear layer as dot products of
// unsigned by signed bytes, 32 products per instruction where avx2.cpp's
// int16 path does 16: VPMADDUBSW on AVX2 (weights of 4 and 2 bits) and
// VPDPBUSD with AVX-VNNI or AVX-512 VNNI (every width). The same integers
// as dmc_conv2d_s8_run and dmc_linear_s8_run: the kernel tests run every
// variant against the reference, tolerance 0.
//
// These instructions multiply an unsigned byte by a signed one, and both
// our weights and our activations are signed. The weights become the
// unsigned side: a weight w of b bits is read as v = w + 2^(b-1), in
// [0, 2^b) (its top bit flipped by one XOR), and
//     sum(v * x) = sum(w * x) + 2^(b-1) * sum(x),
// where sum(x), one per receptive field (or input vector), is shared by
// every output channel and taken back once per tile.
//
// Exact, whatever the bytes (a malformed model's weights included):
// VPMADDUBSW adds two products into a saturating int16; with v <= 15 and
// |x| <= 128 a pair is at most 3,840, and the two pairs of Maddubs::pair
// 7,680, so nothing saturates (8-bit weights, v up to 255, could: that
// width stays on the int16 path). VPDPBUSD adds four products into int32
// without saturating. The int32 sums wrap (2^(b-1) * sum(x) and sum(v * x)
// may pass 2^31 on deep 8-bit fields), but the true sum(w * x) fits in
// int32 for any fan-in the engine accepts, and wrapping addition and
// subtraction are exact modulo 2^32, so the difference is exact.
//
// Included by files compiled for AVX2 or more; internal linkage throughout
// (see avx2_out.h). Dot, the instruction set's step, is a template
// parameter: struct Maddubs here, the VNNI files' own.
#pragma once

#include "avx2_out.h"
#include "conv_gather.h"
#include "dmc_linear.h"

namespace dmc {
namespace {

inline __m256i load32(const int8_t *p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)); }
// 16 bytes in the low half, zeros in the high.
inline __m256i load16_zext(const int8_t *p) {
    return _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}

// acc (eight int32 lanes) += the products v * x, four adjacent ones per
// lane: AVX2's VPMADDUBSW then VPMADDWD by ones; exact for weights of up
// to 4 bits (see above).
struct Maddubs {
    static constexpr int kMaxBits = 4;
    static __m256i step(__m256i acc, __m256i v, __m256i x) {
        return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(v, x), _mm256_set1_epi16(1)));
    }
    // Two steps, their int16 pairs added before they are widened.
    static __m256i pair(__m256i acc, __m256i v0, __m256i x0, __m256i v1, __m256i x1) {
        const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(v0, x0), _mm256_maddubs_epi16(v1, x1));
        return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
};

// 32 consecutive weights of a packed row as v = w + 2^(Bits-1), one byte
// each in element order (biased32), or 16 of them with zeros above
// (biased16, for a field's last half step: it reads only 16 weights'
// bytes, within the row's slack). A nibble or crumb with its top bit
// flipped is w + 2^(Bits-1): one XOR of the packed bytes, then masks.
template <int Bits> __m256i biased32(const uint8_t *w);
template <int Bits> __m256i biased16(const uint8_t *w);

template <> inline __m256i biased32<8>(const uint8_t *w) {
    return _mm256_xor_si256(load32(reinterpret_cast<const int8_t *>(w)), _mm256_set1_epi8(int8_t(0x80)));
}
template <> inline __m256i biased16<8>(const uint8_t *w) {
    return _mm256_xor_si256(load16_zext(reinterpret_cast<const int8_t *>(w)), _mm256_set1_epi8(int8_t(0x80)));
}

// The biased nibbles of 16 bytes: elements 0-15 in first, 16-31 in second.
inline void nibbles(__m128i b, __m128i &first, __m128i &second) {
    const __m128i mask = _mm_set1_epi8(0x0F);
    b = _mm_xor_si128(b, _mm_set1_epi8(int8_t(0x88)));
    const __m128i even = _mm_and_si128(b, mask), odd = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
    first = _mm_unpacklo_epi8(even, odd);
    second = _mm_unpackhi_epi8(even, odd);
}
template <> inline __m256i biased32<4>(const uint8_t *w) {
    __m128i first, second;
    nibbles(_mm_loadu_si128(reinterpret_cast<const __m128i *>(w)), first, second);
    return _mm256_set_m128i(second, first);
}
template <> inline __m256i biased16<4>(const uint8_t *w) {
    __m128i first, second;
    nibbles(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(w)), first, second);
    return _mm256_zextsi128_si256(first);
}

// The biased crumbs of the low 8 bytes: elements 0-15 in first, 16-31 in
// second.
inline void crumbs(__m128i b, __m128i &first, __m128i &second) {
    const __m128i mask = _mm_set1_epi8(0x03);
    b = _mm_xor_si128(b, _mm_set1_epi8(int8_t(0xAA)));
    const __m128i c0 = _mm_and_si128(b, mask), c1 = _mm_and_si128(_mm_srli_epi16(b, 2), mask);
    const __m128i c2 = _mm_and_si128(_mm_srli_epi16(b, 4), mask), c3 = _mm_and_si128(_mm_srli_epi16(b, 6), mask);
    const __m128i c01 = _mm_unpacklo_epi8(c0, c1), c23 = _mm_unpacklo_epi8(c2, c3);
    first = _mm_unpacklo_epi16(c01, c23);
    second = _mm_unpackhi_epi16(c01, c23);
}
template <> inline __m256i biased32<2>(const uint8_t *w) {
    __m128i first, second;
    crumbs(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(w)), first, second);
    return _mm256_set_m128i(second, first);
}
template <> inline __m256i biased16<2>(const uint8_t *w) {
    int32_t word;
    std::memcpy(&word, w, 4);
    __m128i first, second;
    crumbs(_mm_cvtsi32_si128(word), first, second);
    return _mm256_zextsi128_si256(first);
}

// Where the tile reads step s of a channel's biased weights: unpacked from
// the packed row as it goes, or from a copy unpacked beforehand.
template <int Bits> struct BiasedRow {
    const uint8_t *w;
    __m256i full(int32_t s) const { return biased32<Bits>(w + s * (32 * Bits / 8)); }
    __m256i half(int32_t s) const { return biased16<Bits>(w + s * (32 * Bits / 8)); }
};
struct BiasedCopy {
    const __m256i *w;
    __m256i full(int32_t s) const { return w[s]; }
    __m256i half(int32_t s) const { return w[s]; }
};

// A field's (or vector's) 16-value chunks as steps of 32: `full` whole
// steps, then one half step if the count is odd.
struct Steps {
    int32_t full;
    bool half;
};

// sum(x) over a gathered field, with the same instruction (v = 1).
template <typename Dot> int32_t field_sum(const int8_t *x, Steps steps) {
    const __m256i ones = _mm256_set1_epi8(1);
    __m256i acc = _mm256_setzero_si256();
    for (int32_t s = 0; s < steps.full; ++s) acc = Dot::step(acc, ones, load32(x + 32 * s));
    if (steps.half) acc = Dot::step(acc, ones, load16_zext(x + 32 * steps.full));
    return sum8(acc);
}

// The tile of output pixels b .. b + 3 (fields at x) against channels w0
// and w1: sum(v * x) of each, channel 0's four pixels then channel 1's.
template <typename Dot, typename Row>
__m256i tile_sums_u8s8(const int8_t *x, int32_t stride, Steps steps, Row w0, Row w1) {
    __m256i a0[4], a1[4];
    for (int k = 0; k < 4; ++k) a0[k] = a1[k] = _mm256_setzero_si256();
    int32_t s = 0;
    for (; s + 2 <= steps.full; s += 2) {
        const __m256i v00 = w0.full(s), v01 = w0.full(s + 1), v10 = w1.full(s), v11 = w1.full(s + 1);
        for (int k = 0; k < 4; ++k) {
            const __m256i x0 = load32(x + k * stride + 32 * s), x1 = load32(x + k * stride + 32 * s + 32);
            a0[k] = Dot::pair(a0[k], v00, x0, v01, x1);
            a1[k] = Dot::pair(a1[k], v10, x0, v11, x1);
        }
    }
    if (s < steps.full) {
        const __m256i v0 = w0.full(s), v1 = w1.full(s);
        for (int k = 0; k < 4; ++k) {
            const __m256i xk = load32(x + k * stride + 32 * s);
            a0[k] = Dot::step(a0[k], v0, xk);
            a1[k] = Dot::step(a1[k], v1, xk);
        }
        ++s;
    }
    if (steps.half) {
        const __m256i v0 = w0.half(s), v1 = w1.half(s);
        for (int k = 0; k < 4; ++k) {
            const __m256i xk = load16_zext(x + k * stride + 32 * s); // zeros meet the copy's extra weights
            a0[k] = Dot::step(a0[k], v0, xk);
            a1[k] = Dot::step(a1[k], v1, xk);
        }
    }
    return sum_tile(a0, a1);
}

// The steps of a channel pair's rows unpacked on the stack (8 KB), once
// for all the tiles of a batch of fields: deeper fields unpack per tile.
constexpr int32_t kBiasedSteps = 128;

// The convolution, as conv2d_tiles in avx2.cpp: fields gathered in
// batches into the scratch, each tile's sums to an Out built on `target`.
// Each field's 2^(Bits-1) * sum(x) is taken once per batch and subtracted
// from every tile that reads the field.
template <typename Dot, int Bits, typename Out, typename Target>
void conv2d_tiles_u8s8(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *scratch, int64_t room, Target *target) {
    static_assert(Bits <= Dot::kMaxBits, "this instruction is not exact at this width");
    const ConvSetup setup = conv_setup(p, in, scratch, room);
    const int32_t stride = setup.stride, pixels = setup.pixels;
    const Steps steps{setup.chunks / 2, setup.chunks % 2 == 1};
    const int32_t row_bytes = dmc_row_bytes(setup.depth, Bits);
    const bool copy = steps.full + (steps.half ? 1 : 0) <= kBiasedSteps;
    __m256i biased[2][kBiasedSteps];
    int32_t bias_sums[kGatherPixels]; // per field: 2^(Bits-1) * sum(x)
    int32_t oy = 0, ox = 0;
    for (int32_t batch = 0; batch < pixels; batch += setup.batch) {
        const int32_t batch_pixels = pixels - batch < setup.batch ? pixels - batch : setup.batch;
        gather_fields(setup, batch_pixels, oy, ox);
        // A partial last block's stale fields too: their sums are computed, never stored.
        const int32_t blocks = (batch_pixels + DMC_CONV_BLOCK - 1) / DMC_CONV_BLOCK * DMC_CONV_BLOCK;
        for (int32_t f = 0; f < blocks; ++f)
            bias_sums[f] = int32_t(uint32_t(field_sum<Dot>(setup.fields + f * stride, steps)) << (Bits - 1));
        for (int32_t oc = 0; oc < p->out_c; oc += 2) {
            const int32_t oc1 = oc + 1 < p->out_c ? oc + 1 : oc;
            const BiasedRow<Bits> w0{p->weights + size_t(oc) * size_t(row_bytes)};
            const BiasedRow<Bits> w1{p->weights + size_t(oc1) * size_t(row_bytes)};
            const Out out(p, target, oc, oc1);
            if (copy) {
                for (int32_t s = 0; s < steps.full; ++s) biased[0][s] = w0.full(s), biased[1][s] = w1.full(s);
                if (steps.half) biased[0][steps.full] = w0.half(steps.full), biased[1][steps.full] = w1.half(steps.full);
            }
            for (int32_t b = 0; b < batch_pixels; b += DMC_CONV_BLOCK) {
                const int32_t count = batch_pixels - b < DMC_CONV_BLOCK ? batch_pixels - b : DMC_CONV_BLOCK;
                const int8_t *x = setup.fields + b * stride;
                const __m256i sums = copy ? tile_sums_u8s8<Dot>(x, stride, steps, BiasedCopy{biased[0]}, BiasedCopy{biased[1]})
                                          : tile_sums_u8s8<Dot>(x, stride, steps, w0, w1);
                const __m256i taken = _mm256_broadcastsi128_si256(
                    _mm_loadu_si128(reinterpret_cast<const __m128i *>(bias_sums + b)));
                out(_mm256_sub_epi32(sums, taken), batch + b, count);
            }
        }
    }
}

// Linear, one input vector: four rows at a time share each step of the
// input, read in place (a tensor in the arena, read exactly): the whole
// steps straight, the last partial one through a zeroed copy. The
// weights' last step reads at most 16 bytes past the row (biased16 where
// 16 values or fewer are left), into the next row or the slack
// (kWeightSlackBytes), whose values meet those zeros.
template <typename Dot, int Bits, int Rows>
void rows_sums_u8s8(const int8_t *x, int32_t n, const uint8_t *w, int32_t row_bytes, int32_t taken,
                    int32_t acc[Rows]) {
    constexpr int kStepBytes = 32 * Bits / 8;
    const int32_t whole = n / 32;
    __m256i a[Rows];
    for (int r = 0; r < Rows; ++r) a[r] = _mm256_setzero_si256();
    for (int32_t s = 0; s < whole; ++s) {
        const __m256i xs = load32(x + 32 * s);
        for (int r = 0; r < Rows; ++r) a[r] = Dot::step(a[r], biased32<Bits>(w + r * row_bytes + s * kStepBytes), xs);
    }
    const int32_t left = n - 32 * whole;
    if (left > 0) {
        alignas(32) int8_t tail[32] = {0};
        std::memcpy(tail, x + 32 * whole, size_t(left));
        const __m256i xs = load32(tail);
        for (int r = 0; r < Rows; ++r) {
            const uint8_t *ws = w + r * row_bytes + whole * kStepBytes;
            a[r] = Dot::step(a[r], left > 16 ? biased32<Bits>(ws) : biased16<Bits>(ws), xs);
        }
    }
    for (int r = 0; r < Rows; ++r) acc[r] = int32_t(uint32_t(sum8(a[r])) - uint32_t(taken));
}

template <typename Dot, int Bits> void linear_run_u8s8(const dmc_linear_s8 *p, const int8_t *in, int8_t *out) {
    static_assert(Bits <= Dot::kMaxBits, "this instruction is not exact at this width");
    const int32_t n = p->in_features, row_bytes = dmc_row_bytes(n, Bits);
    int32_t sum = 0;
    for (int32_t i = 0; i < n; ++i) sum += in[i];
    const int32_t taken = int32_t(uint32_t(sum) << (Bits - 1));
    int32_t o = 0;
    int32_t acc[4];
    auto requantize = [&](int32_t row, int32_t dot) {
        out[row] = dmc_requantize(p->bias[row] + dot, p->multiplier[row], p->shift[row], p->output_zero_point,
                                  p->act_min, p->act_max);
    };
    for (; o + 4 <= p->out_features; o += 4) {
        rows_sums_u8s8<Dot, Bits, 4>(in, n, p->weights + size_t(o) * size_t(row_bytes), row_bytes, taken, acc);
        for (int r = 0; r < 4; ++r) requantize(o + r, acc[r]);
    }
    for (; o < p->out_features; ++o) {
        rows_sums_u8s8<Dot, Bits, 1>(in, n, p->weights + size_t(o) * size_t(row_bytes), row_bytes, taken, acc);
        requantize(o, acc[0]);
    }
}

} // namespace
} // namespace dmc
