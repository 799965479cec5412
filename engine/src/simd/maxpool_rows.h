// maxpool_rows.h - integer max pooling a row at a time, for the engine
// (native and browser): the table's maxpool2d_s8_simd128 (its maxima 16
// bytes at a time with SSE4.2 or WebAssembly SIMD128). Engine-only:
// the same bytes as dmc_maxpool2d_s8_run (max is exact whatever the
// order), which tests compare it with.
//
// dmc_maxpool2d_s8_run visits each output pixel's window, channel by
// channel: with few channels (LeNet-5's first pooling has 6) the loops are
// short and nothing vectorizes. Here each output row first takes the
// maximum over its window's input rows along the whole row (in_w * channels
// contiguous bytes, into the scratch), then the maximum over each window's
// columns of that row: without padding by passes along the whole row
// (maxpool2d_columns), with padding pixel by pixel. Padded positions are
// skipped, as in the C kernel.
//
// The buffer plan gives this row no room of its own: where it is the
// largest step (LeNet-5's first pooling is), a row more would be RAM the
// microcontroller pays for. So it takes the row from whatever room the plan
// leaves between input and output, or from the part of the output not yet
// written, and where neither holds it runs that output row the plain way:
// a choice made from the shapes and the room (per layer and row), never
// from the data, and the same bytes either way.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "dmc_pool.h"
#include "dot_simd.h"

namespace dmc {

// m[i] = max(m[i], r[i]) for i < n, 16 bytes at a time (the compiler
// leaves the loop scalar where r may lie just ahead of m). r may be m + d
// for d > 0: each block of m is loaded before it is stored, and every
// store so far lies before the block, so every read sees the bytes as
// they were before the pass.
inline void max_into(int8_t *m, const int8_t *r, size_t n) {
    size_t i = 0;
#if DMC_SIMD128
    for (; i + 16 <= n; i += 16) simd::store(m + i, simd::max8(simd::load16(m + i), simd::load16(r + i)));
#endif
    for (; i < n; ++i) m[i] = std::max(m[i], r[i]);
}

// n bytes from s to d, which may overlap: all of s is loaded before d is
// written. A pixel's few channels, where a call to memmove would cost more
// than the copy (in WebAssembly, much more): up to 16 bytes as two words
// that may overlap each other, each within the n bytes.
inline void copy_pixel(int8_t *d, const int8_t *s, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        std::memcpy(&a, s, 8);
        std::memcpy(&b, s + n - 8, 8);
        std::memcpy(d, &a, 8);
        std::memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        std::memcpy(&a, s, 4);
        std::memcpy(&b, s + n - 4, 4);
        std::memcpy(d, &a, 4);
        std::memcpy(d + n - 4, &b, 4);
    } else {
        std::memmove(d, s, n);
    }
}

// The maxima over the window's columns, without padding, in place in m
// (the row of maxima over the window's rows): after a pass that leaves
// m[i] the maximum of w columns from i, the pass m[i] = max(m[i], m[i + d c])
// (d <= w) leaves that of w + d, so kernel k takes about log2(k) passes,
// each contiguous and 16 bytes at a time however few the channels. A pass
// runs left to right and reads only ahead of what it writes. Then each
// output pixel copies its window's first column; the copies run left to
// right and never reach a later window (ox c <= ox stride c), so o may be m
// itself, or lie before it in the same buffer.
inline void maxpool2d_columns(const dmc_pool2d_s8 *p, int8_t *m, int8_t *o) {
    const size_t c = size_t(p->channels), row = size_t(p->in_w) * c;
    for (int32_t w = 1; w < p->kernel;) {
        const int32_t d = std::min(w, p->kernel - w);
        w += d;
        const size_t n = row - size_t(w - 1) * c; // the positions with w columns in the row
        max_into(m, m + size_t(d) * c, n);
    }
    if (p->stride == 1) {
        std::memmove(o, m, size_t(p->out_w) * c);
        return;
    }
    const size_t step = size_t(p->stride) * c;
    for (int32_t ox = 0; ox < p->out_w; ++ox) copy_pixel(o + size_t(ox) * c, m + size_t(ox) * step, c);
}

