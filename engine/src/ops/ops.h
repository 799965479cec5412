// ops.h - float reference kernels (internal). Each reads the geometry from
// the Layer (its input/output shapes set by validate_model) and works on
// HWC tensors. They define what the integer kernels in engine/kernels/
// approximate, and run layers left in float (bits = 32).
//
// Conv2d, depthwise conv2d and linear take their weights transposed, input channel major
// (HWIO, [in][out]; see transpose_weights), so that the innermost loop runs
// over output channels: it vectorises, and each output still sums its
// terms in the model's order (bias, then ky, kx, input channel), so a
// pruned model gives exactly the outputs of the unpruned one with the
// pruned channels zeroed.
#pragma once

#include <cstdint>
#include <vector>

#include "dmc/model.h"

namespace dmc {
namespace ops {

// OHWI / [out][in] / [c][ky][kx] weights of a conv2d/linear/depthwise
// layer as HWIO / [in][out] / [ky][kx][c].
std::vector<float> transpose_weights(const Layer &layer);

void conv2d_f32(const Layer &layer, const float *weight_t, const float *in, float *out);
void linear_f32(const Layer &layer, const float *weight_t, const float *in, float *out);
void maxpool2d_f32(const Layer &layer, const float *in, float *out);
void avgpool2d_f32(const Layer &layer, const float *in, float *out);
void depthwise_conv2d_f32(const Layer &layer, const float *weight_t, const float *in, float *out);
void global_avgpool2d_f32(const Layer &layer, const float *in, float *out);
// max(x, 0), and min(., max) where max is finite (ReLU6).
void relu_f32(const float *in, float *out, int64_t n, float max);

// Runs any layer type (flatten copies); weight_t as above, for conv2d/linear.
void run_layer_f32(const Layer &layer, const float *weight_t, const float *in, float *out);

} // namespace ops
} // namespace dmc
