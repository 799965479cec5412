// config.cpp - the compression config (per layer: keep ratio and bits, with
// a default) read from JSON, checked against a model, and written back in
// one canonical form. The CLI, the app and python/ share this file format,
// so equal configs must serialise to equal text.
#include "dmc/config.h"

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dmc/error.h"
#include "dmc/text.h"
#include "io_util.h"
#include "json_reader.h"

namespace dmc {

using nlohmann::json;

const std::vector<int> &supported_bits() {
    static const std::vector<int> bits = {2, 4, 8, kFloatBits};
    return bits;
}

bool is_supported_bits(int bits) {
    for (int b : supported_bits())
        if (b == bits) return true;
    return false;
}

void require_integer_only(const CompressionConfig &config, const Model &model) {
    std::string float_layers;
    for (size_t i = 0; i < model.layers.size(); ++i)
        if (model.layers[i].has_weights() && config.resolve(model, int(i)).bits == kFloatBits)
            float_layers += (float_layers.empty() ? "'" : ", '") + model.layers[i].name + "'";
    if (!float_layers.empty())
        throw Error("layer(s) " + float_layers +
                    " left in float (bits 32); the microcontroller header is integer-only: "
                    "give them 8, 4 or 2 bits");
}

int kept_channels(double keep, int channels) {
    const int n = int(std::ceil(keep * channels - 1e-9));
    return n < 1 ? 1 : (n > channels ? channels : n);
}

static LayerSetting parse_setting(const json &j, const std::string &where) {
    JsonReader r(j, where);
    r.allow_only({"keep", "bits"});
    LayerSetting s;
    if (r.has("keep")) {
        const double keep = r.number("keep");
        if (!(keep > 0.0 && keep <= 1.0))
            throw Error(where + ": keep " + j["keep"].dump() + " is outside (0, 1]");
        s.keep = keep;
    }
    if (r.has("bits")) {
        const int64_t bits = r.integer("bits", 0, 64);
        if (!is_supported_bits(int(bits)))
            throw Error(where + ": bits " + std::to_string(bits) +
                        " is not supported (use 2, 4 or 8, or 32 to leave the layer in float)");
        s.bits = int(bits);
    }
    return s;
}

CompressionConfig parse_config(const std::string &json_text, const std::string &origin) {
    const json j = parse_json(json_text, origin);
    JsonReader r(j, origin);
    r.allow_only({"default", "layers", "prune_norm"});
    CompressionConfig config;
    if (r.has("default")) {
        const LayerSetting d = parse_setting(j["default"], origin + " default");
        config.defaults.keep = d.keep.value_or(1.0);
        config.defaults.bits = d.bits.value_or(8);
    }
    if (r.has("layers")) {
        const json &layers = r.object("layers");
        for (auto it = layers.begin(); it != layers.end(); ++it)
            config.layers[it.key()] = parse_setting(it.value(), origin + " layer " + in_quotes(it.key()));
    }
    const std::string norm = r.string_or("prune_norm", "l1");
    if (norm == "l1") config.prune_norm = PruneNorm::L1;
    else if (norm == "l2") config.prune_norm = PruneNorm::L2;
    else throw Error(origin + ": prune_norm " + in_quotes(norm) + " is not supported (use l1 or l2)");
    return config;
}

CompressionConfig load_config(const std::string &path) {
    return parse_config(read_file(path, 16 << 20, "config file"), "config file '" + path + "'");
}

void validate_config(const CompressionConfig &config, const Model &model) {
    const int output = model.output_layer();
    for (const auto &entry : config.layers) {
        const int index = model.find_layer(entry.first);
        if (index < 0) {
            std::string names;
            for (const Layer &l : model.layers)
                if (l.has_weights()) names += (names.empty() ? "" : ", ") + l.name;
            throw Error("config: model '" + model.name + "' has no layer " + in_quotes(entry.first) +
                        " (its conv2d/linear layers: " + names + ")");
        }
        const Layer &layer = model.layers[size_t(index)];
        if (!layer.has_weights())
            throw Error("config: layer '" + entry.first + "' is a " + layer_type_name(layer.type) +
                        " layer; only conv2d and linear layers can be compressed");
        if (!layer.prunable() && entry.second.keep && *entry.second.keep < 1.0)
            throw Error("config: layer '" + entry.first + "' is a " + layer_type_name(layer.type) +
                        " layer; it has no keep ratio of its own (it keeps the channels of the layer "
                        "before it): give it bits only");
        if (index == output && entry.second.keep && *entry.second.keep < 1.0)
            throw Error("config: layer '" + entry.first +
                        "' is the output layer; its outputs are the model's, so it cannot be "
                        "pruned (keep must be 1)");
    }
}

LayerCompression CompressionConfig::resolve(const Model &model, int index) const {
    LayerCompression c = defaults;
    const Layer &layer = model.layers[size_t(index)];
    if (index == model.output_layer() || !layer.prunable()) c.keep = 1.0;
    const auto it = layers.find(layer.name);
    if (it != layers.end()) {
        if (it->second.keep) c.keep = *it->second.keep;
        if (it->second.bits) c.bits = *it->second.bits;
    }
    return c;
}

std::string config_to_json(const CompressionConfig &config, int indent) {
    // nlohmann's default object is sorted by key, which gives the canonical
    // order for layer names; the fixed fields are written in a fixed order.
    json layers = json::object();
    for (const auto &entry : config.layers) {
        json s = json::object();
        if (entry.second.bits) s["bits"] = *entry.second.bits;
        if (entry.second.keep) s["keep"] = *entry.second.keep;
        layers[entry.first] = s;
    }
    json j = json::object();
    j["default"] = {{"bits", config.defaults.bits}, {"keep", config.defaults.keep}};
    j["layers"] = layers;
    j["prune_norm"] = config.prune_norm == PruneNorm::L1 ? "l1" : "l2";
    return j.dump(indent);
}

} // namespace dmc
