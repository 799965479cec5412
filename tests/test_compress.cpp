// The compressed model end to end on a small random CNN: float layers are
// the float model exactly, integer layers are close to it, the buffer plan
// never lets live tensors overlap, and compression is deterministic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "test_util.h"

using namespace dmc;

namespace {

std::vector<float> dequantized_output(Executor &run, const float *raw) {
    const CompressedModel &cm = run.model();
    const void *out = run.run(raw);
    const int64_t n = cm.output_shape().size();
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        v[size_t(i)] = cm.output_integer()
                           ? float(cm.output_q().scale * (static_cast<const int8_t *>(out)[i] - cm.output_q().zero_point))
                           : static_cast<const float *>(out)[i];
    return v;
}

double output_sqnr_db(const Model &m, const CompressedModel &cm, const CalibrationSet &inputs) {
    const CompressedModel ref = float_reference(m);
    Executor run_ref(ref), run(cm);
    double signal = 0, noise = 0;
    for (int i = 0; i < inputs.count; ++i) {
        const float *raw = inputs.raw.data() + i * m.input.shape.size();
        const std::vector<float> a = dequantized_output(run_ref, raw), b = dequantized_output(run, raw);
        for (size_t k = 0; k < a.size(); ++k) {
            signal += double(a[k]) * a[k];
            noise += double(b[k] - a[k]) * (b[k] - a[k]);
        }
    }
    return 10 * std::log10(signal / noise);
}

} // namespace

TEST(Compress, StepsFuseReluAndConvertAroundFloatLayers) {
    const Model m = dmc_test::small_cnn(31);
    const CalibrationSet cal = dmc_test::random_images(m, 50, 32);
    const CompressedModel all_int = compress_model(m, CompressionConfig{}, cal);
    std::string ops;
    for (const Step &s : all_int.steps) ops += std::string(op_name(s)) + (s.fused_relu ? "+relu " : " ");
    EXPECT_EQ(ops, "quantize conv2d+relu maxpool2d conv2d+relu avgpool2d flatten linear+relu linear ");
    EXPECT_TRUE(all_int.integer_only());

    const CompressedModel mixed = compress_model(m, parse_config(R"({"layers": {"conv2": {"bits": 32}}})"), cal);
    ops.clear();
    for (const Step &s : mixed.steps) ops += std::string(op_name(s)) + (s.integer ? "/i " : "/f ");
    EXPECT_EQ(ops, "quantize/i conv2d/i maxpool2d/i dequantize/f conv2d/f avgpool2d/f flatten/f quantize/i "
                   "linear/i linear/i ");
    EXPECT_FALSE(mixed.integer_only());
}

TEST(Compress, AllFloatConfigIsTheFloatModelExactly) {
    const Model m = dmc_test::small_cnn(33);
    const CalibrationSet inputs = dmc_test::random_images(m, 30, 34);
    CompressionConfig all_float;
    all_float.defaults.bits = kFloatBits;
    const CompressedModel cm = compress_model(m, all_float, inputs);
    const CompressedModel ref = float_reference(m);
    Executor a(cm), b(ref);
    for (int i = 0; i < inputs.count; ++i) {
        const float *raw = inputs.raw.data() + i * m.input.shape.size();
        ASSERT_EQ(dequantized_output(a, raw), dequantized_output(b, raw));
    }
}

TEST(Compress, QuantizedOutputsTrackTheFloatModel) {
    const Model m = dmc_test::small_cnn(35);
    const CalibrationSet cal = dmc_test::random_images(m, 200, 36);
    const CalibrationSet test = dmc_test::random_images(m, 100, 37);
    const double sqnr8 = output_sqnr_db(m, compress_model(m, CompressionConfig{}, cal), test);
    const double sqnr4 = output_sqnr_db(m, compress_model(m, parse_config(R"({"default": {"bits": 4}})"), cal), test);
    const double sqnr2 = output_sqnr_db(m, compress_model(m, parse_config(R"({"default": {"bits": 2}})"), cal), test);
    // Each of the four weight layers adds its own weight noise (test_quantize's
    // budgets: 8 bits 40 dB, 4 bits 15.5 dB, 2 bits 2 dB), so the output
    // SQNR is at least the per-layer budget minus 10 log10(4) = 6 dB. (A
    // random net with ternary weights and no fine-tuning is barely usable:
    // that is what fine-tuning in python/ is for.)
    EXPECT_GE(sqnr8, 40.0 - 6.0);
    EXPECT_GE(sqnr4, 15.5 - 6.0);
    EXPECT_GE(sqnr2, 2.0 - 6.0);
    EXPECT_GT(sqnr8, sqnr4);
    EXPECT_GT(sqnr4, sqnr2);
}

