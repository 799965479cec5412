// dmc/model.h - the float model: layers, shapes, and the model file
// (engine/MODEL_FORMAT.md) that holds it.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace dmc {

// An activation tensor's shape. Memory layout is HWC (channel fastest).
struct Shape {
    int channels = 0, height = 0, width = 0;

    int64_t size() const { return int64_t(channels) * height * width; }
    bool operator==(const Shape &o) const {
        return channels == o.channels && height == o.height && width == o.width;
    }
    bool operator!=(const Shape &o) const { return !(*this == o); }
    std::string str() const; // "6x28x28" (channels x height x width)
};

enum class LayerType {
    Conv2d,
    Linear,
    ReLU,
    MaxPool2d,
    AvgPool2d,
    Flatten,
    DepthwiseConv2d, // one k x k filter per channel (version 2)
    GlobalAvgPool2d  // C x H x W -> C x 1 x 1 (version 2)
};

const char *layer_type_name(LayerType type); // the model file's name: "conv2d", ...

struct Layer {
    LayerType type = LayerType::ReLU;
    std::string name;

    // conv2d: channels; linear: features; depthwise_conv2d: both are its
    // channels. Other layers: unused.
    int in_channels = 0, out_channels = 0;
    // conv2d, depthwise_conv2d and pools: square window.
    int kernel = 0, stride = 1, padding = 0;
    // relu: the upper clamp (6 for ReLU6); infinity when there is none.
    float relu_max = std::numeric_limits<float>::infinity();

    // conv2d: OHWI; linear: [out][in]; depthwise_conv2d: [channels][kernel][kernel].
    // bias is empty when the layer has none.
    std::vector<float> weight, bias;

    // Shapes this layer sees; set by validate_model().
    Shape input, output;

    // The layers that are quantized (and have bits in a config).
    bool has_weights() const {
        return type == LayerType::Conv2d || type == LayerType::Linear || type == LayerType::DepthwiseConv2d;
    }
    // The layers with a keep ratio: a depthwise layer has none of its own,
    // its channels are those of the layer before it.
    bool prunable() const { return type == LayerType::Conv2d || type == LayerType::Linear; }
    // Weights per output channel: kernel * kernel * in_channels, in_features,
    // or kernel * kernel (depthwise).
    int64_t fan_in() const;
    int64_t macs() const; // multiply-accumulates of one inference (output elements * fan_in)
};

enum class Task {
    Classification, // the argmax of the output is the class
    Regression      // the outputs are the prediction
};

// How raw input values map to what the first layer sees (see MODEL_FORMAT.md).
struct InputSpec {
    Shape shape;
    float min = 0.0f, max = 1.0f;  // range of raw values
    float mean = 0.0f, std = 1.0f; // the model sees (raw - mean) / std
};

struct Model {
    std::string name;
    Task task = Task::Classification;
    std::string dataset = "mnist"; // what it is evaluated on: "mnist" or "sine"
    InputSpec input;
    std::vector<Layer> layers;
    std::string metadata_json = "{}"; // free-form, kept as written

    Shape output_shape() const;
    // Index of the layer with this name, or -1.
    int find_layer(const std::string &name) const;
    // Index of the last conv2d/linear layer: its outputs are the model's.
    int output_layer() const;
    int64_t parameters() const;
};

// Limits that keep a hostile or broken file from exhausting memory; a model
// past them is refused before anything is allocated.
namespace limits {
constexpr int kMaxLayers = 256;
constexpr int64_t kMaxDimension = 1 << 16;          // any channel count, height or width
constexpr int64_t kMaxActivationElements = 1 << 22; // one activation tensor
constexpr int64_t kMaxParameters = 1 << 26;         // all weights and biases
constexpr int64_t kMaxFanIn = 100000;               // keeps int32 accumulators exact
// Work per inference. The largest microcontroller vision models run tens of
// millions of MACs; past this bound evaluating 10,000 test images would take
// hours, and a hostile file could freeze the CLI or the browser's worker.
constexpr int64_t kMaxMacs = int64_t(1) << 28; // 268,435,456
constexpr int kMaxKernel = 64, kMaxStride = 64;
constexpr double kMaxReluMax = 1e6; // relu's max: a clamp, not a disguised infinity
constexpr int64_t kMaxFileBytes = int64_t(1) << 30;
// The input spec: |min|, |max|, |mean| and std at most this...
constexpr double kMaxInputValue = 1e6;
// ...and std at least this: the engine scales inputs by 1 / std, and the
// exported header writes that as a float literal.
constexpr double kMinInputStd = 1e-6;
} // namespace limits

// Reads and validates a model file; throws dmc::Error naming the problem.
Model load_model(const std::string &path);
// The same from the file's text (`origin` names it in error messages).
Model parse_model(const std::string &json_text, const std::string &origin = "model");
// Serialises (weights as base64 float32) and writes. The file is version 1
// unless a layer needs version 2 (model_format_version).
int model_format_version(const Model &model);
std::string model_to_json(const Model &model);
void save_model(const Model &model, const std::string &path);

// Checks every field, infers each layer's input and output shape, and
// throws dmc::Error on the first problem. parse_model() calls it; call it
// again after building or editing a Model in code.
void validate_model(Model &model);

} // namespace dmc
