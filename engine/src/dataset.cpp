// dataset.cpp - the sets a model is scored on, kept apart from the model
// and the executor: a model file names its data set, and everything that
// scores a model (evaluate(), score(), the workbench, the search) takes a
// TestSet, whatever it holds. MNIST is read from IDX files (mnist.cpp); the
// sine grid is generated here, so its points are the same everywhere
// (python/dmc/sine.py writes the same grid). The evaluation order the
// workbench and the search use is here too: it depends only on the set.
#include "dmc/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "dmc/error.h"
#include "splitmix.h"

namespace dmc {

namespace {
constexpr double kTwoPi = 6.283185307179586;
constexpr int kSinePoints = 1000;
} // namespace

const void *TestSet::run(Executor &executor, int i, const Executor::Observer &observe) const {
    const size_t n = size_t(shape.size());
    if (!pixels.empty()) return executor.run_u8(pixels.data() + size_t(i) * n, observe);
    return executor.run(raw.data() + size_t(i) * n, observe);
}

void TestSet::run(BatchExecutor &executor, const int *index, int n, const BatchExecutor::Observer &observe) const {
    const size_t size = size_t(shape.size());
    if (!pixels.empty()) {
        std::vector<const uint8_t *> inputs;
        for (int i = 0; i < n; ++i) inputs.push_back(pixels.data() + size_t(index[i]) * size);
        return executor.run_u8(inputs.data(), n, observe);
    }
    std::vector<const float *> inputs;
    for (int i = 0; i < n; ++i) inputs.push_back(raw.data() + size_t(index[i]) * size);
    executor.run(inputs.data(), n, observe);
}

TestSet mnist_test_set(const ImageSet &images) {
    TestSet t;
    t.name = "mnist";
    t.count = images.count;
    t.shape = Shape{1, images.rows, images.cols};
    t.pixels = images.pixels;
    t.labels = images.labels;
    return t;
}

TestSet sine_test_set() {
    TestSet t;
    t.name = "sine";
    t.count = kSinePoints;
    t.shape = Shape{1, 1, 1};
    for (int i = 0; i < kSinePoints; ++i) {
        const double x = kTwoPi * (i + 0.5) / kSinePoints;
        t.raw.push_back(float(x));
        t.targets.push_back(float(std::sin(x)));
    }
    return t;
}

CalibrationSet sine_calibration_set() {
    CalibrationSet c;
    c.count = kSinePoints;
    for (int i = 0; i < kSinePoints; ++i) c.raw.push_back(float(kTwoPi * i / (kSinePoints - 1)));
    return c;
}

TestSet load_test_set(const Model &model, const std::string &mnist_option) {
    TestSet test = model.dataset == "sine" ? sine_test_set()
                                           : mnist_test_set(load_mnist(mnist_dir(mnist_option), "t10k"));
    check_model_fits(model, test);
    return test;
}

CalibrationSet load_calibration_set(const Model &model, const std::string &mnist_option) {
    if (model.dataset == "sine") return sine_calibration_set();
    const ImageSet train = load_mnist(mnist_dir(mnist_option), "train");
    // Checked here too, so that a model that does not fit is refused before
    // anything is compressed, whichever set a command loads first.
    if (train.count < 1) throw Error("the MNIST training set holds no images; calibration needs some");
    check_input_fits(model, Shape{1, train.rows, train.cols}, "the MNIST training set");
    return calibration_set(train, calibration_indices(train.count, kCalibrationImages));
}

void check_input_fits(const Model &model, const Shape &shape, const std::string &set) {
    if (model.input.shape != shape)
        throw Error("model '" + model.name + "' takes " + model.input.shape.str() + " inputs; " + set +
                    " holds " + shape.str());
    // MNIST's raw values are pixel / 255: the input spec's range must be
    // theirs, or the input quantization clips them or wastes its levels.
    if (model.dataset == "mnist" && (model.input.min != 0.0f || model.input.max != 1.0f)) {
        char range[64];
        std::snprintf(range, sizeof range, "[%g, %g]", double(model.input.min), double(model.input.max));
        throw Error("model '" + model.name + "': input range " + range +
                    " is not MNIST's [0, 1] (raw values are pixel / 255)");
    }
}

void check_model_fits(const Model &model, const TestSet &test) {
    check_input_fits(model, test.shape, test.name + " (test set)");
    if (test.count < 1) throw Error("the " + test.name + " test set holds no inputs; there is nothing to evaluate");
    const int64_t outputs = model.output_shape().size();
    if (model.task == Task::Classification && outputs != 10 && test.name == "mnist")
        throw Error("model '" + model.name + "' has " + std::to_string(outputs) + " outputs; MNIST has 10 classes");
    if (model.task == Task::Regression && int64_t(test.targets.size()) != outputs * test.count)
        throw Error("model '" + model.name + "' has " + std::to_string(outputs) + " outputs; " + test.name +
                    " has " + std::to_string(test.targets.size() / size_t(test.count)) + " targets per input");
}

namespace {

// Fisher-Yates from the back, one splitmix64 draw per swap.
void shuffle(std::vector<int> &v, uint64_t &state) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(splitmix64(state) % uint64_t(i))]);
}

} // namespace

std::vector<int> stratified_order(const TestSet &test, uint64_t seed) {
    const int n = test.count;
    uint64_t state = seed;
    if (test.labels.size() != size_t(n)) {
        std::vector<int> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        shuffle(order, state);
        return order;
    }
    std::vector<std::vector<int>> by_class(256);
    for (int i = 0; i < n; ++i) by_class[test.labels[size_t(i)]].push_back(i);
    for (std::vector<int> &c : by_class) shuffle(c, state);
    // Key (rank within its class + 0.5) / class size: sorting by it
    // interleaves the classes in proportion at every prefix; the stable sort
    // keeps equal keys in class order, so the order is fixed by the seed.
    std::vector<std::pair<double, int>> keyed;
    keyed.reserve(size_t(n));
    for (const std::vector<int> &c : by_class)
        for (size_t r = 0; r < c.size(); ++r) keyed.push_back({(double(r) + 0.5) / double(c.size()), c[r]});
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    std::vector<int> order;
    order.reserve(size_t(n));
    for (const auto &k : keyed) order.push_back(k.second);
    return order;
}

} // namespace dmc
