// compress.cpp - from a float model and a config to a CompressedModel:
// prune, lay out the steps (fusing ReLU, inserting float/int8 conversions
// around layers left in float), quantize weights, and calibrate activation
// ranges step by step on the calibration set.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "dmc/compressed_model.h"
#include "dmc/error.h"
#include "kernel_params.h"
#include "ops/ops.h"
#include "plan.h"
#include "simd/dot_simd.h"
#include "steps.h"

namespace dmc {

const char *op_name(const Step &step) {
    switch (step.conversion) {
    case Conversion::None: return layer_type_name(step.type);
    case Conversion::Normalize: return "normalize";
    case Conversion::Quantize: return "quantize";
    case Conversion::Dequantize: return "dequantize";
    }
    return "?";
}

bool CompressedModel::integer_only() const {
    for (const Step &s : steps)
        if (s.has_weights() && !s.integer) return false;
    return true;
}

Layer layer_geometry(const Layer &l) {
    Layer g;
    g.type = l.type;
    g.name = l.name;
    g.in_channels = l.in_channels;
    g.out_channels = l.out_channels;
    g.kernel = l.kernel;
    g.stride = l.stride;
    g.padding = l.padding;
    g.relu_max = l.relu_max;
    g.input = l.input;
    g.output = l.output;
    return g;
}

namespace {

Step conversion_step(Conversion c, bool integer, const std::string &name, const Shape &shape) {
    Step s;
    s.conversion = c;
    s.integer = integer;
    s.name = name;
    s.input = s.output = shape;
    return s;
}

} // namespace

std::vector<Step> lay_out_steps(const Shape &input, const std::vector<Layer> &layers,
                                const std::vector<LayerCompression> &settings) {
    bool integer = true;
    for (size_t li = 0; li < layers.size(); ++li) {
        if (layers[li].has_weights()) {
            integer = settings[li].bits != kFloatBits;
            break;
        }
    }
    std::vector<Step> steps;
    steps.push_back(conversion_step(integer ? Conversion::Quantize : Conversion::Normalize, integer, "input", input));
    steps.back().from_raw_input = true;
    for (size_t li = 0; li < layers.size(); ++li) {
        const Layer &layer = layers[li];
        if (layer.type == LayerType::ReLU && li > 0 && layers[li - 1].has_weights()) {
            steps.back().fused_relu = true;
            steps.back().relu_max = layer.relu_max;
            continue;
        }
        if (layer.has_weights() && (settings[li].bits != kFloatBits) != integer) {
            integer = !integer;
            steps.push_back(conversion_step(integer ? Conversion::Quantize : Conversion::Dequantize, integer,
                                            (integer ? "quantize_" : "dequantize_") + layer.name, layer.input));
        }
        Step s;
        s.type = layer.type;
        s.integer = integer;
        s.layer = int(li);
        s.name = layer.name;
        s.input = layer.input;
        s.output = layer.output;
        s.source = layer_geometry(layer);
        if (integer && layer.has_weights()) s.weights.bits = settings[li].bits;
        steps.push_back(std::move(s));
    }
    return steps;
}

namespace {

// The calibration tensors at one step boundary, all images back to back.
struct Batch {
    int count = 0;
    int64_t bytes_each = 0;
    std::vector<uint64_t> storage; // 8-byte aligned for float access

