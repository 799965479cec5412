// linear.cpp - float reference fully connected layer ([in][out] weights).
// The integer version is engine/kernels/dmc_linear.h.
#include <algorithm>

#include "ops.h"

namespace dmc {
namespace ops {

void linear_f32(const Layer &l, const float *weight_t, const float *in, float *out) {
    const size_t n_in = size_t(l.in_channels), n_out = size_t(l.out_channels);
    if (l.bias.empty()) std::fill(out, out + n_out, 0.0f);
    else std::copy(l.bias.begin(), l.bias.end(), out);
    for (size_t i = 0; i < n_in; ++i) {
        const float x = in[i], *w = weight_t + i * n_out;
        for (size_t o = 0; o < n_out; ++o) out[o] += x * w[o];
    }
}

} // namespace ops
} // namespace dmc
