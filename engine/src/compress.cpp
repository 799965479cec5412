// compress.cpp - from a float model and a config to a CompressedModel:
// prune, lay out the steps (fusing ReLU, inserting float/int8 conversions
// around layers left in float), quantize weights, and calibrate activation
// ranges step by step on the calibration set.
#include <algorithm>
#include <cmath>
#include <limits>

#include "dmc/compressed_model.h"
#include "dmc/error.h"
#include "kernel_params.h"
#include "ops/ops.h"

namespace dmc {

const char *op_name(Op op) {
    switch (op) {
    case Op::Normalize: return "normalize";
    case Op::Quantize: return "quantize";
    case Op::Dequantize: return "dequantize";
    case Op::Conv2d: return "conv2d";
    case Op::Linear: return "linear";
    case Op::MaxPool2d: return "maxpool2d";
    case Op::AvgPool2d: return "avgpool2d";
    case Op::ReLU: return "relu";
    case Op::Flatten: return "flatten";
    }
    return "?";
}

bool CompressedModel::integer_only() const {
    for (const Step &s : steps)
        if ((s.op == Op::Conv2d || s.op == Op::Linear) && !s.integer) return false;
    return true;
}

namespace {

Op op_for(LayerType type) {
    switch (type) {
    case LayerType::Conv2d: return Op::Conv2d;
    case LayerType::Linear: return Op::Linear;
    case LayerType::MaxPool2d: return Op::MaxPool2d;
    case LayerType::AvgPool2d: return Op::AvgPool2d;
    case LayerType::ReLU: return Op::ReLU;
    case LayerType::Flatten: return Op::Flatten;
    }
    return Op::Flatten;
}

// The step list, before any parameter is known. `integer` says whether a
// step's output is int8; a Quantize or Dequantize goes wherever the next
// weight layer needs the other kind of tensor.
std::vector<Step> lay_out_steps(const Model &m, const std::vector<LayerCompression> &settings) {
    bool first_integer = true;
    for (size_t li = 0; li < m.layers.size(); ++li) {
        if (m.layers[li].has_weights()) {
            first_integer = settings[li].bits != kFloatBits;
            break;
        }
    }
    std::vector<Step> steps;
    Step input;
    input.op = first_integer ? Op::Quantize : Op::Normalize;
    input.integer = first_integer;
    input.from_raw_input = true;
    input.name = "input";
    input.input = input.output = m.input.shape;
    steps.push_back(input);

    bool integer = first_integer;
    for (size_t li = 0; li < m.layers.size(); ++li) {
        const Layer &layer = m.layers[li];
        if (layer.type == LayerType::ReLU && li > 0 && m.layers[li - 1].has_weights()) {
            steps.back().fused_relu = true;
            continue;
        }
        if (layer.has_weights() && (settings[li].bits != kFloatBits) != integer) {
            integer = !integer;
            Step convert;
            convert.op = integer ? Op::Quantize : Op::Dequantize;
            convert.integer = integer;
            convert.name = (integer ? "quantize_" : "dequantize_") + layer.name;
            convert.input = convert.output = layer.input;
            steps.push_back(convert);
        }
        Step s;
        s.op = op_for(layer.type);
        s.integer = integer;
        s.layer = int(li);
        s.name = layer.name;
        s.input = layer.input;
        s.output = layer.output;
        s.source = layer;
        steps.push_back(std::move(s));
    }
    return steps;
}

// The calibration tensors at one step boundary, all images back to back.
struct Batch {
    int count = 0;
    int64_t bytes_each = 0;
    std::vector<uint64_t> storage; // 8-byte aligned for float access

