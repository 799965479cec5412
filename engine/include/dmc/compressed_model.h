// dmc/compressed_model.h - a model after pruning and quantization, as a
// list of steps that run on int8 tensors (the integer kernels in
// engine/kernels/) or, for layers left at 32 bits, on float tensors.
//
// Build one with compress_model(); run it with an Executor.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "dmc/config.h"
#include "dmc/model.h"
#include "dmc/prune.h"
#include "dmc/quantize.h"

namespace dmc {

// A step runs one layer of the model (the LayerType of the layer it
// implements), or is one of the conversions around the layers: raw input
// to float or int8, float to int8, int8 to float.
enum class Conversion {
    None,       // the step runs model layer `layer`, a `type`
    Normalize,  // raw float input -> (x - mean) / std           (float)
    Quantize,   // float -> int8 (the raw input, or a float layer's output)
    Dequantize  // int8 -> float, before a layer left in float
};

struct Step {
    Conversion conversion = Conversion::None;
    LayerType type = LayerType::Flatten; // the layer it runs (conversion None)
    bool integer = false; // its output is int8 (else float); its input is too,
                          // except for Quantize (float in) and Dequantize (int8 in)
    int layer = -1;       // index of the model layer it implements; -1 for conversions
    std::string name;
    Shape input, output;

    // Whether the step runs a layer of this type.
    bool runs(LayerType t) const { return conversion == Conversion::None && type == t; }
    // Conv2d, Linear and DepthwiseConv2d: the steps with quantized weights.
    bool has_weights() const {
        return runs(LayerType::Conv2d) || runs(LayerType::Linear) || runs(LayerType::DepthwiseConv2d);
    }

    // The pruned layer's geometry (type, channels, kernel, stride, padding,
    // a ReLU's max); its float weights stay in CompressedModel::pruned
    // (float_layer()). A float weight step keeps its bias here, the float
    // kernels' input. Weight steps: whether a following ReLU is fused in,
    // with its max (infinity: none; 6 for ReLU6).
    Layer source;
    bool fused_relu = false;
    float relu_max = std::numeric_limits<float>::infinity();
    // Float Conv2d/Linear/DepthwiseConv2d: the weights transposed (see src/ops/ops.h).
    std::vector<float> float_weight_t;

    // Integer Conv2d/Linear/DepthwiseConv2d: packed weights and the output stage.
    QuantizedWeights weights;
    std::vector<int32_t> bias;       // input zero point folded in
    std::vector<int32_t> multiplier; // per output channel
    std::vector<int8_t> shift;

    // Integer steps: the quantization of the input and output tensors.
    // act_min/act_max clamp the output (act_min = zero point for a fused
    // ReLU, act_max its quantized max; also for a stand-alone ReLU).
    QuantParams in_q, out_q;
    int32_t act_min = -128, act_max = 127;

    // AvgPool2d (integer): 1 / (kernel * kernel) as multiplier and shift;
    // GlobalAvgPool2d: 1 / (height * width).
    FixedPointMultiplier pool_divisor;

    // Normalize: (x - input_mean) / input_std. Quantize:
    // q = zp + round((x - input_mean) * input_inv_scale) (dmc_quantize_input).
    float input_mean = 0.0f, input_std = 1.0f, input_inv_scale = 1.0f;
    bool from_raw_input = false;

    int64_t output_bytes() const { return output.size() * (integer ? 1 : 4); }
};
// What a step does, as `dmc` prints it: the layer type's name in the model
// file ("conv2d", ...), or "normalize", "quantize", "dequantize".
const char *op_name(const Step &step);

// Where each step's tensors live in one arena (plan_buffers, src/plan.cpp,
// explains the layout). Step k reads the tensor step k-1 wrote (step 0
// reads the caller's raw input) and writes its own. The two tensors sit at
// opposite ends of the arena, alternating, with scratch between them, so
// the arena is the largest (input + scratch + output) of any step: the
// least any schedule without in-place tricks needs. ReLU and Flatten work
// in place. Every byte a run touches is in the arena.
struct BufferPlan {
    struct Entry {
        int64_t input_offset = -1; // -1: the caller's buffer
        int64_t output_offset = 0;
        int64_t scratch_offset = 0;
        int64_t room_bytes = 0; // the scratch the step is given: all between its input and output (>= scratch_bytes)
        int64_t bytes = 0;      // input + scratch + output of this step (aligned)
    };
    std::vector<Entry> steps;
    int64_t arena_bytes = 0;
    int peak_step = -1; // the step that sets arena_bytes
};

struct CompressedModel {
    Model model;      // the float model it was made from
    PrunedModel pruned;
    CompressionConfig config;
    std::vector<LayerCompression> settings; // per model layer (conv2d/linear entries meaningful)
    std::vector<Step> steps;
    BufferPlan plan;
    // Quantized raw input for each byte value p, as raw = p / 255.0f: the
    // same integers the Quantize step gives, looked up (image models).
    int8_t input_lut[256] = {};

