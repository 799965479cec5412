// activation.cpp - float ReLU, and the dispatch over layer types. The
// integer ReLU is engine/kernels/dmc_activation.h.
#include <algorithm>
#include <cstring>

#include "ops.h"

namespace dmc {
namespace ops {

void relu_f32(const float *in, float *out, int64_t n, float max) {
    for (int64_t i = 0; i < n; ++i) {
        const float v = in[i] > 0.0f ? in[i] : 0.0f;
        out[i] = v < max ? v : max;
    }
}

void run_layer_f32(const Layer &layer, const float *weight_t, const float *in, float *out) {
    switch (layer.type) {
    case LayerType::Conv2d: conv2d_f32(layer, weight_t, in, out); break;
    case LayerType::Linear: linear_f32(layer, weight_t, in, out); break;
    case LayerType::MaxPool2d: maxpool2d_f32(layer, in, out); break;
    case LayerType::AvgPool2d: avgpool2d_f32(layer, in, out); break;
    case LayerType::ReLU: relu_f32(in, out, layer.input.size(), layer.relu_max); break;
    case LayerType::DepthwiseConv2d: depthwise_conv2d_f32(layer, weight_t, in, out); break;
    case LayerType::GlobalAvgPool2d: global_avgpool2d_f32(layer, in, out); break;
    case LayerType::Flatten:
        if (in != out) std::memmove(out, in, size_t(layer.input.size()) * sizeof(float));
        break;
    }
}

} // namespace ops
} // namespace dmc
