// ops.h - float reference kernels (internal). Each reads the geometry from
// the Layer (its input/output shapes set by validate_model) and works on
// HWC tensors. They define what the integer kernels in engine/kernels/
// approximate, and run layers left in float (bits = 32).
#pragma once

#include <cstdint>

#include "dmc/model.h"

namespace dmc {
namespace ops {

void conv2d_f32(const Layer &layer, const float *in, float *out);
void linear_f32(const Layer &layer, const float *in, float *out);
void maxpool2d_f32(const Layer &layer, const float *in, float *out);
void avgpool2d_f32(const Layer &layer, const float *in, float *out);
void relu_f32(const float *in, float *out, int64_t n);

// Runs any layer type (flatten copies).
void run_layer_f32(const Layer &layer, const float *in, float *out);

} // namespace ops
} // namespace dmc
