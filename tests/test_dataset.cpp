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
