// steps.h - the step list of a compression, laid out before any parameter
// is known (internal; compress.cpp fills the parameters in, the budget's
// footprint() plans buffers on the list as it is).
#pragma once

#include <vector>

#include "dmc/compressed_model.h"

namespace dmc {

// The steps that run `layers` (validated, pruned: their shapes set) on an
// input of `input`, with each weight layer at settings[i].bits: a ReLU
// after a weight layer is fused into it; a Quantize or Dequantize goes
// wherever the next weight layer needs the other kind of tensor. Each step
// gets its layer's geometry (no weights) and, for an integer weight layer,
// its bits (what scratch_bytes() reads).
std::vector<Step> lay_out_steps(const Shape &input, const std::vector<Layer> &layers,
                                const std::vector<LayerCompression> &settings);

// A layer without its weights and bias: what a step keeps of it.
Layer layer_geometry(const Layer &layer);

} // namespace dmc
