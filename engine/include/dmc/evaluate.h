// dmc/evaluate.h - what the engine reports about a compressed model: per
// layer and in total, its size (flash), work (MACs), memory (the buffer
// plan's peak), its errors against the float model, and accuracy on MNIST.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dmc/compressed_model.h"
#include "dmc/dataset.h"

namespace dmc {

struct LayerReport {
    std::string name, type;
    int layer = -1; // index in the model
    int channels_total = 0, channels_kept = 0;
    int bits = 8;
    double keep = 1.0;
    int64_t params = 0; // weights + biases after pruning
    // Flash: packed weights; int32 biases; per-channel requantization
    // constants (int32 multiplier + int8 shift). Float layers: 4 bytes each.
    int64_t weight_bytes = 0, bias_bytes = 0, constant_bytes = 0;
    int64_t macs = 0;
    // Signal-to-quantization-noise ratios in dB; +infinity when exact.
    double weight_sqnr_db = 0.0; // quantized vs float weights of the pruned layer
    double output_sqnr_db = 0.0; // this layer's output vs the float model's (kept channels)

    int64_t flash_bytes() const { return weight_bytes + bias_bytes + constant_bytes; }
};

struct Report {
    std::string model;
    std::string config_json;
    std::vector<LayerReport> layers;
    int64_t flash_bytes = 0;       // sum over layers
    int64_t float_flash_bytes = 0; // the float model: 4 bytes per parameter
    int64_t macs = 0;
    int64_t float_macs = 0;
    int64_t peak_ram_bytes = 0; // the buffer plan's arena
    std::string peak_step;      // the step that sets it
    std::string peak_detail;    // "input 784 + scratch 32 + output 4704"

    // Filled by evaluate():
    Task task = Task::Classification;
    int images = 0;
    // Classification: fractions in [0, 1]; agreement: the compressed model
    // predicts what the float model predicts.
    double float_accuracy = 0.0, accuracy = 0.0, agreement = 0.0;
    // Regression: mean squared error against the targets.
    double float_mse = 0.0, mse = 0.0;
};

// The static part of the report: sizes, MACs, the plan, weight SQNR.
Report describe(const CompressedModel &model);

// Called now and then during long work with the images done and the total.
using Progress = std::function<void(int done, int total)>;

struct EvalOptions {
    int limit = 0;             // evaluate the first `limit` images only (0: all)
    bool output_sqnr = true;   // also compare every layer's output with the float model
    Progress progress;         // optional
};

// describe() plus accuracy (or MSE), agreement and output SQNR on `test`.
Report evaluate(const CompressedModel &model, const TestSet &test, const EvalOptions &options = {});

// 10 log10(signal / noise): +infinity without noise (exact), -infinity
// without signal.
double sqnr_db(double signal, double noise);

// The sums behind one layer's output SQNR. evaluate() and the workbench
// both form them here, input by input in evaluation order, so their figures
// agree to the last bit.
struct SqnrSums {
    double signal = 0.0, noise = 0.0;

    // Adds one input's output of conv2d/linear step `step` of `model`
    // (after a fused ReLU), kept channels only, against `float_output`: the
    // float model's output of the same layer for the same input (all the
    // layer's channels, HWC: float_reference()'s step output).
    void add(const CompressedModel &model, int step, const void *output, const float *float_output);
    double db() const { return sqnr_db(signal, noise); }
};

// Regression: the squared error of one output tensor against the targets of
// test input i, summed over the outputs (0 when the set has no targets for
// it). score() and evaluate() sum these in input order.
double squared_error(const CompressedModel &model, const void *output, const TestSet &test, int i);

// Output `output` of the model on every test input, in test order, as real
// numbers (tensor_value): for a regression model, its curve against the
// targets.
std::vector<float> output_curve(const CompressedModel &model, const TestSet &test, int output);

// The model's score on the first `limit` inputs (0: all), nothing else:
// accuracy for a classifier, mean squared error for a regression model.
double score(const CompressedModel &model, const TestSet &test, int limit = 0);

std::string report_to_json(const Report &report, int indent = 2);
std::string report_to_text(const Report &report);

// Per-layer sensitivity: the score (accuracy, or MSE for regression) with
// only `layer` compressed (all other layers float), against bits (keep 1)
// and against keep (float weights).
struct SweepPoint {
    int bits = kFloatBits;
    double keep = 1.0;
    double score = 0.0;
};
struct Sweep {
    std::string layer;
    std::string metric; // "accuracy" or "mse"
    double float_score = 0.0;
    int images = 0;
    std::vector<SweepPoint> by_bits, by_keep;
};
// progress counts configurations (the float model, then each point).
Sweep sweep_layer(const Model &model, const std::string &layer, const std::vector<int> &bits,
                  const std::vector<double> &keeps, const CalibrationSet &calibration,
                  const TestSet &test, int limit = 0, const Progress &progress = nullptr);
std::string sweep_to_json(const Sweep &sweep, int indent = 2);
std::string sweep_to_text(const Sweep &sweep);

} // namespace dmc
