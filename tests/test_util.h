// test_util.h - small random models and inputs for the engine tests.
#pragma once

#include <random>
#include <vector>

#include "dmc/dmc.h"

namespace dmc_test {

inline dmc::Layer conv(const char *name, int in_c, int out_c, int kernel, int stride, int padding) {
    dmc::Layer l;
    l.type = dmc::LayerType::Conv2d;
    l.name = name;
    l.in_channels = in_c;
    l.out_channels = out_c;
    l.kernel = kernel;
    l.stride = stride;
    l.padding = padding;
    return l;
}

inline dmc::Layer linear(const char *name, int in_f, int out_f) {
    dmc::Layer l;
    l.type = dmc::LayerType::Linear;
    l.name = name;
    l.in_channels = in_f;
    l.out_channels = out_f;
    return l;
}

inline dmc::Layer simple(dmc::LayerType type, const char *name, int kernel = 0, int stride = 1,
                         int padding = 0) {
    dmc::Layer l;
    l.type = type;
    l.name = name;
    l.kernel = kernel;
    l.stride = stride;
    l.padding = padding;
    return l;
}

// Fills weights (He-like scale) and biases with seeded random values, then
// validates, so shapes are set.
inline dmc::Model finish(dmc::Model m, unsigned seed) {
    std::mt19937 rng(seed);
    for (dmc::Layer &l : m.layers) {
        if (!l.has_weights()) continue;
        const int64_t fan_in = l.fan_in();
        std::normal_distribution<float> w(0.0f, float(std::sqrt(2.0 / double(fan_in))));
        std::normal_distribution<float> b(0.0f, 0.1f);
        l.weight.resize(size_t(fan_in * l.out_channels));
        for (float &v : l.weight) v = w(rng);
        l.bias.resize(size_t(l.out_channels));
        for (float &v : l.bias) v = b(rng);
    }
    dmc::validate_model(m);
    return m;
}

// A small CNN with every layer type: 1x12x12 -> conv -> relu -> maxpool ->
// conv (stride 2, padding) -> relu -> avgpool -> flatten -> linear -> relu -> linear.
inline dmc::Model small_cnn(unsigned seed = 1) {
    using dmc::LayerType;
    dmc::Model m;
    m.name = "small_cnn";
    m.dataset = "mnist";
    m.input.shape = dmc::Shape{1, 12, 12};
    m.input.mean = 0.1307f;
    m.input.std = 0.3081f;
    m.layers = {conv("conv1", 1, 5, 3, 1, 1),
                simple(LayerType::ReLU, "relu1"),
                simple(LayerType::MaxPool2d, "pool1", 2, 2),
                conv("conv2", 5, 7, 3, 2, 1),
                simple(LayerType::ReLU, "relu2"),
                simple(LayerType::AvgPool2d, "pool2", 2, 1),
                simple(LayerType::Flatten, "flatten"),
                linear("fc1", 7 * 2 * 2, 9),
                simple(LayerType::ReLU, "relu3"),
                linear("fc2", 9, 10)};
    return finish(m, seed);
}

// n raw inputs in [0, 1], quantized to multiples of 1/255 like images.
inline dmc::CalibrationSet random_images(const dmc::Model &m, int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pixel(0, 255);
    dmc::CalibrationSet set;
    set.count = n;
    set.raw.resize(size_t(n) * size_t(m.input.shape.size()));
    for (float &v : set.raw) v = float(pixel(rng)) / 255.0f;
    return set;
}

// n random 12x12 "images" with random labels, for small_cnn: enough for
// the arithmetic to be checked exactly, whatever the accuracy.
inline dmc::TestSet random_test_set(int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pixel(0, 255), label(0, 9);
    dmc::TestSet t;
    t.name = "random";
    t.count = n;
    t.shape = dmc::Shape{1, 12, 12};
    t.pixels.resize(size_t(n) * 144);
    for (uint8_t &p : t.pixels) p = uint8_t(pixel(rng));
    for (int i = 0; i < n; ++i) t.labels.push_back(uint8_t(label(rng)));
    return t;
}

} // namespace dmc_test