    // step_keys[k] names what steps 0..k compute: the model and
    // calibration set (by content), and each step's kind, shapes, bits and
    // kept channels. Two compressions with equal step_keys[k] have equal
    // steps 0..k, to the last bit (set by compress_model / Compressor).
    std::vector<std::string> step_keys;

    bool output_integer() const { return !steps.empty() && steps.back().integer; }
    QuantParams output_q() const { return steps.back().out_q; }
    Shape output_shape() const { return steps.back().output; }
    bool integer_only() const; // every conv2d/linear step is integer
    // The pruned float layer a step implements (its weights and bias).
    const Layer &float_layer(const Step &s) const { return pruned.model.layers[size_t(s.layer)]; }
};

// The calibration set: raw inputs (before normalisation), `count` of them,
// each model.input.shape.size() floats, HWC. Only integer layers need it.
struct CalibrationSet {
    int count = 0;
    std::vector<float> raw;
};

// Prunes, quantizes and calibrates. Activation ranges come from running the
// compressed model itself over the calibration set, one step at a time, so
// each layer's output scale is measured on the integers it really receives.
CompressedModel compress_model(const Model &model, const CompressionConfig &config,
                               const CalibrationSet &calibration);

// The same for one model under many configs: it keeps the calibration
// tensors of the last compression, and a config that changes nothing
// before some step reuses the steps before it as they are (moving fc1's
// slider recalibrates fc1 and what follows only). Gives exactly what
// compress_model() gives.
class Compressor {
  public:
    Compressor(Model model, CalibrationSet calibration);
    ~Compressor();
    Compressor(const Compressor &) = delete;
    Compressor &operator=(const Compressor &) = delete;

    CompressedModel compress(const CompressionConfig &config);
    const Model &model() const { return model_; }
    const CalibrationSet &calibration() const { return calibration_; }

  private:
    struct Cache;
    Model model_;
    CalibrationSet calibration_;
    std::string identity_; // the model and calibration set, hashed: where step_keys start
    std::unique_ptr<Cache> cache_;
};

// The float model as a CompressedModel with every layer left in float: the
// reference the compressed model is measured against. Needs no calibration.
CompressedModel float_reference(const Model &model);

// Runs a compressed model on up to `capacity` inputs at once, step by step:
// each step over all of them before the next, the inputs' tensors back to
// back. An integer linear step runs as one 1x1 convolution over the batch
// (one pixel per input), so each weight chunk is unpacked and widened once
// for the whole batch, as calibration does; the other steps run input by
// input with the same kernels. The same integers as Executor, which tests
// compare it with. What the workbench uses to evaluate a test set.
class BatchExecutor {
  public:
    BatchExecutor(const CompressedModel &model, int capacity);
    BatchExecutor(const BatchExecutor &) = delete;
    BatchExecutor &operator=(const BatchExecutor &) = delete;

    // `observe`, if set, sees every input's output of every step, step by
    // step (input after input within a step).
    using Observer = std::function<void(int step, int input, const void *output)>;
    // Runs n (1 .. capacity) 8-bit images, pixels[i] input i's, as
    // Executor::run_u8.
    void run_u8(const uint8_t *const *pixels, int n, const Observer &observe = nullptr);
    // The same for raw inputs (HWC floats), as Executor::run.
    void run(const float *const *raw, int n, const Observer &observe = nullptr);
    // Resuming part way, as Executor's: write input i's tensor for step
    // `step` (>= 1) at step_input(step, i) for i < n, then run_from(step, n).
    void *step_input(int step, int input);
    void run_from(int first_step, int n, const Observer &observe = nullptr);
    // Input i's output tensor after a run, as Executor::run returns it;
    // valid until the next run.
    const void *output(int input) const;
    int capacity() const { return capacity_; }

