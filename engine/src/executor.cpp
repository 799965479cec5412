// executor.cpp - runs a CompressedModel one input at a time: dispatches
// each step to the integer kernel the engine chose (kernel_table.h) or the
// float reference (src/ops/), with all tensors and scratch in one arena
// laid out by the BufferPlan.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dmc/compressed_model.h"
#include "dmc/error.h"
#include "kernel_params.h"
#include "ops/ops.h"

namespace dmc {

namespace {

// The integer steps with a kernel table.
void run_integer_step(const Step &s, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room) {
    const KernelChoice &k = chosen_kernels();
    switch (s.type) {
    case LayerType::Conv2d: {
        const dmc_conv2d_s8 p = conv2d_params(s);
        return k.conv2d->run(&p, in, out, scratch, room);
    }
    case LayerType::Linear: {
        const dmc_linear_s8 p = linear_params(s);
        return k.linear->run(&p, in, out, scratch, room);
    }
    case LayerType::MaxPool2d:
    case LayerType::AvgPool2d: {
        const dmc_pool2d_s8 p = pool2d_params(s);
        return (s.type == LayerType::MaxPool2d ? k.maxpool2d : k.avgpool2d)->run(&p, in, out, scratch, room);
    }
    case LayerType::DepthwiseConv2d: {
        const dmc_depthwise_conv2d_s8 p = depthwise_conv2d_params(s);
        return k.depthwise_conv2d->run(&p, in, out, scratch, room);
    }
    case LayerType::GlobalAvgPool2d: {
        const dmc_global_avgpool2d_s8 p = global_avgpool2d_params(s);
        return k.global_avgpool2d->run(&p, in, out, scratch, room);
    }
    default: {
        const ReluParams p = relu_params(s);
        return k.relu->run(&p, in, out, scratch, room);
    }
    }
}

void run_float_step(const Step &s, const float *in, float *out) {
    switch (s.type) {
    case LayerType::Conv2d:
    case LayerType::Linear:
    case LayerType::DepthwiseConv2d:
        ops::run_layer_f32(s.source, s.float_weight_t.data(), in, out);
        if (s.fused_relu) ops::relu_f32(out, out, s.output.size(), s.relu_max);
        return;
    case LayerType::MaxPool2d: return ops::maxpool2d_f32(s.source, in, out);
    case LayerType::AvgPool2d: return ops::avgpool2d_f32(s.source, in, out);
    case LayerType::GlobalAvgPool2d: return ops::global_avgpool2d_f32(s.source, in, out);
    default: return ops::relu_f32(in, out, s.input.size(), s.source.relu_max);
    }
}

} // namespace

void run_step(const Step &s, const void *in, void *out, void *scratch, int64_t room) {
    const auto *qi = static_cast<const int8_t *>(in);
    auto *qo = static_cast<int8_t *>(out);
    const auto *fi = static_cast<const float *>(in);
    auto *fo = static_cast<float *>(out);
    const int64_t n = s.input.size();
    switch (s.conversion) {
    case Conversion::Normalize:
        for (int64_t i = 0; i < n; ++i) fo[i] = (fi[i] - s.input_mean) / s.input_std;
        return;
    case Conversion::Quantize:
        for (int64_t i = 0; i < n; ++i)
            qo[i] = dmc_quantize_input(fi[i], s.input_mean, s.input_inv_scale, s.out_q.zero_point);
        return;
    case Conversion::Dequantize:
        for (int64_t i = 0; i < n; ++i) fo[i] = dmc_dequantize(qi[i], float(s.in_q.scale), s.in_q.zero_point);
        return;
    case Conversion::None: break;
    }
    if (s.type == LayerType::Flatten) {
        if (in != out) std::memmove(out, in, size_t(s.output_bytes()));
    } else if (s.integer) {
        run_integer_step(s, qi, qo, static_cast<int8_t *>(scratch), room);
    } else {
        run_float_step(s, fi, fo);
    }
}

void run_step(const Step &s, const void *in, void *out, void *scratch) {
    run_step(s, in, out, scratch, scratch_bytes(s));
}

Executor::Executor(const CompressedModel &model)
    : model_(model), owned_(size_t((model.plan.arena_bytes + 7) / 8)), arena_(reinterpret_cast<char *>(owned_.data())) {}

Executor::Executor(const CompressedModel &model, void *arena, int64_t bytes)
    : model_(model), arena_(static_cast<char *>(arena)) {
    if (bytes < model.plan.arena_bytes)
        throw Error("executor: an arena of " + std::to_string(bytes) + " bytes, the plan needs " +
                    std::to_string(model.plan.arena_bytes));
    if (reinterpret_cast<uintptr_t>(arena) % kArenaAlignment != 0)
        throw Error("executor: the arena is not aligned to " + std::to_string(kArenaAlignment) + " bytes");
}

Executor::Executor(const Executor &other)
    : model_(other.model_), owned_(size_t((other.model_.plan.arena_bytes + 7) / 8)),
      arena_(reinterpret_cast<char *>(owned_.data())), raw_(other.raw_) {
    std::memcpy(arena_, other.arena_, size_t(model_.plan.arena_bytes));
}

const void *Executor::run_from(int first_step, const Observer &observe) {
    const std::vector<Step> &steps = model_.steps;
    for (size_t k = size_t(first_step); k < steps.size(); ++k) {
        const BufferPlan::Entry &e = model_.plan.steps[k];
        run_step(steps[k], arena_ + e.input_offset, arena_ + e.output_offset, arena_ + e.scratch_offset,
                 e.room_bytes);
        if (observe) observe(int(k), arena_ + e.output_offset);
    }
    return arena_ + model_.plan.steps.back().output_offset;
}

const void *Executor::run(const float *raw_input, const Observer &observe) {
    const BufferPlan::Entry &e = model_.plan.steps[0];
    run_step(model_.steps[0], raw_input, arena_ + e.output_offset, arena_ + e.scratch_offset, e.room_bytes);
    if (observe) observe(0, arena_ + e.output_offset);
    return run_from(1, observe);
}

const void *Executor::run_u8(const uint8_t *pixels, const Observer &observe) {
    const Step &first = model_.steps[0];
    const int64_t n = first.input.size();
    if (first.conversion != Conversion::Quantize) {
        // A float first layer: feed raw = pixel / 255 through the normal path.
        raw_.resize(size_t(n));
        for (int64_t i = 0; i < n; ++i) raw_[size_t(i)] = float(pixels[i]) / 255.0f;
        return run(raw_.data(), observe);
    }
    int8_t *q = reinterpret_cast<int8_t *>(arena_ + model_.plan.steps[0].output_offset);
    for (int64_t i = 0; i < n; ++i) q[i] = model_.input_lut[pixels[i]];
    if (observe) observe(0, q);
    return run_from(1, observe);
}

void *Executor::step_input(int step) { return arena_ + model_.plan.steps[size_t(step)].input_offset; }

double tensor_value(const Step &producer, const void *tensor, int64_t k) {
    if (!producer.integer) return double(static_cast<const float *>(tensor)[k]);
    // In double, not dmc_dequantize's float: reports sum many of these.
    return producer.out_q.scale * (static_cast<const int8_t *>(tensor)[k] - producer.out_q.zero_point);
}

int predicted_class(const CompressedModel &model, const void *output) {
    const int32_t n = int32_t(model.output_shape().size());
    if (model.output_integer()) return dmc_argmax_s8(static_cast<const int8_t *>(output), n);
    const float *v = static_cast<const float *>(output);
    int best = 0;
    for (int32_t i = 1; i < n; ++i) best = v[i] > v[best] ? i : best;
    return best;
}

int Executor::predict(const float *raw_input) { return predicted_class(model_, run(raw_input)); }
int Executor::predict_u8(const uint8_t *pixels) { return predicted_class(model_, run_u8(pixels)); }

} // namespace dmc
