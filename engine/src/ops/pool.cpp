// pool.cpp - float reference max and average pooling (HWC). The integer
// versions are engine/kernels/dmc_pool.h.
#include <limits>

#include "ops.h"

namespace dmc {
namespace ops {

// Calls visit(input_offset) for each in-bounds window position of output
// pixel (oy, ox); padded positions are skipped.
template <typename Visit>
static void for_window(const Layer &l, int oy, int ox, Visit visit) {
    for (int ky = 0; ky < l.kernel; ++ky) {
        const int iy = oy * l.stride - l.padding + ky;
        if (iy < 0 || iy >= l.input.height) continue;
        for (int kx = 0; kx < l.kernel; ++kx) {
            const int ix = ox * l.stride - l.padding + kx;
            if (ix < 0 || ix >= l.input.width) continue;
            visit((size_t(iy) * size_t(l.input.width) + size_t(ix)) * size_t(l.input.channels));
        }
    }
}

void maxpool2d_f32(const Layer &l, const float *in, float *out) {
    const int c_n = l.input.channels;
    for (int oy = 0; oy < l.output.height; ++oy) {
        for (int ox = 0; ox < l.output.width; ++ox) {
            float *o = out + (size_t(oy) * size_t(l.output.width) + size_t(ox)) * size_t(c_n);
            for (int c = 0; c < c_n; ++c) o[c] = -std::numeric_limits<float>::infinity();
            for_window(l, oy, ox, [&](size_t offset) {
                for (int c = 0; c < c_n; ++c) o[c] = in[offset + size_t(c)] > o[c] ? in[offset + size_t(c)] : o[c];
            });
        }
    }
}

void avgpool2d_f32(const Layer &l, const float *in, float *out) {
    const int c_n = l.input.channels;
    const float divisor = float(l.kernel * l.kernel); // padded zeros count
    for (int oy = 0; oy < l.output.height; ++oy) {
        for (int ox = 0; ox < l.output.width; ++ox) {
            float *o = out + (size_t(oy) * size_t(l.output.width) + size_t(ox)) * size_t(c_n);
            for (int c = 0; c < c_n; ++c) o[c] = 0.0f;
            for_window(l, oy, ox, [&](size_t offset) {
                for (int c = 0; c < c_n; ++c) o[c] += in[offset + size_t(c)];
            });
            for (int c = 0; c < c_n; ++c) o[c] /= divisor;
        }
    }
}

// Sums in position order, in double (a sum of up to 2^22 floats), then
// divides once.
void global_avgpool2d_f32(const Layer &l, const float *in, float *out) {
    const size_t c_n = size_t(l.input.channels), positions = size_t(l.input.height) * size_t(l.input.width);
    for (size_t c = 0; c < c_n; ++c) {
        double sum = 0.0;
        for (size_t i = 0; i < positions; ++i) sum += double(in[i * c_n + c]);
        out[c] = float(sum / double(positions));
    }
}

} // namespace ops
} // namespace dmc
