// avx2.cpp - the integer convolution and linear layer with 256-bit AVX2
// integer ops.
//
// This file alone is compiled with -mavx2, and the engine calls it only
// after checking the CPU (avx2_enabled). So that no AVX2 code can
// reach the rest of the engine through the linker (an inline function
// compiled here and picked for everyone), everything here but the entry
// points declared in avx2.h has internal linkage, and it uses no C++
// library template (std::vector, std::min): their code compiled here could
// be the copy the linker keeps. It keeps no buffer of its own: the
// convolution gathers its fields into the caller's scratch (conv_gather.h).
//
// The tile is the one of conv_simd.h, four output pixels by two output
// channels, with 256-bit lanes. Weights of 8 bits: one chunk of 16 field
// values is loaded and sign-extended to 16 int16 lanes in one instruction,
// and one VPMADDWD multiplies it with 16 weights. Weights of 4 and 2 bits:
// 32 bytes by 32 bytes with VPMADDUBSW (conv_u8s8.h). The eight sums of a
// tile (channel 0's four pixels, then channel 1's) are requantized
// together, each 64-bit lane with its own channel's multiplier and shift
// (VPSRLVQ), and stored as one 2-byte pair per pixel (avx2_out.h).
#include "avx2.h"

#include <cstdlib>

#if defined(__AVX2__)
#include <immintrin.h>

#include "avx2_out.h"
#include "conv_gather.h"
#include "conv_u8s8.h"
#include "one_channel.h"

namespace dmc {
namespace {

// 16 consecutive 8-bit weights as int16 lanes.
__m256i weights16(const uint8_t *chunk) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(chunk)));
}

// Where tile_sums reads chunk c of a channel's weights as 16 int16 lanes:
// widened from the row as it goes, or from a copy widened beforehand.
struct PackedRow {
    const uint8_t *w;
    __m256i operator()(int32_t c) const { return weights16(w + c * 16); }
};
struct UnpackedRow {
    const __m256i *w;
    __m256i operator()(int32_t c) const { return w[c]; }
};

// The chunks of a channel pair's rows widened on the stack (16 KB), once
// for all the tiles of a batch of fields: deeper fields widen per tile.
constexpr int32_t kUnpackedChunks = 256;

// The tile of output pixels b .. b + 3 (fields at x) against channels w0
// and w1: their eight sums, channel 0's four pixels then channel 1's.
template <typename Row> __m256i tile_sums(const int8_t *x, int32_t stride, int32_t chunks, Row w0, Row w1) {
    __m256i a0[4], a1[4];
    for (int k = 0; k < 4; ++k) a0[k] = a1[k] = _mm256_setzero_si256();
    for (int32_t c = 0; c < chunks; ++c) {
        const __m256i u0 = w0(c), u1 = w1(c);
        for (int k = 0; k < 4; ++k) {
            const __m256i xk =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(x + k * stride + 16 * c)));
            a0[k] = _mm256_add_epi32(a0[k], _mm256_madd_epi16(xk, u0));
            a1[k] = _mm256_add_epi32(a1[k], _mm256_madd_epi16(xk, u1));
        }
    }
    return sum_tile(a0, a1);
}

// The convolution, the fields gathered in batches into the scratch (room
// bytes); each tile's sums go to an Out built on `target`. The unused
// fields of a partial last block hold stale bytes: their sums are computed
// and never stored.
template <typename Out, typename Target>
void conv2d_tiles(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *scratch, int64_t room, Target *target) {
    const ConvSetup setup = conv_setup(p, in, scratch, room);
    const int32_t stride = setup.stride, pixels = setup.pixels, chunks = setup.chunks;
    const int32_t row_bytes = setup.depth;
    const bool unpack = chunks <= kUnpackedChunks;
    __m256i unpacked[2][kUnpackedChunks];
    int32_t oy = 0, ox = 0;
    for (int32_t batch = 0; batch < pixels; batch += setup.batch) {
        const int32_t batch_pixels = pixels - batch < setup.batch ? pixels - batch : setup.batch;
        gather_fields(setup, batch_pixels, oy, ox);
        for (int32_t oc = 0; oc < p->out_c; oc += 2) {
            const int32_t oc1 = oc + 1 < p->out_c ? oc + 1 : oc;
            const PackedRow w0{p->weights + size_t(oc) * size_t(row_bytes)};
            const PackedRow w1{p->weights + size_t(oc1) * size_t(row_bytes)};
            const Out out(p, target, oc, oc1);
            for (int32_t c = 0; unpack && c < chunks; ++c) unpacked[0][c] = w0(c), unpacked[1][c] = w1(c);
            for (int32_t b = 0; b < batch_pixels; b += DMC_CONV_BLOCK) {
                const int32_t count = batch_pixels - b < DMC_CONV_BLOCK ? batch_pixels - b : DMC_CONV_BLOCK;
                const int8_t *x = setup.fields + b * stride;
                out(unpack ? tile_sums(x, stride, chunks, UnpackedRow{unpacked[0]}, UnpackedRow{unpacked[1]})
                           : tile_sums(x, stride, chunks, w0, w1),
                    batch + b, count);
            }
        }
    }
}

