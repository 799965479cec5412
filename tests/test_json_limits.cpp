// JSON the engine reads (models and configs) at the edges of what the
// parser takes: numbers past a double, deep nesting, and error messages
// that would quote megabytes. Each is a dmc::Error with a short message,
// never an escaped nlohmann exception or a stack overflow.
#include <gtest/gtest.h>

#include <string>

#include "dmc/dmc.h"

using namespace dmc;

namespace {

// The message of the dmc::Error that `parse` throws on `text`.
template <typename Parse> std::string refusal(Parse parse, const std::string &text) {
    try {
        parse(text);
    } catch (const Error &e) {
        return e.what();
    }
    ADD_FAILURE() << "accepted: " << text.substr(0, 80);
    return "";
}

std::string model_refusal(const std::string &text) {
    return refusal([](const std::string &t) { parse_model(t, "model"); }, text);
}

std::string config_refusal(const std::string &text) {
    return refusal([](const std::string &t) { parse_config(t, "config"); }, text);
}

} // namespace

TEST(JsonLimits, NumberPastADoubleIsAnError) {
    EXPECT_NE(model_refusal(R"({"format":1e999})").find("not valid JSON"), std::string::npos);
    EXPECT_NE(model_refusal(R"({"layers":[{"type":"linear","out_channels":1e999}]})").find("number overflow"),
              std::string::npos);
    EXPECT_NE(config_refusal(R"({"default":{"keep":1e400}})").find("not valid JSON"), std::string::npos);
}

TEST(JsonLimits, DeepNestingIsRefusedBeforeAnythingRecurses) {
    const int levels = 100000;
    const std::string nested = std::string(levels, '[') + std::string(levels, ']');
    const std::string model = R"({"format":1,"metadata":{"a":)" + nested + "}}";
    EXPECT_NE(model_refusal(model).find("nested deeper than 64"), std::string::npos);
    EXPECT_NE(config_refusal(R"({"default":)" + nested + "}").find("nested deeper than 64"), std::string::npos);
}

TEST(JsonLimits, ErrorsQuoteAtMostAFewHundredCharacters) {
    // A file cut inside a 1 MB string: the parser's message quotes the token.
    const std::string truncated = R"({"format":1,"name":")" + std::string(1 << 20, 'x');
    const std::string message = model_refusal(truncated);
    EXPECT_NE(message.find("not valid JSON"), std::string::npos);
    EXPECT_LT(message.size(), 400u) << message.substr(0, 400);
}
