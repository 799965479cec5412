// evaluate.cpp - reports: sizes and MACs from the compressed model itself,
// accuracy and errors by running it next to the float model on MNIST.
#include "dmc/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "dmc/error.h"
#include "dmc/search.h"
#include "dmc/text.h"

namespace dmc {

double sqnr_db(double signal, double noise) {
    if (noise <= 0.0) return std::numeric_limits<double>::infinity();
    if (signal <= 0.0) return -std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal / noise);
}

void SqnrSums::add(const CompressedModel &cm, int step, const void *output, const float *float_output) {
    const Step &s = cm.steps[size_t(step)];
    const std::vector<int> &kept = cm.pruned.kept[size_t(s.layer)];
    const int64_t positions = int64_t(s.output.height) * s.output.width;
    // Pruning removes channels, never positions: the float layer has them all.
    const int64_t c_kept = s.output.channels, c_all = cm.model.layers[size_t(s.layer)].out_channels;
    // One input's sums first, then added: the order both callers rely on.
    double sig = 0.0, err = 0.0;
    for (int64_t p = 0; p < positions; ++p) {
        for (int64_t c = 0; c < c_kept; ++c) {
            const double x = float_output[p * c_all + kept[size_t(c)]];
            const double y = tensor_value(s, output, p * c_kept + c);
            sig += x * x;
            err += (y - x) * (y - x);
        }
    }
    signal += sig;
    noise += err;
}

Report describe(const CompressedModel &cm) {
    Report r;
    r.model = cm.model.name;
    r.config_json = config_to_json(cm.config);
    for (const Step &s : cm.steps) {
        if (!s.has_weights()) continue;
        const Layer &original = cm.model.layers[size_t(s.layer)];
        const Layer &pruned = cm.float_layer(s);
        LayerReport l;
        l.name = s.name;
        l.type = op_name(s);
        l.layer = s.layer;
        l.channels_total = original.out_channels;
        l.channels_kept = s.source.out_channels;
        l.bits = cm.settings[size_t(s.layer)].bits;
        l.keep = cm.settings[size_t(s.layer)].keep;
        l.params = int64_t(pruned.weight.size() + pruned.bias.size());
        l.macs = s.source.macs();
        const int64_t channels = s.source.out_channels;
        if (s.integer) {
            l.weight_bytes = s.weights.bytes();
            l.bias_bytes = 4 * channels;
            l.constant_bytes = 5 * channels;
            const std::vector<float> w = dequantize_weights(s.weights);
            double signal = 0.0, noise = 0.0;
            for (size_t i = 0; i < w.size(); ++i) {
                const double x = pruned.weight[i], e = double(w[i]) - x;
                signal += x * x;
                noise += e * e;
            }
            l.weight_sqnr_db = sqnr_db(signal, noise);
        } else {
            l.weight_bytes = 4 * int64_t(pruned.weight.size());
            l.bias_bytes = 4 * int64_t(pruned.bias.size());
            l.weight_sqnr_db = std::numeric_limits<double>::infinity();
        }
        l.output_sqnr_db = std::numeric_limits<double>::quiet_NaN(); // set by evaluate()
        r.flash_bytes += l.flash_bytes();
        r.macs += l.macs;
        r.layers.push_back(l);
    }
    r.float_flash_bytes = 4 * cm.model.parameters();
    for (const Layer &l : cm.model.layers) r.float_macs += l.macs();

    r.peak_ram_bytes = cm.plan.arena_bytes;
    const int k = cm.plan.peak_step;
    if (k >= 0) {
        const Step &s = cm.steps[size_t(k)];
        r.peak_step = s.name;
        const int64_t in = k == 0 ? 0 : cm.steps[size_t(k) - 1].output_bytes();
        r.peak_detail = "input " + std::to_string(in) + " + scratch " +
                        std::to_string(scratch_bytes(s)) + " + output " +
                        std::to_string(s.output_bytes()) + " bytes, each rounded up to 16";
    }
    return r;
}

