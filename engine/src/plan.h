// plan.h - the buffer plan: where each step's tensors and scratch live in
// one arena (internal; see plan.cpp).
#pragma once

#include <vector>

#include "dmc/compressed_model.h"

namespace dmc {

BufferPlan plan_buffers(const std::vector<Step> &steps);

} // namespace dmc