// The one-input-channel convolution (one_channel.h) with eight output
// pixels per multiply-add: the tap pairs of pixels ox .. ox + 3 in the low
// 128 bits, of ox + 4 .. ox + 7 in the high. The dot products (bias not
// added) of G output channels (`pairs`: their group's broadcast pairs,
// eight per tap pair), one vector per channel.
template <int G, int K>
void one_channel_tile(int16_t *const rows[], int32_t kernel, const __m256i *pairs, int32_t ox, __m256i acc[]) {
    const int32_t k = K ? K : kernel, per_row = (k + 1) / 2;
    // Named sums, not an array: GCC keeps an array's sums on the stack
    // across the row loop.
    const __m256i zero = _mm256_setzero_si256();
    __m256i a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
    for (int32_t ky = 0; ky < k; ++ky) {
        const int16_t *r = rows[ky] + ox;
        for (int32_t q = 0; q < per_row; ++q, pairs += 8) {
            const __m128i t0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(r + 2 * q));
            const __m128i t1 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(r + 2 * q + 1));
            const __m256i x =
                _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi16(t0, t1)), _mm_unpackhi_epi16(t0, t1), 1);
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(x, pairs[0]));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(x, pairs[1]));
            if (G > 2) {
                a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(x, pairs[2]));
                a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(x, pairs[3]));
            }
            if (G > 4) {
                a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(x, pairs[4]));
                a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(x, pairs[5]));
            }
            if (G > 6) {
                a6 = _mm256_add_epi32(a6, _mm256_madd_epi16(x, pairs[6]));
                a7 = _mm256_add_epi32(a7, _mm256_madd_epi16(x, pairs[7]));
            }
        }
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
}

template <int K>
void one_channel_group(int16_t *const rows[], int32_t k, const __m256i *pairs, int32_t ox, int32_t live, __m256i acc[8]) {
    switch ((live + 1) / 2) {
    case 1: return one_channel_tile<2, K>(rows, k, pairs, ox, acc);
    case 2: return one_channel_tile<4, K>(rows, k, pairs, ox, acc);
    case 3: return one_channel_tile<6, K>(rows, k, pairs, ox, acc);
    default: return one_channel_tile<8, K>(rows, k, pairs, ox, acc);
    }
}

// G, the channels a tile computes, is `live` rounded up to even: six
// channels (LeNet-5's conv1) cost six multiply-adds per tap pair, not eight.
// The common kernels, 5x5 and 3x3, get their own copies (K), whose tap-pair
// loop has a constant count and unrolls.
void one_channel_tiles(int16_t *const rows[], int32_t k, const __m256i *pairs, int32_t ox, int32_t live,
                       __m256i acc[8]) {
    if (k == 5) return one_channel_group<5>(rows, k, pairs, ox, live, acc);
    if (k == 3) return one_channel_group<3>(rows, k, pairs, ox, live, acc);
    one_channel_group<0>(rows, k, pairs, ox, live, acc);
}

// Where a tile's sums go: requantized to the output's bytes
// (OneChannelBytes) or, bias added, to int32 accumulators
// (OneChannelAccumulators); each channel's constants set up once per call.
struct OneChannelBytes {
    Requantize8 channel[kOneChannelMaxOut];
    int8_t *out;
    const int8_t *end;
    int32_t out_c;

