// The engine on the real thing: MNIST from $MNIST_DIR and the trained
// classic LeNet-5 in assets/. These are the acceptance figures of the
// engine: float >= 99.0%, 8-bit within 0.2 points, 4-bit within 1 point,
// and pruning conv2 and fc1 to half shrinks flash and MACs as computed
// (accuracy after pruning is python/'s job: it fine-tunes).
#include <gtest/gtest.h>

#include <cstdlib>

#include "dmc/dmc.h"

using namespace dmc;

namespace {

// Loaded once for all tests in this file.
struct Data {
    Model model;
    ImageSet images;
    TestSet test;
    CalibrationSet calibration;
    double float_accuracy = 0.0;
};

const Data &data() {
    static const Data d = [] {
        const char *dir = std::getenv("MNIST_DIR");
        if (!dir || !*dir)
            throw Error("MNIST_DIR is not set: these tests need the MNIST IDX files "
                        "(make test sets it to ../shared/datasets/mnist)");
        Data x;
        x.model = load_model(DMC_SOURCE_DIR "/assets/lenet5.json");
        x.images = load_mnist(dir, "t10k");
        x.test = mnist_test_set(x.images);
        const ImageSet train = load_mnist(dir, "train");
        x.calibration = calibration_set(train, calibration_indices(train.count, kCalibrationImages));
        x.float_accuracy = score(float_reference(x.model), x.test);
        return x;
    }();
    return d;
}

double compressed_accuracy(const std::string &config) {
    const Data &d = data();
    return score(compress_model(d.model, parse_config(config), d.calibration), d.test);
}

} // namespace

TEST(MnistData, TestSetHasThePublishedLabelCounts) {
    const ImageSet &test = data().images;
    ASSERT_EQ(test.count, 10000);
    ASSERT_EQ(test.rows, 28);
    ASSERT_EQ(test.cols, 28);
    std::vector<int> counts(10, 0);
    for (uint8_t l : test.labels) ++counts[l];
    EXPECT_EQ(counts, (std::vector<int>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
    EXPECT_EQ(data().calibration.count, 1000);
}

TEST(Lenet5, FloatAccuracyAtLeast99) {
    EXPECT_GE(data().float_accuracy, 0.990);
}

TEST(Lenet5, EightBitWithinTwoTenthsOfAPoint) {
    const double a = compressed_accuracy(R"({"default": {"bits": 8}})");
    EXPECT_GE(a, data().float_accuracy - 0.002) << "float " << data().float_accuracy;
}

TEST(Lenet5, FourBitWithinOnePoint) {
    const double a = compressed_accuracy(R"({"default": {"bits": 4}})");
    EXPECT_GE(a, data().float_accuracy - 0.010) << "float " << data().float_accuracy;
}

TEST(Lenet5, PruningConv2AndFc1ShrinksFlashAndMacs) {
    const Data &d = data();
    const CompressedModel full = compress_model(d.model, parse_config(R"({"default": {"bits": 4}})"), d.calibration);
    const CompressedModel pruned = compress_model(
        d.model, parse_config(R"({"default": {"bits": 4}, "layers": {"conv2": {"keep": 0.5}, "fc1": {"keep": 0.5}}})"),
        d.calibration);
    const Report a = describe(full), b = describe(pruned);
    // Per layer: rows * ceil(fan_in * 4 / 8) weight bytes + 4 (bias) + 5
    // (multiplier, shift) per output channel.
    //   unpruned: conv1 6*13+54, conv2 16*75+144, fc1 120*200+1080, fc2 84*60+756, fc3 10*42+90
    //   pruned:   conv2 keeps 8 filters, fc1 60 neurons with 8*25 inputs, fc2 60 inputs
    EXPECT_EQ(a.flash_bytes, 132 + 1344 + 25080 + 5796 + 510);
    EXPECT_EQ(b.flash_bytes, 132 + 8 * 75 + 72 + 60 * 100 + 540 + 84 * 30 + 756 + 510);
    EXPECT_EQ(a.macs, 117600 + 240000 + 48000 + 10080 + 840);
    EXPECT_EQ(b.macs, 117600 + 100 * 8 * 150 + 200 * 60 + 60 * 84 + 840);
    EXPECT_EQ(b.layers[1].channels_kept, 8);
    EXPECT_EQ(b.layers[2].channels_kept, 60);
}

TEST(Lenet5, ReportAgreesWithAccuracyAndPlan) {
    const Data &d = data();
    const CompressedModel cm = compress_model(d.model, CompressionConfig{}, d.calibration);
    EvalOptions options;
    options.limit = 2000;
    const Report r = evaluate(cm, d.test, options);
    EXPECT_EQ(r.images, 2000);
    EXPECT_DOUBLE_EQ(r.accuracy, score(cm, d.test, 2000));
    EXPECT_DOUBLE_EQ(r.float_accuracy, score(float_reference(d.model), d.test, 2000));
    // The plan's peak: pool1 reads conv1's 6x28x28 output and writes 6x14x14.
    EXPECT_EQ(r.peak_ram_bytes, 4704 + 1184);
    EXPECT_EQ(r.peak_step, "pool1");
    for (const LayerReport &l : r.layers) {
        EXPECT_GT(l.weight_sqnr_db, 35.0) << l.name; // 8-bit weights (test_quantize: 40 dB on Gaussians)
        EXPECT_GT(l.output_sqnr_db, 30.0) << l.name;
    }
}
