// conv2d.cpp - float reference convolution (HWC input, HWIO weights, zero
// padding). The integer version is engine/kernels/dmc_conv2d.h.
#include <algorithm>

#include "ops.h"

namespace dmc {
namespace ops {

std::vector<float> transpose_weights(const Layer &l) {
    const size_t rows = size_t(l.out_channels), fan_in = size_t(l.fan_in());
    std::vector<float> t(l.weight.size());
    for (size_t o = 0; o < rows; ++o)
        for (size_t i = 0; i < fan_in; ++i) t[i * rows + o] = l.weight[o * fan_in + i];
    return t;
}

namespace {

// Walks a convolution's output pixels: each pixel's `out_channels` outputs
// start at the bias, then tap(acc, x, t) adds kernel tap t (ky * k + kx)
// for every tap inside the input (zero padding adds nothing), x being the
// input pixel's channels.
template <typename Tap>
void convolve(const Layer &l, const float *in, float *out, size_t out_channels, Tap tap) {
    const Shape &is = l.input, &os = l.output;
    const size_t k = size_t(l.kernel), ci = size_t(is.channels);
    for (int oy = 0; oy < os.height; ++oy) {
        for (int ox = 0; ox < os.width; ++ox) {
            float *acc = out + (size_t(oy) * size_t(os.width) + size_t(ox)) * out_channels;
            if (l.bias.empty()) std::fill(acc, acc + out_channels, 0.0f);
            else std::copy(l.bias.begin(), l.bias.end(), acc);
            for (size_t ky = 0; ky < k; ++ky) {
                const int iy = oy * l.stride - l.padding + int(ky);
                if (iy < 0 || iy >= is.height) continue;
                for (size_t kx = 0; kx < k; ++kx) {
                    const int ix = ox * l.stride - l.padding + int(kx);
                    if (ix < 0 || ix >= is.width) continue;
                    tap(acc, in + (size_t(iy) * size_t(is.width) + size_t(ix)) * ci, ky * k + kx);
                }
            }
        }
    }
}

} // namespace

void conv2d_f32(const Layer &l, const float *weight_t, const float *in, float *out) {
    const size_t ci = size_t(l.input.channels), co = size_t(l.output.channels);
    convolve(l, in, out, co, [&](float *acc, const float *x, size_t t) {
        const float *w = weight_t + t * ci * co;
        for (size_t c = 0; c < ci; ++c)
            for (size_t o = 0; o < co; ++o) acc[o] += x[c] * w[c * co + o];
    });
}

// weight_t is [ky][kx][c]: the inner loop runs over channels, as the
// activations do (HWC).
void depthwise_conv2d_f32(const Layer &l, const float *weight_t, const float *in, float *out) {
    const size_t c_n = size_t(l.input.channels);
    convolve(l, in, out, c_n, [&](float *acc, const float *x, size_t t) {
        const float *w = weight_t + t * c_n;
        for (size_t c = 0; c < c_n; ++c) acc[c] += x[c] * w[c];
    });
}

} // namespace ops
} // namespace dmc
