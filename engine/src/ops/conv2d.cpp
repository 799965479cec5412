// conv2d.cpp - float reference convolution (HWC input, OHWI weights, zero
// padding). The integer version is engine/kernels/dmc_conv2d.h.
#include "ops.h"

namespace dmc {
namespace ops {

void conv2d_f32(const Layer &l, const float *in, float *out) {
    const Shape &is = l.input, &os = l.output;
    const int k = l.kernel, ci = is.channels;
    for (int oy = 0; oy < os.height; ++oy) {
        for (int ox = 0; ox < os.width; ++ox) {
            for (int oc = 0; oc < os.channels; ++oc) {
                float acc = l.bias.empty() ? 0.0f : l.bias[size_t(oc)];
                const float *w = l.weight.data() + size_t(oc) * size_t(k * k * ci);
                for (int ky = 0; ky < k; ++ky) {
                    const int iy = oy * l.stride - l.padding + ky;
                    if (iy < 0 || iy >= is.height) continue;
                    for (int kx = 0; kx < k; ++kx) {
                        const int ix = ox * l.stride - l.padding + kx;
                        if (ix < 0 || ix >= is.width) continue;
                        const float *x = in + (size_t(iy) * size_t(is.width) + size_t(ix)) * size_t(ci);
                        const float *wk = w + size_t(ky * k + kx) * size_t(ci);
                        for (int c = 0; c < ci; ++c) acc += x[c] * wk[c];
                    }
                }
                *out++ = acc;
            }
        }
    }
}

} // namespace ops
} // namespace dmc
