// one_channel.h - what both SIMD one-input-channel convolutions (the 128-bit
// one in conv_one_channel.h, the AVX2 one in avx2.cpp) set up: when they
// apply, the weights as tap pairs, and the input rows widened. Plain C++,
// internal linkage (static), as conv_gather.h: avx2.cpp is compiled for
// another instruction set and must share no code through the linker.
//
// With one input channel a receptive field is only kernel x kernel values
// (25 for 5x5, padded to 32), so gathering fields costs as much as the dot
// products. These kernels gather nothing: each input row is widened to
// int16 once, into a ring of kernel rows (padding columns and rows hold the
// input zero point, which is what a gathered field holds there), and each
// tap pair (kx, kx + 1) of a row is one pairwise multiply-add over several
// output pixels at once,
//     lanes (x[o + kx], x[o + kx + 1]) for o = ox, ox + 1, ..., times the
//     broadcast pair (w[kx], w[kx + 1]),
// shared by eight output channels (an odd kernel's last tap pairs with a
// zero weight). The weights are unpacked to their values once per call, so
// every bit width runs the same loop. Stack only: no scratch.
#pragma once

#include <cstdint>
#include <cstring>

#include "dmc_conv2d.h"

// The stack buffers' limits; a layer beyond them takes the gathering path.
constexpr int32_t kOneChannelMaxKernel = 7;
constexpr int32_t kOneChannelMaxOut = 32;   // output channels
constexpr int32_t kOneChannelMaxRow = 512;  // a padded input row, in values, slack included
constexpr int32_t kOneChannelSlack = 16;    // values past the padded row that the last pixels' loads reach
constexpr int32_t kOneChannelMaxPairs = kOneChannelMaxOut * kOneChannelMaxKernel * ((kOneChannelMaxKernel + 1) / 2);

static inline bool one_channel_applies(const dmc_conv2d_s8 *p) {
    return p->in_c == 1 && p->stride == 1 && p->kernel <= kOneChannelMaxKernel && p->out_c <= kOneChannelMaxOut &&
           p->in_w + 2 * p->padding + kOneChannelSlack <= kOneChannelMaxRow;
}

// The int16 values of a padded input row, slack included.
static inline int32_t one_channel_row_length(const dmc_conv2d_s8 *p) {
    return p->in_w + 2 * p->padding + kOneChannelSlack;
}

// The weights as tap pairs, int16 w[kx] in the low half and w[kx + 1] in
// the high half, grouped by eight output channels: group g, kernel row ky,
// pair q, then the eight channels side by side. The channels past out_c
// and the tap past an odd kernel are zero.
static inline void one_channel_pairs(const dmc_conv2d_s8 *p, int32_t *pairs) {
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
                    pairs[((g * k + ky) * per_row + q) * 8 + j] = int32_t((uint32_t(lo) & 0xFFFFu) | (uint32_t(hi) << 16));
                }
}

// Input row iy widened, one_channel_row_length values: the input zero point
// in the padding columns and the slack, and across a row above or below the
// image.
static inline void one_channel_row(const dmc_conv2d_s8 *p, const int8_t *in, int32_t iy, int16_t *r) {
    const int16_t zp = int16_t(p->input_zero_point);
    const int32_t row_len = one_channel_row_length(p);
    if (iy < 0 || iy >= p->in_h) {
        for (int32_t x = 0; x < row_len; ++x) r[x] = zp;
        return;
    }
    const int8_t *src = in + size_t(iy) * size_t(p->in_w);
    for (int32_t x = 0; x < p->padding; ++x) r[x] = zp;
    for (int32_t x = 0; x < p->in_w; ++x) r[p->padding + x] = src[x];
    for (int32_t x = p->padding + p->in_w; x < row_len; ++x) r[x] = zp;
}

// Points rows[ky] at the widened input row under kernel row ky for output
// row oy, the rows held in `ring` (kernel x kOneChannelMaxRow values). At
// stride 1 the window moves down one input row per output row, so after the
// first output row only the new bottom row is widened, into the slot of
// the row that left the window: each input row is widened once.
static inline void one_channel_advance(const dmc_conv2d_s8 *p, const int8_t *in, int32_t oy, int16_t *ring,
                                       int16_t *rows[]) {
    const int32_t k = p->kernel;
    if (oy == 0) {
        for (int32_t ky = 0; ky < k; ++ky) {
            rows[ky] = ring + ky * kOneChannelMaxRow;
            one_channel_row(p, in, ky - p->padding, rows[ky]);
        }
        return;
    }
    int16_t *const freed = rows[0];
    for (int32_t ky = 0; ky + 1 < k; ++ky) rows[ky] = rows[ky + 1];
    rows[k - 1] = freed;
    one_channel_row(p, in, oy + k - 1 - p->padding, freed);
}

// The accumulators of output channels oc0 .. oc0 + live - 1 (to(oc, sums):
// channel oc's vector with the bias added, a pixel per lane) at `pixels`
// output pixels from `first`, written out_c apart per pixel.
template <int Lanes, typename Vec, typename To>
static inline void one_channel_put(const Vec *acc, int32_t oc0, int32_t live, int32_t first, int32_t pixels,
                                   int32_t out_c, const To &to, int32_t *target) {
    alignas(32) int32_t v[8][Lanes];
    for (int32_t j = 0; j < live; ++j) {
        const Vec value = to(oc0 + j, acc[j]);
        std::memcpy(v[j], &value, sizeof value);
    }
    int32_t *t = target + size_t(first) * size_t(out_c) + size_t(oc0);
    for (int32_t k = 0; k < pixels; ++k, t += out_c)
        for (int32_t j = 0; j < live; ++j) t[j] = v[j][k];
}

// Output bytes of `pixels` pixels, one channel group each (bytes[k]: pixel
// k's eight channels, the first at t), out_c apart. Each pixel is one 8-byte
// store: in the last group, where fewer than eight channels are live, the
// bytes past them land on the next pixel's first channels, which the
// drivers write afterwards (groups run last to first, pixels in order);
// only where that would pass the end of the output is the pixel written
// byte by byte.
static inline void one_channel_write(const uint64_t *bytes, int32_t pixels, int32_t live, int32_t out_c, int8_t *t,
                                     const int8_t *end) {
    for (int32_t k = 0; k < pixels; ++k, t += out_c) {
        if (end - t >= 8) std::memcpy(t, &bytes[k], 8);
        else std::memcpy(t, &bytes[k], size_t(live));
    }
}
