// dmc/dataset.h - what a model is evaluated and calibrated on, chosen by
// its `dataset` field: MNIST (read from a folder) or the sine grid
// (generated). See engine/MODEL_FORMAT.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dmc/compressed_model.h"
#include "dmc/mnist.h"

namespace dmc {

struct TestSet {
    std::string name; // "mnist", "sine"
    int count = 0;
    Shape shape;                 // of one input
    std::vector<uint8_t> pixels; // image sets: count * shape.size() bytes, raw = pixel / 255
    std::vector<float> raw;      // other sets: count * shape.size() raw values
    std::vector<uint8_t> labels; // classification: one per input
    std::vector<float> targets;  // regression: count * outputs

    // Runs input i through `run` (Executor::run_u8 or run); returns the output.
    const void *run(Executor &run, int i, const Executor::Observer &observe = nullptr) const;
    // Runs inputs index[0 .. n - 1] through `run` at once (n at most its
    // capacity); their outputs are run.output(0 .. n - 1).
    void run(BatchExecutor &run, const int *index, int n, const BatchExecutor::Observer &observe = nullptr) const;
};

TestSet mnist_test_set(const ImageSet &images);

// The sine grid: x_i = 2 pi (i + 0.5) / 1000, target sin(x_i), i < 1000.
TestSet sine_test_set();
// Its calibration points: x_i = 2 pi i / 999, i < 1000 (both ends included).
CalibrationSet sine_calibration_set();

// The model's test and calibration sets. MNIST comes from `mnist_option`,
// else $MNIST_DIR (see mnist_dir()); the sine grid needs no files.
TestSet load_test_set(const Model &model, const std::string &mnist_option);
CalibrationSet load_calibration_set(const Model &model, const std::string &mnist_option);

// Checks that the model's input and output fit the set, and that the set
// is not empty; throws dmc::Error. load_test_set() has called it.
void check_model_fits(const Model &model, const TestSet &test);
// The input part of it: the model takes inputs of `shape` (from `set`, as
// messages name it) and, on MNIST, raw values in [0, 1].
void check_input_fits(const Model &model, const Shape &shape, const std::string &set);

// The test inputs in an order whose every prefix has the classes in the
// proportions of the whole set, so a score on the first few hundred is
// already a fair estimate of the score on all (the workbench's first
// figures; a search screening candidates on a subset). Each class's inputs
// are shuffled by splitmix64(seed), then the classes interleaved by rank /
// class size. A set without labels gets a plain seeded shuffle.
std::vector<int> stratified_order(const TestSet &test, uint64_t seed = 1);

} // namespace dmc