    OneChannelBytes(const dmc_conv2d_s8 *p, int8_t *o)
        : out(o), end(o + size_t(p->out_h) * size_t(p->out_w) * size_t(p->out_c)), out_c(p->out_c) {
        for (int32_t oc = 0; oc < p->out_c; ++oc) channel[oc] = Requantize8(p, oc, oc);
    }

    // As pixel_bytes in dot_simd.h, on two pixel halves at once: each
    // 128-bit lane packs and transposes its four pixels.
    void put(const __m256i acc[8], int32_t oc0, int32_t live, int32_t first, int32_t pixels) const {
        __m256i r[8];
        for (int32_t j = 0; j < 8; ++j) r[j] = j < live ? channel[oc0 + j](acc[j]) : _mm256_setzero_si256();
        const __m256i a = _mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
        const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(r[4], r[5]), _mm256_packs_epi32(r[6], r[7]));
        const __m256i by_pixel = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 0, 4, 8, 12, 1,
                                                  5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        const __m256i ta = _mm256_shuffle_epi8(a, by_pixel), tb = _mm256_shuffle_epi8(b, by_pixel);
        const __m256i lo = _mm256_unpacklo_epi32(ta, tb), hi = _mm256_unpackhi_epi32(ta, tb); // pixels 0, 1, 4, 5; 2, 3, 6, 7
        uint64_t bytes[8];
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(bytes), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(bytes + 4), _mm256_permute2x128_si256(lo, hi, 0x31));
        one_channel_write(bytes, pixels, live, out_c, out + size_t(first) * size_t(out_c) + size_t(oc0), end);
    }
};

struct OneChannelAccumulators {
    __m256i bias[kOneChannelMaxOut];
    int32_t *acc;
    int32_t out_c;

    OneChannelAccumulators(const dmc_conv2d_s8 *p, int32_t *a) : acc(a), out_c(p->out_c) {
        for (int32_t oc = 0; oc < p->out_c; ++oc) bias[oc] = _mm256_set1_epi32(p->bias[oc]);
    }
    __m256i operator()(int32_t oc, __m256i sums) const { return _mm256_add_epi32(sums, bias[oc]); }
    void put(const __m256i sums[8], int32_t oc0, int32_t live, int32_t first, int32_t pixels) const {
        one_channel_put<8>(sums, oc0, live, first, pixels, out_c, *this, acc);
    }
};

template <typename Out, typename T> void conv2d_one_channel(const dmc_conv2d_s8 *p, const int8_t *in, T *target) {
    const int32_t k = p->kernel, per_row = (k + 1) / 2, groups = (p->out_c + 7) / 8;
    const int32_t count = groups * k * per_row * 8;
    int32_t values[kOneChannelMaxPairs];
    __m256i pairs[kOneChannelMaxPairs]; // each pair in all eight lanes: the multiply-add reads it from memory
    int16_t ring[kOneChannelMaxKernel * kOneChannelMaxRow];
    int16_t *rows[kOneChannelMaxKernel];
    one_channel_pairs(p, values);
    for (int32_t i = 0; i < count; ++i) pairs[i] = _mm256_set1_epi32(values[i]);
    const Out out(p, target);
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        one_channel_advance(p, in, oy, ring, rows);
        for (int32_t ox = 0; ox < p->out_w; ox += 8) {
            const int32_t pixels = p->out_w - ox < 8 ? p->out_w - ox : 8;
            for (int32_t g = groups - 1; g >= 0; --g) { // last to first: see one_channel_write
                const int32_t live = p->out_c - 8 * g < 8 ? p->out_c - 8 * g : 8;
                __m256i acc[8];
                one_channel_tiles(rows, k, pairs + g * k * per_row * 8, ox, live, acc);
                out.put(acc, 8 * g, live, oy * p->out_w + ox, pixels);
            }
        }
    }
}

