// model_io.cpp - reading, validating and writing the model file
// (engine/MODEL_FORMAT.md). Every check happens before the data is used,
// and sizes are checked before anything is allocated.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "dmc/error.h"
#include "dmc/model.h"
#include "dmc/text.h"
#include "io_util.h"
#include "json_reader.h"

namespace dmc {

using nlohmann::json;

std::string Shape::str() const {
    return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

const char *layer_type_name(LayerType type) {
    switch (type) {
    case LayerType::Conv2d: return "conv2d";
    case LayerType::Linear: return "linear";
    case LayerType::ReLU: return "relu";
    case LayerType::MaxPool2d: return "maxpool2d";
    case LayerType::AvgPool2d: return "avgpool2d";
    case LayerType::Flatten: return "flatten";
    case LayerType::DepthwiseConv2d: return "depthwise_conv2d";
    case LayerType::GlobalAvgPool2d: return "global_avgpool2d";
    }
    return "?";
}

int64_t Layer::fan_in() const {
    if (type == LayerType::Conv2d) return int64_t(kernel) * kernel * in_channels;
    if (type == LayerType::Linear) return in_channels;
    if (type == LayerType::DepthwiseConv2d) return int64_t(kernel) * kernel;
    return 0;
}

int64_t Layer::macs() const { return has_weights() ? output.size() * fan_in() : 0; }

Shape Model::output_shape() const { return layers.empty() ? input.shape : layers.back().output; }

int Model::find_layer(const std::string &layer_name) const {
    for (size_t i = 0; i < layers.size(); ++i)
        if (layers[i].name == layer_name) return int(i);
    return -1;
}

int Model::output_layer() const {
    for (int i = int(layers.size()) - 1; i >= 0; --i)
        if (layers[size_t(i)].has_weights()) return i;
    return -1;
}

int64_t Model::parameters() const {
    int64_t n = 0;
    for (const Layer &layer : layers) n += int64_t(layer.weight.size() + layer.bias.size());
    return n;
}

// 1e-06 -> "1e-06", 1000000 -> "1e+06": short and exact for the limits.
static std::string number_text(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

static bool is_identifier(const std::string &s) {
    if (s.empty() || s.size() > 64) return false;
    if (!std::isalpha(static_cast<unsigned char>(s[0]))) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

static bool layer_type_from_name(const std::string &name, LayerType *type) {
    for (LayerType t : {LayerType::Conv2d, LayerType::Linear, LayerType::ReLU, LayerType::MaxPool2d,
                        LayerType::AvgPool2d, LayerType::Flatten, LayerType::DepthwiseConv2d,
                        LayerType::GlobalAvgPool2d}) {
        if (name == layer_type_name(t)) {
            *type = t;
            return true;
        }
    }
    return false;
}

// "1 fewer than ..." is no help when a file is off by one: says exactly
// what a base64 string holds.
static std::string base64_size_text(const std::string &text) {
    const std::string chars = std::to_string(text.size()) + " characters of base64";
    if (text.size() % 4 != 0) return chars + " (not a whole number of 4-character groups)";
    size_t padding = 0;
    while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
    return chars + " (" + std::to_string(text.size() / 4 * 3 - padding) + " bytes)";
}

// Reads a float tensor of exactly `count` values: a base64 string of
// little-endian float32, or an array of numbers. The size is checked before
// decoding, so a wrong shape never allocates more than the shape implies.
static std::vector<float> read_tensor(const json &value, int64_t count, const std::string &where) {
    std::vector<float> out;
    if (value.is_string()) {
        const std::string &text = value.get_ref<const std::string &>();
        const int64_t expected_chars = (count * 4 + 2) / 3 * 4;
        if (int64_t(text.size()) != expected_chars)
            throw Error(where + ": " + base64_size_text(text) + ", but the shape needs " + std::to_string(count) +
                        " floats: " + std::to_string(count * 4) + " bytes, " + std::to_string(expected_chars) +
                        " characters of base64");
        const std::string bytes = base64_decode(text, where);
        if (int64_t(bytes.size()) != count * 4)
            throw Error(where + ": decodes to " + std::to_string(bytes.size()) +
                        " bytes but the shape needs " + std::to_string(count * 4));
        out.resize(size_t(count));
        for (int64_t i = 0; i < count; ++i) {
            const auto *b = reinterpret_cast<const unsigned char *>(bytes.data()) + 4 * i;
            const uint32_t bits =
                uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
            std::memcpy(&out[size_t(i)], &bits, 4);
        }
    } else if (value.is_array()) {
        if (int64_t(value.size()) != count)
            throw Error(where + ": has " + std::to_string(value.size()) +
                        " values but the shape needs " + std::to_string(count));
        out.reserve(size_t(count));
        for (size_t i = 0; i < value.size(); ++i) {
            if (!value[i].is_number())
                throw Error(where + "[" + std::to_string(i) + "] is not a number");
            out.push_back(value[i].get<float>());
        }
    } else {
        throw Error(where + ": must be a base64 string or an array of numbers");
    }
    for (size_t i = 0; i < out.size(); ++i) {
        if (!std::isfinite(out[i]))
            throw Error(where + "[" + std::to_string(i) + "] is " +
                        (std::isnan(out[i]) ? "NaN" : "infinite") +
                        "; weights must be finite numbers");
    }
    return out;
}

// The file version a layer needs: 2 for the layers and fields version 2
// added (depthwise_conv2d, global_avgpool2d, relu's max).
static int layer_version(const Layer &l) {
    const bool v2 = l.type == LayerType::DepthwiseConv2d || l.type == LayerType::GlobalAvgPool2d ||
                    (l.type == LayerType::ReLU && std::isfinite(l.relu_max));
    return v2 ? 2 : 1;
}

int model_format_version(const Model &model) {
    int version = 1;
    for (const Layer &l : model.layers) version = std::max(version, layer_version(l));
    return version;
}

// The fields of a layer of layer.type (its geometry, a ReLU's max), read
// from `j` through `r`; returns how many weights the layer has.
static int64_t parse_layer_fields(const json &j, JsonReader &r, Layer &layer, const std::string &where) {
    int64_t weight_count = 0;
    switch (layer.type) {
    case LayerType::Conv2d:
        r.allow_only({"type", "name", "in_channels", "out_channels", "kernel", "stride", "padding",
                      "weight", "bias"});
        layer.in_channels = int(r.integer("in_channels", 1, limits::kMaxDimension));
        layer.out_channels = int(r.integer("out_channels", 1, limits::kMaxDimension));
        layer.kernel = int(r.integer("kernel", 1, limits::kMaxKernel));
        layer.stride = int(r.integer_or("stride", 1, 1, limits::kMaxStride));
        layer.padding = int(r.integer_or("padding", 0, 0, layer.kernel - 1));
        weight_count = int64_t(layer.out_channels) * layer.kernel * layer.kernel * layer.in_channels;
        break;
    case LayerType::Linear:
        r.allow_only({"type", "name", "in_features", "out_features", "weight", "bias"});
        layer.in_channels = int(r.integer("in_features", 1, limits::kMaxDimension));
        layer.out_channels = int(r.integer("out_features", 1, limits::kMaxDimension));
        weight_count = int64_t(layer.out_channels) * layer.in_channels;
        break;
    case LayerType::MaxPool2d:
    case LayerType::AvgPool2d:
        r.allow_only({"type", "name", "kernel", "stride", "padding"});
        layer.kernel = int(r.integer("kernel", 1, limits::kMaxKernel));
        layer.stride = int(r.integer_or("stride", layer.kernel, 1, limits::kMaxStride));
        layer.padding = int(r.integer_or("padding", 0, 0, layer.kernel / 2));
        break;
    case LayerType::DepthwiseConv2d:
        r.allow_only({"type", "name", "channels", "kernel", "stride", "padding", "weight", "bias"});
        layer.in_channels = layer.out_channels = int(r.integer("channels", 1, limits::kMaxDimension));
        layer.kernel = int(r.integer("kernel", 1, limits::kMaxKernel));
        layer.stride = int(r.integer_or("stride", 1, 1, limits::kMaxStride));
        layer.padding = int(r.integer_or("padding", 0, 0, layer.kernel - 1));
        weight_count = int64_t(layer.out_channels) * layer.kernel * layer.kernel;
        break;
    case LayerType::ReLU:
        r.allow_only({"type", "name", "max"});
        if (j.contains("max")) {
            const double max = r.number("max");
            if (!(max > 0.0 && max <= limits::kMaxReluMax))
                throw Error(where + ": max " + j["max"].dump() + " must be a number in (0, " +
                            std::to_string(int64_t(limits::kMaxReluMax)) + "]");
            layer.relu_max = float(max);
        }
        break;
    case LayerType::GlobalAvgPool2d:
    case LayerType::Flatten: r.allow_only({"type", "name"}); break;
    }
    return weight_count;
}

// A weight layer's weights and bias, counted against the model's parameter budget.
static void parse_layer_weights(const json &j, JsonReader &r, Layer &layer, int64_t weight_count,
                                const std::string &where, int64_t *parameter_budget) {
    if (layer.fan_in() > limits::kMaxFanIn)
        throw Error(where + ": " + std::to_string(layer.fan_in()) +
                    " weights per output exceed the limit of " +
                    std::to_string(limits::kMaxFanIn) + " (int32 accumulators must stay exact)");
    const int64_t bias_count = j.contains("bias") ? layer.out_channels : 0;
    *parameter_budget -= weight_count + bias_count;
    if (*parameter_budget < 0)
        throw Error(where + ": the model has more than " +
                    std::to_string(limits::kMaxParameters) + " parameters");
    layer.weight = read_tensor(r.value("weight"), weight_count, where + " weight");
    if (j.contains("bias")) layer.bias = read_tensor(j["bias"], bias_count, where + " bias");
}

static Layer parse_layer(const json &j, size_t index, int64_t version, int64_t *parameter_budget) {
    const std::string where0 = "layer " + std::to_string(index);
    if (!j.is_object()) throw Error(where0 + ": must be a JSON object");
    JsonReader r(j, where0);
    Layer layer;
    const std::string type_name = r.string("type");
    if (!layer_type_from_name(type_name, &layer.type))
        throw Error(where0 + ": unknown layer type " + in_quotes(type_name) +
                    " (known: conv2d, linear, relu, maxpool2d, avgpool2d, flatten, "
                    "depthwise_conv2d, global_avgpool2d)");
    layer.name = r.string("name");
    if (!is_identifier(layer.name))
        throw Error(where0 + ": name " + in_quotes(layer.name) +
                    " must be letters, digits and '_', starting with a letter (at most 64)");
    const std::string where = "layer '" + layer.name + "' (" + type_name + ")";
    r.set_context(where);

    const int64_t weight_count = parse_layer_fields(j, r, layer, where);
    if (layer_version(layer) > version)
        throw Error(where + ": needs model file version 2 (the file says version " + std::to_string(version) +
                    ")");

    if (layer.has_weights()) parse_layer_weights(j, r, layer, weight_count, where, parameter_budget);
    return layer;
}

static float input_number(const JsonReader &in, const char *key, double fallback, double lo, double hi) {
    const double v = in.number_or(key, fallback);
    if (!(v >= lo && v <= hi))
        throw Error(in.context() + ": " + key + " " + number_text(v) + " is outside [" +
                    number_text(lo) + ", " + number_text(hi) + "]");
    return float(v);
}

Model parse_model(const std::string &json_text, const std::string &origin) {
    const json j = parse_json(json_text, origin);
    if (!j.is_object()) throw Error(origin + ": the top level must be a JSON object");
    JsonReader r(j, origin);
    r.allow_only({"format", "version", "name", "task", "dataset", "input", "layers", "metadata"});
    if (r.string("format") != "dmc-model")
        throw Error(origin + ": 'format' is " + in_quotes(j["format"].get<std::string>()) + ", expected 'dmc-model'");
    const int64_t version = r.integer("version", 0, 1000000);
    if (version != 1 && version != 2)
        throw Error(origin + ": model file version " + std::to_string(version) +
                    " is not supported (this engine reads versions 1 and 2)");

    Model model;
    model.name = r.string("name");
    const std::string task = r.string_or("task", "classification");
    if (task == "classification") model.task = Task::Classification;
    else if (task == "regression") model.task = Task::Regression;
    else throw Error(origin + ": unknown task " + in_quotes(task) + " (known: classification, regression)");
    model.dataset = r.string_or("dataset", model.task == Task::Classification ? "mnist" : "sine");

    JsonReader in(r.object("input"), origin + " input");
    in.allow_only({"channels", "height", "width", "min", "max", "mean", "std"});
    model.input.shape.channels = int(in.integer("channels", 1, limits::kMaxDimension));
    model.input.shape.height = int(in.integer("height", 1, limits::kMaxDimension));
    model.input.shape.width = int(in.integer("width", 1, limits::kMaxDimension));
    // Range-checked as written, before the conversion to float could turn
    // a std of 1e-50 into 0 or 1e39 into infinity.
    model.input.min = input_number(in, "min", 0.0, -limits::kMaxInputValue, limits::kMaxInputValue);
    model.input.max = input_number(in, "max", 1.0, -limits::kMaxInputValue, limits::kMaxInputValue);
    model.input.mean = input_number(in, "mean", 0.0, -limits::kMaxInputValue, limits::kMaxInputValue);
    model.input.std = input_number(in, "std", 1.0, limits::kMinInputStd, limits::kMaxInputValue);

    const json &layers = r.value("layers");
    if (!layers.is_array()) throw Error(origin + ": 'layers' must be an array");
    if (layers.empty()) throw Error(origin + ": 'layers' is empty");
    if (layers.size() > size_t(limits::kMaxLayers))
        throw Error(origin + ": " + std::to_string(layers.size()) + " layers exceed the limit of " +
                    std::to_string(limits::kMaxLayers));
    int64_t parameter_budget = limits::kMaxParameters;
    for (size_t i = 0; i < layers.size(); ++i)
        model.layers.push_back(parse_layer(layers[i], i, version, &parameter_budget));

    if (j.contains("metadata")) model.metadata_json = j["metadata"].dump();
    validate_model(model);
    return model;
}

Model load_model(const std::string &path) {
    return parse_model(read_file(path, limits::kMaxFileBytes, "model file"),
                       "model file '" + path + "'");
}

static Shape pooled_shape(const Layer &l, const Shape &in) {
    Shape out;
    out.channels = in.channels;
    out.height = (in.height + 2 * l.padding - l.kernel) / l.stride + 1;
    out.width = (in.width + 2 * l.padding - l.kernel) / l.stride + 1;
    return out;
}

// validate_model's steps, in the order it runs them: the first problem found
// is the one reported, so the order is part of the messages.

static void validate_input(const Model &model, const std::string &where) {
    if (!is_identifier(model.name))
        throw Error(where + ": the name must be letters, digits and '_', starting with a letter "
                            "(it becomes a C identifier)");
    const InputSpec &in = model.input;
    for (int64_t d : {int64_t(in.shape.channels), int64_t(in.shape.height), int64_t(in.shape.width)})
        if (d < 1 || d > limits::kMaxDimension)
            throw Error(where + ": input shape " + in.shape.str() + " is out of range");
    if (in.shape.size() > limits::kMaxActivationElements)
        throw Error(where + ": input " + in.shape.str() + " has more than " +
                    std::to_string(limits::kMaxActivationElements) + " values");
    const float big = float(limits::kMaxInputValue);
    for (float v : {in.min, in.max, in.mean})
        if (!(std::fabs(v) <= big))
            throw Error(where + ": input min, max and mean must be finite, at most " + number_text(big) +
                        " in magnitude");
    if (!(in.min < in.max)) throw Error(where + ": input range [min, max] must have min < max");
    if (!(in.std >= float(limits::kMinInputStd) && in.std <= big))
        throw Error(where + ": input std must be in [" + number_text(limits::kMinInputStd) + ", " + number_text(big) +
                    "]");
    if (model.layers.empty()) throw Error(where + ": has no layers");
    if (model.layers.size() > size_t(limits::kMaxLayers))
        throw Error(where + ": more than " + std::to_string(limits::kMaxLayers) + " layers");
}

// The shape layer `l` (described as `lw` in messages) gives for an input of
// `shape`, refusing an input it cannot take.
static Shape layer_output_shape(const Layer &l, Shape shape, const std::string &lw) {
    switch (l.type) {
    case LayerType::Conv2d:
        if (shape.channels != l.in_channels)
            throw Error(lw + ": expects " + std::to_string(l.in_channels) +
                        " input channels but receives a " + shape.str() + " tensor");
        if (shape.height + 2 * l.padding < l.kernel || shape.width + 2 * l.padding < l.kernel)
            throw Error(lw + ": kernel " + std::to_string(l.kernel) +
                        " is larger than its padded input " + shape.str());
        if (l.padding >= l.kernel) throw Error(lw + ": padding must be smaller than the kernel");
        shape = pooled_shape(l, shape);
        shape.channels = l.out_channels;
        break;
    case LayerType::Linear:
        if (shape.height != 1 || shape.width != 1)
            throw Error(lw + ": receives a " + shape.str() +
                        " tensor; a linear layer needs a flat input (add a flatten layer)");
        if (shape.channels != l.in_channels)
            throw Error(lw + ": expects " + std::to_string(l.in_channels) +
                        " input features but receives " + std::to_string(shape.channels));
        shape = Shape{l.out_channels, 1, 1};
        break;
    case LayerType::MaxPool2d:
    case LayerType::AvgPool2d:
        if (shape.height + 2 * l.padding < l.kernel || shape.width + 2 * l.padding < l.kernel)
            throw Error(lw + ": window " + std::to_string(l.kernel) +
                        " is larger than its padded input " + shape.str());
        if (2 * l.padding > l.kernel)
            throw Error(lw + ": padding must be at most half the window");
        shape = pooled_shape(l, shape);
        break;
    case LayerType::DepthwiseConv2d:
        if (shape.channels != l.in_channels || l.in_channels != l.out_channels)
            throw Error(lw + ": has " + std::to_string(l.out_channels) + " channels but receives a " +
                        shape.str() + " tensor");
        if (shape.height + 2 * l.padding < l.kernel || shape.width + 2 * l.padding < l.kernel)
            throw Error(lw + ": kernel " + std::to_string(l.kernel) +
                        " is larger than its padded input " + shape.str());
        if (l.padding >= l.kernel) throw Error(lw + ": padding must be smaller than the kernel");
        shape = pooled_shape(l, shape);
        break;
    case LayerType::GlobalAvgPool2d: shape = Shape{shape.channels, 1, 1}; break;
    case LayerType::ReLU:
        if (!(l.relu_max > 0.0f) || (std::isfinite(l.relu_max) && l.relu_max > limits::kMaxReluMax))
            throw Error(lw + ": max must be in (0, " + std::to_string(int64_t(limits::kMaxReluMax)) +
                        "] (or infinite: no upper clamp)");
        break;
    case LayerType::Flatten: shape = Shape{int(shape.size()), 1, 1}; break;
    }
    return shape;
}

static void validate_weights(const Layer &l, const std::string &lw) {
    if (l.kernel < 1 && l.type != LayerType::Linear) throw Error(lw + ": kernel must be >= 1");
    if (int64_t(l.weight.size()) != l.fan_in() * l.out_channels)
        throw Error(lw + ": has " + std::to_string(l.weight.size()) + " weights but its shape needs " +
                    std::to_string(l.fan_in() * l.out_channels));
    if (!l.bias.empty() && int64_t(l.bias.size()) != l.out_channels)
        throw Error(lw + ": has " + std::to_string(l.bias.size()) + " biases for " +
                    std::to_string(l.out_channels) + " outputs");
    if (l.fan_in() > limits::kMaxFanIn)
        throw Error(lw + ": fan-in " + std::to_string(l.fan_in()) + " exceeds the limit of " +
                    std::to_string(limits::kMaxFanIn));
}

// Sets every layer's input and output shape; returns the model's output shape.
static Shape validate_layers(Model &model) {
    std::set<std::string> names;
    Shape shape = model.input.shape;
    int64_t macs = 0;
    for (Layer &l : model.layers) {
        const std::string lw = "layer '" + l.name + "' (" + layer_type_name(l.type) + ")";
        if (!is_identifier(l.name)) throw Error(lw + ": invalid name");
        if (!names.insert(l.name).second) throw Error(lw + ": the name is used twice");
        l.input = shape;
        shape = layer_output_shape(l, shape, lw);
        if (l.has_weights()) validate_weights(l, lw);
        if (shape.size() > limits::kMaxActivationElements || shape.channels > limits::kMaxDimension)
            throw Error(lw + ": output " + shape.str() + " has more than " +
                        std::to_string(limits::kMaxActivationElements) + " values");
        l.output = shape;
        macs += l.macs();
        if (macs > limits::kMaxMacs)
            throw Error("model " + in_quotes(model.name) + ": " + with_commas(macs) + " MACs per inference by " + lw +
                        " exceed the limit of " + with_commas(limits::kMaxMacs));
    }
    return shape;
}

static void validate_task(const Model &model, const Shape &output, const std::string &where) {
    if (model.output_layer() < 0)
        throw Error(where + ": has no conv2d, depthwise_conv2d or linear layer; there is nothing to compress");
    if (model.task == Task::Classification && output.size() < 2)
        throw Error(where + ": a classifier needs at least 2 outputs, the model gives " +
                    std::to_string(output.size()));
    const bool known = (model.task == Task::Classification && model.dataset == "mnist") ||
                       (model.task == Task::Regression && model.dataset == "sine");
    if (!known)
        throw Error(where + ": dataset " + in_quotes(model.dataset) + " is not known for this task "
                            "(classification: mnist; regression: sine)");
    if (model.parameters() > limits::kMaxParameters)
        throw Error(where + ": more than " + std::to_string(limits::kMaxParameters) + " parameters");
}

void validate_model(Model &model) {
    const std::string where = "model " + in_quotes(model.name);
    validate_input(model, where);
    const Shape output = validate_layers(model);
    validate_task(model, output, where);
}

static std::string encode_floats(const std::vector<float> &values) {
    std::string bytes(values.size() * 4, '\0');
    for (size_t i = 0; i < values.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &values[i], 4);
        for (int k = 0; k < 4; ++k) bytes[4 * i + size_t(k)] = char((bits >> (8 * k)) & 255);
    }
    return base64_encode(bytes.data(), bytes.size());
}

std::string model_to_json(const Model &model) {
    json layers = json::array();
    for (const Layer &l : model.layers) {
        json j = json::object();
        j["name"] = l.name;
        j["type"] = layer_type_name(l.type);
        switch (l.type) {
        case LayerType::Conv2d:
            j["in_channels"] = l.in_channels;
            j["out_channels"] = l.out_channels;
            j["kernel"] = l.kernel;
            j["stride"] = l.stride;
            j["padding"] = l.padding;
            break;
        case LayerType::Linear:
            j["in_features"] = l.in_channels;
            j["out_features"] = l.out_channels;
            break;
        case LayerType::MaxPool2d:
        case LayerType::AvgPool2d:
            j["kernel"] = l.kernel;
            j["stride"] = l.stride;
            j["padding"] = l.padding;
            break;
        case LayerType::DepthwiseConv2d:
            j["channels"] = l.out_channels;
            j["kernel"] = l.kernel;
            j["stride"] = l.stride;
            j["padding"] = l.padding;
            break;
        case LayerType::ReLU:
            if (std::isfinite(l.relu_max)) j["max"] = l.relu_max;
            break;
        case LayerType::GlobalAvgPool2d:
        case LayerType::Flatten: break;
        }
        if (l.has_weights()) {
            j["weight"] = encode_floats(l.weight);
            if (!l.bias.empty()) j["bias"] = encode_floats(l.bias);
        }
        layers.push_back(std::move(j));
    }
    json input = {{"channels", model.input.shape.channels}, {"height", model.input.shape.height},
                  {"width", model.input.shape.width},       {"min", model.input.min},
                  {"max", model.input.max},                 {"mean", model.input.mean},
                  {"std", model.input.std}};
    json j = {{"format", "dmc-model"},
              {"version", model_format_version(model)},
              {"name", model.name},
              {"task", model.task == Task::Classification ? "classification" : "regression"},
              {"dataset", model.dataset},
              {"input", input},
              {"layers", layers}};
    j["metadata"] = json::parse(model.metadata_json.empty() ? "{}" : model.metadata_json);
    return j.dump(1) + "\n";
}

void save_model(const Model &model, const std::string &path) {
    write_file(path, model_to_json(model), "model file");
}

} // namespace dmc