  private:
    int64_t tensor_bytes(int step) const; // one input's tensor read by step `step` (steps.size(): the output)
    char *tensor(int step, int input) const;
    void run_steps(int first_step, int n, const Observer &observe);

    const CompressedModel &model_;
    int capacity_;
    std::vector<uint64_t> buffers_[2]; // step k reads buffers_[k % 2], writes the other (uint64_t: aligned)
    std::vector<uint64_t> scratch_;
};

// Runs a compressed model, one input at a time, in an arena of exactly
// model.plan.arena_bytes: its own, or the caller's. Every byte of scratch
// the kernels use is in that arena.
class Executor {
  public:
    explicit Executor(const CompressedModel &model); // allocates the arena
    // Runs in the caller's arena: `bytes` (at least plan.arena_bytes; only
    // those are touched) from `arena`, aligned to kArenaAlignment, owned by
    // the caller and used by no other Executor while this one runs. Throws
    // Error if it is too small or misaligned.
    Executor(const CompressedModel &model, void *arena, int64_t bytes);
    static constexpr int64_t kArenaAlignment = 8; // float tensors need 4; the plan's offsets are multiples of 16
    Executor(const Executor &other);              // a copy has an arena of its own
    Executor &operator=(const Executor &) = delete;

    // Runs one raw input (HWC floats). Returns the output tensor inside the
    // arena: int8 if model.output_integer(), else float. Valid until the next
    // run. `observe`, if set, sees every step's output right after the step.
    using Observer = std::function<void(int step, const void *output)>;
    const void *run(const float *raw_input, const Observer &observe = nullptr);
    // The same for an 8-bit image (raw = pixel / 255), quantized by lookup.
    const void *run_u8(const uint8_t *pixels, const Observer &observe = nullptr);

    // argmax of the output; a tie goes to the lowest index.
    int predict(const float *raw_input);
    int predict_u8(const uint8_t *pixels);

    // Resuming part way: the place in the arena where step `step` (>= 1)
    // reads its input. Write that tensor there (for example one kept from
    // an earlier run of the same step_keys prefix), then run_from(step).
    void *step_input(int step);
    // Runs steps first_step.. (>= 1) on the input already in place; returns
    // the output as run() does.
    const void *run_from(int first_step, const Observer &observe = nullptr);

    const CompressedModel &model() const { return model_; }

  private:
    const CompressedModel &model_;
    std::vector<uint64_t> owned_; // the arena, where the caller gives none (uint64_t: 8-byte aligned)
    char *arena_;
    std::vector<float> raw_; // run_u8 on a model whose first layer is float
};

// Element k of a tensor step `producer` wrote (int8 or float), as a real
// number: the one dequantization every report and chart uses.
double tensor_value(const Step &producer, const void *tensor, int64_t k);
// The model's prediction from its output tensor: the argmax, a tie going to
// the lowest index (what the exported header's predict() does).
int predicted_class(const CompressedModel &model, const void *output);

// Every step's integer parameters (weights unpacked), the kept channels and
// the input lookup table, as one JSON object.
std::string compressed_model_to_json(const CompressedModel &model);

// Runs one step on one tensor (in and out may be the same for ReLU and
// Flatten) with the kernels the engine chose for this machine. scratch
// holds room >= scratch_bytes(step) bytes; a kernel that goes faster with
// more uses as much as it is given (the same integers whatever the room).
// The executor gives each step its plan entry's room_bytes.
void run_step(const Step &step, const void *in, void *out, void *scratch, int64_t room);
// The same with room = scratch_bytes(step).
void run_step(const Step &step, const void *in, void *out, void *scratch);
// The scratch the plan counts for a step: the largest least need over its
// op's kernel variants (src/kernel_table.h), the same on every machine.
int64_t scratch_bytes(const Step &step);
// The kernel variants this machine runs for the ops that have several
// ("conv2d_s8_avx2 linear_s8_avx2 ..."), chosen on first use: which
// instruction set a timing measured.
std::string kernel_variants();

} // namespace dmc
