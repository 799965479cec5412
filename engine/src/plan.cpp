// plan.cpp - the buffer plan: one arena for all of a model's activations
// and scratch, laid out before any run.
//
// The steps form a chain: step k reads only what step k-1 wrote (step 0
// reads the caller's raw input, outside the arena) and writes one tensor.
// While step k runs, three things are live and must not overlap: its input,
// its scratch and its output (a kernel reads its input while it writes its
// output). Any arena is therefore at least the largest input + scratch +
// output over the steps; this layout needs exactly that (each piece rounded
// up to 16 bytes), so no schedule that keeps them apart does better.
//
// The layout: the two ends of the arena alternate. Step 0 writes its
// output at the low end, step 1 at the high end, step 2 at the low end
// again, and so on, so that each step finds its input at one end, puts its
// output at the other and has everything between as scratch. ReLU and
// Flatten run in place (output = input, no scratch) and leave the ends
// as they are.
//
// The room: each step's kernel is given the whole gap between its input and
// output (room_bytes, from scratch_offset), never less than the least its
// op's variants need (scratch_bytes). The plan counts only that least need,
// so a kernel that goes faster with more (the SIMD convolution batches its
// gathered fields) takes the room that smaller steps leave over, and never
// adds a byte to the arena: on a microcontroller that arena is the RAM.
#include "plan.h"

#include "kernel_params.h"

namespace dmc {

namespace {

int64_t aligned(int64_t bytes) { return (bytes + 15) / 16 * 16; }

bool in_place(const std::vector<Step> &steps, size_t k) {
    return k > 0 && (steps[k].runs(LayerType::ReLU) || steps[k].runs(LayerType::Flatten));
}

// What step k holds at once: input + scratch + output, aligned.
int64_t step_bytes(const std::vector<Step> &steps, size_t k) {
    const int64_t in = k == 0 ? 0 : aligned(steps[k - 1].output_bytes());
    if (in_place(steps, k)) return in;
    return in + aligned(scratch_bytes(steps[k])) + aligned(steps[k].output_bytes());
}

} // namespace

int64_t scratch_bytes(const Step &s) {
    // The float reference ops and the conversions need none.
    if (!s.integer || s.conversion != Conversion::None) return 0;
    switch (s.type) {
    case LayerType::Conv2d: return planned_scratch(conv2d_kernels(), conv2d_params(s));
    case LayerType::Linear: return planned_scratch(linear_kernels(), linear_params(s));
    case LayerType::MaxPool2d: return planned_scratch(maxpool2d_kernels(), pool2d_params(s));
    case LayerType::AvgPool2d: return planned_scratch(avgpool2d_kernels(), pool2d_params(s));
    case LayerType::ReLU: return planned_scratch(relu_kernels(), relu_params(s));
    case LayerType::DepthwiseConv2d: return planned_scratch(depthwise_conv2d_kernels(), depthwise_conv2d_params(s));
    case LayerType::GlobalAvgPool2d: return planned_scratch(global_avgpool2d_kernels(), global_avgpool2d_params(s));
    case LayerType::Flatten: return 0;
    }
    return 0;
}

BufferPlan plan_buffers(const std::vector<Step> &steps) {
    BufferPlan plan;
    plan.steps.resize(steps.size());
    for (size_t k = 0; k < steps.size(); ++k) {
        plan.steps[k].bytes = step_bytes(steps, k);
        if (plan.steps[k].bytes > plan.arena_bytes) {
            plan.arena_bytes = plan.steps[k].bytes;
            plan.peak_step = int(k);
        }
    }
    bool output_low = false;
    int64_t previous_output = -1;
    for (size_t k = 0; k < steps.size(); ++k) {
        BufferPlan::Entry &e = plan.steps[k];
        e.input_offset = previous_output;
        if (in_place(steps, k)) {
            e.output_offset = e.scratch_offset = e.input_offset;
            e.room_bytes = 0;
        } else {
            output_low = !output_low;
            const int64_t in = k == 0 ? 0 : aligned(steps[k - 1].output_bytes());
            const int64_t out = aligned(steps[k].output_bytes());
            e.output_offset = output_low ? 0 : plan.arena_bytes - out;
            e.scratch_offset = output_low ? out : in;
            e.room_bytes = plan.arena_bytes - in - out;
        }
        previous_output = e.output_offset;
    }
    return plan;
}

} // namespace dmc