TEST(Compress, DeterministicAndPlanTensorsNeverOverlap) {
    const Model m = dmc_test::small_cnn(38);
    const CalibrationSet cal = dmc_test::random_images(m, 40, 39);
    const CompressionConfig c = parse_config(R"({"default": {"bits": 4, "keep": 0.6}, "layers": {"fc1": {"bits": 2}}})");
    const CompressedModel a = compress_model(m, c, cal), b = compress_model(m, c, cal);
    ASSERT_EQ(a.steps.size(), b.steps.size());
    for (size_t k = 0; k < a.steps.size(); ++k) {
        EXPECT_EQ(a.steps[k].weights.packed, b.steps[k].weights.packed);
        EXPECT_EQ(a.steps[k].bias, b.steps[k].bias);
        EXPECT_EQ(a.steps[k].multiplier, b.steps[k].multiplier);
        EXPECT_EQ(a.steps[k].out_q.zero_point, b.steps[k].out_q.zero_point);
    }
    // Within each step, input, scratch and output occupy disjoint ranges of
    // the arena (in-place steps excepted), all inside it.
    const BufferPlan &plan = a.plan;
    for (size_t k = 0; k < a.steps.size(); ++k) {
        const BufferPlan::Entry &e = plan.steps[k];
        const int64_t out = a.steps[k].output_bytes(), scratch = scratch_bytes(a.steps[k]);
        const int64_t in = k == 0 ? 0 : a.steps[k - 1].output_bytes();
        EXPECT_GE(e.output_offset, 0);
        EXPECT_LE(e.output_offset + out, plan.arena_bytes);
        EXPECT_LE(e.scratch_offset + scratch, plan.arena_bytes);
        if (k == 0) continue;
        EXPECT_EQ(e.input_offset, plan.steps[k - 1].output_offset);
        if (e.output_offset == e.input_offset) continue; // in place
        auto disjoint = [](int64_t a0, int64_t a1, int64_t b0, int64_t b1) { return a1 <= b0 || b1 <= a0; };
        EXPECT_TRUE(disjoint(e.input_offset, e.input_offset + in, e.output_offset, e.output_offset + out)) << k;
        EXPECT_TRUE(disjoint(e.input_offset, e.input_offset + in, e.scratch_offset, e.scratch_offset + scratch)) << k;
        EXPECT_TRUE(disjoint(e.output_offset, e.output_offset + out, e.scratch_offset, e.scratch_offset + scratch)) << k;
        // The room the step is given (all between its tensors) holds its
        // scratch and overlaps neither tensor.
        const int64_t room_end = e.scratch_offset + e.room_bytes;
        EXPECT_GE(e.room_bytes, scratch) << k;
        EXPECT_LE(room_end, plan.arena_bytes) << k;
        EXPECT_TRUE(disjoint(e.input_offset, e.input_offset + in, e.scratch_offset, room_end)) << k;
        EXPECT_TRUE(disjoint(e.output_offset, e.output_offset + out, e.scratch_offset, room_end)) << k;
    }
    // The arena is exactly the largest step's need: input + scratch + output.
    int64_t largest = 0;
    for (const BufferPlan::Entry &e : plan.steps) largest = std::max(largest, e.bytes);
    EXPECT_EQ(plan.arena_bytes, largest);
}

TEST(Compress, ExecutorArenaGivesTheSameIntegersAsSeparateBuffers) {
    const Model m = dmc_test::small_cnn(40);
    const CalibrationSet cal = dmc_test::random_images(m, 40, 41);
    const CompressedModel cm = compress_model(m, parse_config(R"({"default": {"bits": 4}})"), cal);
    Executor run(cm);
    for (int i = 0; i < 10; ++i) {
        const float *raw = cal.raw.data() + i * m.input.shape.size();
        std::vector<std::vector<uint8_t>> buffers;
        const void *in = raw;
        for (const Step &s : cm.steps) {
            buffers.emplace_back(size_t(s.output_bytes()) + 4);
            std::vector<uint8_t> scratch(size_t(scratch_bytes(s)) + 1);
            run_step(s, in, buffers.back().data(), scratch.data());
            in = buffers.back().data();
        }
        const int8_t *arena_out = static_cast<const int8_t *>(run.run(raw));
        ASSERT_EQ(0, std::memcmp(arena_out, buffers.back().data(), size_t(cm.steps.back().output_bytes())));
    }
}

TEST(Compress, LookupTableMatchesTheQuantizeStep) {
    const Model m = dmc_test::small_cnn(42);
    const CompressedModel cm = compress_model(m, CompressionConfig{}, dmc_test::random_images(m, 10, 43));
    const Step &q = cm.steps.front();
    const size_t n = size_t(q.input.size());
    for (int p = 0; p < 256; ++p) {
        const std::vector<float> raw(n, float(p) / 255.0f);
        std::vector<int8_t> out(n);
        run_step(q, raw.data(), out.data(), nullptr);
        ASSERT_EQ(cm.input_lut[p], out[0]) << p;
    }
    // MNIST normalisation: pixel p becomes exactly p - 128 there.
    EXPECT_EQ(cm.input_lut[0], -128);
    EXPECT_EQ(cm.input_lut[255], 127);
}