    Batch() = default;
    Batch(int n, int64_t bytes) : count(n), bytes_each((bytes + 7) / 8 * 8) {
        storage.assign(size_t(int64_t(n) * bytes_each / 8), 0);
    }
    void *at(int i) { return reinterpret_cast<char *>(storage.data()) + int64_t(i) * bytes_each; }
    const void *at(int i) const { return reinterpret_cast<const char *>(storage.data()) + int64_t(i) * bytes_each; }
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
    if (!std::isfinite(*lo) || !std::isfinite(*hi))
        throw Error("calibration: a float layer's output is not finite; the model's weights or biases overflow "
                    "float32 arithmetic");
}

// Scratch for a kernel run by calibration, which owns its buffers: 64
// blocks of the largest least need (as many fields as the SIMD convolution
// ever batches) and an input's worth (a row for row-wise pooling), more
// than any variant uses.
int64_t calibration_room(const Step &s) { return 64 * scratch_bytes(s) + s.input.size(); }

// visit_accumulators for a depthwise step: its own kernel table's
// accumulators, image by image.
template <typename Visit>
void visit_depthwise_accumulators(const Step &s, const Batch &in, Visit visit) {
    const DepthwiseKernel &kernel = *chosen_kernels().depthwise_conv2d;
    const dmc_depthwise_conv2d_s8 p = depthwise_conv2d_params(s);
    std::vector<int8_t> scratch(size_t(planned_scratch(depthwise_conv2d_kernels(), p)) + 16);
    std::vector<int32_t> acc(size_t(s.output.size()));
    const int channels = s.output.channels;
    for (int i = 0; i < in.count; ++i) {
        kernel.accumulators(&p, in.q(i), acc.data(), scratch.data(), int64_t(scratch.size()));
        int64_t element = 0;
        for (int32_t pos = 0; pos < p.out_h * p.out_w; ++pos)
            for (int c = 0; c < channels; ++c, ++element) visit(i, element, c, acc[size_t(element)]);
    }
}

// Calls visit(image, element, channel, acc) for every int32 accumulator
// (bias included) an integer conv2d/linear step produces over the batch,
// `element` indexing the step's output tensor (HWC). They come from the
// convolution variant the engine chose (kernel_table.h): exact integers,
// the same from every variant.
template <typename Visit>
void visit_accumulators(const Step &s, const Batch &in, Visit visit) {
    if (s.runs(LayerType::DepthwiseConv2d)) return visit_depthwise_accumulators(s, in, visit);
    const Conv2dKernel &kernel = *chosen_kernels().conv2d;
    const int channels = s.output.channels;
    const dmc_conv2d_s8 p = s.runs(LayerType::Linear) ? linear_as_conv(s, in.count) : conv2d_params(s);
    std::vector<int8_t> scratch(size_t(64 * planned_scratch(conv2d_kernels(), p))); // see calibration_room
    if (s.runs(LayerType::Linear)) {
        const int32_t n = s.input.channels;
        std::vector<int8_t> inputs(size_t(in.count) * size_t(n)); // back to back, unlike the Batch's
        for (int i = 0; i < in.count; ++i) std::copy_n(in.q(i), n, inputs.begin() + int64_t(i) * n);
        std::vector<int32_t> acc(size_t(in.count) * size_t(channels));
        kernel.accumulators(&p, inputs.data(), acc.data(), scratch.data(), int64_t(scratch.size()));
        for (int i = 0; i < in.count; ++i)
            for (int c = 0; c < channels; ++c) visit(i, int64_t(c), c, acc[size_t(i) * size_t(channels) + size_t(c)]);
        return;
    }
    std::vector<int32_t> acc(size_t(s.output.size()));
    for (int i = 0; i < in.count; ++i) {
        kernel.accumulators(&p, in.q(i), acc.data(), scratch.data(), int64_t(scratch.size()));
        int64_t element = 0;
        for (int32_t pos = 0; pos < p.out_h * p.out_w; ++pos)
            for (int c = 0; c < channels; ++c, ++element) visit(i, element, c, acc[size_t(element)]);
    }
}

// The largest int8 a ReLU with this max lets through (dmc_arith.h rule 5):
// min(127, z + round_half_up(max / scale)); 127 when there is no max.
int32_t quantized_relu_max(float max, const QuantParams &q) {
    if (!std::isfinite(max)) return DMC_ACT_MAX;
    const double top = double(q.zero_point) + round_half_up(double(max) / q.scale);
    return int32_t(std::min(double(DMC_ACT_MAX), top));
}

// Channel c's bias in accumulator units, with the input zero point's share
// of the dot product folded in. `l`: the float layer.
double folded_bias(const Step &s, const Layer &l, int c) {
    const double step = s.in_q.scale * s.weights.scales[size_t(c)];
    const double b = l.bias.empty() ? 0.0 : round_half_up(double(l.bias[size_t(c)]) / step);
    return b - double(s.in_q.zero_point) * s.weights.row_sums[size_t(c)];
}

// Whether channel c's accumulator stays within int32 for every input.
bool bias_fits(const Step &s, const Layer &l, int bits, int c) {
    const double worst_dot = double(l.fan_in()) * weight_qmax(bits) * 128.0;
    return std::fabs(folded_bias(s, l, c)) + worst_dot <= double(std::numeric_limits<int32_t>::max());
}

// Sets s.bias from the quantized weights; false (s.bias unset) when a
// channel's bias does not fit.
bool fold_biases(Step &s, const Layer &l, int bits) {
    const int channels = l.out_channels;
    for (int c = 0; c < channels; ++c)
        if (!bias_fits(s, l, bits, c)) return false;
    s.bias.resize(size_t(channels));
    for (int c = 0; c < channels; ++c) s.bias[size_t(c)] = int32_t(folded_bias(s, l, c));
    return true;
}

// Quantizes the weights of float layer `l` into integer step s, whose input
// quantization (s.in_q) is known, and folds its bias.
void quantize_weights_and_bias(Step &s, const Layer &l, int bits) {
    const std::string where = "layer '" + l.name + "'";
    s.weights = quantize_weights(l.weight, l.out_channels, l.fan_in(), bits);
    if (fold_biases(s, l, bits)) return;
    // A row far smaller than the layer's others (max|w| of 3e-8 beside 0.5)
    // would put its bias beyond int32 at its own scale: it is scaled as the
    // layer's largest row instead, its weights then quantizing to about
    // zero, which is what they contribute.
    const double wide = layer_weight_scale(l.weight, bits);
    std::vector<double> scales = s.weights.scales;
    for (size_t c = 0; c < scales.size(); ++c)
        if (!bias_fits(s, l, bits, int(c))) scales[c] = std::max(scales[c], wide);
    s.weights = quantize_weights(l.weight, l.out_channels, l.fan_in(), bits, scales);
    for (int c = 0; c < l.out_channels; ++c)
        if (!bias_fits(s, l, bits, c))
            throw Error(where + ": its bias " + std::to_string(l.bias[size_t(c)]) +
                        " is too large for an int32 accumulator at this input scale");
    fold_biases(s, l, bits);
}

// The real range of an integer weight step's outputs over the calibration
// batch, from its accumulators (kept in *keep, image after image in output
// order, when keep is set).
void accumulator_range(const Step &s, const Batch &in, std::vector<int32_t> *keep, double *lo, double *hi) {
    const int channels = s.source.out_channels;
    std::vector<int32_t> acc_lo(size_t(channels), std::numeric_limits<int32_t>::max());
    std::vector<int32_t> acc_hi(size_t(channels), std::numeric_limits<int32_t>::min());
    const int64_t size = s.output.size();
    if (keep) keep->resize(size_t(in.count * size));
    visit_accumulators(s, in, [&](int image, int64_t element, int c, int32_t acc) {
        acc_lo[size_t(c)] = std::min(acc_lo[size_t(c)], acc);
        acc_hi[size_t(c)] = std::max(acc_hi[size_t(c)], acc);
        if (keep) (*keep)[size_t(image * size + element)] = acc;
    });
    *lo = std::numeric_limits<double>::infinity();
    *hi = -*lo;
    for (int c = 0; c < channels; ++c) {
        const double step = s.in_q.scale * s.weights.scales[size_t(c)];
        *lo = std::min(*lo, double(acc_lo[size_t(c)]) * step);
        *hi = std::max(*hi, double(acc_hi[size_t(c)]) * step);
    }
}

// The output stage of an integer weight step with its output quantization
// set: one multiplier and shift per channel.
void set_requantization(Step &s, const std::string &where) {
    const int channels = s.source.out_channels;
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

// Quantizes the weights and bias of an integer weight step whose input
// quantization (s.in_q) is known, then sets its output quantization from
// the accumulator ranges over the calibration batch. With `keep`, the
// accumulators are also kept (image after image, in output order), so that
// the step's outputs need not be computed a second time.
void quantize_weight_step(Step &s, const Layer &l, int bits, const Batch &in, std::vector<int32_t> *keep) {
    const std::string where = "layer '" + l.name + "'";
    if (in.count < 1) throw Error(where + ": quantizing it needs calibration inputs, none given");
    quantize_weights_and_bias(s, l, bits);
    double lo, hi;
    accumulator_range(s, in, keep, &lo, &hi);
    if (s.fused_relu) { // outputs are clamped to [0, relu_max]: so is the range
        lo = 0.0;
        hi = std::min(hi, double(s.relu_max));
    }
    s.out_q = activation_params(lo, hi);
    s.act_min = s.fused_relu ? s.out_q.zero_point : DMC_ACT_MIN;
    s.act_max = s.fused_relu ? quantized_relu_max(s.relu_max, s.out_q) : DMC_ACT_MAX;
    set_requantization(s, where);
}

// A Normalize or Quantize step's parameters.
void set_conversion_params(Step &s, const InputSpec &spec, const Batch &in) {
    if (s.conversion == Conversion::Normalize) {
        s.input_mean = spec.mean;
        s.input_std = spec.std;
    } else if (s.conversion == Conversion::Quantize && s.from_raw_input) {
        // Exact range from the input spec: no calibration needed.
        const double std = spec.std, mean = spec.mean;
        s.out_q = activation_params((spec.min - mean) / std, (spec.max - mean) / std);
        s.input_mean = spec.mean;
        s.input_inv_scale = float(1.0 / (std * s.out_q.scale));
    } else if (s.conversion == Conversion::Quantize) {
        if (in.count < 1) throw Error("step '" + s.name + "' needs calibration inputs, none given");
        double lo, hi;
        float_range(in, s.input.size(), &lo, &hi);
        s.out_q = activation_params(lo, hi);
        s.input_mean = 0.0f;
        s.input_inv_scale = float(1.0 / s.out_q.scale);
    }
}

// Parameters of a step that depend only on what comes into it (`keep`: see
// quantize_weight_step). `cm`: the model being compressed, for its input
// spec and the float layers.
void set_step_params(Step &s, const CompressedModel &cm, const QuantParams &in_q, const Batch &in, int bits,
                     std::vector<int32_t> *keep) {
    s.in_q = in_q;
    if (s.conversion != Conversion::None) return set_conversion_params(s, cm.model.input, in);
    switch (s.type) {
    case LayerType::Conv2d:
    case LayerType::Linear:
    case LayerType::DepthwiseConv2d:
        if (s.integer) {
            quantize_weight_step(s, cm.float_layer(s), bits, in, keep);
        } else {
            s.float_weight_t = ops::transpose_weights(cm.float_layer(s));
            s.source.bias = cm.float_layer(s).bias; // what the float kernel adds
        }
        break;
    case LayerType::AvgPool2d:
        s.out_q = in_q;
        if (s.integer)
            s.pool_divisor = quantize_multiplier(1.0 / double(s.source.kernel * s.source.kernel));
        break;
    case LayerType::GlobalAvgPool2d:
        s.out_q = in_q;
        if (s.integer) s.pool_divisor = quantize_multiplier(1.0 / double(s.input.height * s.input.width));
        break;
    case LayerType::MaxPool2d:
    case LayerType::ReLU:
    case LayerType::Flatten:
        s.out_q = in_q;
        if (s.type == LayerType::ReLU) {
            s.act_min = in_q.zero_point;
            s.act_max = quantized_relu_max(s.source.relu_max, in_q);
        }
        break;
    }
}

// What a step's parameters and outputs depend on, given all the steps
// before it: its kind, shapes, bits and kept channels. Two configs whose
// steps have equal keys up to step k calibrate steps 0..k identically.
std::string step_key(const Step &s, const CompressedModel &cm) {
    std::string key = std::string(op_name(s)) + (s.integer ? "/i" : "/f") + std::to_string(s.layer) + ":" +
                      s.input.str() + ">" + s.output.str() + (s.fused_relu ? "+relu" : "");
    const float relu_max = s.runs(LayerType::ReLU) ? s.source.relu_max : s.relu_max;
    if ((s.fused_relu || s.runs(LayerType::ReLU)) && std::isfinite(relu_max)) {
        char max[32];
        std::snprintf(max, sizeof max, "<=%a", double(relu_max)); // exact: two maxes never share a key
        key += max;
    }
    if (s.has_weights()) {
        key += " bits " + std::to_string(cm.settings[size_t(s.layer)].bits) + " kept";
        for (int c : cm.pruned.kept[size_t(s.layer)]) key += " " + std::to_string(c);
    }
    return key + ";";
}

// FNV-1a over everything a compression reads besides the config: the
// model's input spec and layers, and the calibration inputs. 64 bits name
// a pair of them well enough (two differing in content collide with
// probability 2^-64).
std::string content_identity(const Model &m, const CalibrationSet &calibration) {
    uint64_t h = 1469598103934665603ull;
    auto bytes = [&h](const void *p, size_t n) {
        for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t *>(p)[i]) * 1099511628211ull;
    };
    auto floats = [&](const std::vector<float> &v) {
        const uint64_t n = v.size();
        bytes(&n, sizeof n);
        if (n) bytes(v.data(), v.size() * sizeof(float));
    };
    const float spec[4] = {m.input.min, m.input.max, m.input.mean, m.input.std};
    bytes(spec, sizeof spec);
    for (const Layer &l : m.layers) {
        const int32_t geometry[6] = {int32_t(l.type), l.in_channels, l.out_channels, l.kernel, l.stride, l.padding};
        bytes(geometry, sizeof geometry);
        floats(l.weight);
        floats(l.bias);
    }
    bytes(&calibration.count, sizeof calibration.count);
    floats(calibration.raw);
    char text[24];
    std::snprintf(text, sizeof text, "%016llx;", static_cast<unsigned long long>(h));
    return text;
}

// Refuses a calibration whose tensors would take more than 1 GiB.
void check_calibration_size(const std::vector<Step> &steps, int n) {
    int64_t total = 0;
    for (const Step &s : steps) total += s.output_bytes() * n;
    if (total > (int64_t(1) << 30))
        throw Error("calibration: the activations of " + std::to_string(n) + " calibration inputs take " +
                    std::to_string(total >> 20) + " MiB, more than 1 GiB; use fewer calibration inputs");
}

// n outputs of channel c: out[j * out_step] = acc[j * acc_step] requantized.
// Four at a time with SIMD (requantize4 is dmc_requantize on four lanes,
// exactly): this is most of a compression's own time otherwise.
void requantize_channel(const Step &s, int c, const int32_t *acc, int64_t acc_step, int8_t *out, int64_t out_step,
                        int64_t n) {
    const int32_t m = s.multiplier[size_t(c)], shift = s.shift[size_t(c)], zp = s.out_q.zero_point;
    int64_t j = 0;
#if DMC_SIMD128
    for (; j + 4 <= n; j += 4) {
        const int32_t *a = acc + j * acc_step;
        const int32_t four[4] = {a[0], a[acc_step], a[2 * acc_step], a[3 * acc_step]};
        simd::requantize4_store(four, 0, m, shift, zp, s.act_min, s.act_max, out + j * out_step, size_t(out_step));
    }
#endif
    for (; j < n; ++j) out[j * out_step] = int8_t(dmc_requantize(acc[j * acc_step], m, shift, zp, s.act_min, s.act_max));
}

// An integer weight step's outputs over the batch: its kept accumulators
// (accumulator_range), requantized, a channel at a time (each with its own
// multiplier and shift): along the positions of each image, or, where an
// image has fewer than four (a linear layer), along the images.
void requantize_kept(const Step &s, const std::vector<int32_t> &accumulators, Batch &out) {
    const int64_t size = s.output.size(), channels = s.output.channels, positions = size / channels;
    int8_t *q = static_cast<int8_t *>(out.at(0));
    const int32_t *acc = accumulators.data();
    if (positions >= 4) {
        for (int i = 0; i < out.count; ++i)
            for (int c = 0; c < channels; ++c)
                requantize_channel(s, c, acc + i * size + c, channels, q + i * out.bytes_each + c, channels, positions);
    } else {
        for (int64_t e = 0; e < size; ++e)
            requantize_channel(s, int(e % channels), acc + e, size, q + e, out.bytes_each, out.count);
    }
}

// The quantized raw input for each byte value, where the first step quantizes.
void set_input_lut(CompressedModel &cm) {
    const Step &first = cm.steps.front();
    if (first.conversion == Conversion::Quantize)
        for (int p = 0; p < 256; ++p)
            cm.input_lut[p] = dmc_quantize_input(float(p) / 255.0f, first.input_mean, first.input_inv_scale,
                                                 first.out_q.zero_point);
}

} // namespace

struct Compressor::Cache {
    std::vector<Step> steps;        // the last compression's steps
    std::vector<std::string> keys;  // keys[k]: steps 0..k, cumulative
    std::vector<Batch> outputs;     // outputs[k]: step k's output for every calibration input
    std::vector<int32_t> accumulators; // a weight step's, kept while it is calibrated (reused: tens of MB)
    std::vector<uint8_t> scratch;

