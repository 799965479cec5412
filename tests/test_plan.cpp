// The buffer plan against what a run really touches: the executor in a
// caller's arena of exactly plan.arena_bytes, with guard bytes on both
// sides, on LeNet-5 (8 and 4 bits, pruned) and on a small model with
// padding and odd shapes. Each is run twice, the memory filled first with
// one pattern and then with another: a byte the run wrote ends equal in
// both, a byte it never touched keeps its pattern. The guards must stay
// untouched (no kernel wrote outside the arena), no step may change its own
// input (no kernel wrote past its room), and the step that sets the
// arena's size must touch all of it but the tensors' alignment padding
// (the plan counted no byte more than that step needs).
#include <gtest/gtest.h>

#include <cstring>

#include "test_util.h"

using namespace dmc;

namespace {

// 3x13x11 -> conv 3x3 pad 1 -> relu -> maxpool 3x3 stride 2 pad 1 -> conv
// 3x3 stride 2 pad 1 -> relu -> avgpool 2x2 stride 1 -> flatten -> 42 -> 9
// -> 10. Its first convolution sets the arena, with scratch.
Model odd_model() {
    using dmc::LayerType;
    using namespace dmc_test;
    Model m;
    m.name = "odd";
    m.dataset = "mnist";
    m.input.shape = Shape{3, 13, 11};
    m.input.mean = 0.5f;
    m.input.std = 0.25f;
    m.layers = {conv("conv1", 3, 5, 3, 1, 1),
                simple(LayerType::ReLU, "relu1"),
                simple(LayerType::MaxPool2d, "pool1", 3, 2, 1),
                conv("conv2", 5, 7, 3, 2, 1),
                simple(LayerType::ReLU, "relu2"),
                simple(LayerType::AvgPool2d, "pool2", 2, 1),
                simple(LayerType::Flatten, "flatten"),
                linear("fc1", 7 * 3 * 2, 9),
                simple(LayerType::ReLU, "relu3"),
                linear("fc2", 9, 10)};
    return finish(m, 61);
}

int64_t aligned(int64_t bytes) { return (bytes + 15) / 16 * 16; }

constexpr int64_t kGuard = 64;

// One run of one input in a caller arena inside `memory` (kGuard bytes of
// guard on each side), all filled with `pattern` first; before the peak
// step, everything but its input is filled again. Returns the arena after
// the whole run, and in *at_peak the arena right after the peak step.
std::vector<uint8_t> run_in_arena(const CompressedModel &cm, const float *raw, uint8_t pattern,
                                  std::vector<uint8_t> *at_peak, std::vector<int8_t> *output) {
    const BufferPlan &plan = cm.plan;
    const int64_t n = plan.arena_bytes;
    std::vector<uint64_t> storage(size_t((n + 2 * kGuard) / 8 + 1));
    uint8_t *memory = reinterpret_cast<uint8_t *>(storage.data()), *arena = memory + kGuard;
    std::memset(memory, pattern, size_t(n + 2 * kGuard));
    Executor run(cm, arena, n);
    std::vector<uint8_t> input_before;
    const void *out = run.run(raw, [&](int step, const void *) {
        // The step that just ran left its input as it was.
        if (step > 0) {
            const BufferPlan::Entry &e = plan.steps[size_t(step)];
            const int64_t in = cm.steps[size_t(step) - 1].output_bytes();
            if (e.input_offset != e.output_offset && !input_before.empty()) {
                EXPECT_EQ(0, std::memcmp(input_before.data(), arena + e.input_offset, size_t(in)))
                    << "step " << cm.steps[size_t(step)].name << " changed its input";
            }
        }
        if (step + 1 == plan.peak_step) { // the peak step runs next: refill all but its input
            const BufferPlan::Entry &e = plan.steps[size_t(plan.peak_step)];
            const int64_t in = cm.steps[size_t(step)].output_bytes();
            for (int64_t i = 0; i < n; ++i)
                if (i < e.input_offset || i >= e.input_offset + in) arena[i] = pattern;
        }
        if (step == plan.peak_step) at_peak->assign(arena, arena + n);
        if (size_t(step) + 1 < cm.steps.size()) { // the next step's input, to check after it
            const BufferPlan::Entry &next = plan.steps[size_t(step) + 1];
            const uint8_t *in = arena + next.input_offset;
            input_before.assign(in, in + cm.steps[size_t(step)].output_bytes());
        }
    });
    for (int64_t i = 0; i < kGuard; ++i) {
        EXPECT_EQ(memory[i], pattern) << "guard byte " << i << " before the arena written";
        EXPECT_EQ(arena[n + i], pattern) << "guard byte " << i << " after the arena written";
    }
    const int8_t *q = static_cast<const int8_t *>(out);
    output->assign(q, q + cm.output_shape().size());
    return std::vector<uint8_t>(arena, arena + n);
}

// See the top of the file.
void check_touches_exactly_the_plan(const CompressedModel &cm, const CalibrationSet &inputs) {
    ASSERT_TRUE(cm.output_integer());
    const BufferPlan &plan = cm.plan;
    const int64_t n = plan.arena_bytes;
    ASSERT_GE(plan.peak_step, 0);
    Executor reference(cm);
    for (int i = 0; i < 3; ++i) {
        const float *raw = inputs.raw.data() + i * cm.model.input.shape.size();
        std::vector<uint8_t> peak_a, peak_b;
        std::vector<int8_t> out_a, out_b;
        const std::vector<uint8_t> a = run_in_arena(cm, raw, 0xA5, &peak_a, &out_a);
        const std::vector<uint8_t> b = run_in_arena(cm, raw, 0x5A, &peak_b, &out_b);
        const int8_t *want = static_cast<const int8_t *>(reference.run(raw));
        ASSERT_EQ(out_a, std::vector<int8_t>(want, want + cm.output_shape().size()));
        ASSERT_EQ(out_b, out_a);
        // The run reaches both ends of the arena (the top within a tensor's
        // alignment padding).
        int64_t highest = -1;
        for (int64_t k = 0; k < n; ++k)
            if (a[size_t(k)] == b[size_t(k)]) highest = k;
        EXPECT_EQ(a[0], b[0]) << "the run never wrote the arena's first byte";
        EXPECT_GE(highest, n - 16) << "the run wrote nothing in the arena's last 16 bytes";
        // The peak step touches every byte but the alignment padding.
        const int k = plan.peak_step;
        const int64_t in = k == 0 ? 0 : cm.steps[size_t(k) - 1].output_bytes(), out = cm.steps[size_t(k)].output_bytes();
        int64_t untouched = 0;
        for (int64_t j = 0; j < n; ++j) untouched += peak_a[size_t(j)] != peak_b[size_t(j)];
        EXPECT_EQ(untouched, (aligned(in) - in) + (aligned(out) - out))
            << "step " << cm.steps[size_t(k)].name << " sets the arena (" << n << " bytes) but leaves bytes untouched";
    }
}

CalibrationSet calibration_for(const Model &m) { return dmc_test::random_images(m, 40, 62); }

} // namespace