// Recomputes, from scratch and slowly, what calibration must find for each
// integer conv2d/linear step: the extremes over the calibration set of
// acc[c] * s_in * s_w[c], with acc the exact accumulator (bias included) on
// the integers the step really receives; then its output quantization.
TEST(Compress, CalibrationFindsTheExactAccumulatorExtremes) {
    const Model m = dmc_test::small_cnn(45);
    const CalibrationSet cal = dmc_test::random_images(m, 25, 46);
    const CompressedModel cm = compress_model(
        m, parse_config(R"({"default": {"bits": 4, "keep": 0.8}, "layers": {"conv2": {"bits": 2}, "fc1": {"bits": 8}}})"), cal);
    Executor run(cm);
    int checked = 0;
    for (size_t k = 1; k < cm.steps.size(); ++k) {
        const Step &s = cm.steps[k];
        if (!s.integer || (!s.runs(LayerType::Conv2d) && !s.runs(LayerType::Linear))) continue;
        const int64_t n = s.weights.row_length;
        std::vector<int8_t> w(size_t(s.weights.rows * n));
        for (int r = 0; r < s.weights.rows; ++r)
            unpack_row(s.weights.packed.data() + r * s.weights.row_bytes, n, s.weights.bits, w.data() + r * n);
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < cal.count; ++i) {
            std::vector<int8_t> x;
            run.run(cal.raw.data() + i * m.input.shape.size(), [&](int step, const void *out) {
                if (step == int(k) - 1) {
                    const int8_t *q = static_cast<const int8_t *>(out);
                    x.assign(q, q + s.input.size());
                }
            });
            const Layer &l = s.source;
            const int positions = s.output.height * s.output.width;
            for (int pos = 0; pos < positions; ++pos) {
                for (int c = 0; c < s.output.channels; ++c) {
                    int64_t acc = s.bias[size_t(c)];
                    if (s.runs(LayerType::Linear)) {
                        for (int64_t j = 0; j < n; ++j) acc += int64_t(x[size_t(j)]) * w[size_t(c * n + j)];
                    } else {
                        const int oy = pos / s.output.width, ox = pos % s.output.width;
                        for (int ky = 0; ky < l.kernel; ++ky)
                            for (int kx = 0; kx < l.kernel; ++kx)
                                for (int ci = 0; ci < s.input.channels; ++ci) {
                                    const int iy = oy * l.stride - l.padding + ky, ix = ox * l.stride - l.padding + kx;
                                    const bool inside = iy >= 0 && iy < s.input.height && ix >= 0 && ix < s.input.width;
                                    const int v = inside ? x[size_t((iy * s.input.width + ix) * s.input.channels + ci)]
                                                         : s.in_q.zero_point;
                                    acc += int64_t(v) * w[size_t(c * n + (ky * l.kernel + kx) * s.input.channels + ci)];
                                }
                    }
                    const double real = double(acc) * (s.in_q.scale * s.weights.scales[size_t(c)]);
                    lo = std::min(lo, real);
                    hi = std::max(hi, real);
                }
            }
        }
        const QuantParams want = activation_params(s.fused_relu ? 0.0 : lo, hi);
        EXPECT_EQ(s.out_q.scale, want.scale) << s.name;
        EXPECT_EQ(s.out_q.zero_point, want.zero_point) << s.name;
        ++checked;
    }
    EXPECT_EQ(checked, 4);
}

// The incremental compressor reuses the steps before the first change;
// whatever the order of configs, it gives exactly compress_model()'s model.
TEST(Compress, CompressorEqualsCompressingFromScratch) {
    const Model m = dmc_test::small_cnn(47);
    const CalibrationSet cal = dmc_test::random_images(m, 30, 48);
    Compressor compressor(m, cal);
    const char *configs[] = {
        R"({"default": {"bits": 8}})",
        R"({"default": {"bits": 8}, "layers": {"fc1": {"bits": 4}}})",
        R"({"default": {"bits": 8}, "layers": {"fc1": {"bits": 4, "keep": 0.5}}})",
        R"({"default": {"bits": 8}, "layers": {"conv2": {"bits": 2}, "fc1": {"bits": 4, "keep": 0.5}}})",
        R"({"default": {"bits": 8}, "layers": {"conv2": {"bits": 32}}})",
        R"({"default": {"bits": 4, "keep": 0.5}})",
        R"({"default": {"bits": 4, "keep": 0.5}, "prune_norm": "l2"})",
        R"({"default": {"bits": 8}})",
    };
    for (const char *text : configs) {
        const CompressionConfig c = parse_config(text);
        EXPECT_EQ(compressed_model_to_json(compressor.compress(c)), compressed_model_to_json(compress_model(m, c, cal)))
            << text;
    }
}

TEST(Compress, RefusesWithoutCalibrationWhenNeeded) {
    const Model m = dmc_test::small_cnn(44);
    EXPECT_THROW(compress_model(m, CompressionConfig{}, CalibrationSet{}), Error);
}
