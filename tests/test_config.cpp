// The compression config: parsing, defaults, and refusals.
#include <gtest/gtest.h>

#include "test_util.h"

using namespace dmc;

namespace {

void expect_refused(const std::string &text, const std::string &needle, const Model *model = nullptr) {
    try {
        const CompressionConfig c = parse_config(text, "test config");
        if (model) validate_config(c, *model);
        FAIL() << "accepted a bad config; expected an error mentioning '" << needle << "'";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << "message '" << e.what() << "' does not mention '" << needle << "'";
    }
}

} // namespace

TEST(Config, DefaultsAndPerLayerSettings) {
    const Model m = dmc_test::small_cnn();
    const CompressionConfig none;
    for (int i : {0, 3, 7, 9}) {
        EXPECT_EQ(none.resolve(m, i).bits, 8);
        EXPECT_EQ(none.resolve(m, i).keep, 1.0);
    }
    const CompressionConfig c = parse_config(
        R"({"default": {"bits": 4, "keep": 0.5}, "layers": {"conv2": {"keep": 0.25}, "fc1": {"bits": 2}}})");
    validate_config(c, m);
    EXPECT_EQ(c.resolve(m, 0).bits, 4);
    EXPECT_EQ(c.resolve(m, 0).keep, 0.5);
    EXPECT_EQ(c.resolve(m, 3).bits, 4);
    EXPECT_EQ(c.resolve(m, 3).keep, 0.25);
    EXPECT_EQ(c.resolve(m, 7).bits, 2);
    EXPECT_EQ(c.resolve(m, 7).keep, 0.5);
    EXPECT_EQ(c.resolve(m, 9).keep, 1.0); // the output layer ignores the default keep
    EXPECT_EQ(c.resolve(m, 9).bits, 4);
}

TEST(Config, CanonicalJsonRoundTrips) {
    const CompressionConfig c = parse_config(
        R"({"layers": {"fc1": {"bits": 2}, "conv2": {"keep": 0.5, "bits": 32}}, "prune_norm": "l2"})");
    const std::string text = config_to_json(c);
    EXPECT_EQ(text, R"({"default":{"bits":8,"keep":1.0},"layers":{"conv2":{"bits":32,"keep":0.5},"fc1":{"bits":2}},"prune_norm":"l2"})");
    EXPECT_EQ(config_to_json(parse_config(text)), text);
}

TEST(Config, RefusesOutOfRangeAndUnknown) {
    const Model m = dmc_test::small_cnn();
    expect_refused(R"({"default": {"bits": 3}})", "bits 3 is not supported");
    expect_refused(R"({"default": {"bits": 16}})", "bits 16 is not supported");
    expect_refused(R"({"layers": {"conv1": {"keep": 0}}})", "outside (0, 1]");
    expect_refused(R"({"layers": {"conv1": {"keep": 1.5}}})", "outside (0, 1]");
    expect_refused(R"({"layers": {"conv1": {"keep": -0.5}}})", "outside (0, 1]");
    expect_refused(R"({"layers": {"conv1": {"bit": 4}}})", "unknown field 'bit'");
    expect_refused(R"({"defaults": {"bits": 4}})", "unknown field 'defaults'");
    expect_refused(R"({"prune_norm": "l3"})", "prune_norm 'l3'");
    expect_refused(R"({"default": {"bits": "four"}})", "must be an integer");
    expect_refused("{", "not valid JSON");
    expect_refused(R"({"layers": {"conv9": {"bits": 4}}})", "has no layer 'conv9'", &m);
    expect_refused(R"({"layers": {"relu1": {"bits": 4}}})", "only conv2d and linear", &m);
    expect_refused(R"({"layers": {"fc2": {"keep": 0.5}}})", "output layer", &m);
}

TEST(Config, KeptChannelsIsCeilingAndAtLeastOne) {
    EXPECT_EQ(kept_channels(0.5, 6), 3);
    EXPECT_EQ(kept_channels(0.5, 7), 4);
    EXPECT_EQ(kept_channels(0.3, 10), 3); // 0.3 * 10 = 3.0000000000000004 in binary
    EXPECT_EQ(kept_channels(0.01, 20), 1);
    EXPECT_EQ(kept_channels(1e-9, 500), 1);
    EXPECT_EQ(kept_channels(1.0, 500), 500);
    EXPECT_EQ(kept_channels(0.999, 500), 500);
}