    Batch(int n, int64_t bytes) : count(n), bytes_each((bytes + 7) / 8 * 8) {
        storage.assign(size_t(int64_t(n) * bytes_each / 8), 0);
    }
    void *at(int i) { return reinterpret_cast<char *>(storage.data()) + int64_t(i) * bytes_each; }
    const int8_t *q(int i) const {
        return reinterpret_cast<const int8_t *>(storage.data()) + int64_t(i) * bytes_each;
    }
    const float *f(int i) const {
        return reinterpret_cast<const float *>(reinterpret_cast<const char *>(storage.data()) +
                                               int64_t(i) * bytes_each);
    }
};

// Range of the real values of a float batch.
void float_range(const Batch &b, int64_t size, double *lo, double *hi) {
    *lo = std::numeric_limits<double>::infinity();
    *hi = -*lo;
    for (int i = 0; i < b.count; ++i) {
        const float *v = b.f(i);
        for (int64_t k = 0; k < size; ++k) {
            *lo = std::min(*lo, double(v[k]));
            *hi = std::max(*hi, double(v[k]));
        }
    }
}

// Per output channel, the smallest and largest int32 accumulator (bias
// included) an integer conv2d/linear step produces over the batch: exact
// integers, so every implementation of the contract finds the same ones.
// Convolution inputs go through a zero-padded receptive field, as in the
// kernel (dmc_conv2d_s8_gather).
void accumulator_ranges(const Step &s, const Batch &in, std::vector<int64_t> *lo,
                        std::vector<int64_t> *hi) {
    const int channels = s.output.channels;
    lo->assign(size_t(channels), std::numeric_limits<int64_t>::max());
    hi->assign(size_t(channels), std::numeric_limits<int64_t>::min());
    const int32_t depth = int32_t(s.weights.row_length);
    const int32_t row_bytes = int32_t(s.weights.row_bytes);
    std::vector<int8_t> x(static_cast<size_t>(dmc_padded_length(depth)), 0);
    auto visit = [&]() {
        for (int c = 0; c < channels; ++c) {
            const int64_t acc =
                s.bias[size_t(c)] + dmc_dot(x.data(), s.weights.packed.data() + size_t(c) * size_t(row_bytes),
                                            depth, s.weights.bits);
            (*lo)[size_t(c)] = std::min((*lo)[size_t(c)], acc);
            (*hi)[size_t(c)] = std::max((*hi)[size_t(c)], acc);
        }
    };
    if (s.op == Op::Linear) {
        for (int i = 0; i < in.count; ++i) {
            std::copy_n(in.q(i), depth, x.begin());
            visit();
        }
        return;
    }
    const dmc_conv2d_s8 p = conv2d_params(s);
    for (int i = 0; i < in.count; ++i)
        for (int32_t oy = 0; oy < p.out_h; ++oy)
            for (int32_t ox = 0; ox < p.out_w; ++ox) {
                dmc_conv2d_s8_gather(&p, in.q(i), oy, ox, x.data());
                visit();
            }
}

// Quantizes the weights and bias of an integer conv2d/linear step whose
// input quantization (s.in_q) is known, then sets its output quantization
// from the accumulator ranges over the calibration batch.
void quantize_weight_step(Step &s, int bits, const Batch &in) {
    const Layer &l = s.source;
    const std::string where = "layer '" + l.name + "'";
    if (in.count < 1) throw Error(where + ": quantizing it needs calibration inputs, none given");
    s.weights = quantize_weights(l.weight, l.out_channels, l.fan_in(), bits);
    const int channels = l.out_channels;
    const double limit = double(std::numeric_limits<int32_t>::max());
    const double worst_dot = double(l.fan_in()) * weight_qmax(bits) * 128.0;
    s.bias.resize(size_t(channels));
    for (int c = 0; c < channels; ++c) {
        const double step = s.in_q.scale * s.weights.scales[size_t(c)];
        const double b = l.bias.empty() ? 0.0 : round_half_up(double(l.bias[size_t(c)]) / step);
        const double folded = b - double(s.in_q.zero_point) * s.weights.row_sums[size_t(c)];
        if (std::fabs(folded) + worst_dot > limit)
            throw Error(where + ": its bias " + std::to_string(l.bias[size_t(c)]) +
                        " is too large for an int32 accumulator at this input scale");
        s.bias[size_t(c)] = int32_t(folded);
    }

    std::vector<int64_t> acc_lo, acc_hi;
    accumulator_ranges(s, in, &acc_lo, &acc_hi);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int c = 0; c < channels; ++c) {
        const double step = s.in_q.scale * s.weights.scales[size_t(c)];
        lo = std::min(lo, double(acc_lo[size_t(c)]) * step);
        hi = std::max(hi, double(acc_hi[size_t(c)]) * step);
    }
    if (s.fused_relu) lo = 0.0; // negative outputs become 0: the range starts there
    s.out_q = activation_params(lo, hi);
    s.act_min = s.fused_relu ? s.out_q.zero_point : DMC_ACT_MIN;
    s.act_max = DMC_ACT_MAX;