TEST(Plan, LeNet5RunsInExactlyThePlannedArena) {
    const Model m = load_model(DMC_SOURCE_DIR "/assets/lenet5.json");
    const CalibrationSet cal = calibration_for(m);
    const CompressedModel int8 = compress_model(m, parse_config(R"({"default": {"bits": 8}})"), cal);
    EXPECT_EQ(int8.plan.arena_bytes, 4704 + 1184); // pool1: conv1's 6x28x28 in, 6x14x14 out; no scratch
    check_touches_exactly_the_plan(int8, cal);
    check_touches_exactly_the_plan(
        compress_model(m, parse_config(R"({"default": {"bits": 4}, "layers": {"conv2": {"keep": 0.5}, "fc1": {"keep": 0.5}}})"), cal),
        cal);
}

TEST(Plan, PaddedOddShapesRunInExactlyThePlannedArena) {
    const Model m = odd_model();
    const CalibrationSet cal = calibration_for(m);
    for (const char *config : {R"({"default": {"bits": 8}})", R"({"default": {"bits": 4, "keep": 0.6}})",
                               R"({"default": {"bits": 2}, "layers": {"conv1": {"bits": 8}}})"}) {
        const CompressedModel cm = compress_model(m, parse_config(config), cal);
        EXPECT_EQ(cm.steps[size_t(cm.plan.peak_step)].name, "conv1") << config;
        EXPECT_GT(scratch_bytes(cm.steps[size_t(cm.plan.peak_step)]), 0) << config;
        check_touches_exactly_the_plan(cm, cal);
    }
}

// Each step's room is everything between its input and its output: the
// plan's arena less both tensors, never less than its scratch.
TEST(Plan, EachStepGetsTheRoomBetweenItsTensors) {
    const Model m = odd_model();
    const CompressedModel cm = compress_model(m, parse_config(R"({"default": {"bits": 4}})"), calibration_for(m));
    for (size_t k = 0; k < cm.steps.size(); ++k) {
        const BufferPlan::Entry &e = cm.plan.steps[k];
        if (k > 0 && e.output_offset == e.input_offset) continue; // in place
        const int64_t in = k == 0 ? 0 : aligned(cm.steps[k - 1].output_bytes());
        EXPECT_EQ(e.room_bytes, cm.plan.arena_bytes - in - aligned(cm.steps[k].output_bytes())) << k;
        EXPECT_GE(e.room_bytes, scratch_bytes(cm.steps[k])) << k;
        EXPECT_LE(e.scratch_offset + e.room_bytes, cm.plan.arena_bytes) << k;
    }
}

TEST(Plan, ExecutorRefusesASmallOrMisalignedArena) {
    const Model m = odd_model();
    const CompressedModel cm = compress_model(m, CompressionConfig{}, calibration_for(m));
    std::vector<uint64_t> storage(size_t(cm.plan.arena_bytes / 8 + 2));
    EXPECT_THROW(Executor(cm, storage.data(), cm.plan.arena_bytes - 1), Error);
    EXPECT_THROW(Executor(cm, reinterpret_cast<char *>(storage.data()) + 1, cm.plan.arena_bytes), Error);
    EXPECT_NO_THROW(Executor(cm, storage.data(), cm.plan.arena_bytes));
}
