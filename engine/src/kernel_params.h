// kernel_params.h - fills the C kernels' parameter structs from a Step
// (internal); the kernels themselves are in kernel_table.h. The structs
// point into the Step, so they live only as long as the call they are
// built for.
#pragma once

#include "dmc/compressed_model.h"
#include "kernel_table.h"

namespace dmc {

// The window of a convolution or pooling step: the shapes' heights and
// widths, kernel, stride and padding.
template <typename Params>
void set_window(Params &p, const Step &s) {
    p.in_h = s.input.height;
    p.in_w = s.input.width;
    p.out_h = s.output.height;
    p.out_w = s.output.width;
    p.kernel = s.source.kernel;
    p.stride = s.source.stride;
    p.padding = s.source.padding;
}

// The weights and output stage of an integer weight step.
template <typename Params>
void set_weights_and_output(Params &p, const Step &s) {
    p.bits = s.weights.bits;
    p.weights = s.weights.packed.data();
    p.bias = s.bias.data();
    p.multiplier = s.multiplier.data();
    p.shift = s.shift.data();
    p.output_zero_point = s.out_q.zero_point;
    p.act_min = s.act_min;
    p.act_max = s.act_max;
}

inline dmc_conv2d_s8 conv2d_params(const Step &s) {
    dmc_conv2d_s8 p;
    set_window(p, s);
    p.in_c = s.input.channels;
    p.out_c = s.output.channels;
    set_weights_and_output(p, s);
    p.input_zero_point = s.in_q.zero_point;
    return p;
}

// A linear layer as a 1x1 convolution over an image 1 pixel high and
// `count` wide, one pixel per input: the same products and sums (a weight
// row of in_features values is a 1x1 kernel's), so that many inputs, back
// to back, go through the convolution's tiled kernel in one call
// (calibration, BatchExecutor).
inline dmc_conv2d_s8 linear_as_conv(const Step &s, int count) {
    dmc_conv2d_s8 p = conv2d_params(s);
    p.in_h = p.out_h = 1;
    p.in_w = p.out_w = count;
    p.in_c = s.input.channels;
    p.out_c = s.output.channels;
    p.kernel = p.stride = 1;
    p.padding = 0;
    return p;
}

inline dmc_linear_s8 linear_params(const Step &s) {
    dmc_linear_s8 p;
    p.in_features = s.input.channels;
    p.out_features = s.output.channels;
    set_weights_and_output(p, s);
    return p;
}

inline dmc_pool2d_s8 pool2d_params(const Step &s) {
    dmc_pool2d_s8 p;
    set_window(p, s);
    p.channels = s.input.channels;
    p.zero_point = s.in_q.zero_point;
    p.multiplier = s.pool_divisor.multiplier;
    p.shift = s.pool_divisor.shift;
    return p;
}

inline dmc_depthwise_conv2d_s8 depthwise_conv2d_params(const Step &s) {
    dmc_depthwise_conv2d_s8 p;
    set_window(p, s);
    p.channels = s.input.channels;
    set_weights_and_output(p, s);
    p.input_zero_point = s.in_q.zero_point;
    return p;
}

inline dmc_global_avgpool2d_s8 global_avgpool2d_params(const Step &s) {
    dmc_global_avgpool2d_s8 p;
    p.in_h = s.input.height;
    p.in_w = s.input.width;
    p.channels = s.input.channels;
    p.zero_point = s.in_q.zero_point;
    p.multiplier = s.pool_divisor.multiplier;
    p.shift = s.pool_divisor.shift;
    return p;
}

inline ReluParams relu_params(const Step &s) {
    return ReluParams{int32_t(s.input.size()), s.in_q.zero_point, s.act_max};
}

} // namespace dmc
