// prune.cpp - structured pruning: whole output channels of a conv2d or
// linear layer go, chosen by the L1 or L2 norm of their weights, and the
// next layer loses the matching inputs. Removing channels (rather than
// zeroing weights) keeps the pruned model an ordinary dense model, so the
// kernels, the buffer plan and the exported header need nothing special.
//
// A depthwise layer has no keep ratio: its channel c filters input channel
// c only, so it keeps exactly the channels that reach it (and their
// filters and biases) and passes them on, like ReLU and pooling do. Global
// average pooling keeps the channels too, so a conv's pruned channels
// reach the linear layer after it as pruned input features.
#include "dmc/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dmc {

std::vector<double> channel_importance(const Layer &layer, PruneNorm norm) {
    const size_t fan_in = size_t(layer.fan_in());
    std::vector<double> importance(size_t(layer.out_channels), 0.0);
    for (size_t o = 0; o < importance.size(); ++o) {
        double sum = 0.0;
        const float *w = layer.weight.data() + o * fan_in;
        for (size_t i = 0; i < fan_in; ++i)
            sum += norm == PruneNorm::L1 ? std::fabs(double(w[i])) : double(w[i]) * double(w[i]);
        importance[o] = sum;
    }
    return importance;
}

std::vector<int> select_channels(const std::vector<double> &importance, int count) {
    std::vector<int> order(importance.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return importance[size_t(a)] > importance[size_t(b)]; });
    order.resize(size_t(std::max(0, std::min(count, int(order.size())))));
    std::sort(order.begin(), order.end());
    return order;
}

static std::vector<int> all_channels(int n) {
    std::vector<int> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

PrunedModel prune_model(const Model &model, const CompressionConfig &config) {
    validate_config(config, model);
    PrunedModel result;
    result.model = model;
    result.kept.resize(model.layers.size());

    // `live` lists, in order, which entries of the current tensor's channel
    // axis survive, as indices into the unpruned model's same tensor.
    std::vector<int> live = all_channels(model.input.shape.channels);
    for (size_t li = 0; li < model.layers.size(); ++li) {
        const Layer &original = model.layers[li];
        Layer &layer = result.model.layers[li];
        switch (original.type) {
        case LayerType::Conv2d:
        case LayerType::Linear: {
            const LayerCompression setting = config.resolve(model, int(li));
            const int keep_count = kept_channels(setting.keep, original.out_channels);
            const std::vector<int> outputs =
                keep_count == original.out_channels
                    ? all_channels(original.out_channels)
                    : select_channels(channel_importance(original, config.prune_norm), keep_count);
            // Gather the kept rows and, inside each, the live inputs. For conv
            // the input channel is the fastest axis of OHWI; a linear row is
            // indexed by the (flattened) input feature directly.
            const size_t fan_in = size_t(original.fan_in());
            const size_t spatial = original.type == LayerType::Conv2d
                                       ? size_t(original.kernel) * size_t(original.kernel) : 1;
            const size_t in_axis = original.type == LayerType::Conv2d
                                       ? size_t(original.in_channels) : fan_in;
            layer.weight.clear();
            layer.weight.reserve(outputs.size() * spatial * live.size());
            for (int o : outputs) {
                const float *row = original.weight.data() + size_t(o) * fan_in;
                for (size_t s = 0; s < spatial; ++s)
                    for (int i : live) layer.weight.push_back(row[s * in_axis + size_t(i)]);
            }
            layer.bias.clear();
            if (!original.bias.empty())
                for (int o : outputs) layer.bias.push_back(original.bias[size_t(o)]);
            layer.in_channels = int(live.size());
            layer.out_channels = int(outputs.size());
            live = outputs;
            break;
        }
        case LayerType::Flatten: {
            // HWC flatten: entry (h, w, c) of an H x W x C tensor is feature
            // (h * W + w) * C + c; a kept channel becomes H * W kept features.
            const Shape &s = original.input;
            std::vector<int> features;
            features.reserve(size_t(s.height) * size_t(s.width) * live.size());
            for (int p = 0; p < s.height * s.width; ++p)
                for (int c : live) features.push_back(p * s.channels + c);
            live = std::move(features);
            break;
        }
        case LayerType::DepthwiseConv2d: {
            const size_t fan_in = size_t(original.fan_in());
            layer.weight.clear();
            layer.weight.reserve(live.size() * fan_in);
            for (int c : live)
                layer.weight.insert(layer.weight.end(), original.weight.begin() + std::ptrdiff_t(size_t(c) * fan_in),
                                    original.weight.begin() + std::ptrdiff_t((size_t(c) + 1) * fan_in));
            layer.bias.clear();
            if (!original.bias.empty())
                for (int c : live) layer.bias.push_back(original.bias[size_t(c)]);
            layer.in_channels = layer.out_channels = int(live.size());
            break;
        }
        case LayerType::ReLU:
        case LayerType::MaxPool2d:
        case LayerType::AvgPool2d:
        case LayerType::GlobalAvgPool2d: break; // channel-wise: the live channels pass through
        }
        result.kept[li] = live;
    }
    validate_model(result.model);
    return result;
}

} // namespace dmc
