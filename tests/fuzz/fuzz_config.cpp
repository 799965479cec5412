// fuzz_config.cpp - libFuzzer target: bytes as a compression config
// (parse_config, validate_config) for a small fixed model, then compress,
// run and export it (fuzz_common.h).
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_common.h"

namespace {

// conv 1->3 (3x3, padding 1), relu, max pool, flatten, linear 48->10:
// every kind of step a config can change. Weights follow a fixed pattern.
dmc::Model small_model() {
    const char *text = R"({"format": "dmc-model", "version": 1, "name": "fuzz",
      "input": {"channels": 1, "height": 8, "width": 8},
      "layers": [
        {"name": "conv1", "type": "conv2d", "in_channels": 1, "out_channels": 3, "kernel": 3, "padding": 1},
        {"name": "relu1", "type": "relu"},
        {"name": "pool1", "type": "maxpool2d", "kernel": 2},
        {"name": "flatten", "type": "flatten"},
        {"name": "fc1", "type": "linear", "in_features": 48, "out_features": 10}]})";
    nlohmann::json j = nlohmann::json::parse(text);
    for (auto &layer : j["layers"]) {
        if (!layer.contains("out_channels") && !layer.contains("out_features")) continue;
        const int out = layer.value("out_channels", layer.value("out_features", 0));
        const int fan_in = layer.contains("kernel") ? 9 : 48;
        std::vector<float> w(static_cast<size_t>(out * fan_in)), b(static_cast<size_t>(out));
        for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i * 37 % 17) - 8) / 16.0f;
        for (size_t i = 0; i < b.size(); ++i) b[i] = float(i) / 10.0f;
        layer["weight"] = w;
        layer["bias"] = b;
    }
    return dmc::parse_model(j.dump(), "fuzz model");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const dmc::Model model = small_model();
    dmc::CompressionConfig config;
    try {
        config = dmc::parse_config(std::string(reinterpret_cast<const char *>(data), size), "fuzz config");
        dmc::validate_config(config, model);
    } catch (const dmc::Error &) {
        return 0;
    }
    fuzz::exercise(model, config);
    return 0;
}
