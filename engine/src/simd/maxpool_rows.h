// maxpool_rows.h - integer max pooling a row at a time, for the engine
// (native and browser). Engine-only: the same bytes as dmc_maxpool2d_s8_run
// (max is exact whatever the order), which tests compare it with.
//
// dmc_maxpool2d_s8_run visits each output pixel's window, channel by
// channel: with few channels (LeNet-5's first pooling has 6) the loops are
// short and nothing vectorizes. Here each output row first takes the
// maximum over its window's input rows along the whole row (in_w * channels
// contiguous bytes, which the compiler vectorizes), then each output pixel
// the maximum over its window's columns of that row. Padded positions are
// skipped, as in the C kernel.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "dmc_pool.h"

static inline void dmc_maxpool2d_s8_run_rows(const dmc_pool2d_s8 *p, const int8_t *in, int8_t *out) {
    const size_t c = size_t(p->channels), row = size_t(p->in_w) * c;
    thread_local std::vector<int8_t> rows_max;
    rows_max.resize(row);
    int8_t *m = rows_max.data();
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        // padding < kernel, so every window holds at least one input row and column
        const int32_t y0 = oy * p->stride - p->padding;
        const int32_t y_lo = std::max(y0, 0), y_hi = std::min(y0 + p->kernel, p->in_h);
        std::memcpy(m, in + size_t(y_lo) * row, row);
        for (int32_t y = y_lo + 1; y < y_hi; ++y) {
            const int8_t *r = in + size_t(y) * row;
            for (size_t i = 0; i < row; ++i) m[i] = std::max(m[i], r[i]);
        }
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride - p->padding;
            const int32_t x_lo = std::max(x0, 0), x_hi = std::min(x0 + p->kernel, p->in_w);
            int8_t *o = out + (size_t(oy) * size_t(p->out_w) + size_t(ox)) * c;
            std::memcpy(o, m + size_t(x_lo) * c, c);
            for (int32_t x = x_lo + 1; x < x_hi; ++x) {
                const int8_t *v = m + size_t(x) * c;
                for (size_t ch = 0; ch < c; ++ch) o[ch] = std::max(o[ch], v[ch]);
            }
        }
    }
}
