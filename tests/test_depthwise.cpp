// The layers of model file version 2 through the engine: depthwise
// convolution, global average pooling and ReLU with a max (ReLU6), in the
// model file, pruning, compression, the buffer plan and the report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "dmc/budget.h"
#include "dmc/evaluate.h"
#include "dmc_arith.h"
#include "test_util.h"

using namespace dmc;

namespace {

Layer depthwise(const char *name, int channels, int kernel, int stride, int padding) {
    Layer l = dmc_test::simple(LayerType::DepthwiseConv2d, name, kernel, stride, padding);
    l.in_channels = l.out_channels = channels;
    return l;
}

Layer relu(const char *name, float max = std::numeric_limits<float>::infinity()) {
    Layer l = dmc_test::simple(LayerType::ReLU, name);
    l.relu_max = max;
    return l;
}

// 1x12x12 -> conv (6) -> ReLU6 -> maxpool -> ReLU(max 3) (stand-alone) ->
// depthwise (stride 2) -> ReLU6 -> 1x1 conv (8) -> ReLU -> depthwise
// (stride 2) -> global average pool -> linear (10).
Model separable(unsigned seed = 5) {
    Model m;
    m.name = "separable";
    m.input.shape = Shape{1, 12, 12};
    m.input.mean = 0.1307f;
    m.input.std = 0.3081f;
    m.layers = {dmc_test::conv("conv1", 1, 6, 3, 1, 1),
                relu("relu1", 6.0f),
                dmc_test::simple(LayerType::MaxPool2d, "pool1", 2, 1),
                relu("clamp1", 3.0f),
                depthwise("dw1", 6, 3, 2, 1),
                relu("relu2", 6.0f),
                dmc_test::conv("pw1", 6, 8, 1, 1, 0),
                relu("relu3"),
                depthwise("dw2", 8, 3, 2, 1),
                dmc_test::simple(LayerType::GlobalAvgPool2d, "gap"),
                dmc_test::linear("fc", 8, 10)};
    return dmc_test::finish(m, seed);
}

std::vector<float> run_float(const Model &m, const float *raw) {
    const CompressedModel ref = float_reference(m);
    Executor run(ref);
    const float *out = static_cast<const float *>(run.run(raw));
    return std::vector<float>(out, out + m.output_shape().size());
}

const Step &step_named(const CompressedModel &cm, const std::string &name) {
    for (const Step &s : cm.steps)
        if (s.name == name) return s;
    throw Error("no step " + name);
}

} // namespace

// ---- the model file --------------------------------------------------------

TEST(DepthwiseModelFile, ShapesMacsAndParameters) {
    const Model m = separable();
    const Layer &dw1 = m.layers[4], &gap = m.layers[9];
    EXPECT_EQ(dw1.input, (Shape{6, 11, 11}));
    EXPECT_EQ(dw1.output, (Shape{6, 6, 6}));
    EXPECT_EQ(dw1.fan_in(), 9);
    EXPECT_EQ(dw1.macs(), 6 * 6 * 6 * 9); // output elements * k * k
    EXPECT_EQ(dw1.weight.size(), size_t(6 * 9));
    EXPECT_EQ(gap.output, (Shape{8, 1, 1}));
    EXPECT_EQ(gap.macs(), 0);
    EXPECT_TRUE(dw1.has_weights());
    EXPECT_FALSE(dw1.prunable());
    EXPECT_EQ(model_format_version(m), 2);
}

TEST(DepthwiseModelFile, WritesVersion2AndReadsItBack) {
    const Model m = separable();
    const std::string text = model_to_json(m);
    EXPECT_NE(text.find("\"version\": 2"), std::string::npos);
    EXPECT_NE(text.find("\"type\": \"depthwise_conv2d\""), std::string::npos);
    EXPECT_NE(text.find("\"channels\": 6"), std::string::npos);
    const Model back = parse_model(text);
    ASSERT_EQ(back.layers.size(), m.layers.size());
    for (size_t i = 0; i < m.layers.size(); ++i) {
        EXPECT_EQ(back.layers[i].type, m.layers[i].type) << i;
        EXPECT_EQ(back.layers[i].weight, m.layers[i].weight) << i;
        EXPECT_EQ(back.layers[i].bias, m.layers[i].bias) << i;
        EXPECT_EQ(back.layers[i].output, m.layers[i].output) << i;
        EXPECT_EQ(back.layers[i].relu_max, m.layers[i].relu_max) << i;
    }
    EXPECT_EQ(model_to_json(back), text);
}