    // Takes the steps whose keys match the last compression's as they are,
    // with their outputs; returns how many.
    size_t reuse(CompressedModel &cm, const std::vector<std::string> &new_keys) {
        size_t reused = 0;
        while (reused < new_keys.size() && reused < keys.size() && new_keys[reused] == keys[reused]) ++reused;
        for (size_t k = 0; k < reused; ++k) cm.steps[k] = steps[k];
        steps.resize(reused);
        keys.resize(reused);
        outputs.resize(reused);
        return reused;
    }

    // Sets step k's parameters from the calibration tensors that really
    // reach it (`in`: step k-1's outputs, or the raw inputs) and keeps its
    // outputs.
    void calibrate(CompressedModel &cm, size_t k, const Batch &in, const std::string &key) {
        Step &s = cm.steps[k];
        const QuantParams in_q = k == 0 ? QuantParams{} : cm.steps[k - 1].out_q;
        const int bits = s.layer >= 0 ? cm.settings[size_t(s.layer)].bits : 8;
        // An integer conv2d/linear step's outputs are its kept accumulators,
        // requantized; the rest (and a step whose accumulators would take
        // more than 256 MiB) runs its kernel.
        const bool weights = s.integer && s.has_weights();
        const bool keep = weights && int64_t(in.count) * s.output.size() * 4 <= (int64_t(256) << 20);
        set_step_params(s, cm, in_q, in, bits, keep ? &accumulators : nullptr);
        Batch out(in.count, s.output_bytes());
        if (keep) {
            requantize_kept(s, accumulators, out);
        } else {
            scratch.resize(size_t(calibration_room(s)));
            for (int i = 0; i < in.count; ++i)
                run_step(s, in.at(i), out.at(i), scratch.data(), int64_t(scratch.size()));
        }
        steps.push_back(s);
        keys.push_back(key);
        outputs.push_back(std::move(out));
    }
};

Compressor::Compressor(Model model, CalibrationSet calibration)
    : model_(std::move(model)), calibration_(std::move(calibration)), cache_(new Cache) {
    const int64_t input_size = model_.input.shape.size();
    if (int64_t(calibration_.raw.size()) != int64_t(calibration_.count) * input_size)
        throw Error("calibration: " + std::to_string(calibration_.raw.size()) + " values for " +
                    std::to_string(calibration_.count) + " inputs of " + model_.input.shape.str());
    identity_ = content_identity(model_, calibration_);
}

Compressor::~Compressor() = default;

CompressedModel Compressor::compress(const CompressionConfig &config) {
    CompressedModel cm;
    cm.model = model_;
    cm.config = config;
    cm.pruned = prune_model(model_, config); // validates the config
    cm.settings.resize(model_.layers.size());
    for (size_t li = 0; li < model_.layers.size(); ++li)
        if (model_.layers[li].has_weights()) cm.settings[li] = config.resolve(model_, int(li));
    cm.steps = lay_out_steps(cm.pruned.model.input.shape, cm.pruned.model.layers, cm.settings);
    const int n = calibration_.count;
    check_calibration_size(cm.steps, n);

    // The steps whose keys match the last compression's are reused as they
    // are, with their outputs; calibration resumes after them.
    Cache &cache = *cache_;
    std::vector<std::string> keys;
    std::string key = identity_ + (config.prune_norm == PruneNorm::L1 ? "l1;" : "l2;");
    for (const Step &s : cm.steps) keys.push_back(key += step_key(s, cm));
    const size_t reused = cache.reuse(cm, keys);

    // Run the calibration set through the remaining steps one at a time.
    Batch raw(n, model_.input.shape.size() * 4);
    if (reused == 0)
        for (int i = 0; i < n; ++i)
            std::copy_n(calibration_.raw.data() + int64_t(i) * model_.input.shape.size(),
                        model_.input.shape.size(), static_cast<float *>(raw.at(i)));
    for (size_t k = reused; k < cm.steps.size(); ++k) cache.calibrate(cm, k, k == 0 ? raw : cache.outputs[k - 1], keys[k]);

    cm.step_keys = std::move(keys);
    cm.plan = plan_buffers(cm.steps);
    set_input_lut(cm);
    return cm;
}

CompressedModel compress_model(const Model &model, const CompressionConfig &config,
                               const CalibrationSet &calibration) {
    return Compressor(model, calibration).compress(config);
}

CompressedModel float_reference(const Model &model) {
    CompressionConfig all_float;
    all_float.defaults.bits = kFloatBits;
    return compress_model(model, all_float, CalibrationSet{});
}

} // namespace dmc