    s.multiplier.resize(size_t(channels));
    s.shift.resize(size_t(channels));
    for (int c = 0; c < channels; ++c) {
        const double step = s.in_q.scale * s.weights.scales[size_t(c)];
        FixedPointMultiplier m;
        try {
            m = quantize_multiplier(step / s.out_q.scale);
        } catch (const Error &e) {
            throw Error(where + ": " + e.what());
        }
        s.multiplier[size_t(c)] = m.multiplier;
        s.shift[size_t(c)] = int8_t(m.shift);
    }
}

// Parameters of a step that depend only on what comes into it.
void set_step_params(Step &s, const Model &m, const QuantParams &in_q, const Batch &in,
                     int bits) {
    s.in_q = in_q;
    switch (s.op) {
    case Op::Normalize:
        s.input_mean = m.input.mean;
        s.input_std = m.input.std;
        break;
    case Op::Quantize:
        if (s.from_raw_input) {
            // Exact range from the input spec: no calibration needed.
            const double std = m.input.std, mean = m.input.mean;
            s.out_q = activation_params((m.input.min - mean) / std, (m.input.max - mean) / std);
            s.input_mean = m.input.mean;
            s.input_inv_scale = float(1.0 / (std * s.out_q.scale));
        } else {
            if (in.count < 1)
                throw Error("step '" + s.name + "' needs calibration inputs, none given");
            double lo, hi;
            float_range(in, s.input.size(), &lo, &hi);
            s.out_q = activation_params(lo, hi);
            s.input_mean = 0.0f;
            s.input_inv_scale = float(1.0 / s.out_q.scale);
        }
        break;
    case Op::Dequantize: break;
    case Op::Conv2d:
    case Op::Linear:
        if (s.integer) quantize_weight_step(s, bits, in);
        else s.float_weight_t = ops::transpose_weights(s.source);
        break;
    case Op::AvgPool2d:
        s.out_q = in_q;
        if (s.integer)
            s.pool_divisor = quantize_multiplier(1.0 / double(s.source.kernel * s.source.kernel));
        break;
    case Op::MaxPool2d:
    case Op::ReLU:
    case Op::Flatten:
        s.out_q = in_q;
        if (s.op == Op::ReLU) s.act_min = in_q.zero_point;
        break;
    }
}

BufferPlan plan_buffers(const std::vector<Step> &steps) {
    auto aligned = [](int64_t bytes) { return (bytes + 15) / 16 * 16; };
    BufferPlan plan;
    plan.steps.resize(steps.size());
    for (size_t k = 0; k < steps.size(); ++k) {
        const int64_t in = k == 0 ? 0 : aligned(steps[k - 1].output_bytes());
        const bool in_place = k > 0 && (steps[k].op == Op::ReLU || steps[k].op == Op::Flatten);
        const int64_t bytes =
            in_place ? in : in + aligned(scratch_bytes(steps[k])) + aligned(steps[k].output_bytes());
        plan.steps[k].bytes = bytes;
        if (bytes > plan.arena_bytes) {
            plan.arena_bytes = bytes;
            plan.peak_step = int(k);
        }
    }
    // Alternate ends: the tensor a step writes goes to the end of the arena
    // its input does not occupy.
    bool output_low = false;
    int64_t previous_output = -1;
    for (size_t k = 0; k < steps.size(); ++k) {
        BufferPlan::Entry &e = plan.steps[k];
        e.input_offset = previous_output;
        const bool in_place = k > 0 && (steps[k].op == Op::ReLU || steps[k].op == Op::Flatten);
        if (in_place) {
            e.output_offset = e.input_offset;
            e.scratch_offset = e.input_offset;
        } else {
            output_low = !output_low;
            const int64_t in = k == 0 ? 0 : aligned(steps[k - 1].output_bytes());
            const int64_t out = aligned(steps[k].output_bytes());
            if (output_low) {
                e.output_offset = 0;
                e.scratch_offset = out;
            } else {
                e.output_offset = plan.arena_bytes - out;
                e.scratch_offset = in;
            }
        }
        previous_output = e.output_offset;
    }
    return plan;
}

} // namespace