TEST(DepthwiseModelFile, VersionOneStaysVersionOne) {
    const Model m = dmc_test::small_cnn(3);
    EXPECT_EQ(model_format_version(m), 1);
    EXPECT_NE(model_to_json(m).find("\"version\": 1"), std::string::npos);
}

TEST(DepthwiseModelFile, RefusesVersion2LayersInAVersion1FileAndBadFields) {
    std::string fc_weights = "0";
    for (int i = 1; i < 100; ++i) fc_weights += ", 0.1";
    auto layers_file = [&](int version, const std::string &layers) {
        return R"({"format": "dmc-model", "version": )" + std::to_string(version) +
               R"(, "name": "m", "input": {"channels": 2, "height": 5, "width": 5}, "layers": [)" + layers +
               R"(, {"name": "f", "type": "flatten"}, {"name": "fc", "type": "linear", "in_features": 50,
                 "out_features": 2, "weight": [)" + fc_weights + R"(]}]})";
    };
    parse_model(layers_file(2, R"({"name": "r", "type": "relu", "max": 6})")); // the file itself is valid
    auto refused = [&](int version, const std::string &layer, const std::string &message) {
        try {
            parse_model(layers_file(version, layer));
            ADD_FAILURE() << "accepted " << layer;
        } catch (const Error &e) {
            EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
        }
    };
    const std::string dw =
        R"({"name": "dw", "type": "depthwise_conv2d", "channels": 2, "kernel": 1, "weight": [1, 2]})";
    refused(1, dw, "layer 'dw' (depthwise_conv2d): needs model file version 2");
    refused(1, R"({"name": "r", "type": "relu", "max": 6})", "layer 'r' (relu): needs model file version 2");
    refused(2, R"({"name": "r", "type": "relu", "max": 0})", "max 0 must be a number in (0, 1000000]");
    refused(2, R"({"name": "r", "type": "relu", "max": -6})", "must be a number in (0, 1000000]");
    refused(2, R"({"name": "dw", "type": "depthwise_conv2d", "channels": 3, "kernel": 1, "weight": [1, 2, 3]})",
            "has 3 channels but receives a 2x5x5 tensor");
    refused(2, R"({"name": "dw", "type": "depthwise_conv2d", "channels": 2, "kernel": 1, "weight": [1]})",
            "weight: has 1 values but the shape needs 2");
    refused(2, R"({"name": "dw", "type": "depthwise_conv2d", "channels": 2, "kernel": 1, "in_channels": 2, "weight": [1, 2]})",
            "in_channels");
    refused(2, R"({"name": "g", "type": "global_avgpool2d", "kernel": 2})", "kernel");
    refused(3, dw, "version 3 is not supported (this engine reads versions 1 and 2)");
}

TEST(DepthwiseModelFile, ConfigRefusesAKeepRatioOnADepthwiseLayer) {
    const Model m = separable();
    try {
        validate_config(parse_config(R"({"layers": {"dw1": {"keep": 0.5}}})"), m);
        ADD_FAILURE() << "accepted a keep ratio on dw1";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("'dw1' is a depthwise_conv2d layer; it has no keep ratio"),
                  std::string::npos)
            << e.what();
    }
    // Bits are the config's like any weight layer's; the default keep passes it by.
    const CompressionConfig c = parse_config(R"({"default": {"keep": 0.5}, "layers": {"dw1": {"bits": 2}}})");
    validate_config(c, m);
    EXPECT_EQ(c.resolve(m, 4).bits, 2);
    EXPECT_EQ(c.resolve(m, 4).keep, 1.0);
    EXPECT_EQ(c.resolve(m, 0).keep, 0.5);
}

