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
// group's broadcast tap pairs) at output pixels ox .. ox + 3.
template <int G>
inline void one_channel_tile(const int16_t *rows, int32_t row_len, int32_t k, const V *pairs, int32_t ox, V acc[G]) {
    const int32_t per_row = (k + 1) / 2;
    V a[G]; // local, so that the sums stay in registers (acc could alias the rows)
    for (int j = 0; j < G; ++j) a[j] = zero();
    for (int32_t ky = 0; ky < k; ++ky) {
        const int16_t *r = rows + ky * row_len + ox;
        for (int32_t q = 0; q < per_row; ++q, pairs += 8) {
            const V x = interleave16(load8(r + 2 * q), load8(r + 2 * q + 1));
            for (int j = 0; j < G; ++j) a[j] = add32(a[j], madd(x, pairs[j]));
        }
    }
    for (int j = 0; j < G; ++j) acc[j] = a[j];
}

// Calls store(sums, first, oc, count) as conv2d_tiles does: the dot
// products of output channel oc at output pixels first .. first + 3, of
// which the first `count` exist. A group of four or fewer channels runs
// four wide.
template <typename Store> inline void conv2d_one_channel(const dmc_conv2d_s8 *p, const int8_t *in, Store store) {
    const int32_t k = p->kernel, per_row = (k + 1) / 2, groups = (p->out_c + 7) / 8;
    const int32_t row_len = one_channel_row_length(p), count = groups * k * per_row * 8;
    int32_t values[kOneChannelMaxPairs];
    V pairs[kOneChannelMaxPairs]; // each pair in all four lanes: the multiply-add reads it from memory
    int16_t rows[kOneChannelMaxKernel * kOneChannelMaxRow];
    one_channel_pairs(p, values);
    for (int32_t i = 0; i < count; ++i) pairs[i] = set32(values[i]);
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        one_channel_rows(p, in, oy, rows);
        for (int32_t ox = 0; ox < p->out_w; ox += 4) {
            const int32_t first = oy * p->out_w + ox, pixels = std::min(p->out_w - ox, int32_t(4));
            for (int32_t g = 0; g < groups; ++g) {
                const V *group = pairs + g * k * per_row * 8;
                const int32_t live = std::min(p->out_c - 8 * g, int32_t(8));
                V acc[8];
                if (live > 4) one_channel_tile<8>(rows, row_len, k, group, ox, acc);
                else one_channel_tile<4>(rows, row_len, k, group, ox, acc);
                for (int32_t j = 0; j < live; ++j) store(acc[j], first, 8 * g + j, pixels);
            }
        }
    }
}

} // namespace simd
} // namespace dmc

#endif // DMC_SIMD128
