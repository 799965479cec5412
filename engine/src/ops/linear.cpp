// linear.cpp - float reference fully connected layer ([out][in] weights).
// The integer version is engine/kernels/dmc_linear.h.
#include "ops.h"

namespace dmc {
namespace ops {

void linear_f32(const Layer &l, const float *in, float *out) {
    const size_t n_in = size_t(l.in_channels);
    for (int o = 0; o < l.out_channels; ++o) {
        const float *w = l.weight.data() + size_t(o) * n_in;
        float acc = l.bias.empty() ? 0.0f : l.bias[size_t(o)];
        for (size_t i = 0; i < n_in; ++i) acc += in[i] * w[i];
        out[o] = acc;
    }
}

} // namespace ops
} // namespace dmc
