// dmc/config.h - the compression config: per prunable layer, a keep ratio
// (structured pruning) and a weight bit width. The same JSON is read by the
// CLI, the browser workbench and python/:
//
//   {"default": {"bits": 8, "keep": 1.0},
//    "layers": {"conv2": {"keep": 0.5, "bits": 4}, "fc1": {"bits": 2}},
//    "prune_norm": "l1"}
//
// A layer not named takes the default; a field a layer leaves out takes the
// default's. The model's output layer is never pruned by the default (its
// outputs are the classes), and naming a keep below 1 for it is an error.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dmc/model.h"

namespace dmc {

// Weight bit widths the engine packs, plus 32: "leave this layer in float".
constexpr int kFloatBits = 32;
bool is_supported_bits(int bits);
const std::vector<int> &supported_bits(); // {2, 4, 8, 32}

enum class PruneNorm { L1, L2 };

struct LayerSetting {
    std::optional<double> keep; // in (0, 1]
    std::optional<int> bits;    // 2, 4, 8 or 32
};

// A layer's effective setting after defaults are applied.
struct LayerCompression {
    double keep = 1.0;
    int bits = 8;
};

struct CompressionConfig {
    LayerCompression defaults;
    std::map<std::string, LayerSetting> layers;
    PruneNorm prune_norm = PruneNorm::L1;

    // The setting of layer `index` of `model` (a conv2d or linear layer).
    LayerCompression resolve(const Model &model, int index) const;
};

// Parses a config (throws dmc::Error naming the field). Checks ranges only;
// validate_config() checks it against a model.
CompressionConfig parse_config(const std::string &json_text, const std::string &origin = "config");
CompressionConfig load_config(const std::string &path);
// Refuses layer names the model lacks, names of layers without weights, and
// a keep ratio below 1 on the output layer.
void validate_config(const CompressionConfig &config, const Model &model);
// Refuses (dmc::Error naming the layers) a config that leaves any
// conv2d/linear layer of `model` in float: what a microcontroller header,
// which is integer-only, needs.
void require_integer_only(const CompressionConfig &config, const Model &model);
// Canonical JSON: default first, layers sorted by name, fields always in the
// same order, so equal configs serialise to equal text.
std::string config_to_json(const CompressionConfig &config, int indent = -1);

// The number of output channels pruning keeps: ceil(keep * channels), never
// fewer than one. (The 1e-9 absorbs binary rounding: 0.3 * 10 keeps 3.)
int kept_channels(double keep, int channels);

} // namespace dmc
