// executor.cpp - runs a CompressedModel one input at a time: dispatches
// each step to its integer kernel (engine/kernels/) or float reference
// (src/ops/), with all tensors in one arena laid out by the BufferPlan.
#include <cstring>
#include <vector>

#include "dmc/compressed_model.h"
#include "kernel_params.h"
#include "ops/ops.h"

namespace dmc {

int8_t *simd_buffer(int which, int64_t bytes) {
    thread_local std::vector<int8_t> buffers[2];
    std::vector<int8_t> &b = buffers[which];
    if (b.size() < size_t(bytes)) b.resize(size_t(bytes));
    return b.data();
}

int64_t scratch_bytes(const Step &s) {
    if (s.op == Op::Conv2d && s.integer) {
        const dmc_conv2d_s8 p = conv2d_params(s);
        return dmc_conv2d_s8_scratch_bytes(&p);
    }
    return 0;
}

void run_step(const Step &s, const void *in, void *out, void *scratch) {
    const auto *qi = static_cast<const int8_t *>(in);
    auto *qo = static_cast<int8_t *>(out);
    const auto *fi = static_cast<const float *>(in);
    auto *fo = static_cast<float *>(out);
    const int64_t n = s.input.size();
    switch (s.op) {
    case Op::Normalize:
        for (int64_t i = 0; i < n; ++i) fo[i] = (fi[i] - s.input_mean) / s.input_std;
        return;
    case Op::Quantize:
        for (int64_t i = 0; i < n; ++i)
            qo[i] = dmc_quantize_input(fi[i], s.input_mean, s.input_inv_scale, s.out_q.zero_point);
        return;
    case Op::Dequantize:
        for (int64_t i = 0; i < n; ++i) fo[i] = dmc_dequantize(qi[i], float(s.in_q.scale), s.in_q.zero_point);
        return;
    case Op::Conv2d:
    case Op::Linear:
        if (s.integer) {
            if (s.op == Op::Conv2d) {
                const dmc_conv2d_s8 p = conv2d_params(s);
#if DMC_SIMD128
                if (avx2_enabled())
                    conv2d_s8_run_avx2(&p, qi, qo, static_cast<int8_t *>(scratch));
                else
                    dmc_conv2d_s8_run_simd128(&p, qi, qo, static_cast<int8_t *>(scratch));
#else
                dmc_conv2d_s8_run(&p, qi, qo, static_cast<int8_t *>(scratch));
#endif
            } else {
                const dmc_linear_s8 p = linear_params(s);
#if DMC_SIMD128
                if (avx2_enabled()) linear_s8_run_avx2(&p, qi, qo);
                else dmc_linear_s8_run(&p, qi, qo);
#else
                dmc_linear_s8_run(&p, qi, qo);
#endif
            }
        } else {
            ops::run_layer_f32(s.source, s.float_weight_t.data(), fi, fo);
            if (s.fused_relu) ops::relu_f32(fo, fo, s.output.size());
        }
        return;
    case Op::MaxPool2d:
        if (s.integer) {
            const dmc_pool2d_s8 p = pool2d_params(s);
            dmc_maxpool2d_s8_run_rows(&p, qi, qo);
        } else {
            ops::maxpool2d_f32(s.source, fi, fo);
        }
        return;
    case Op::AvgPool2d:
        if (s.integer) {
            const dmc_pool2d_s8 p = pool2d_params(s);
            dmc_avgpool2d_s8_run(&p, qi, qo);
        } else {
            ops::avgpool2d_f32(s.source, fi, fo);
        }
        return;
    case Op::ReLU:
        if (s.integer) dmc_relu_s8_run(qi, qo, int32_t(n), s.in_q.zero_point);
        else ops::relu_f32(fi, fo, n);
        return;
    case Op::Flatten:
        if (in != out) std::memmove(out, in, size_t(s.output_bytes()));
        return;
    }
}

Executor::Executor(const CompressedModel &model)
    : model_(model), arena_(size_t((model.plan.arena_bytes + 7) / 8) + 1, 0) {}

const void *Executor::run_from(int first_step, const Observer &observe) {
    char *arena = reinterpret_cast<char *>(arena_.data());
    const std::vector<Step> &steps = model_.steps;
    for (size_t k = size_t(first_step); k < steps.size(); ++k) {
        const BufferPlan::Entry &e = model_.plan.steps[k];
        run_step(steps[k], arena + e.input_offset, arena + e.output_offset, arena + e.scratch_offset);
        if (observe) observe(int(k), arena + e.output_offset);
    }
    return arena + model_.plan.steps.back().output_offset;
}

const void *Executor::run(const float *raw_input, const Observer &observe) {
    char *arena = reinterpret_cast<char *>(arena_.data());
    const BufferPlan::Entry &e = model_.plan.steps[0];
    run_step(model_.steps[0], raw_input, arena + e.output_offset, arena + e.scratch_offset);
    if (observe) observe(0, arena + e.output_offset);
    return run_from(1, observe);
}

const void *Executor::run_u8(const uint8_t *pixels, const Observer &observe) {
    const Step &first = model_.steps[0];
    const int64_t n = first.input.size();
    if (first.op != Op::Quantize) {
        // A float first layer: feed raw = pixel / 255 through the normal path.
        raw_.resize(size_t(n));
        for (int64_t i = 0; i < n; ++i) raw_[size_t(i)] = float(pixels[i]) / 255.0f;
        return run(raw_.data(), observe);
    }
    int8_t *q = reinterpret_cast<int8_t *>(arena_.data()) + model_.plan.steps[0].output_offset;
    for (int64_t i = 0; i < n; ++i) q[i] = model_.input_lut[pixels[i]];
    if (observe) observe(0, q);
    return run_from(1, observe);
}

void *Executor::step_input(int step) {
    return reinterpret_cast<char *>(arena_.data()) + model_.plan.steps[size_t(step)].input_offset;
}

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