// ---- pruning ---------------------------------------------------------------

// A conv's pruned output channels take the depthwise channels (filters and
// biases) with them, and the next layer's inputs; through global pooling
// into the linear layer. The pruned model equals the unpruned one with
// those channels zeroed, exactly.
TEST(DepthwisePrune, ChannelsPassThroughDepthwiseAndGlobalPooling) {
    const Model m = separable(7);
    const PrunedModel p = prune_model(m, parse_config(R"({"layers": {"conv1": {"keep": 0.5}, "pw1": {"keep": 0.4}}})"));
    const Layer &dw1 = p.model.layers[4], &pw1 = p.model.layers[6], &dw2 = p.model.layers[8], &fc = p.model.layers[10];
    EXPECT_EQ(dw1.out_channels, 3);
    EXPECT_EQ(dw1.weight.size(), size_t(3 * 9));
    EXPECT_EQ(pw1.in_channels, 3);
    EXPECT_EQ(pw1.out_channels, 4); // ceil(0.4 * 8)
    EXPECT_EQ(dw2.out_channels, 4);
    EXPECT_EQ(fc.in_channels, 4);
    EXPECT_EQ(p.kept[4], p.kept[0]); // the depthwise layer keeps conv1's channels
    EXPECT_EQ(p.kept[8], p.kept[6]);
    EXPECT_EQ(p.kept[9], p.kept[6]);
    // dw1's kept rows are the original rows of the kept channels.
    for (size_t i = 0; i < p.kept[4].size(); ++i) {
        const int c = p.kept[4][i];
        EXPECT_TRUE(std::equal(dw1.weight.begin() + std::ptrdiff_t(i * 9), dw1.weight.begin() + std::ptrdiff_t(i * 9 + 9),
                               m.layers[4].weight.begin() + c * 9));
        EXPECT_EQ(dw1.bias[i], m.layers[4].bias[size_t(c)]);
    }

    Model zeroed = m;
    for (size_t li = 0; li < m.layers.size(); ++li) {
        Layer &l = zeroed.layers[li];
        if (!l.has_weights()) continue;
        for (int o = 0; o < l.out_channels; ++o) {
            if (std::find(p.kept[li].begin(), p.kept[li].end(), o) != p.kept[li].end()) continue;
            std::fill_n(l.weight.begin() + o * l.fan_in(), l.fan_in(), 0.0f);
            l.bias[size_t(o)] = 0.0f;
        }
    }
    const CalibrationSet inputs = dmc_test::random_images(m, 10, 8);
    for (int i = 0; i < inputs.count; ++i) {
        const float *raw = inputs.raw.data() + i * m.input.shape.size();
        ASSERT_EQ(run_float(p.model, raw), run_float(zeroed, raw)) << "input " << i;
    }
}

// ---- compression, the plan and the report ----------------------------------

TEST(DepthwiseCompress, StepsFuseTheClampAndQuantizeItsMax) {
    const Model m = separable();
    const CompressedModel cm = compress_model(m, parse_config(R"({"default": {"bits": 4}})"), dmc_test::random_images(m, 30, 9));
    std::vector<std::string> ops;
    for (const Step &s : cm.steps) ops.push_back(op_name(s));
    EXPECT_EQ(ops, (std::vector<std::string>{"quantize", "conv2d", "maxpool2d", "relu", "depthwise_conv2d", "conv2d",
                                             "depthwise_conv2d", "global_avgpool2d", "linear"}));
    const Step &conv1 = step_named(cm, "conv1"), &clamp1 = step_named(cm, "clamp1"), &dw1 = step_named(cm, "dw1");
    EXPECT_TRUE(conv1.fused_relu);
    EXPECT_EQ(conv1.relu_max, 6.0f);
    // The range is clipped to [0, 6]; act_max = min(127, z + round(6 / s)).
    EXPECT_LE(conv1.out_q.scale, 6.0 / 255 + 1e-12);
    EXPECT_EQ(conv1.act_max, std::min(127, conv1.out_q.zero_point + int(std::floor(6.0 / conv1.out_q.scale + 0.5))));
    // The stand-alone clamp keeps its input's scale: max 3 lands inside the int8 range.
    EXPECT_EQ(clamp1.in_q.scale, conv1.out_q.scale);
    EXPECT_EQ(clamp1.act_min, conv1.out_q.zero_point);
    EXPECT_EQ(clamp1.act_max, conv1.out_q.zero_point + int(std::floor(3.0 / conv1.out_q.scale + 0.5)));
    EXPECT_LT(clamp1.act_max, 127);
    EXPECT_TRUE(dw1.fused_relu);
    EXPECT_EQ(dw1.weights.bits, 4);
    EXPECT_EQ(dw1.weights.rows, 6);
    EXPECT_EQ(dw1.weights.row_length, 9);
    const Step &gap = step_named(cm, "gap");
    EXPECT_EQ(gap.out_q.scale, gap.in_q.scale);
    EXPECT_EQ(gap.pool_divisor.multiplier, quantize_multiplier(1.0 / 9).multiplier);
    EXPECT_EQ(gap.pool_divisor.shift, quantize_multiplier(1.0 / 9).shift);
}

