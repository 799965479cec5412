// The engine functions the workbench stands on: sweep points, the greedy
// "smallest within a drop" search, the stratified order, the output-SQNR
// sums, the regression helpers and the number formats. Each is checked
// against the figure the engine gives another way (sweep_layer, score,
// evaluate), to the last bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>

#include "test_util.h"

using namespace dmc;

TEST(Search, SweepPointIsSweepLayersPoint) {
    const Model m = dmc_test::small_cnn(3);
    const CalibrationSet calibration = dmc_test::random_images(m, 50, 4);
    const TestSet test = dmc_test::random_test_set(200, 5);
    const Sweep sweep = sweep_layer(m, "conv2", {8, 4, 2}, {0.5}, calibration, test, 150);
    Compressor compressor(m, calibration);
    ASSERT_EQ(sweep.by_bits.size(), 3u);
    for (const SweepPoint &want : sweep.by_bits) {
        const SweepPoint p = sweep_point(compressor, test, "conv2", want.bits, 1.0, 150);
        EXPECT_EQ(p.bits, want.bits);
        EXPECT_EQ(p.keep, 1.0);
        EXPECT_EQ(p.score, want.score) << want.bits << " bits";
    }
    const SweepPoint p = sweep_point(compressor, test, "conv2", kFloatBits, 0.5, 150);
    EXPECT_EQ(p.score, sweep.by_keep.at(0).score);
    // And what a fresh compression of the same config scores.
    CompressionConfig c;
    c.defaults.bits = kFloatBits;
    c.layers["conv2"].bits = 4;
    EXPECT_EQ(sweep_point(compressor, test, "conv2", 4, 1.0, 150).score, score(compress_model(m, c, calibration), test, 150));
}

TEST(Search, RefusesRegressionModels) {
    Model m;
    m.name = "sine";
    m.task = Task::Regression;
    m.dataset = "sine";
    m.input.shape = Shape{1, 1, 1};
    m.layers = {dmc_test::linear("fc1", 1, 4), dmc_test::simple(LayerType::ReLU, "relu1"), dmc_test::linear("fc2", 4, 1)};
    m = dmc_test::finish(m, 7);
    Compressor compressor(m, sine_calibration_set());
    EXPECT_THROW(smallest_within(compressor, sine_test_set(), 1.0), Error);
}

// The preset on the trained LeNet-5 and the 10,000 MNIST test images.
TEST(Search, SmallestWithinOnePointOnLenet5) {
    const char *dir = std::getenv("MNIST_DIR");
    if (!dir || !*dir) GTEST_SKIP() << "needs MNIST_DIR";
    const Model model = load_model(DMC_SOURCE_DIR "/assets/lenet5.json");
    const TestSet test = mnist_test_set(load_mnist(dir, "t10k"));
    const ImageSet train = load_mnist(dir, "train");
    const CalibrationSet calibration = calibration_set(train, calibration_indices(train.count, kCalibrationImages));
    Compressor compressor(model, calibration);
    std::vector<SearchStage> stages;
    int last_done = 0, total = 0;
    const SearchOutcome found =
        smallest_within(compressor, test, 1.0, {}, [&](SearchStage stage, int done, int all) {
            stages.push_back(stage);
            last_done = done;
            total = all;
        });
    const double float_accuracy = score(float_reference(model), test);
    const CompressedModel cm = compress_model(model, found.config, calibration);
    // What the search reports is what the engine measures for its config.
    EXPECT_EQ(found.accuracy, score(cm, test));
    EXPECT_EQ(found.flash_bytes, describe(cm).flash_bytes);
    EXPECT_GE(found.accuracy, float_accuracy - 0.01);
    EXPECT_EQ(total, 5 * 7); // five weight layers, seven rungs
    EXPECT_EQ(last_done, found.tries);
    ASSERT_FALSE(stages.empty());
    EXPECT_EQ(stages.back(), SearchStage::FullCheck);
    EXPECT_EQ(std::count(stages.begin(), stages.end(), SearchStage::Screening), found.tries);
    // The workbench's preset (tests/browser/screenshot.cjs shows it): all
    // 4-bit, fc1 keeping 0.75 and fc2 0.5 of their channels; 9,910 of the
    // 10,000 images right (float: 9,950).
    EXPECT_EQ(config_to_json(found.config),
              config_to_json(parse_config(R"({"layers": {"conv1": {"bits": 4}, "conv2": {"bits": 4},
                  "fc1": {"bits": 4, "keep": 0.75}, "fc2": {"bits": 4, "keep": 0.5}, "fc3": {"bits": 4}}})")));
    EXPECT_EQ(found.accuracy, 9910.0 / 10000);
    EXPECT_EQ(float_accuracy, 9950.0 / 10000);
    EXPECT_EQ(found.flash_bytes, 22854);
    EXPECT_EQ(found.tries, 12);
}

