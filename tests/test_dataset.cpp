// Regression models on the generated sine grid: the model file says its
// task and data set, and the reports give mean squared errors.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"

using namespace dmc;

namespace {

Model sine_model(unsigned seed) {
    Model m;
    m.name = "sine";
    m.task = Task::Regression;
    m.dataset = "sine";
    m.input.shape = Shape{1, 1, 1};
    m.input.min = 0.0f;
    m.input.max = 6.2831855f;
    m.input.mean = 3.1415927f;
    m.input.std = 1.8137994f;
    m.layers = {dmc_test::linear("fc1", 1, 16), dmc_test::simple(LayerType::ReLU, "relu1"),
                dmc_test::linear("fc2", 16, 16), dmc_test::simple(LayerType::ReLU, "relu2"),
                dmc_test::linear("fc3", 16, 1)};
    return dmc_test::finish(m, seed);
}

} // namespace

TEST(Dataset, SineGridIsFixed) {
    const TestSet t = sine_test_set();
    ASSERT_EQ(t.count, 1000);
    EXPECT_EQ(t.shape, (Shape{1, 1, 1}));
    EXPECT_FLOAT_EQ(t.raw[0], float(6.283185307179586 * 0.5 / 1000));
    EXPECT_FLOAT_EQ(t.targets[250], float(std::sin(6.283185307179586 * 250.5 / 1000)));
    const CalibrationSet c = sine_calibration_set();
    ASSERT_EQ(c.count, 1000);
    EXPECT_EQ(c.raw.front(), 0.0f);
    EXPECT_FLOAT_EQ(c.raw.back(), 6.2831855f);
}

TEST(Dataset, RegressionModelRoundTripsAndReportsMse) {
    const Model m = sine_model(61);
    const Model back = parse_model(model_to_json(m));
    EXPECT_EQ(back.task, Task::Regression);
    EXPECT_EQ(back.dataset, "sine");

    const TestSet test = sine_test_set();
    const CompressedModel cm = compress_model(m, CompressionConfig{}, sine_calibration_set());
    const Report r = evaluate(cm, test);
    EXPECT_EQ(r.task, Task::Regression);
    EXPECT_EQ(r.images, 1000);
    EXPECT_DOUBLE_EQ(r.mse, score(cm, test));
    EXPECT_DOUBLE_EQ(r.float_mse, score(float_reference(m), test));
    // An untrained net predicts something far from sin(x); 8-bit keeps it
    // close to what the float net predicts, so the two errors are close.
    EXPECT_GT(r.float_mse, 0.0);
    EXPECT_NEAR(r.mse, r.float_mse, 0.05 * r.float_mse + 1e-3);
    const std::string json = report_to_json(r);
    EXPECT_NE(json.find("\"mse\""), std::string::npos);
    EXPECT_EQ(json.find("\"accuracy\""), std::string::npos);
}

TEST(Dataset, RefusesATaskWithTheWrongDataset) {
    Model m = sine_model(62);
    m.dataset = "mnist";
    EXPECT_THROW(validate_model(m), Error);
    Model c = dmc_test::small_cnn();
    c.dataset = "imagenet";
    EXPECT_THROW(validate_model(c), Error);
}

namespace {

// Expects check_model_fits to refuse, with a message holding `needle`.
void expect_misfit(const Model &m, const TestSet &test, const std::string &needle) {
    try {
        check_model_fits(m, test);
        FAIL() << "accepted; expected an error mentioning '" << needle << "'";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

// A labelled set of `count` blank images of rows x cols.
TestSet blank_images(int count, int rows, int cols) {
    ImageSet images;
    images.count = count;
    images.rows = rows;
    images.cols = cols;
    images.pixels.assign(size_t(count * rows * cols), 0);
    images.labels.assign(size_t(count), 0);
    return mnist_test_set(images);
}

} // namespace

// What issue 11 found accepted silently: images of another shape with the
// same pixel count, an empty set, a raw range MNIST does not have, and a
// classifier with other than 10 outputs.
TEST(Dataset, RefusesAModelThatDoesNotFitMnist) {
    Model m = dmc_test::small_cnn(); // 1x12x12 in, 10 out
    check_model_fits(m, blank_images(3, 12, 12));
    expect_misfit(m, blank_images(3, 6, 24), "takes 1x12x12 inputs; mnist (test set) holds 1x6x24");
    expect_misfit(m, blank_images(3, 144, 1), "holds 1x144x1");
    expect_misfit(m, blank_images(0, 12, 12), "the mnist test set holds no inputs");

    Model wide = m;
    wide.input.max = 255.0f;
    expect_misfit(wide, blank_images(3, 12, 12), "input range [0, 255] is not MNIST's [0, 1]");

    for (int outputs : {2, 11}) {
        Model other = dmc_test::small_cnn();
        other.layers.back() = dmc_test::linear("fc2", 9, outputs);
        other = dmc_test::finish(other, 3);
        expect_misfit(other, blank_images(3, 12, 12),
                      "has " + std::to_string(outputs) + " outputs; MNIST has 10 classes");
    }
}
