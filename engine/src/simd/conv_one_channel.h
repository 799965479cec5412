// conv_one_channel.h - the convolution of a one-channel input at stride 1
// (the first layer of a greyscale image model) with 128-bit SIMD, for the
// native engine and the browser: the same integers as dmc_conv2d_s8_run.
// How it works, and what it shares with the AVX2 version: one_channel.h.
// Four output pixels per multiply-add.
#pragma once

#include <algorithm>
#include <cstdint>

#include "dot_simd.h"
#include "one_channel.h"

#if DMC_SIMD128

namespace dmc {
namespace simd {

// The dot products (bias not added) of G output channels (`pairs`: their
// group's broadcast tap pairs, eight per tap pair) at output pixels
// ox .. ox + 3, one vector per channel.
template <int G, int K>
inline void one_channel_tile(int16_t *const rows[], int32_t kernel, const V *pairs, int32_t ox, V acc[]) {
    const int32_t k = K ? K : kernel, per_row = (k + 1) / 2;
    // Named sums, not an array: GCC keeps an array's sums on the stack
    // across the row loop.
    V a0 = zero(), a1 = zero(), a2 = zero(), a3 = zero(), a4 = zero(), a5 = zero(), a6 = zero(), a7 = zero();
    for (int32_t ky = 0; ky < k; ++ky) {
        const int16_t *r = rows[ky] + ox;
        for (int32_t q = 0; q < per_row; ++q, pairs += 8) {
            const V x = interleave16(load8(r + 2 * q), load8(r + 2 * q + 1));
            a0 = add32(a0, madd(x, pairs[0]));
            a1 = add32(a1, madd(x, pairs[1]));
            if (G > 2) {
                a2 = add32(a2, madd(x, pairs[2]));
                a3 = add32(a3, madd(x, pairs[3]));
            }
            if (G > 4) {
                a4 = add32(a4, madd(x, pairs[4]));
                a5 = add32(a5, madd(x, pairs[5]));
            }
            if (G > 6) {
                a6 = add32(a6, madd(x, pairs[6]));
                a7 = add32(a7, madd(x, pairs[7]));
            }
        }
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
}

template <int K>
inline void one_channel_group(int16_t *const rows[], int32_t k, const V *pairs, int32_t ox, int32_t live, V acc[8]) {
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
inline void one_channel_tiles(int16_t *const rows[], int32_t k, const V *pairs, int32_t ox, int32_t live, V acc[8]) {
    if (k == 5) return one_channel_group<5>(rows, k, pairs, ox, live, acc);
    if (k == 3) return one_channel_group<3>(rows, k, pairs, ox, live, acc);
    one_channel_group<0>(rows, k, pairs, ox, live, acc);
}

// Where a tile's sums go: requantized to the output's bytes
// (OneChannelBytes) or, bias added, to int32 accumulators
// (OneChannelAccumulators); each channel's constants set up once per call.
struct OneChannelBytes {
    V bias[kOneChannelMaxOut];
    Requantizer channel[kOneChannelMaxOut];
    int8_t *out;
    const int8_t *end;
    int32_t out_c;

    OneChannelBytes(const dmc_conv2d_s8 *p, int8_t *o)
        : out(o), end(o + size_t(p->out_h) * size_t(p->out_w) * size_t(p->out_c)), out_c(p->out_c) {
        for (int32_t oc = 0; oc < p->out_c; ++oc) {
            bias[oc] = set32(p->bias[oc]);
            channel[oc] = Requantizer(p->multiplier[oc], p->shift[oc], p->output_zero_point, p->act_min, p->act_max);
        }
    }

    void put(const V acc[8], int32_t oc0, int32_t live, int32_t first, int32_t pixels) const {
        V r[8];
        for (int32_t j = 0; j < 8; ++j) r[j] = j < live ? channel[oc0 + j](add32x(acc[j], bias[oc0 + j])) : zero();
        uint64_t bytes[4];
        V lo, hi;
        pixel_bytes(r, lo, hi);
        std::memcpy(bytes, &lo, 16);
        std::memcpy(bytes + 2, &hi, 16);
        one_channel_write(bytes, pixels, live, out_c, out + size_t(first) * size_t(out_c) + size_t(oc0), end);
    }
};

struct OneChannelAccumulators {
    V bias[kOneChannelMaxOut];
    int32_t *acc;
    int32_t out_c;

    OneChannelAccumulators(const dmc_conv2d_s8 *p, int32_t *a) : acc(a), out_c(p->out_c) {
        for (int32_t oc = 0; oc < p->out_c; ++oc) bias[oc] = set32(p->bias[oc]);
    }
    V operator()(int32_t oc, V sums) const { return add32x(sums, bias[oc]); }
    void put(const V sums[8], int32_t oc0, int32_t live, int32_t first, int32_t pixels) const {
        one_channel_put<4>(sums, oc0, live, first, pixels, out_c, *this, acc);
    }
};

// The convolution into target (bytes or accumulators, as Out writes them).
template <typename Out, typename T> inline void conv2d_one_channel(const dmc_conv2d_s8 *p, const int8_t *in, T *target) {
    const int32_t k = p->kernel, per_row = (k + 1) / 2, groups = (p->out_c + 7) / 8;
    const int32_t count = groups * k * per_row * 8;
    int32_t values[kOneChannelMaxPairs];
    V pairs[kOneChannelMaxPairs]; // each pair in all four lanes: the multiply-add reads it from memory
    int16_t ring[kOneChannelMaxKernel * kOneChannelMaxRow];
    int16_t *rows[kOneChannelMaxKernel];
    one_channel_pairs(p, values);
    for (int32_t i = 0; i < count; ++i) pairs[i] = set32(values[i]);
    const Out out(p, target);
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        one_channel_advance(p, in, oy, ring, rows);
        for (int32_t ox = 0; ox < p->out_w; ox += 4) {
            const int32_t pixels = std::min(p->out_w - ox, int32_t(4));
            for (int32_t g = groups - 1; g >= 0; --g) { // last to first: see one_channel_write
                const int32_t live = std::min(p->out_c - 8 * g, int32_t(8));
                V acc[8];
                one_channel_tiles(rows, k, pairs + g * k * per_row * 8, ox, live, acc);
                out.put(acc, 8 * g, live, oy * p->out_w + ox, pixels);
            }
        }
    }
}

} // namespace simd
} // namespace dmc

#endif // DMC_SIMD128