namespace {

int count_of(const TestSet &test, int limit) { return limit > 0 && limit < test.count ? limit : test.count; }

// A float model whose weights are finite can still overflow float32 (1e38
// weights); its argmax would then be noise, not an accuracy. Checked at
// every step: a ReLU turns NaN into 0, which hides it from the output.
void require_finite(const Step &s, const void *out, int i) {
    const float *v = static_cast<const float *>(out);
    for (int64_t k = 0; k < s.output.size(); ++k)
        if (!std::isfinite(v[k]))
            throw Error("the float model's step '" + s.name + "' gives a value that is not finite on test input " +
                        std::to_string(i) + "; its weights or biases overflow float32 arithmetic");
}

} // namespace

double squared_error(const CompressedModel &cm, const void *out, const TestSet &test, int i) {
    const int64_t n = cm.output_shape().size();
    if (test.targets.size() < size_t((int64_t(i) + 1) * n)) return 0.0;
    double sum = 0.0;
    for (int64_t k = 0; k < n; ++k) {
        const double e = tensor_value(cm.steps.back(), out, k) - double(test.targets[size_t(int64_t(i) * n + k)]);
        sum += e * e;
    }
    return sum;
}

std::vector<float> output_curve(const CompressedModel &cm, const TestSet &test, int output) {
    Executor run(cm);
    std::vector<float> curve(static_cast<size_t>(test.count));
    for (int i = 0; i < test.count; ++i) curve[size_t(i)] = float(tensor_value(cm.steps.back(), test.run(run, i), output));
    return curve;
}

double score(const CompressedModel &model, const TestSet &test, int limit) {
    check_model_fits(model.model, test);
    const int n = count_of(test, limit);
    Executor run(model);
    double total = 0.0;
    for (int i = 0; i < n; ++i) {
        const void *out = test.run(run, i);
        total += model.model.task == Task::Classification
                     ? double(predicted_class(model, out) == test.labels[size_t(i)])
                     : squared_error(model, out, test, i);
    }
    if (n == 0) return 0.0;
    return model.model.task == Task::Classification ? total / n
                                                     : total / (double(n) * double(model.output_shape().size()));
}

Report evaluate(const CompressedModel &cm, const TestSet &test, const EvalOptions &options) {
    check_model_fits(cm.model, test);
    Report r = describe(cm);
    r.task = cm.model.task;
    const CompressedModel reference = float_reference(cm.model);
    Executor run_float(reference), run_compressed(cm);
    const int n = count_of(test, options.limit);

    // The float model's output of each conv2d/linear layer (after a fused
    // ReLU), captured per input and compared channel by channel.
    std::map<int, std::vector<float>> float_outputs; // by layer index
    std::map<int, size_t> report_index;
    for (size_t i = 0; i < r.layers.size(); ++i) report_index[r.layers[i].layer] = i;
    std::vector<SqnrSums> sqnr(r.layers.size());

    int float_correct = 0, correct = 0, agree = 0;
    double float_se = 0.0, se = 0.0;
    for (int i = 0; i < n; ++i) {
        const void *fo = test.run(run_float, i, [&](int k, const void *out) {
            const Step &s = reference.steps[size_t(k)];
            require_finite(s, out, i);
            if (options.output_sqnr && s.layer >= 0 && report_index.count(s.layer)) {
                const float *v = static_cast<const float *>(out);
                float_outputs[s.layer].assign(v, v + s.output.size());
            }
        });
        const void *co = test.run(run_compressed, i, [&](int k, const void *out) {
            const Step &s = cm.steps[size_t(k)];
            if (!options.output_sqnr || s.layer < 0 || !report_index.count(s.layer)) return;
            sqnr[report_index[s.layer]].add(cm, k, out, float_outputs[s.layer].data());
        });
        if (cm.model.task == Task::Classification) {
            const int label = test.labels[size_t(i)];
            const int pf = predicted_class(reference, fo), pc = predicted_class(cm, co);
            float_correct += pf == label;
            correct += pc == label;
            agree += pf == pc;
        } else {
            float_se += squared_error(reference, fo, test, i);
            se += squared_error(cm, co, test, i);
        }
        if (options.progress && ((i + 1) % 500 == 0 || i + 1 == n)) options.progress(i + 1, n);
    }
    r.images = n;
    if (n > 0) {
        r.float_accuracy = double(float_correct) / n;
        r.accuracy = double(correct) / n;
        r.agreement = double(agree) / n;
        const double values = double(n) * double(cm.output_shape().size());
        r.float_mse = float_se / values;
        r.mse = se / values;
    }
    if (options.output_sqnr)
        for (size_t i = 0; i < r.layers.size(); ++i) r.layers[i].output_sqnr_db = sqnr[i].db();
    return r;
}

