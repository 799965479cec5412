// conv_one_channel.h - the convolution of a one-channel input at stride 1
// (the first layer of a greyscale image model) with 128-bit SIMD, for the
// native engine and the browser: the same integers as dmc_conv2d_s8_run.
//
// The general SIMD convolution (conv_simd.h) gathers each output pixel's
// receptive field and takes dot products over it. With one input channel a
// field is only kernel x kernel values (25 for 5x5, padded to 32), so the
// gather and the padding cost as much as the arithmetic. Here nothing is
// gathered: the kernel's input rows are widened to int16 once per output
// row (padding columns and rows hold the input zero point, which is what a
// gathered field holds there), and each tap pair (kx, kx + 1) of a row is
// one pairwise multiply-add over four output pixels at once:
//     lanes (x[o + kx], x[o + kx + 1]) for o = ox .. ox + 3, times the
//     broadcast pair (w[kx], w[kx + 1]),
// shared by eight output channels (an odd kernel's last tap pairs with a
// zero weight). Weights are unpacked to their values once per call, so
// every bit width runs the same loop. Stack only: no scratch.
#pragma once

#include <algorithm>
#include <cstdint>

#include "dmc_conv2d.h"
#include "dot_simd.h"

#if DMC_SIMD128

namespace dmc {
namespace simd {

// The stack buffers' limits; a layer beyond them takes the gathering path.
constexpr int32_t kOneChannelMaxKernel = 7;
constexpr int32_t kOneChannelMaxOut = 32;   // output channels
constexpr int32_t kOneChannelMaxRow = 512;  // a padded input row, in values, slack included
constexpr int32_t kOneChannelSlack = 8;     // values past the padded row that the last pixels' loads reach

inline bool one_channel_applies(const dmc_conv2d_s8 *p) {
    return p->in_c == 1 && p->stride == 1 && p->kernel <= kOneChannelMaxKernel && p->out_c <= kOneChannelMaxOut &&
           p->in_w + 2 * p->padding + kOneChannelSlack <= kOneChannelMaxRow;
}

// The layer's weights as tap pairs (int16 w[kx] low, w[kx + 1] high), each
// in all four lanes of a vector, so that the multiply-add takes it straight
// from memory; grouped by eight output channels (group g, row ky, pair q:
// the eight channels' pairs side by side). The channels past out_c and the
// tap past an odd kernel are zero.
inline void one_channel_pairs(const dmc_conv2d_s8 *p, V *pairs) {
    const int32_t k = p->kernel, per_row = (k + 1) / 2, groups = (p->out_c + 7) / 8;
    const int32_t row_bytes = dmc_row_bytes(k * k, p->bits);
    for (int32_t g = 0; g < groups; ++g)
        for (int32_t ky = 0; ky < k; ++ky)
            for (int32_t q = 0; q < per_row; ++q)
                for (int32_t j = 0; j < 8; ++j) {
                    const int32_t oc = 8 * g + j, kx = 2 * q;
                    const uint8_t *w = p->weights + size_t(oc) * size_t(row_bytes);
                    const int32_t lo = oc < p->out_c ? dmc_packed_get(w, ky * k + kx, p->bits) : 0;
                    const int32_t hi = oc < p->out_c && kx + 1 < k ? dmc_packed_get(w, ky * k + kx + 1, p->bits) : 0;
                    pairs[((g * k + ky) * per_row + q) * 8 + j] =
                        set32(int32_t((uint32_t(lo) & 0xFFFFu) | (uint32_t(hi) << 16)));
                }
}

// The kernel's input rows for output row oy, widened, padded with the
// input zero point (rows above and below the image entirely).
inline void one_channel_rows(const dmc_conv2d_s8 *p, const int8_t *in, int32_t oy, int32_t row_len, int16_t *rows) {
    const int16_t zp = int16_t(p->input_zero_point);
    for (int32_t ky = 0; ky < p->kernel; ++ky) {
        int16_t *r = rows + ky * row_len;
        const int32_t iy = oy + ky - p->padding;
        std::fill(r, r + row_len, zp);
        if (iy < 0 || iy >= p->in_h) continue;
        const int8_t *src = in + size_t(iy) * size_t(p->in_w);
        for (int32_t x = 0; x < p->in_w; ++x) r[p->padding + x] = src[x];
    }
}

// The dot products (bias not added) of G output channels (group `pairs`)
// at output pixels ox .. ox + 3 of the rows given.
template <int G>
inline void one_channel_tile(const int16_t *rows, int32_t row_len, int32_t k, const V *pairs, int32_t ox,
                             V acc[G]) {
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
    const int32_t row_len = p->in_w + 2 * p->padding + kOneChannelSlack;
    V pairs[kOneChannelMaxOut * kOneChannelMaxKernel * ((kOneChannelMaxKernel + 1) / 2)]; // 14 KiB
    int16_t rows[kOneChannelMaxKernel * kOneChannelMaxRow];
    one_channel_pairs(p, pairs);
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        one_channel_rows(p, in, oy, row_len, rows);
        for (int32_t ox = 0; ox < p->out_w; ox += 4) {
            const int32_t first = oy * p->out_w + ox, count = std::min(p->out_w - ox, int32_t(4));
            for (int32_t g = 0; g < groups; ++g) {
                const V *group = pairs + g * k * per_row * 8;
                const int32_t live = std::min(p->out_c - 8 * g, int32_t(8));
                V acc[8];
                if (live > 4) one_channel_tile<8>(rows, row_len, k, group, ox, acc);
                else one_channel_tile<4>(rows, row_len, k, group, ox, acc);
                for (int32_t j = 0; j < live; ++j) store(acc[j], first, 8 * g + j, count);
            }
        }
    }
}

} // namespace simd
} // namespace dmc

#endif // DMC_SIMD128
