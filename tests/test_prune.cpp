// Structured pruning: the pruned (smaller, dense) model computes exactly
// what the unpruned model computes with the pruned channels zeroed.
#include <gtest/gtest.h>

#include "test_util.h"

using namespace dmc;

namespace {

std::vector<float> run_float(const Model &m, const float *raw) {
    const CompressedModel ref = float_reference(m);
    Executor run(ref);
    const float *out = static_cast<const float *>(run.run(raw));
    return std::vector<float>(out, out + m.output_shape().size());
}

// The unpruned model with the channels `pruned` drops set to zero: weights
// and bias of each dropped output channel.
Model zero_dropped_channels(const Model &m, const PrunedModel &pruned) {
    Model z = m;
    for (size_t li = 0; li < m.layers.size(); ++li) {
        Layer &l = z.layers[li];
        if (!l.has_weights()) continue;
        const std::vector<int> &kept = pruned.kept[li];
        for (int o = 0; o < l.out_channels; ++o) {
            if (std::find(kept.begin(), kept.end(), o) != kept.end()) continue;
            std::fill_n(l.weight.begin() + o * l.fan_in(), l.fan_in(), 0.0f);
            l.bias[size_t(o)] = 0.0f;
        }
    }
    return z;
}

} // namespace

TEST(Prune, PrunedModelEqualsZeroedChannelsExactly) {
    const Model m = dmc_test::small_cnn(21);
    const CalibrationSet inputs = dmc_test::random_images(m, 20, 22);
    for (const char *text :
         {R"({"layers": {"conv1": {"keep": 0.5}}})", R"({"layers": {"conv2": {"keep": 0.3}}})",
          R"({"layers": {"fc1": {"keep": 0.4}}})", R"({"default": {"keep": 0.5}, "prune_norm": "l2"})",
          R"({"default": {"keep": 0.01}})"}) {
        const CompressionConfig c = parse_config(text);
        const PrunedModel p = prune_model(m, c);
        const Model zeroed = zero_dropped_channels(m, p);
        for (int i = 0; i < inputs.count; ++i) {
            const float *raw = inputs.raw.data() + i * m.input.shape.size();
            // Exact: a removed term contributed exactly +0 to the same sums.
            ASSERT_EQ(run_float(p.model, raw), run_float(zeroed, raw)) << text << " input " << i;
        }
    }
}

TEST(Prune, ShapesFollowTheKeptChannelsThroughFlatten) {
    const Model m = dmc_test::small_cnn(23);
    const PrunedModel p = prune_model(m, parse_config(R"({"layers": {"conv2": {"keep": 0.3}, "fc1": {"keep": 0.5}}})"));
    const Layer &conv2 = p.model.layers[3], &fc1 = p.model.layers[7], &fc2 = p.model.layers[9];
    EXPECT_EQ(conv2.out_channels, 3); // ceil(0.3 * 7)
    EXPECT_EQ(conv2.weight.size(), size_t(3 * 3 * 3 * 5));
    EXPECT_EQ(fc1.in_channels, 3 * 2 * 2); // 3 channels x 2 x 2 positions
    EXPECT_EQ(fc1.out_channels, 5);        // ceil(0.5 * 9)
    EXPECT_EQ(fc2.in_channels, 5);
    EXPECT_EQ(fc2.out_channels, 10);
    // After flatten, the kept features are (h * W + w) * C + c for kept c.
    const std::vector<int> &channels = p.kept[3];
    const std::vector<int> &features = p.kept[6];
    ASSERT_EQ(features.size(), size_t(12));
    for (int pos = 0; pos < 4; ++pos)
        for (int k = 0; k < 3; ++k) EXPECT_EQ(features[size_t(pos * 3 + k)], pos * 7 + channels[size_t(k)]);
    // fc1's weights are the original's at those columns.
    const std::vector<int> &rows = p.kept[7];
    for (size_t r = 0; r < rows.size(); ++r)
        for (size_t f = 0; f < features.size(); ++f)
            EXPECT_EQ(fc1.weight[r * 12 + f], m.layers[7].weight[size_t(rows[r]) * 28 + size_t(features[f])]);
}

TEST(Prune, RanksByNormKeepingTheLargest) {
    Layer l = dmc_test::linear("fc", 3, 4);
    l.weight = {1, 1, 1,    // L1 3, L2^2 3
                0, 0, 2.9f, // L1 2.9, L2^2 8.41
                -2, 0, 0,   // L1 2, L2^2 4
                0.5, 0, 0}; // L1 0.5
    const std::vector<double> l1 = channel_importance(l, PruneNorm::L1);
    EXPECT_NEAR(l1[1], 2.9, 1e-6);
    EXPECT_EQ(select_channels(l1, 2), (std::vector<int>{0, 1}));
    EXPECT_EQ(select_channels(channel_importance(l, PruneNorm::L2), 2), (std::vector<int>{1, 2}));
    EXPECT_EQ(select_channels({1.0, 2.0, 2.0, 1.0}, 3), (std::vector<int>{0, 1, 2})); // ties: lower index
    EXPECT_EQ(select_channels({5.0, 1.0}, 0), (std::vector<int>{}));
}