TEST(Dataset, StratifiedOrderIsAStratifiedPermutation) {
    // Uneven classes: 3 has five times the inputs of 7.
    TestSet t;
    t.count = 0;
    std::mt19937 rng(9);
    for (int c = 0; c < 10; ++c)
        for (int k = 0; k < (c == 3 ? 250 : c == 7 ? 50 : 100); ++k) t.labels.push_back(uint8_t(c)), ++t.count;
    std::shuffle(t.labels.begin(), t.labels.end(), rng);
    const std::vector<int> order = stratified_order(t);
    ASSERT_EQ(int(order.size()), t.count);
    std::vector<int> seen(size_t(t.count), 0);
    for (int i : order) seen.at(size_t(i))++;
    for (int s : seen) EXPECT_EQ(s, 1);
    std::map<int, int> whole, head;
    for (uint8_t l : t.labels) whole[l]++;
    // Every prefix holds each class in its share of the whole, within two.
    double worst = 0.0;
    for (size_t p = 0; p < order.size(); ++p) {
        head[t.labels[size_t(order[p])]]++;
        for (auto &w : whole)
            worst = std::max(worst, std::fabs(head[w.first] - double(w.second) * double(p + 1) / t.count));
    }
    EXPECT_LE(worst, 2.0);
    // Seeded: the same order again, another for another seed.
    EXPECT_EQ(stratified_order(t), order);
    EXPECT_NE(stratified_order(t, 2), order);
}

TEST(Dataset, StratifiedOrderOfAnUnlabelledSetIsASeededShuffle) {
    const TestSet t = sine_test_set();
    const std::vector<int> order = stratified_order(t);
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < t.count; ++i) ASSERT_EQ(sorted[size_t(i)], i);
    EXPECT_NE(order, sorted);
    EXPECT_EQ(stratified_order(t), order);
}