namespace {

// JSON has no infinity: an exact result (infinite SQNR) is written as null.
nlohmann::json db_json(double db) {
    if (std::isnan(db) || std::isinf(db)) return nullptr;
    return std::round(db * 100.0) / 100.0;
}

} // namespace

std::string report_to_json(const Report &r, int indent) {
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerReport &l : r.layers) {
        layers.push_back({{"name", l.name},
                          {"type", l.type},
                          {"channels_total", l.channels_total},
                          {"channels_kept", l.channels_kept},
                          {"keep", l.keep},
                          {"bits", l.bits},
                          {"params", l.params},
                          {"weight_bytes", l.weight_bytes},
                          {"bias_bytes", l.bias_bytes},
                          {"constant_bytes", l.constant_bytes},
                          {"flash_bytes", l.flash_bytes()},
                          {"macs", l.macs},
                          {"weight_sqnr_db", db_json(l.weight_sqnr_db)},
                          {"output_sqnr_db", db_json(l.output_sqnr_db)}});
    }
    nlohmann::json j = {{"model", r.model},
                        {"task", r.task == Task::Classification ? "classification" : "regression"},
                        {"config", nlohmann::json::parse(r.config_json)},
                        {"images", r.images},
                        {"flash_bytes", r.flash_bytes},
                        {"float_flash_bytes", r.float_flash_bytes},
                        {"macs", r.macs},
                        {"float_macs", r.float_macs},
                        {"peak_ram_bytes", r.peak_ram_bytes},
                        {"peak_ram_step", r.peak_step},
                        {"layers", layers}};
    if (r.task == Task::Classification) {
        j["float_accuracy"] = r.float_accuracy;
        j["accuracy"] = r.accuracy;
        j["agreement"] = r.agreement;
    } else {
        j["float_mse"] = r.float_mse;
        j["mse"] = r.mse;
    }
    return j.dump(indent) + "\n";
}

std::string report_to_text(const Report &r) {
    std::string out;
    char line[256];
    if (r.images > 0 && r.task == Task::Classification) {
        std::snprintf(line, sizeof line,
                      "%d test images: float accuracy %s, compressed %s, agreement %s\n\n", r.images,
                      percent_text(r.float_accuracy).c_str(), percent_text(r.accuracy).c_str(),
                      percent_text(r.agreement).c_str());
        out += line;
    } else if (r.images > 0) {
        std::snprintf(line, sizeof line, "%d test points: mean squared error float %.6f, compressed %.6f\n\n",
                      r.images, r.float_mse, r.mse);
        out += line;
    }
    // The type column is 7 wide ("conv2d", "linear"), wider only for a
    // longer type ("depthwise_conv2d"), so that existing tables stay as
    // they were.
    int type_width = 7;
    for (const LayerReport &l : r.layers) type_width = std::max(type_width, int(l.type.size()));
    std::snprintf(line, sizeof line, "%-10s %-*s %9s %4s %9s %9s %7s %8s %10s\n", "layer", type_width, "type",
                  "kept", "bits", "params", "flash B", "w SQNR", "out SQNR", "MACs");
    out += line;
    for (const LayerReport &l : r.layers) {
        const std::string kept = std::to_string(l.channels_kept) + "/" + std::to_string(l.channels_total);
        std::snprintf(line, sizeof line, "%-10s %-*s %9s %4d %9s %9s %7s %8s %10s\n", l.name.c_str(),
                      type_width, l.type.c_str(), kept.c_str(), l.bits, with_commas(l.params).c_str(),
                      with_commas(l.flash_bytes()).c_str(), db_text(l.weight_sqnr_db).c_str(),
                      db_text(l.output_sqnr_db).c_str(), with_commas(l.macs).c_str());
        out += line;
    }
    std::snprintf(line, sizeof line, "\nflash %s bytes (float model %s, %.1fx smaller)\n",
                  with_commas(r.flash_bytes).c_str(), with_commas(r.float_flash_bytes).c_str(),
                  r.flash_bytes ? double(r.float_flash_bytes) / double(r.flash_bytes) : 0.0);
    out += line;
    std::snprintf(line, sizeof line, "MACs  %s (float model %s)\n", with_commas(r.macs).c_str(),
                  with_commas(r.float_macs).c_str());
    out += line;
    out += "peak activation RAM " + with_commas(r.peak_ram_bytes) + " bytes, set by '" +
           r.peak_step + "' (" + r.peak_detail + ")\n";
    return out;
}

