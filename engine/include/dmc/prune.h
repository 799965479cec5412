// dmc/prune.h - structured pruning: whole output channels (conv filters,
// linear neurons) are removed, ranked by a norm of their weights, and the
// matching inputs of the next weight layer go with them - through ReLU and
// pooling (global average pooling too), through a depthwise convolution
// (which loses the matching channels, filters and biases), and through
// flatten (where one channel is H*W linear inputs).
// The result is a smaller dense model: no masks, nothing to decode.
#pragma once

#include <vector>

#include "dmc/config.h"
#include "dmc/model.h"

namespace dmc {

struct PrunedModel {
    Model model; // the smaller dense model (same layers, fewer channels)
    // For each layer index: the original indices of the output channels it
    // keeps, ascending. Every layer has an entry; for layers without weights
    // it lists the channels of their output tensor.
    std::vector<std::vector<int>> kept;
};

// Importance of each output channel of a conv2d/linear layer: the L1 norm
// (sum |w|) or the squared L2 norm (sum w^2) of its weights, in double.
std::vector<double> channel_importance(const Layer &layer, PruneNorm norm);

// The `count` most important channels, returned in ascending index order.
// Ties go to the lower index.
std::vector<int> select_channels(const std::vector<double> &importance, int count);

// Prunes every conv2d/linear layer to its configured keep ratio; a
// depthwise_conv2d layer keeps the channels that reach it. Importance
// is measured on the original weights of each layer. Validates the config.
PrunedModel prune_model(const Model &model, const CompressionConfig &config);

} // namespace dmc
