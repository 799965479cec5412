// batch_executor.cpp - runs a CompressedModel on many inputs at once, step
// by step (compressed_model.h). Each step's tensors sit back to back, one
// per input, in one of two buffers: step k reads buffers_[k % 2] and writes
// the other. Packed tightly, a linear step's inputs are exactly the 1 x n
// image with in_features channels that its convolution form reads
// (linear_as_conv), and its outputs are what that convolution writes.
#include <algorithm>
#include <cstring>
#include <string>

#include "dmc/compressed_model.h"
#include "dmc/error.h"
#include "kernel_params.h"

namespace dmc {

namespace {

bool batched_linear(const Step &s) { return s.integer && s.runs(LayerType::Linear); }

// The scratch a step is given here: as much as calibration gives its
// kernels (64 blocks of fields, and an input's worth for row-wise pooling),
// for a linear step that of its convolution over `capacity` inputs.
int64_t room_for(const Step &s, int capacity) {
    if (batched_linear(s)) return 64 * planned_scratch(conv2d_kernels(), linear_as_conv(s, capacity));
    return 64 * scratch_bytes(s) + s.input.size();
}

} // namespace

BatchExecutor::BatchExecutor(const CompressedModel &model, int capacity) : model_(model), capacity_(capacity) {
    if (capacity < 1 || capacity > 4096)
        throw Error("batch executor: a batch of " + std::to_string(capacity) + " inputs; 1 to 4096 are supported");
    int64_t largest[2] = {0, 0}, room = 0;
    const int steps = int(model.steps.size());
    for (int k = 0; k <= steps; ++k) largest[k % 2] = std::max(largest[k % 2], tensor_bytes(k));
    for (const Step &s : model.steps) room = std::max(room, room_for(s, capacity));
    for (int b = 0; b < 2; ++b) buffers_[b].resize(size_t((largest[b] * capacity + 7) / 8));
    scratch_.resize(size_t((room + 7) / 8));
}

int64_t BatchExecutor::tensor_bytes(int step) const {
    if (step == 0) return model_.steps[0].input.size() * 4; // the raw input: floats
    return model_.steps[size_t(step) - 1].output_bytes();
}

char *BatchExecutor::tensor(int step, int input) const {
    const char *base = reinterpret_cast<const char *>(buffers_[size_t(step) % 2].data());
    return const_cast<char *>(base) + tensor_bytes(step) * input;
}

void *BatchExecutor::step_input(int step, int input) {
    if (step < 1 || step >= int(model_.steps.size()) || input < 0 || input >= capacity_)
        throw Error("batch executor: no step " + std::to_string(step) + " input " + std::to_string(input));
    return tensor(step, input);
}

const void *BatchExecutor::output(int input) const { return tensor(int(model_.steps.size()), input); }

void BatchExecutor::run_steps(int first_step, int n, const Observer &observe) {
    if (n < 1 || n > capacity_)
        throw Error("batch executor: " + std::to_string(n) + " inputs, capacity " + std::to_string(capacity_));
    int8_t *scratch = reinterpret_cast<int8_t *>(scratch_.data());
    const int64_t room = int64_t(scratch_.size()) * 8;
    for (int k = first_step; k < int(model_.steps.size()); ++k) {
        const Step &s = model_.steps[size_t(k)];
        if (batched_linear(s)) {
            const dmc_conv2d_s8 p = linear_as_conv(s, n);
            chosen_kernels().conv2d->run(&p, reinterpret_cast<const int8_t *>(tensor(k, 0)),
                                         reinterpret_cast<int8_t *>(tensor(k + 1, 0)), scratch, room);
        } else {
            for (int i = 0; i < n; ++i) run_step(s, tensor(k, i), tensor(k + 1, i), scratch, room);
        }
        if (observe)
            for (int i = 0; i < n; ++i) observe(k, i, tensor(k + 1, i));
    }
}

void BatchExecutor::run_from(int first_step, int n, const Observer &observe) {
    if (first_step < 1 || first_step >= int(model_.steps.size()))
        throw Error("batch executor: cannot resume at step " + std::to_string(first_step));
    run_steps(first_step, n, observe);
}

void BatchExecutor::run(const float *const *raw, int n, const Observer &observe) {
    if (n < 1 || n > capacity_)
        throw Error("batch executor: " + std::to_string(n) + " inputs, capacity " + std::to_string(capacity_));
    const size_t bytes = size_t(tensor_bytes(0));
    for (int i = 0; i < n; ++i) std::memcpy(tensor(0, i), raw[i], bytes);
    run_steps(0, n, observe);
}

void BatchExecutor::run_u8(const uint8_t *const *pixels, int n, const Observer &observe) {
    if (n < 1 || n > capacity_)
        throw Error("batch executor: " + std::to_string(n) + " inputs, capacity " + std::to_string(capacity_));
    const Step &first = model_.steps[0];
    const int64_t size = first.input.size();
    if (first.conversion != Conversion::Quantize) { // a float first layer: raw = pixel / 255, as Executor
        for (int i = 0; i < n; ++i) {
            float *raw = reinterpret_cast<float *>(tensor(0, i));
            for (int64_t e = 0; e < size; ++e) raw[e] = float(pixels[i][e]) / 255.0f;
        }
        return run_steps(0, n, observe);
    }
    for (int i = 0; i < n; ++i) {
        int8_t *q = reinterpret_cast<int8_t *>(tensor(1, i));
        for (int64_t e = 0; e < size; ++e) q[e] = model_.input_lut[pixels[i][e]];
    }
    if (observe)
        for (int i = 0; i < n; ++i) observe(0, i, tensor(1, i));
    if (model_.steps.size() > 1) run_steps(1, n, observe);
}

} // namespace dmc