// The integer depthwise step, run by the executor inside the whole model,
// against the definition computed here from the step's own parameters.
TEST(DepthwiseCompress, ExecutorStepEqualsThePlainDefinition) {
    const Model m = separable(11);
    const CalibrationSet calibration = dmc_test::random_images(m, 20, 12);
    for (int bits : {8, 4, 2}) {
        CompressionConfig c = parse_config(R"({"layers": {"conv1": {"keep": 0.5}}})");
        c.defaults.bits = bits;
        const CompressedModel cm = compress_model(m, c, calibration);
        size_t k = 0;
        while (cm.steps[k].name != "dw1") ++k;
        const Step &s = cm.steps[k];
        std::vector<int8_t> input, output;
        Executor run(cm);
        run.run(calibration.raw.data(), [&](int step, const void *out) {
            const int8_t *q = static_cast<const int8_t *>(out);
            if (size_t(step) == k - 1) input.assign(q, q + s.input.size());
            if (size_t(step) == k) output.assign(q, q + s.output.size());
        });
        const std::vector<float> w = dequantize_weights(s.weights);
        const int C = s.input.channels, K = s.source.kernel;
        std::vector<int8_t> want(output.size());
        for (int oy = 0; oy < s.output.height; ++oy)
            for (int ox = 0; ox < s.output.width; ++ox)
                for (int ch = 0; ch < C; ++ch) {
                    int64_t acc = s.bias[size_t(ch)];
                    for (int ky = 0; ky < K; ++ky)
                        for (int kx = 0; kx < K; ++kx) {
                            const int iy = oy * s.source.stride - s.source.padding + ky;
                            const int ix = ox * s.source.stride - s.source.padding + kx;
                            const bool inside = iy >= 0 && iy < s.input.height && ix >= 0 && ix < s.input.width;
                            const int x = inside ? input[size_t((iy * s.input.width + ix) * C + ch)] : s.in_q.zero_point;
                            const int q = dmc_packed_get(s.weights.packed.data() + ch * s.weights.row_bytes, ky * K + kx, bits);
                            acc += int64_t(x) * q;
                        }
                    const int64_t v = (acc * s.multiplier[size_t(ch)] + (int64_t(1) << (s.shift[size_t(ch)] - 1))) >>
                                      s.shift[size_t(ch)];
                    want[size_t((oy * s.output.width + ox) * C + ch)] =
                        int8_t(std::max<int64_t>(s.act_min, std::min<int64_t>(s.act_max, v + s.out_q.zero_point)));
                }
        ASSERT_EQ(output, want) << "bits " << bits;
        EXPECT_EQ(w.size(), size_t(3 * 9)); // conv1's keep 0.5 reached dw1
    }
}