// Output row oy, the row-wise way, with m: room for in_w * channels bytes.
// m may lie in the output itself, at or after row oy's first byte: each
// pixel is written over columns of m that no later pixel reads (it reads
// columns from max(ox * stride - padding, 0) >= ox on, given padding <
// stride), and a pixel's channels are each read before they are written.
inline void maxpool2d_row(const dmc_pool2d_s8 *p, const int8_t *in, int8_t *out, int32_t oy, int8_t *m) {
    const size_t c = size_t(p->channels), row = size_t(p->in_w) * c;
    // padding < kernel, so every window holds at least one input row and column
    const int32_t y0 = oy * p->stride - p->padding;
    const int32_t y_lo = std::max(y0, 0), y_hi = std::min(y0 + p->kernel, p->in_h);
    std::memcpy(m, in + size_t(y_lo) * row, row);
    for (int32_t y = y_lo + 1; y < y_hi; ++y) max_into(m, in + size_t(y) * row, row);
    int8_t *o = out + size_t(oy) * size_t(p->out_w) * c;
    if (p->padding == 0) return maxpool2d_columns(p, m, o);
    for (int32_t ox = 0; ox < p->out_w; ++ox, o += c) {
        const int32_t x0 = ox * p->stride - p->padding;
        const int32_t x_lo = std::max(x0, 0), x_hi = std::min(x0 + p->kernel, p->in_w);
        for (size_t ch = 0; ch < c; ++ch) {
            int8_t v = m[size_t(x_lo) * c + ch];
            for (int32_t x = x_lo + 1; x < x_hi; ++x) v = std::max(v, m[size_t(x) * c + ch]);
            o[ch] = v;
        }
    }
}

// Output row oy as dmc_maxpool2d_s8_run computes it.
inline void maxpool2d_plain_row(const dmc_pool2d_s8 *p, const int8_t *in, int8_t *out, int32_t oy) {
    const size_t c = size_t(p->channels);
    const int32_t y0 = oy * p->stride - p->padding;
    const int32_t y_lo = std::max(y0, 0), y_hi = std::min(y0 + p->kernel, p->in_h);
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t x0 = ox * p->stride - p->padding;
        const int32_t x_lo = std::max(x0, 0), x_hi = std::min(x0 + p->kernel, p->in_w);
        int8_t *o = out + (size_t(oy) * size_t(p->out_w) + size_t(ox)) * c;
        std::memcpy(o, in + (size_t(y_lo) * size_t(p->in_w) + size_t(x_lo)) * c, c);
        for (int32_t y = y_lo; y < y_hi; ++y)
            for (int32_t x = y == y_lo ? x_lo + 1 : x_lo; x < x_hi; ++x) {
                const int8_t *v = in + (size_t(y) * size_t(p->in_w) + size_t(x)) * c;
                for (size_t ch = 0; ch < c; ++ch) o[ch] = std::max(o[ch], v[ch]);
            }
    }
}

// Needs no scratch; room: the scratch's size. Each output row takes its
// row of maxima from the scratch if the room holds one, else from the
// output's rows not yet written (row oy and after), else it runs the plain
// way (LeNet-5's first pooling: its last row).
inline void maxpool2d_s8_simd128(const dmc_pool2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch,
                                 int64_t room) {
    const int64_t row = int64_t(p->in_w) * p->channels, out_row = int64_t(p->out_w) * p->channels;
    const int64_t out_bytes = out_row * p->out_h;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        if (room >= row) maxpool2d_row(p, in, out, oy, scratch);
        else if (p->padding < p->stride && oy * out_row + row <= out_bytes) maxpool2d_row(p, in, out, oy, out + oy * out_row);
        else maxpool2d_plain_row(p, in, out, oy);
    }
}

} // namespace dmc
