// kernel_params.h - fills the C kernels' parameter structs from a Step
// (internal); the kernels themselves are in kernel_table.h. The structs
// point into the Step, so they live only as long as the call they are
// built for.
#pragma once

#include "dmc/compressed_model.h"
#include "kernel_table.h"

namespace dmc {

inline dmc_conv2d_s8 conv2d_params(const Step &s) {
    dmc_conv2d_s8 p;
    p.in_h = s.input.height;
    p.in_w = s.input.width;
    p.in_c = s.input.channels;
    p.out_h = s.output.height;
    p.out_w = s.output.width;
    p.out_c = s.output.channels;
    p.kernel = s.source.kernel;
    p.stride = s.source.stride;
    p.padding = s.source.padding;
    p.bits = s.weights.bits;
    p.weights = s.weights.packed.data();
    p.bias = s.bias.data();
    p.multiplier = s.multiplier.data();
    p.shift = s.shift.data();
    p.input_zero_point = s.in_q.zero_point;
    p.output_zero_point = s.out_q.zero_point;
    p.act_min = s.act_min;
    p.act_max = s.act_max;
    return p;
}

inline dmc_linear_s8 linear_params(const Step &s) {
    dmc_linear_s8 p;
    p.in_features = s.input.channels;
    p.out_features = s.output.channels;
    p.bits = s.weights.bits;
    p.weights = s.weights.packed.data();
    p.bias = s.bias.data();
    p.multiplier = s.multiplier.data();
    p.shift = s.shift.data();
    p.output_zero_point = s.out_q.zero_point;
    p.act_min = s.act_min;
    p.act_max = s.act_max;
    return p;
}

inline dmc_pool2d_s8 pool2d_params(const Step &s) {
    dmc_pool2d_s8 p;
    p.in_h = s.input.height;
    p.in_w = s.input.width;
    p.channels = s.input.channels;
    p.out_h = s.output.height;
    p.out_w = s.output.width;
    p.kernel = s.source.kernel;
    p.stride = s.source.stride;
    p.padding = s.source.padding;
    p.zero_point = s.in_q.zero_point;
    p.multiplier = s.pool_divisor.multiplier;
    p.shift = s.pool_divisor.shift;
    return p;
}

inline dmc_depthwise_conv2d_s8 depthwise_conv2d_params(const Step &s) {
    dmc_depthwise_conv2d_s8 p;
    p.in_h = s.input.height;
    p.in_w = s.input.width;
    p.channels = s.input.channels;
    p.out_h = s.output.height;
    p.out_w = s.output.width;
    p.kernel = s.source.kernel;
    p.stride = s.source.stride;
    p.padding = s.source.padding;
    p.bits = s.weights.bits;
    p.weights = s.weights.packed.data();
    p.bias = s.bias.data();
    p.multiplier = s.multiplier.data();
    p.shift = s.shift.data();
    p.input_zero_point = s.in_q.zero_point;
    p.output_zero_point = s.out_q.zero_point;
    p.act_min = s.act_min;
    p.act_max = s.act_max;
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