TEST(DepthwiseCompress, TracksTheFloatModelAndTheCompressorReusesSteps) {
    const Model m = separable(13);
    const CalibrationSet calibration = dmc_test::random_images(m, 40, 14);
    const CompressedModel cm = compress_model(m, parse_config("{}"), calibration);
    const CompressedModel ref = float_reference(m);
    Executor run(cm), run_ref(ref);
    double signal = 0, noise = 0;
    for (int i = 0; i < calibration.count; ++i) {
        const float *raw = calibration.raw.data() + i * m.input.shape.size();
        const void *q = run.run(raw);
        const float *f = static_cast<const float *>(run_ref.run(raw));
        for (int o = 0; o < 10; ++o) {
            const double y = tensor_value(cm.steps.back(), q, o);
            signal += double(f[o]) * f[o];
            noise += (y - f[o]) * (y - f[o]);
        }
    }
    EXPECT_GT(sqnr_db(signal, noise), 25.0);

    Compressor compressor(m, calibration);
    for (const char *text : {R"({"layers": {"dw1": {"bits": 2}}})", R"({"layers": {"dw2": {"bits": 4}}})",
                             R"({"layers": {"pw1": {"keep": 0.5}, "dw2": {"bits": 2}}})"}) {
        const CompressedModel a = compressor.compress(parse_config(text));
        const CompressedModel b = compress_model(m, parse_config(text), calibration);
        EXPECT_EQ(compressed_model_to_json(a), compressed_model_to_json(b)) << text;
        EXPECT_EQ(a.step_keys, b.step_keys) << text;
    }
    // A different max is a different step.
    Model m6 = m;
    m6.layers[5].relu_max = 5.0f;
    const CompressedModel c6 = compress_model(m6, parse_config("{}"), calibration);
    EXPECT_NE(c6.step_keys[4], cm.step_keys[4]);
}

TEST(DepthwiseReport, ParamsFlashMacsAndPeakRam) {
    const Model m = separable(15);
    const CompressedModel cm =
        compress_model(m, parse_config(R"({"layers": {"dw1": {"bits": 2}, "conv1": {"keep": 0.5}}})"),
                       dmc_test::random_images(m, 10, 16));
    const Report r = describe(cm);
    const LayerReport *dw1 = nullptr;
    for (const LayerReport &l : r.layers)
        if (l.name == "dw1") dw1 = &l;
    ASSERT_NE(dw1, nullptr);
    EXPECT_EQ(dw1->type, "depthwise_conv2d");
    EXPECT_EQ(dw1->channels_total, 6);
    EXPECT_EQ(dw1->channels_kept, 3);
    EXPECT_EQ(dw1->bits, 2);
    EXPECT_EQ(dw1->keep, 1.0);
    EXPECT_EQ(dw1->params, 3 * 9 + 3);
    EXPECT_EQ(dw1->weight_bytes, 3 * 3); // 9 two-bit weights: 3 bytes a row
    EXPECT_EQ(dw1->bias_bytes, 12);
    EXPECT_EQ(dw1->constant_bytes, 15);
    EXPECT_EQ(dw1->macs, 3 * 6 * 6 * 9);
    EXPECT_TRUE(std::isfinite(dw1->weight_sqnr_db));
    EXPECT_EQ(r.layers.size(), 5u); // conv1, dw1, pw1, dw2, fc
    // The plan: the largest input + output (no scratch for the new ops).
    int64_t most = 0;
    for (size_t k = 1; k < cm.steps.size(); ++k) {
        const Step &s = cm.steps[k];
        if (s.runs(LayerType::DepthwiseConv2d) || s.runs(LayerType::GlobalAvgPool2d)) {
            EXPECT_EQ(scratch_bytes(s), 0);
        }
        if (s.runs(LayerType::ReLU)) continue; // in place
        most = std::max(most, (cm.steps[k - 1].output_bytes() + 15) / 16 * 16 + (scratch_bytes(s) + 15) / 16 * 16 +
                                  (s.output_bytes() + 15) / 16 * 16);
    }
    EXPECT_EQ(r.peak_ram_bytes, most);
    // The float reference clamps at the max.
    const CompressedModel ref = float_reference(m);
    Executor run(ref);
    const CalibrationSet in = dmc_test::random_images(m, 3, 17);
    run.run(in.raw.data(), [&](int k, const void *out) {
        const Step &s = ref.steps[size_t(k)];
        const float top = s.runs(LayerType::ReLU) ? s.source.relu_max : s.fused_relu ? s.relu_max : INFINITY;
        const float *v = static_cast<const float *>(out);
        for (int64_t e = 0; e < s.output.size(); ++e) {
            ASSERT_LE(v[e], top) << s.name;
        }
    });
}