Sweep sweep_layer(const Model &model, const std::string &layer, const std::vector<int> &bits,
                  const std::vector<double> &keeps, const CalibrationSet &calibration,
                  const TestSet &test, int limit, const Progress &progress) {
    const int index = model.find_layer(layer);
    if (index < 0 || !model.layers[size_t(index)].has_weights())
        throw Error("sweep: model '" + model.name + "' has no conv2d/depthwise_conv2d/linear layer '" + layer + "'");
    Sweep sweep;
    sweep.layer = layer;
    sweep.metric = model.task == Task::Classification ? "accuracy" : "mse";
    const bool prunable = model.layers[size_t(index)].prunable();
    const int total = 1 + int(bits.size() + (prunable ? keeps.size() : 0));
    int done = 0;
    sweep.float_score = score(float_reference(model), test, limit);
    if (progress) progress(++done, total);
    sweep.images = count_of(test, limit);
    // One compressor for every point: each point compresses one layer, so
    // the float steps before it are calibrated once.
    Compressor compressor(model, calibration);
    auto point = [&](int b, double keep) {
        const SweepPoint p = sweep_point(compressor, test, layer, b, keep, limit);
        if (progress) progress(++done, total);
        return p;
    };
    for (int b : bits) sweep.by_bits.push_back(point(b, 1.0));
    // A depthwise layer has no keep ratio (its channels are its input's).
    if (prunable)
        for (double k : keeps) sweep.by_keep.push_back(point(kFloatBits, k));
    return sweep;
}

std::string sweep_to_json(const Sweep &s, int indent) {
    nlohmann::json by_bits = nlohmann::json::array(), by_keep = nlohmann::json::array();
    for (const SweepPoint &p : s.by_bits) by_bits.push_back({{"bits", p.bits}, {s.metric, p.score}});
    for (const SweepPoint &p : s.by_keep) by_keep.push_back({{"keep", p.keep}, {s.metric, p.score}});
    nlohmann::json j = {{"layer", s.layer},   {"images", s.images}, {"metric", s.metric},
                        {"float_" + s.metric, s.float_score}, {"by_bits", by_bits}, {"by_keep", by_keep}};
    return j.dump(indent) + "\n";
}

std::string sweep_to_text(const Sweep &s) {
    const bool acc = s.metric == "accuracy";
    auto value = [&](double v) {
        char buf[32];
        if (acc) return percent_text(v);
        std::snprintf(buf, sizeof buf, "%.6f", v);
        return std::string(buf);
    };
    std::string out = "layer '" + s.layer + "' alone compressed, other layers float, " + std::to_string(s.images) +
                      " test inputs; float " + s.metric + " " + value(s.float_score) + "\n\n  bits  " + s.metric +
                      "\n";
    char line[96];
    for (const SweepPoint &p : s.by_bits) {
        std::snprintf(line, sizeof line, "  %4d  %s\n", p.bits, value(p.score).c_str());
        out += line;
    }
    out += "\n  keep  " + s.metric + "  (weights float)\n";
    for (const SweepPoint &p : s.by_keep) {
        std::snprintf(line, sizeof line, "  %4.2f  %s\n", p.keep, value(p.score).c_str());
        out += line;
    }
    return out;
}

} // namespace dmc