// Linear: four output rows at a time share each input chunk, loaded and
// sign-extended once. The input is read in place (a tensor in the arena,
// read exactly): the whole chunks straight, the last partial one through a
// zeroed copy on the stack; the weights' last chunk may run on into the
// next row or the slack (kWeightSlackBytes), which meet those zeros.
template <int Rows>
void rows_sums(const int8_t *x, int32_t n, const uint8_t *w, int32_t row_bytes, int32_t acc[Rows]) {
    const int32_t whole = n / 16;
    __m256i a[Rows];
    for (int r = 0; r < Rows; ++r) a[r] = _mm256_setzero_si256();
    for (int32_t c = 0; c * 16 < n; ++c) {
        __m128i chunk;
        if (c < whole) {
            chunk = _mm_loadu_si128(reinterpret_cast<const __m128i *>(x + 16 * c));
        } else {
            int8_t tail[16] = {0};
            std::memcpy(tail, x + 16 * c, size_t(n - 16 * c));
            chunk = _mm_loadu_si128(reinterpret_cast<const __m128i *>(tail));
        }
        const __m256i xc = _mm256_cvtepi8_epi16(chunk);
        for (int r = 0; r < Rows; ++r)
            a[r] = _mm256_add_epi32(a[r], _mm256_madd_epi16(xc, weights16(w + r * row_bytes + c * 16)));
    }
    for (int r = 0; r < Rows; ++r) acc[r] = sum8(a[r]);
}

void linear_run(const dmc_linear_s8 *p, const int8_t *in, int8_t *out) {
    const int32_t n = p->in_features, row_bytes = n;
    int32_t o = 0;
    int32_t acc[4];
    auto requantize = [&](int32_t row, int32_t sum) {
        out[row] = dmc_requantize(p->bias[row] + sum, p->multiplier[row], p->shift[row], p->output_zero_point,
                                  p->act_min, p->act_max);
    };
    for (; o + 4 <= p->out_features; o += 4) {
        rows_sums<4>(in, n, p->weights + size_t(o) * size_t(row_bytes), row_bytes, acc);
        for (int r = 0; r < 4; ++r) requantize(o + r, acc[r]);
    }
    for (; o < p->out_features; ++o) {
        rows_sums<1>(in, n, p->weights + size_t(o) * size_t(row_bytes), row_bytes, acc);
        requantize(o, acc[0]);
    }
}

bool cpu_has_avx2() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

} // namespace

bool avx2_available() {
    static const bool available = cpu_has_avx2();
    return available;
}

void conv2d_s8_avx2(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room) {
    if (one_channel_applies(p)) conv2d_one_channel<OneChannelBytes>(p, in, out);
    else if (p->bits == 8) conv2d_tiles<RequantizedOut>(p, in, scratch, room, out);
    else if (p->bits == 4) conv2d_tiles_u8s8<Maddubs, 4, RequantizedOut>(p, in, scratch, room, out);
    else conv2d_tiles_u8s8<Maddubs, 2, RequantizedOut>(p, in, scratch, room, out);
}

void conv2d_s8_accumulators_avx2(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                 int64_t room) {
    if (one_channel_applies(p)) conv2d_one_channel<OneChannelAccumulators>(p, in, acc);
    else if (p->bits == 8) conv2d_tiles<AccumulatorOut>(p, in, scratch, room, acc);
    else if (p->bits == 4) conv2d_tiles_u8s8<Maddubs, 4, AccumulatorOut>(p, in, scratch, room, acc);
    else conv2d_tiles_u8s8<Maddubs, 2, AccumulatorOut>(p, in, scratch, room, acc);
}

void linear_s8_avx2(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t * /*scratch*/, int64_t /*room*/) {
    if (p->bits == 8) linear_run(p, in, out);
    else if (p->bits == 4) linear_run_u8s8<Maddubs, 4>(p, in, out);
    else linear_run_u8s8<Maddubs, 2>(p, in, out);
}

} // namespace dmc

#else // not compiled for AVX2: never available

namespace dmc {
bool avx2_available() { return false; }
void conv2d_s8_avx2(const dmc_conv2d_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
void conv2d_s8_accumulators_avx2(const dmc_conv2d_s8 *, const int8_t *, int32_t *, int8_t *, int64_t) {
    std::abort();
}
void linear_s8_avx2(const dmc_linear_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
} // namespace dmc

#endif
