// compressed_json.cpp - every integer parameter of a compressed model as
// JSON: for python/'s parity check and for reading what calibration chose.
#include <cmath>

#include <nlohmann/json.hpp>

#include "dmc/compressed_model.h"

namespace dmc {

namespace {

nlohmann::json shape_json(const Shape &s) { return {s.channels, s.height, s.width}; }
nlohmann::json q_json(const QuantParams &q) { return {{"scale", q.scale}, {"zero_point", q.zero_point}}; }

} // namespace

std::string compressed_model_to_json(const CompressedModel &cm) {
    nlohmann::json steps = nlohmann::json::array();
    for (const Step &s : cm.steps) {
        nlohmann::json j = {{"op", op_name(s)},
                            {"name", s.name},
                            {"integer", s.integer},
                            {"layer", s.layer},
                            {"input", shape_json(s.input)},
                            {"output", shape_json(s.output)}};
        if (s.runs(LayerType::Conv2d) || s.runs(LayerType::DepthwiseConv2d) || s.runs(LayerType::AvgPool2d) ||
            s.runs(LayerType::MaxPool2d))
            j["geometry"] = {{"kernel", s.source.kernel}, {"stride", s.source.stride}, {"padding", s.source.padding}};
        if (s.has_weights()) j["fused_relu"] = s.fused_relu;
        if (s.has_weights() && s.fused_relu && std::isfinite(s.relu_max)) j["relu_max"] = s.relu_max;
        if (s.runs(LayerType::ReLU) && std::isfinite(s.source.relu_max)) j["relu_max"] = s.source.relu_max;
        if (s.integer || s.conversion == Conversion::Dequantize) {
            j["in_q"] = q_json(s.in_q);
            j["out_q"] = q_json(s.out_q);
            j["act_min"] = s.act_min;
            j["act_max"] = s.act_max;
        }
        if (s.conversion == Conversion::Quantize || s.conversion == Conversion::Normalize) {
            j["from_raw_input"] = s.from_raw_input;
            j["input_mean"] = s.input_mean;
            j["input_std"] = s.input_std;
            j["input_inv_scale"] = s.input_inv_scale;
        }
        if (s.integer && s.has_weights()) {
            const QuantizedWeights &w = s.weights;
            std::vector<int8_t> values(size_t(w.rows * w.row_length));
            for (int r = 0; r < w.rows; ++r)
                unpack_row(w.packed.data() + r * w.row_bytes, w.row_length, w.bits, values.data() + r * w.row_length);
            j["bits"] = w.bits;
            j["weights"] = values; // unpacked, [rows][row_length] flattened
            j["weight_scales"] = w.scales;
            j["bias"] = s.bias;
            j["multiplier"] = s.multiplier;
            std::vector<int> shift(s.shift.begin(), s.shift.end());
            j["shift"] = shift;
        }
        if (s.integer && (s.runs(LayerType::AvgPool2d) || s.runs(LayerType::GlobalAvgPool2d)))
            j["pool_divisor"] = {{"multiplier", s.pool_divisor.multiplier}, {"shift", s.pool_divisor.shift}};
        steps.push_back(std::move(j));
    }
    nlohmann::json kept = nlohmann::json::object();
    for (size_t i = 0; i < cm.model.layers.size(); ++i)
        if (cm.model.layers[i].has_weights()) kept[cm.model.layers[i].name] = cm.pruned.kept[i];
    nlohmann::json lut = nlohmann::json::array();
    for (int p = 0; p < 256; ++p) lut.push_back(cm.input_lut[p]);
    const nlohmann::json j = {{"model", cm.model.name},
                              {"config", nlohmann::json::parse(config_to_json(cm.config))},
                              {"steps", steps},
                              {"kept_channels", kept},
                              {"input_lut", lut},
                              {"arena_bytes", cm.plan.arena_bytes}};
    return j.dump() + "\n";
}

} // namespace dmc