// The budget search through depthwise layers (no keep of their own: their
// channels follow the layer before) and global pooling: footprint() gives
// the compressed model's figures, and on a space small enough to enumerate
// (bits {8, 2} everywhere, keep {1, 0.5} on conv1 and pw1: 128 configs) the
// solver's answer fits, is priced exactly and comes within 3 right answers
// of the true optimum.
TEST(DepthwiseBudget, FootprintAndSolverThroughDepthwiseLayers) {
    const Model m = separable();
    const CalibrationSet calibration = dmc_test::random_images(m, 30, 3);
    for (const char *text : {R"({})", R"({"default": {"bits": 2}, "layers": {"pw1": {"keep": 0.5}}})",
                             R"({"layers": {"conv1": {"bits": 4, "keep": 0.5}, "dw1": {"bits": 2}, "pw1": {"keep": 0.25}}})",
                             R"({"layers": {"dw2": {"bits": 32}, "conv1": {"keep": 0.75}}})"}) {
        const CompressionConfig c = parse_config(text);
        const CompressedModel cm = compress_model(m, c, calibration);
        const Footprint f = footprint(m, c);
        EXPECT_EQ(f.flash_bytes, describe(cm).flash_bytes) << text;
        EXPECT_EQ(f.macs, describe(cm).macs) << text;
        EXPECT_EQ(f.peak_ram_bytes, cm.plan.arena_bytes) << text;
    }

    TestSet test = dmc_test::random_test_set(300, 6);
    {
        const CompressedModel reference = float_reference(m);
        Executor run(reference);
        for (int i = 0; i < test.count; ++i) test.labels[size_t(i)] = uint8_t(predicted_class(reference, test.run(run, i)));
    }
    const BudgetChoices choices{{8, 2}, {1.0, 0.5}};
    std::vector<std::pair<int64_t, int>> all; // flash, right answers
    {
        Compressor compressor(m, calibration);
        IncrementalScorer scorer(test);
        for (int code = 0; code < 128; ++code) {
            CompressionConfig c;
            int bit = 0;
            for (const char *name : {"conv1", "dw1", "pw1", "dw2", "fc"}) c.layers[name].bits = (code >> bit++) & 1 ? 2 : 8;
            for (const char *name : {"conv1", "pw1"})
                if ((code >> bit++) & 1) c.layers[name].keep = 0.5;
            all.push_back({footprint(m, c).flash_bytes, scorer.correct(compressor.compress(c))});
        }
    }
    const int64_t largest = footprint(m, CompressionConfig{}).flash_bytes;
    const int64_t least =
        footprint(m, parse_config(R"({"default": {"bits": 2}, "layers": {"conv1": {"keep": 0.5}, "pw1": {"keep": 0.5}}})"))
            .flash_bytes;
    BudgetOptions options;
    options.subset_images = 150;
    for (int64_t budget : {least, (least + largest) / 2, largest}) {
        int optimum = -1;
        for (const auto &e : all)
            if (e.first <= budget) optimum = std::max(optimum, e.second);
        Compressor compressor(m, calibration);
        Budget b;
        b.flash_bytes = budget;
        const BudgetOutcome found = solve_budget(compressor, test, b, choices, options);
        EXPECT_LE(found.best.cost.flash_bytes, budget);
        EXPECT_EQ(found.best.cost.flash_bytes, describe(compress_model(m, found.best.config, calibration)).flash_bytes);
        EXPECT_GE(int(std::lround(found.best.accuracy * test.count)), optimum - 3) << "budget " << budget;
        for (const char *dw : {"dw1", "dw2"})
            EXPECT_FALSE(found.best.config.layers.count(dw) && found.best.config.layers.at(dw).keep) << dw;
    }
}
