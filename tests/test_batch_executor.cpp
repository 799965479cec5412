// The batch executor against the one-input executor: the same bytes at
// every step, for integer, sub-byte, pruned and mixed float/integer models,
// whole and partial batches, and runs resumed part way.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dmc/dmc.h"
#include "test_util.h"

using namespace dmc;

namespace {

std::vector<uint8_t> random_pixels(int n, int64_t size, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pixel(0, 255);
    std::vector<uint8_t> v(size_t(n) * size_t(size));
    for (uint8_t &p : v) p = uint8_t(pixel(rng));
    return v;
}

int64_t step_bytes(const CompressedModel &cm, int k) { return cm.steps[size_t(k)].output_bytes(); }

// Every step's output for every image, one image at a time.
std::vector<std::vector<std::string>> one_at_a_time(const CompressedModel &cm, const std::vector<uint8_t> &pixels,
                                                    int n) {
    Executor run(cm);
    const int64_t size = cm.steps[0].input.size();
    std::vector<std::vector<std::string>> outputs(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
        run.run_u8(pixels.data() + i * size, [&](int k, const void *out) {
            outputs[size_t(i)].emplace_back(static_cast<const char *>(out), size_t(step_bytes(cm, k)));
        });
    return outputs;
}

// The same through a BatchExecutor of `capacity`, in batches of at most
// that many (the last one partial).
std::vector<std::vector<std::string>> batched(const CompressedModel &cm, const std::vector<uint8_t> &pixels, int n,
                                              int capacity) {
    BatchExecutor run(cm, capacity);
    const int64_t size = cm.steps[0].input.size();
    std::vector<std::vector<std::string>> outputs(static_cast<size_t>(n));
    for (int first = 0; first < n; first += capacity) {
        const int count = std::min(capacity, n - first);
        std::vector<const uint8_t *> images;
        for (int i = 0; i < count; ++i) images.push_back(pixels.data() + (first + i) * size);
        run.run_u8(images.data(), count, [&](int k, int i, const void *out) {
            outputs[size_t(first + i)].emplace_back(static_cast<const char *>(out), size_t(step_bytes(cm, k)));
        });
        for (int i = 0; i < count; ++i) {
            const std::string &last = outputs[size_t(first + i)].back();
            EXPECT_EQ(std::memcmp(run.output(i), last.data(), last.size()), 0);
        }
    }
    return outputs;
}

void expect_same_as_executor(const Model &m, const std::string &config, int capacity) {
    const CalibrationSet cal = dmc_test::random_images(m, 40, 7);
    const CompressedModel cm = compress_model(m, parse_config(config), cal);
    const int n = 2 * capacity + 3;
    const std::vector<uint8_t> pixels = random_pixels(n, cm.steps[0].input.size(), 8);
    const auto want = one_at_a_time(cm, pixels, n), got = batched(cm, pixels, n, capacity);
    for (int i = 0; i < n; ++i) {
        ASSERT_EQ(got[size_t(i)].size(), cm.steps.size()) << config << " image " << i;
        for (size_t k = 0; k < cm.steps.size(); ++k)
            ASSERT_TRUE(got[size_t(i)][k] == want[size_t(i)][k])
                << config << ", capacity " << capacity << ": image " << i << " differs after step " << k << " ("
                << cm.steps[k].name << ")";
    }
}

const char *const kConfigs[] = {
    R"({})",                                                                  // 8 bits
    R"({"default": {"bits": 4}, "layers": {"conv2": {"keep": 0.5}, "fc1": {"keep": 0.4}}})",
    R"({"default": {"bits": 2}})",
    R"({"layers": {"fc1": {"bits": 32}}})",                                   // a float layer in between
    R"({"layers": {"conv1": {"bits": 32}, "fc3": {"bits": 4}}})",             // a float first layer
    R"({"default": {"bits": 32}})",                                           // all float
};

} // namespace

TEST(BatchExecutor, Lenet5GivesTheExecutorsBytesAtEveryStep) {
    const Model m = load_model(DMC_SOURCE_DIR "/assets/lenet5.json");
    for (const char *config : kConfigs) expect_same_as_executor(m, config, 16);
}

// Capacity 1 and a capacity not a multiple of the convolution's blocks of
// four; small_cnn adds average pooling, padding and a stride-2 convolution.
TEST(BatchExecutor, SmallCnnAnyCapacity) {
    const Model m = dmc_test::small_cnn(5);
    for (int capacity : {1, 7, 33})
        for (const char *config : {R"({})", R"({"default": {"bits": 4}, "layers": {"conv2": {"bits": 32}}})"})
            expect_same_as_executor(m, config, capacity);
}

TEST(BatchExecutor, ResumesAtAStepAsTheExecutorDoes) {
    const Model m = load_model(DMC_SOURCE_DIR "/assets/lenet5.json");
    const CompressedModel cm =
        compress_model(m, parse_config(R"({"default": {"bits": 4}})"), dmc_test::random_images(m, 40, 9));
    const int n = 10;
    const std::vector<uint8_t> pixels = random_pixels(n, cm.steps[0].input.size(), 10);
    const auto want = one_at_a_time(cm, pixels, n);
    BatchExecutor run(cm, n);
    for (int step = 1; step < int(cm.steps.size()); ++step) {
        for (int i = 0; i < n; ++i) {
            const std::string &in = want[size_t(i)][size_t(step) - 1];
            std::memcpy(run.step_input(step, i), in.data(), in.size());
        }
        run.run_from(step, n);
        for (int i = 0; i < n; ++i) {
            const std::string &out = want[size_t(i)].back();
            ASSERT_EQ(std::memcmp(run.output(i), out.data(), out.size()), 0) << "resumed at " << step << ", image " << i;
        }
    }
}

TEST(BatchExecutor, RefusesBadSizes) {
    const Model m = dmc_test::small_cnn(6);
    const CompressedModel cm = compress_model(m, CompressionConfig{}, dmc_test::random_images(m, 10, 11));
    EXPECT_THROW(BatchExecutor(cm, 0), Error);
    EXPECT_THROW(BatchExecutor(cm, 5000), Error);
    BatchExecutor run(cm, 4);
    const std::vector<uint8_t> pixels = random_pixels(5, 144, 12);
    const uint8_t *images[5] = {pixels.data(), pixels.data() + 144, pixels.data() + 288, pixels.data() + 432,
                                pixels.data() + 576};
    EXPECT_THROW(run.run_u8(images, 5), Error);
    EXPECT_THROW(run.run_u8(images, 0), Error);
    EXPECT_THROW(run.run_from(0, 4), Error);
    EXPECT_THROW(run.step_input(1, 4), Error);
}