// The sums formed by hand, input by input, give evaluate()'s per-layer
// output SQNR to the last bit.
TEST(Evaluate, SqnrSumsGiveEvaluatesOutputSqnr) {
    const Model m = dmc_test::small_cnn(11);
    const CalibrationSet calibration = dmc_test::random_images(m, 40, 12);
    const TestSet test = dmc_test::random_test_set(60, 13);
    const CompressedModel cm =
        compress_model(m, parse_config(R"({"default": {"bits": 4}, "layers": {"conv1": {"keep": 0.6}, "fc1": {"bits": 32}}})"),
                       calibration);
    const Report want = evaluate(cm, test);
    const CompressedModel reference = float_reference(m);
    Executor run_float(reference), run(cm);
    std::map<int, std::vector<float>> float_outputs; // by layer
    std::map<int, SqnrSums> sums;                    // by layer
    for (int i = 0; i < test.count; ++i) {
        test.run(run_float, i, [&](int k, const void *out) {
            const Step &s = reference.steps[size_t(k)];
            if (!s.runs(LayerType::Conv2d) && !s.runs(LayerType::Linear)) return;
            const float *v = static_cast<const float *>(out);
            float_outputs[s.layer].assign(v, v + s.output.size());
        });
        test.run(run, i, [&](int k, const void *out) {
            const Step &s = cm.steps[size_t(k)];
            if (s.runs(LayerType::Conv2d) || s.runs(LayerType::Linear)) sums[s.layer].add(cm, k, out, float_outputs[s.layer].data());
        });
    }
    ASSERT_EQ(want.layers.size(), sums.size());
    for (const LayerReport &l : want.layers) {
        EXPECT_EQ(sums[l.layer].db(), l.output_sqnr_db) << l.name;
        EXPECT_EQ(sqnr_db(sums[l.layer].signal, sums[l.layer].noise), l.output_sqnr_db) << l.name;
    }
    // Every layer sees noise, fc1 too (float, fed by 4-bit convolutions):
    // the comparison above is between finite numbers.
    for (const LayerReport &l : want.layers) EXPECT_TRUE(std::isfinite(l.output_sqnr_db)) << l.name;
}

TEST(Evaluate, SqnrDbEdges) {
    EXPECT_EQ(sqnr_db(1.0, 0.0), std::numeric_limits<double>::infinity());
    EXPECT_EQ(sqnr_db(0.0, 1.0), -std::numeric_limits<double>::infinity());
    EXPECT_EQ(sqnr_db(100.0, 1.0), 20.0);
    SqnrSums none;
    EXPECT_EQ(none.db(), std::numeric_limits<double>::infinity());
}

// The regression helpers: score() is the mean of squared_error(), and the
// curve is the outputs score() measured.
TEST(Evaluate, SquaredErrorAndOutputCurveAreScores) {
    const Model sine = load_model(DMC_SOURCE_DIR "/assets/sine.json");
    const TestSet grid = sine_test_set();
    const CompressedModel cm = compress_model(sine, parse_config(R"({"default": {"bits": 4}})"), sine_calibration_set());
    Executor run(cm);
    double sum = 0.0;
    for (int i = 0; i < grid.count; ++i) sum += squared_error(cm, grid.run(run, i), grid, i);
    EXPECT_EQ(sum / grid.count, score(cm, grid));
    const std::vector<float> curve = output_curve(cm, grid, 0);
    ASSERT_EQ(int(curve.size()), grid.count);
    for (int i = 0; i < grid.count; ++i)
        ASSERT_EQ(curve[size_t(i)], float(tensor_value(cm.steps.back(), grid.run(run, i), 0))) << i;
    // No targets for an input: no error counted.
    TestSet short_targets = grid;
    short_targets.targets.resize(10);
    EXPECT_EQ(squared_error(cm, grid.run(run, 10), short_targets, 10), 0.0);
}

TEST(Text, NumberFormats) {
    EXPECT_EQ(with_commas(0), "0");
    EXPECT_EQ(with_commas(999), "999");
    EXPECT_EQ(with_commas(1000), "1,000");
    EXPECT_EQ(with_commas(246824), "246,824");
    EXPECT_EQ(with_commas(1234567), "1,234,567");
    EXPECT_EQ(with_commas(-1234), "-1,234");
    EXPECT_EQ(with_commas(-123), "-123");
    EXPECT_EQ(with_commas(std::numeric_limits<int64_t>::min()), "-9,223,372,036,854,775,808");
    EXPECT_EQ(db_text(34.46), "34.5");
    EXPECT_EQ(db_text(34.46, true), "34.5 dB");
    EXPECT_EQ(db_text(std::numeric_limits<double>::infinity(), true), "exact");
    EXPECT_EQ(db_text(-std::numeric_limits<double>::infinity()), "-inf");
    EXPECT_EQ(db_text(std::nan(""), true), "-");
    EXPECT_EQ(percent_text(0.995), "99.50%");
}
