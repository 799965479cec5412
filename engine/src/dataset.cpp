#include "dmc/dataset.h"

#include <cmath>

#include "dmc/error.h"

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
    if (model.dataset == "sine") return sine_test_set();
    return mnist_test_set(load_mnist(mnist_dir(mnist_option), "t10k"));
}

CalibrationSet load_calibration_set(const Model &model, const std::string &mnist_option) {
    if (model.dataset == "sine") return sine_calibration_set();
    const ImageSet train = load_mnist(mnist_dir(mnist_option), "train");
    return calibration_set(train, calibration_indices(train.count, kCalibrationImages));
}

void check_model_fits(const Model &model, const TestSet &test) {
    if (model.input.shape != test.shape)
        throw Error("model '" + model.name + "' takes " + model.input.shape.str() + " inputs; " + test.name +
                    " has " + test.shape.str());
    const int64_t outputs = model.output_shape().size();
    if (model.task == Task::Classification && outputs < 10 && test.name == "mnist")
        throw Error("model '" + model.name + "' has " + std::to_string(outputs) + " outputs; MNIST has 10 classes");
    if (model.task == Task::Regression && int64_t(test.targets.size()) != outputs * test.count)
        throw Error("model '" + model.name + "' has " + std::to_string(outputs) + " outputs; " + test.name +
                    " has " + std::to_string(test.targets.size() / size_t(test.count)) + " targets per input");
}

} // namespace dmc