CompressedModel compress_model(const Model &model, const CompressionConfig &config,
                               const CalibrationSet &calibration) {
    const int64_t input_size = model.input.shape.size();
    if (int64_t(calibration.raw.size()) != int64_t(calibration.count) * input_size)
        throw Error("calibration: " + std::to_string(calibration.raw.size()) + " values for " +
                    std::to_string(calibration.count) + " inputs of " + model.input.shape.str());

    CompressedModel cm;
    cm.model = model;
    cm.config = config;
    cm.pruned = prune_model(model, config); // validates the config
    cm.settings.resize(model.layers.size());
    for (size_t li = 0; li < model.layers.size(); ++li)
        if (model.layers[li].has_weights()) cm.settings[li] = config.resolve(model, int(li));
    cm.steps = lay_out_steps(cm.pruned.model, cm.settings);

    int64_t widest = input_size * 4;
    for (const Step &s : cm.steps) widest = std::max(widest, s.output_bytes());
    const int64_t budget = int64_t(1) << 30;
    if (2 * widest * calibration.count > budget)
        throw Error("calibration: " + std::to_string(calibration.count) + " inputs of a model whose "
                    "largest activation takes " + std::to_string(widest) +
                    " bytes need more than 1 GiB; use fewer calibration inputs");

    // Run the calibration set through the steps one at a time, setting each
    // step's parameters from the tensors that really reach it.
    Batch current(calibration.count, input_size * 4);
    for (int i = 0; i < calibration.count; ++i)
        std::copy_n(calibration.raw.data() + int64_t(i) * input_size, input_size,
                    static_cast<float *>(current.at(i)));
    QuantParams current_q;
    std::vector<uint8_t> scratch;
    for (Step &s : cm.steps) {
        const int bits = s.layer >= 0 ? cm.settings[size_t(s.layer)].bits : 8;
        set_step_params(s, model, current_q, current, bits);
        scratch.resize(size_t(scratch_bytes(s)));
        Batch next(calibration.count, s.output_bytes());
        for (int i = 0; i < calibration.count; ++i) run_step(s, current.at(i), next.at(i), scratch.data());
        current = std::move(next);
        current_q = s.out_q;
    }

    cm.plan = plan_buffers(cm.steps);
    const Step &first = cm.steps.front();
    if (first.op == Op::Quantize)
        for (int p = 0; p < 256; ++p)
            cm.input_lut[p] = dmc_quantize_input(float(p) / 255.0f, first.input_mean,
                                                 first.input_inv_scale, first.out_q.zero_point);
    return cm;
}

CompressedModel float_reference(const Model &model) {
    CompressionConfig all_float;
    all_float.defaults.bits = kFloatBits;
    return compress_model(model, all_float, CalibrationSet{});
}

} // namespace dmc
