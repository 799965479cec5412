// budget.cpp - the budget solver: the most accurate per-layer config within
// a flash / peak-RAM / MAC budget, and the front of accuracy against the
// budgeted resource.
//
// The space: every conv2d/linear layer takes one of the given bit widths
// and one of the given keep ratios (the output layer keeps all its
// channels); a depthwise layer takes a bit width only, its channels being
// those of the layer before. For LeNet-5 with bits {8, 4, 2} and seven
// keep ratios that is 21^4 * 3, about 580,000 configs; each takes a compression and a pass over
// the test images to score, so the solver scores a few hundred.
//
// 1. Costs, exact and free. footprint() gives describe()'s flash, RAM and
//    MACs of a config from shapes alone. With integer layers only, the
//    model is a chain: a layer's flash and MACs depend on its own bits and
//    keep and on the keep that sets its input channels (the layer
//    before's; through a depthwise layer or global pooling, the last keep
//    set: the "flow"), and every step of the buffer plan on the same two.
//    So the cost of a config is a sum (flash, MACs) or a max (RAM) of
//    per-layer parts, each a table over (flow in, keep, bits), filled from
//    footprint() once.
//
// 2. Sensitivities, measured. Starting from the most accurate setting of
//    every layer (the first bits and keep given: 8 bits, keep 1), each
//    layer alone is moved to each of its settings and scored on a
//    stratified subset of the test images (subset_images, 2,000 by
//    default). A layer's loss at a setting is the right answers it costs
//    there.
//
// 3. Candidates, predicted. A dynamic programme along the chain keeps, for
//    each keep ratio of the current layer, the configs of the layers so far
//    that no other beats on every budgeted resource and on the summed loss
//    (a multiple-choice knapsack with the resources exact and the loss
//    predicted as a sum). Partial configs over a limit are dropped as they
//    appear, so the last layer holds only configs that fit. The few with
//    the least predicted loss are scored for real.
//
// 4. Local search, measured. From each scored candidate, best first, every
//    neighbour (one layer one step in bits or in keep) that fits, and the
//    few most promising swaps (one layer a step up, another a step down:
//    what a config at the edge of the budget needs to move at all), are
//    scored on the subset; the best replaces the current config while it
//    is better. "Better": more right answers, then a smaller budgeted
//    resource, then the first config in a fixed order (bits then keep
//    indices, layer by layer): the result is the same every run.
//
// 5. Finalists, confirmed. The `finalists` best configs scored are scored
//    again on all test images; the best there is the answer. The front
//    lists the scored configs no other scored config beats on both the
//    resource and the subset accuracy.
//
// With a maximum drop and no resource limit the question turns around:
// the smallest flash whose accuracy stays within the drop of the float
// model's. The same steps run with "better" meaning: within the drop on the
// subset (with a 0.2-point margin for the subset's noise), then smaller,
// then more accurate; the finalists are confirmed cheapest first until one
// keeps within the drop on all images.
//
// Scoring reuses work: the Compressor recalibrates only from the first
// layer a config changes, and the IncrementalScorer reruns the test
// images only from there; configs are scored in a fixed order that keeps
// those shared prefixes long. Calibration still takes most of the time
// (LeNet-5: about 60%); options.screening_calibration trades some of the
// ranking's fidelity for it, the finalists keeping the full calibration.
// With options.threads > 1 the candidates of each step are scored on that
// many lanes (screen_in_parallel: pairs of lanes work a segment of the
// order from both ends), the finalists compressed on two and scored on
// parts of the test set: the same answer with any number of threads.
#include "dmc/budget.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "dmc/error.h"
#include "dmc/evaluate.h"
#include "dmc/text.h"
#include "dmc_arith.h"
#include "plan.h"
#include "steps.h"

namespace dmc {

// ---------------------------------------------------------------- footprint

namespace {

// A layer's geometry after pruning to `live` input channels: the shapes
// and channel counts, no weights.
Layer pruned_geometry(const Layer &original, int live) {
    Layer l = layer_geometry(original);
    l.input.channels = live;
    l.in_channels = live;
    if (!original.has_weights()) l.out_channels = live;
    l.output.channels = live;
    if (original.type == LayerType::Flatten) l.output.channels = int(l.input.size());
    return l;
}

} // namespace

Footprint footprint(const Model &model, const CompressionConfig &config) {
    validate_config(config, model);
    const size_t n = model.layers.size();
    std::vector<LayerCompression> settings(n);
    std::vector<Layer> layers;
    layers.reserve(n);
    Footprint f;
    f.layer_flash.assign(n, 0);
    f.layer_macs.assign(n, 0);
    int live = model.input.shape.channels; // channels of the tensor flowing in
    for (size_t li = 0; li < n; ++li) {
        const Layer &original = model.layers[li];
        if (original.type == LayerType::Linear && li > 0) live = int(layers.back().output.size());
        Layer l = pruned_geometry(original, live);
        if (original.has_weights()) {
            settings[li] = config.resolve(model, int(li));
            // A depthwise layer has no keep of its own: its channels are its input's.
            l.out_channels = l.output.channels =
                original.prunable() ? kept_channels(settings[li].keep, original.out_channels) : live;
            const int64_t rows = l.out_channels;
            if (settings[li].bits == kFloatBits)
                f.layer_flash[li] = 4 * (rows * l.fan_in() + (original.bias.empty() ? 0 : rows));
            else // packed rows, int32 bias, int32 multiplier + int8 shift per channel
                f.layer_flash[li] = rows * dmc_row_bytes(int32_t(l.fan_in()), settings[li].bits) + 9 * rows;
            f.layer_macs[li] = l.macs();
            f.flash_bytes += f.layer_flash[li];
            f.macs += f.layer_macs[li];
        }
        live = l.output.channels;
        layers.push_back(std::move(l));
    }
    const std::vector<Step> steps = lay_out_steps(model.input.shape, layers, settings);
    const BufferPlan plan = plan_buffers(steps);
    f.peak_ram_bytes = plan.arena_bytes;
    for (size_t k = 0; k < steps.size(); ++k) {
        f.step_bytes.push_back(plan.steps[k].bytes);
        f.step_layer.push_back(steps[k].layer);
    }
    return f;
}

// ------------------------------------------------------ incremental scoring

IncrementalScorer::IncrementalScorer(const TestSet &test) : test_(test) {}

int IncrementalScorer::correct(const CompressedModel &cm) {
    if (cm.model.task != Task::Classification)
        throw Error("counting right answers needs a classifier; model '" + cm.model.name + "' is a regression model");
    check_model_fits(cm.model, test_);
    const size_t steps = cm.steps.size();
    size_t reuse = 0;
    while (reuse < steps && reuse < keys_.size() && keys_[reuse] == cm.step_keys[reuse]) ++reuse;
    if (reuse == steps && keys_.size() == steps) return last_correct_;
    keys_.resize(reuse);
    outputs_.resize(steps);
    for (size_t k = reuse; k < steps; ++k) outputs_[k].resize(size_t(test_.count) * size_t(cm.steps[k].output_bytes()));

    Executor run(cm);
    int correct = 0;
    for (int i = 0; i < test_.count; ++i) {
        const auto keep = [&](int k, const void *out) {
            if (size_t(k) < reuse) return;
            const size_t bytes = size_t(cm.steps[size_t(k)].output_bytes());
            std::memcpy(outputs_[size_t(k)].data() + size_t(i) * bytes, out, bytes);
        };
        const void *out;
        if (reuse == 0) {
            out = test_.run(run, i, keep);
        } else {
            const size_t bytes = size_t(cm.steps[reuse - 1].output_bytes());
            std::memcpy(run.step_input(int(reuse)), outputs_[reuse - 1].data() + size_t(i) * bytes, bytes);
            out = run.run_from(int(reuse), keep);
        }
        correct += predicted_class(cm, out) == test_.labels[size_t(i)];
    }
    keys_ = cm.step_keys;
    last_correct_ = correct;
    return correct;
}

namespace {

// The inputs of `test` at `indices`, in that order.
TestSet test_inputs(const TestSet &test, const std::vector<int> &indices) {
    const size_t size = size_t(test.shape.size());
    const size_t outputs = test.count ? test.targets.size() / size_t(test.count) : 0;
    TestSet s;
    s.name = test.name;
    s.count = int(indices.size());
    s.shape = test.shape;
    for (int index : indices) {
        const size_t i = size_t(index);
        if (!test.pixels.empty()) s.pixels.insert(s.pixels.end(), test.pixels.begin() + long(i * size), test.pixels.begin() + long((i + 1) * size));
        if (!test.raw.empty()) s.raw.insert(s.raw.end(), test.raw.begin() + long(i * size), test.raw.begin() + long((i + 1) * size));
        if (!test.labels.empty()) s.labels.push_back(test.labels[i]);
        if (outputs) s.targets.insert(s.targets.end(), test.targets.begin() + long(i * outputs), test.targets.begin() + long((i + 1) * outputs));
    }
    return s;
}

// Part `part` of `parts` contiguous parts of the test inputs.
TestSet test_part(const TestSet &test, int part, int parts) {
    std::vector<int> indices;
    for (int i = int(int64_t(test.count) * part / parts); i < int(int64_t(test.count) * (part + 1) / parts); ++i)
        indices.push_back(i);
    return test_inputs(test, indices);
}

} // namespace

TestSet stratified_subset(const TestSet &test, int count, uint64_t seed) {
    std::vector<int> order = stratified_order(test, seed);
    order.resize(size_t(std::max(0, std::min(count, test.count))));
    return test_inputs(test, order);
}

const char *resource_name(Resource r) {
    switch (r) {
    case Resource::Flash: return "flash";
    case Resource::Ram: return "RAM";
    case Resource::Macs: return "MACs";
    }
    return "?";
}

// ------------------------------------------------------------------ solver

namespace {

int64_t resource_of(const Footprint &f, Resource r) {
    return r == Resource::Flash ? f.flash_bytes : r == Resource::Ram ? f.peak_ram_bytes : f.macs;
}

bool fits(const Footprint &f, const Budget &b) {
    return (b.flash_bytes <= 0 || f.flash_bytes <= b.flash_bytes) &&
           (b.peak_ram_bytes <= 0 || f.peak_ram_bytes <= b.peak_ram_bytes) && (b.macs <= 0 || f.macs <= b.macs);
}

bool has_limit(const Budget &b) { return b.flash_bytes > 0 || b.peak_ram_bytes > 0 || b.macs > 0; }

// The resource the front is drawn against: the first one limited.
Resource front_resource(const Budget &b) {
    if (b.flash_bytes <= 0 && b.peak_ram_bytes > 0) return Resource::Ram;
    if (b.flash_bytes <= 0 && b.peak_ram_bytes <= 0 && b.macs > 0) return Resource::Macs;
    return Resource::Flash;
}

// A config as indices: state[2p] into bits, state[2p + 1] into keeps (0
// where the layer has no keep of its own), for the p-th layer with
// weights. Its lexicographic order is the fixed order ties go by, and the
// order configs are scored in.
using State = std::vector<int>;

// The space of choices over one model's layers with weights.
struct Space {
    const Model &model;
    std::vector<int> layers; // model indices, in order
    std::vector<int> bits;   // descending: the most accurate first
    std::vector<double> keeps;
    size_t out = 0; // position of the output layer

    Space(const Model &m, const BudgetChoices &choices) : model(m) {
        for (size_t i = 0; i < m.layers.size(); ++i)
            if (m.layers[i].has_weights()) layers.push_back(int(i));
        out = size_t(std::find(layers.begin(), layers.end(), m.output_layer()) - layers.begin());
        bits = choices.bits;
        keeps = choices.keeps;
        if (bits.empty() || keeps.empty()) throw Error("budget: give at least one bit width and one keep ratio");
        for (int b : bits)
            if (b != 2 && b != 4 && b != 8)
                throw Error("budget: bits " + std::to_string(b) + " is not one of 8, 4, 2 (the solver keeps every layer integer)");
        for (double k : keeps)
            if (!(k > 0.0 && k <= 1.0)) throw Error("budget: keep ratio " + std::to_string(k) + " is outside (0, 1]");
        std::sort(bits.begin(), bits.end(), std::greater<int>());
        bits.erase(std::unique(bits.begin(), bits.end()), bits.end());
        std::sort(keeps.begin(), keeps.end(), std::greater<double>());
        keeps.erase(std::unique(keeps.begin(), keeps.end()), keeps.end());
    }

    size_t size() const { return layers.size(); }
    // A depthwise layer has no keep of its own (its channels are those of
    // the layer before), nor has the output layer.
    bool passes(size_t p) const { return model.layers[size_t(layers[p])].type == LayerType::DepthwiseConv2d; }
    int keep_count(size_t p) const { return p == out || passes(p) ? 1 : int(keeps.size()); }
    double keep_of(size_t p, int k) const { return p == out || passes(p) ? 1.0 : keeps[size_t(k)]; }
    // The "flow" out of layer p: the keep index that sets the channels of
    // its output, its own or, through depthwise layers, the last one set.
    int flow_count(size_t p) const { return passes(p) ? (p == 0 ? 1 : flow_count(p - 1)) : keep_count(p); }
    int flow_in_count(size_t p) const { return p == 0 ? 1 : flow_count(p - 1); }
    int flow_out(size_t p, int flow_in, int keep) const { return passes(p) ? flow_in : keep; }
    // `s` with flow f into layer p: the keep of the last layer before p
    // that has one.
    State with_flow_in(State s, size_t p, int f) const {
        for (size_t q = p; q-- > 0;)
            if (!passes(q)) {
                s[2 * q + 1] = f;
                break;
            }
        return s;
    }
    State top() const { return State(2 * size(), 0); }

    CompressionConfig config(const State &s) const {
        CompressionConfig c;
        for (size_t p = 0; p < size(); ++p) {
            LayerSetting &l = c.layers[model.layers[size_t(layers[p])].name];
            l.bits = bits[size_t(s[2 * p])];
            const double keep = keep_of(p, s[2 * p + 1]);
            if (keep < 1.0) l.keep = keep;
        }
        return c;
    }
};

// Layer p's share of a config's cost, given the flow into it (`prev`: the
// keep index that sets its input channels), its own keep and bits indices.
struct Part {
    int64_t flash = 0, macs = 0, ram = 0;
};

class PartTable {
  public:
    explicit PartTable(const Space &space) : space_(space) {
        const size_t L = space.size();
        parts_.resize(L);
        for (size_t p = 0; p < L; ++p) {
            for (int a = 0; a < space.flow_in_count(p); ++a)
                for (int k = 0; k < space.keep_count(p); ++k)
                    for (size_t b = 0; b < space.bits.size(); ++b) {
                        State s = space.with_flow_in(space.top(), p, a);
                        s[2 * p] = int(b);
                        s[2 * p + 1] = k;
                        parts_[p].push_back(part_of(p, footprint(space.model, space.config(s))));
                    }
        }
    }

    const Part &at(size_t p, int prev, int keep, int bits) const {
        const size_t K = size_t(space_.keep_count(p)), B = space_.bits.size();
        return parts_[p][(size_t(prev) * K + size_t(keep)) * B + size_t(bits)];
    }

  private:
    // Layer p's flash and MACs, and the largest step of those that come
    // after its predecessor's last (the input step belongs to the first).
    Part part_of(size_t p, const Footprint &f) const {
        Part part;
        const int li = space_.layers[p];
        part.flash = f.layer_flash[size_t(li)];
        part.macs = f.layer_macs[size_t(li)];
        const int from = p == 0 ? -1 : li, to = p + 1 < space_.size() ? space_.layers[p + 1] : 1 << 30;
        for (size_t k = 0; k < f.step_bytes.size(); ++k) {
            const int owner = f.step_layer[k];
            if ((owner >= from && owner < to) || (p == 0 && owner < 0)) part.ram = std::max(part.ram, f.step_bytes[k]);
        }
        return part;
    }

    const Space &space_;
    std::vector<std::vector<Part>> parts_;
};

// The smallest flash, RAM and MACs any config of the space reaches, each on
// its own: a shortest path along the chain (sum for flash and MACs, max for
// RAM).
Footprint smallest_reachable(const Space &space, const PartTable &parts) {
    Footprint least;
    for (Resource r : {Resource::Flash, Resource::Ram, Resource::Macs}) {
        std::vector<int64_t> best(1, 0); // by the flow out of the previous layer
        for (size_t p = 0; p < space.size(); ++p) {
            std::vector<int64_t> next(size_t(space.flow_count(p)), INT64_MAX);
            for (size_t a = 0; a < best.size(); ++a)
                for (int k = 0; k < space.keep_count(p); ++k)
                    for (size_t b = 0; b < space.bits.size(); ++b) {
                        const Part &part = parts.at(p, int(a), k, int(b));
                        const int64_t v = r == Resource::Flash ? best[a] + part.flash
                                          : r == Resource::Macs ? best[a] + part.macs
                                                                : std::max(best[a], part.ram);
                        const size_t f = size_t(space.flow_out(p, int(a), k));
                        next[f] = std::min(next[f], v);
                    }
            best = next;
        }
        const int64_t v = *std::min_element(best.begin(), best.end());
        (r == Resource::Flash ? least.flash_bytes : r == Resource::Ram ? least.peak_ram_bytes : least.macs) = v;
    }
    return least;
}

std::string unmeetable_message(const Budget &b, const Footprint &least, const Space &space) {
    std::string want;
    const auto add = [&](const std::string &text) { want += (want.empty() ? "" : ", ") + text; };
    if (b.flash_bytes > 0) add("flash <= " + with_commas(b.flash_bytes) + " bytes");
    if (b.peak_ram_bytes > 0) add("peak RAM <= " + with_commas(b.peak_ram_bytes) + " bytes");
    if (b.macs > 0) add("MACs <= " + with_commas(b.macs));
    char keep[32];
    std::snprintf(keep, sizeof keep, "%g", space.keeps.back());
    return "no configuration meets " + want + ": with bits down to " + std::to_string(space.bits.back()) +
           " and keep down to " + keep + " the smallest reachable are flash " + with_commas(least.flash_bytes) +
           " bytes, peak RAM " + with_commas(least.peak_ram_bytes) + " bytes and " + with_commas(least.macs) +
           " MACs (each on its own)";
}

// One partial config in the dynamic programme.
struct Label {
    int64_t flash = 0, macs = 0, ram = 0;
    int loss = 0;                  // predicted right answers lost (subset)
    int prev_keep = -1, prev = -1; // where it came from in the layer before (its flow, its index)
    int bits = 0;
};

// The calibration set candidates are screened with: the first
// options.screening_calibration inputs of `full`'s, or all of them.
CalibrationSet screening_calibration(const Compressor &full, const BudgetOptions &options) {
    const CalibrationSet &all = full.calibration();
    const int n = options.screening_calibration;
    if (n <= 0 || n >= all.count) return all;
    CalibrationSet first;
    first.count = n;
    first.raw.assign(all.raw.begin(), all.raw.begin() + int64_t(n) * full.model().input.shape.size());
    return first;
}

// What one screening thread scores with: a compressor of its own (its
// cache follows its own configs) and a scorer of the subset.
struct Lane {
    Compressor compressor;
    IncrementalScorer scorer;
    double seconds_compressing = 0.0, seconds_scoring = 0.0;
    Lane(const Model &model, CalibrationSet calibration, const TestSet &subset)
        : compressor(model, std::move(calibration)), scorer(subset) {}
};

// Runs job(t, stop) for t < n: t = 0 on this thread, the others on threads
// of their own. Once all are back, rethrows the first error; `stop` is set
// when job 0 throws (a cancel), for the others to end early.
void run_lanes(size_t n, const std::function<void(size_t, const std::atomic<bool> &)> &job) {
    std::vector<std::exception_ptr> errors(n);
    std::atomic<bool> stop(false);
    std::vector<std::thread> threads;
    for (size_t t = 1; t < n; ++t)
        threads.emplace_back([&, t] {
            try {
                job(t, stop);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    try {
        job(0, stop);
    } catch (...) {
        errors[0] = std::current_exception();
        stop = true;
    }
    for (std::thread &t : threads) t.join();
    for (const std::exception_ptr &e : errors)
        if (e) std::rethrow_exception(e);
}

// A range of indices that two threads take from either end until they
// meet: however uneven the work per index, both finish together.
class TwoEnds {
  public:
    TwoEnds(size_t begin, size_t end) : front_(begin), back_(end) {}
    // Sets i to the next index from the front (or the back); false when
    // none is left.
    bool take(bool from_back, size_t &i) {
        const std::lock_guard<std::mutex> hold(lock_);
        if (front_ == back_) return false;
        i = from_back ? --back_ : front_++;
        return true;
    }

  private:
    std::mutex lock_;
    size_t front_, back_;
};

class Solver {
  public:
    Solver(Compressor &compressor, const TestSet &test, const Budget &budget, const BudgetChoices &choices,
           const BudgetOptions &options, const SearchProgress &progress)
        : compressor_(compressor), test_(test), budget_(budget), options_(options), progress_(progress),
          space_(compressor.model(), choices), parts_(space_), resource_(front_resource(budget)),
          subset_(stratified_subset(test, options.subset_images > 0 ? options.subset_images : test.count,
                                    options.seed)),
          threads_(std::max(1, std::min(options.threads, 16))) {
        const CalibrationSet calibration = screening_calibration(compressor, options);
        for (int t = 0; t < threads_; ++t) {
            lanes_.emplace_back(new Lane(compressor.model(), calibration, subset_));
            full_tests_.emplace_back(new TestSet(test_part(test, t, threads_)));
            full_scorers_.emplace_back(new IncrementalScorer(*full_tests_.back()));
        }
        // The sensitivities and the first candidates are always scored; the
        // local search stops at max_evaluations.
        int first = 1 + 4;
        for (size_t p = 0; p < space_.size(); ++p) first += space_.keep_count(p) * int(space_.bits.size()) - 1;
        screen_total_ = std::max(options.max_evaluations, first);
        const Footprint top = footprint(space_.model, space_.config(space_.top()));
        tail_macs_.assign(space_.size(), 0);
        for (size_t p = 0; p < space_.size(); ++p)
            for (size_t li = size_t(space_.layers[p]); li < top.layer_macs.size(); ++li)
                tail_macs_[p] += top.layer_macs[li];
    }

    BudgetOutcome run();

  private:
    struct Scored {
        Footprint cost;
        int correct = 0;
    };

    void check_feasible() const;
    void measure_float();
    void measure_sensitivities();
    std::vector<State> candidates() const;
    void local_search(State current);
    std::vector<State> neighbours(const State &s) const;
    int score(const State &s);
    void score_all(std::vector<State> states);
    bool better(const State &a, const State &b) const;
    std::vector<State> ranked() const;
    BudgetOutcome finish();
    State choose(const std::vector<State> &order);
    BudgetOutcome outcome(const State &best, const std::vector<State> &order) const;
    BudgetPoint point(const State &s) const;

    bool drop_mode() const { return !has_limit(budget_); }
    int64_t cost(const State &s) const { return resource_of(scored_.at(s).cost, resource_); }
    bool within_drop_on_subset(const State &s) const { return scored_.at(s).correct >= subset_threshold_; }

    Compressor &compressor_;
    const TestSet &test_;
    const Budget budget_;
    const BudgetOptions options_;
    const SearchProgress progress_;
    const Space space_;
    const PartTable parts_;
    const Resource resource_;
    const TestSet subset_;
    const int threads_;
    std::vector<std::unique_ptr<Lane>> lanes_; // lanes_[0] on this thread
    // The finalists are compressed once and scored on threads_ parts of
    // the test inputs at once.
    std::vector<std::unique_ptr<TestSet>> full_tests_;
    std::vector<std::unique_ptr<IncrementalScorer>> full_scorers_;
    std::unique_ptr<Compressor> spare_; // a second full compressor, for the finalists
    int confirm_correct(const CompressionConfig &c);
    int correct_on_all(const CompressedModel &model);
    std::vector<std::unique_ptr<CompressedModel>> compress_finalists(const std::vector<State> &finals);

    std::map<State, Scored> scored_;
    std::map<State, int> confirmed_; // right answers on all test images
    // loss_[p][keep * bits + b]: right answers lost on the subset with
    // layer p alone at that setting.
    std::vector<std::vector<int>> loss_;
    int base_correct_ = 0;
    double float_full_ = -1.0;
    int subset_threshold_ = 0; // drop mode: the right answers a config needs on the subset
    double seconds_compressing_ = 0.0, seconds_screening_ = 0.0, seconds_confirming_ = 0.0;
    // Compresses c, then counts right answers with `scorer`, adding the
    // time each took to the figures above.
    Scored screen(Lane &lane, const State &s) const;
    void screen_in_parallel(const std::vector<State> &states);
    std::vector<size_t> segments(const std::vector<State> &states, size_t lanes) const;
    int screen_total_ = 0;     // the most configs scored on the subset
    // tail_macs_[p]: the MACs from layer p to the end (what rescoring from
    // there runs, and roughly what recalibrating from there costs).
    std::vector<int64_t> tail_macs_;
};

void Solver::check_feasible() const {
    const Footprint least = smallest_reachable(space_, parts_);
    if ((budget_.flash_bytes > 0 && least.flash_bytes > budget_.flash_bytes) ||
        (budget_.peak_ram_bytes > 0 && least.peak_ram_bytes > budget_.peak_ram_bytes) ||
        (budget_.macs > 0 && least.macs > budget_.macs))
        throw Error(unmeetable_message(budget_, least, space_));
}

void Solver::measure_float() {
    if (budget_.max_drop_points < 0.0) return;
    const CompressedModel reference = float_reference(compressor_.model());
    float_full_ = options_.float_accuracy >= 0.0 ? options_.float_accuracy : dmc::score(reference, test_);
    const double float_subset = dmc::score(reference, subset_);
    // A subset is noisier than the whole set: 0.2 points of margin, as smallest_within.
    const double need = (float_subset - budget_.max_drop_points / 100.0 + 0.002) * subset_.count;
    subset_threshold_ = int(std::ceil(need - 1e-9));
}

int Solver::score(const State &s) {
    const auto found = scored_.find(s);
    if (found != scored_.end()) return found->second.correct;
    if (progress_) progress_(SearchStage::Screening, int(scored_.size()) + 1, screen_total_);
    return (scored_[s] = screen(*lanes_[0], s)).correct;
}

// Scores s on the subset with the lane's compressor and scorer.
Solver::Scored Solver::screen(Lane &lane, const State &s) const {
    using Clock = std::chrono::steady_clock;
    const CompressionConfig c = space_.config(s);
    Scored result;
    result.cost = footprint(space_.model, c);
    const auto t0 = Clock::now();
    const CompressedModel model = lane.compressor.compress(c);
    const auto t1 = Clock::now();
    result.correct = lane.scorer.correct(model);
    lane.seconds_compressing += std::chrono::duration<double>(t1 - t0).count();
    lane.seconds_scoring += std::chrono::duration<double>(Clock::now() - t1).count();
    return result;
}

// Compresses c once (with every calibration input) and counts its right
// answers on all test inputs, each part on a thread of its own.
int Solver::confirm_correct(const CompressionConfig &c) {
    const auto t0 = std::chrono::steady_clock::now();
    const CompressedModel model = compressor_.compress(c);
    seconds_compressing_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return correct_on_all(model);
}

int Solver::correct_on_all(const CompressedModel &model) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int> correct(size_t(threads_), 0);
    run_lanes(size_t(threads_),
              [&](size_t t, const std::atomic<bool> &) { correct[t] = full_scorers_[t]->correct(model); });
    seconds_confirming_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int total = 0;
    for (int n : correct) total += n;
    return total;
}

// The finalists (sorted) compressed with every calibration input; with
// more than one thread, compressor_ takes them from the front and a second
// compressor from the back.
std::vector<std::unique_ptr<CompressedModel>> Solver::compress_finalists(const std::vector<State> &finals) {
    const auto t0 = std::chrono::steady_clock::now();
    const size_t lanes = threads_ > 1 && finals.size() > 1 ? 2 : 1;
    if (lanes == 2 && !spare_) spare_.reset(new Compressor(compressor_.model(), compressor_.calibration()));
    std::vector<std::unique_ptr<CompressedModel>> models(finals.size());
    TwoEnds ends(0, finals.size());
    run_lanes(lanes, [&](size_t t, const std::atomic<bool> &stop) {
        Compressor &compressor = t == 0 ? compressor_ : *spare_;
        size_t i = 0;
        while (!stop && ends.take(t == 1, i))
            models[i].reset(new CompressedModel(compressor.compress(space_.config(finals[i]))));
    });
    seconds_compressing_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return models;
}

// Scores in lexicographic order: neighbours share their first layers'
// settings. With more lanes, screen_in_parallel keeps to that order too.
void Solver::score_all(std::vector<State> states) {
    std::sort(states.begin(), states.end());
    states.erase(std::unique(states.begin(), states.end()), states.end());
    states.erase(std::remove_if(states.begin(), states.end(), [&](const State &s) { return scored_.count(s) > 0; }),
                 states.end());
    if (lanes_.size() > 1 && states.size() > 1) return screen_in_parallel(states);
    for (const State &s : states) score(s);
}

// Where each segment of the sorted states starts (and, last, the end),
// segment j being worked by lanes 2j and 2j + 1: sized so that each lane's
// part of the estimated work is about the same. A state's work is the MACs
// from the first layer it changes against the state before it (the
// compressor recalibrates and the scorer reruns from there), plus a fixed
// part.
std::vector<size_t> Solver::segments(const std::vector<State> &states, size_t lanes) const {
    std::vector<double> before(states.size() + 1, 0.0); // the work of states [0, i)
    for (size_t i = 0; i < states.size(); ++i) {
        size_t p = 0;
        while (i > 0 && p + 1 < space_.size() && states[i][2 * p] == states[i - 1][2 * p] &&
               states[i][2 * p + 1] == states[i - 1][2 * p + 1])
            ++p;
        before[i + 1] = before[i] + double(tail_macs_[p]) + 0.05 * double(tail_macs_[0]);
    }
    const size_t count = (lanes + 1) / 2;
    std::vector<size_t> start(count + 1, states.size());
    start[0] = 0;
    for (size_t j = 1; j < count; ++j) {
        const double target = before.back() * double(2 * j) / double(lanes);
        size_t i = start[j - 1] + 1; // every segment holds a state
        while (i + (count - j) < states.size() && before[i] < target) ++i;
        start[j] = i;
    }
    return start;
}

// The lanes work in pairs on contiguous segments of the sorted states, the
// first of a pair from the segment's front, the second from its back, until
// they meet: neighbours in either direction share their first layers'
// settings (the caches stay warm), and the two end together however the
// work is spread (a config that changes conv1 recalibrates and rescores
// everything, one that changes the last layer almost nothing). Lane 0 runs
// here and reports progress, which may throw to cancel; the others stop
// early when told. The results go in once all are back: the same whatever
// the lanes' speed.
void Solver::screen_in_parallel(const std::vector<State> &states) {
    const size_t lanes = std::min(lanes_.size(), states.size());
    const std::vector<size_t> start = segments(states, lanes);
    std::deque<TwoEnds> segment;
    for (size_t j = 0; j + 1 < start.size(); ++j) segment.emplace_back(start[j], start[j + 1]);
    std::vector<Scored> results(states.size());
    std::vector<char> done(states.size(), 0);
    std::atomic<int> taken(0);
    run_lanes(lanes, [&](size_t t, const std::atomic<bool> &stop) {
        size_t i = 0;
        while (!stop && segment[t / 2].take(t % 2 == 1, i)) {
            const int n = ++taken;
            if (t == 0 && progress_) progress_(SearchStage::Screening, int(scored_.size()) + n, screen_total_);
            results[i] = screen(*lanes_[t], states[i]);
            done[i] = 1;
        }
    });
    for (size_t i = 0; i < states.size(); ++i)
        if (done[i]) scored_[states[i]] = results[i];
}

void Solver::measure_sensitivities() {
    const State top = space_.top();
    const size_t B = space_.bits.size();
    const auto moved = [&](size_t p, int k, size_t b) {
        State s = top;
        s[2 * p] = int(b);
        s[2 * p + 1] = k;
        return s;
    };
    std::vector<State> all;
    for (size_t p = 0; p < space_.size(); ++p)
        for (int k = 0; k < space_.keep_count(p); ++k)
            for (size_t b = 0; b < B; ++b) all.push_back(moved(p, k, b));
    score_all(all); // top among them
    base_correct_ = scored_.at(top).correct;
    loss_.resize(space_.size());
    for (size_t p = 0; p < space_.size(); ++p) {
        loss_[p].assign(size_t(space_.keep_count(p)) * B, 0);
        for (int k = 0; k < space_.keep_count(p); ++k)
            for (size_t b = 0; b < B; ++b)
                loss_[p][size_t(k) * B + b] = base_correct_ - scored_.at(moved(p, k, b)).correct;
    }
}

// Keeps the labels no other beats on every tracked figure; the first of
// equals (labels come in a fixed order) stays.
std::vector<Label> undominated(std::vector<Label> labels, const Budget &budget, Resource front) {
    const bool flash = budget.flash_bytes > 0 || front == Resource::Flash;
    const bool ram = budget.peak_ram_bytes > 0 || front == Resource::Ram;
    const bool macs = budget.macs > 0 || front == Resource::Macs;
    std::stable_sort(labels.begin(), labels.end(), [](const Label &a, const Label &b) { return a.loss < b.loss; });
    std::vector<Label> kept;
    for (const Label &l : labels) {
        bool beaten = false;
        for (const Label &k : kept)
            if ((!flash || k.flash <= l.flash) && (!ram || k.ram <= l.ram) && (!macs || k.macs <= l.macs)) {
                beaten = true; // k has no more loss (sorted) and no more of anything tracked
                break;
            }
        if (!beaten) kept.push_back(l);
        if (kept.size() >= 4000) break; // the least lossy few thousand are plenty
    }
    return kept;
}

std::vector<State> Solver::candidates() const {
    const size_t L = space_.size(), B = space_.bits.size();
    // labels[p][f]: partial configs of layers 0..p with flow f out of
    // layer p (its keep index; through a depthwise layer, the one before's).
    std::vector<std::vector<std::vector<Label>>> labels(L);
    for (size_t p = 0; p < L; ++p) {
        labels[p].resize(size_t(space_.flow_count(p)));
        for (int f = 0; f < space_.flow_count(p); ++f) {
            std::vector<Label> next;
            for (int a = 0; a < space_.flow_in_count(p); ++a) {
                const int k = space_.passes(p) ? 0 : f;
                if (space_.passes(p) && a != f) continue;
                const std::vector<Label> start(1);
                const std::vector<Label> &from = p == 0 ? start : labels[p - 1][size_t(a)];
                for (size_t i = 0; i < from.size(); ++i)
                    for (size_t b = 0; b < B; ++b) {
                        const Part &part = parts_.at(p, a, k, int(b));
                        Label l;
                        l.flash = from[i].flash + part.flash;
                        l.macs = from[i].macs + part.macs;
                        l.ram = std::max(from[i].ram, part.ram);
                        l.loss = from[i].loss + loss_[p][size_t(k) * B + b];
                        l.prev_keep = a;
                        l.prev = int(i);
                        l.bits = int(b);
                        if (!drop_mode() && !fits(Footprint{l.flash, l.ram, l.macs, {}, {}, {}, {}}, budget_)) continue;
                        next.push_back(l);
                    }
            }
            labels[p][size_t(f)] = undominated(std::move(next), budget_, resource_);
        }
    }
    // Back to states, then the few most promising by prediction.
    struct Ranked {
        int64_t cost;
        int loss;
        State state;
    };
    std::vector<Ranked> all;
    for (int k = 0; k < space_.flow_count(L - 1); ++k)
        for (size_t i = 0; i < labels[L - 1][size_t(k)].size(); ++i) {
            State s(2 * L);
            int flow = k, at = int(i);
            for (size_t p = L; p-- > 0;) {
                const Label &l = labels[p][size_t(flow)][size_t(at)];
                s[2 * p] = l.bits;
                s[2 * p + 1] = space_.passes(p) ? 0 : flow;
                flow = l.prev_keep;
                at = l.prev;
            }
            const Label &last = labels[L - 1][size_t(k)][i];
            const int64_t c = resource_ == Resource::Flash ? last.flash : resource_ == Resource::Ram ? last.ram : last.macs;
            if (drop_mode() && base_correct_ - last.loss < subset_threshold_) continue;
            all.push_back({c, last.loss, s});
        }
    std::sort(all.begin(), all.end(), [&](const Ranked &a, const Ranked &b) {
        if (drop_mode() && a.cost != b.cost) return a.cost < b.cost;
        if (a.loss != b.loss) return a.loss < b.loss;
        if (a.cost != b.cost) return a.cost < b.cost;
        return a.state < b.state;
    });
    std::vector<State> out;
    for (size_t i = 0; i < all.size() && out.size() < 4; ++i) out.push_back(all[i].state);
    if (out.empty()) out.push_back(space_.top()); // drop mode, nothing predicted within: start from the top
    return out;
}

bool Solver::better(const State &a, const State &b) const {
    const Scored &x = scored_.at(a), &y = scored_.at(b);
    if (drop_mode()) {
        const bool xa = within_drop_on_subset(a), yb = within_drop_on_subset(b);
        if (xa != yb) return xa;
        if (cost(a) != cost(b)) return cost(a) < cost(b);
        if (x.correct != y.correct) return x.correct > y.correct;
        return a < b;
    }
    if (x.correct != y.correct) return x.correct > y.correct;
    if (cost(a) != cost(b)) return cost(a) < cost(b);
    return a < b;
}

// One layer one step in bits or keep, within the budget; then the swaps
// (one layer a step up, another a step down) the sensitivities rank best.
std::vector<State> Solver::neighbours(const State &s) const {
    const size_t L = space_.size(), B = space_.bits.size();
    const auto fits_budget = [&](const State &t) {
        return drop_mode() || fits(footprint(space_.model, space_.config(t)), budget_);
    };
    const auto limit = [&](size_t i) { return i % 2 == 0 ? int(B) : space_.keep_count(i / 2); };
    const auto loss = [&](const State &t, size_t p) { return loss_[p][size_t(t[2 * p + 1]) * B + size_t(t[2 * p])]; };
    std::vector<State> out;
    for (size_t i = 0; i < 2 * L; ++i)
        for (int d : {-1, 1}) {
            State t = s;
            t[i] += d;
            if (t[i] >= 0 && t[i] < limit(i) && fits_budget(t)) out.push_back(t);
        }
    struct Swap {
        int gain;
        State state;
    };
    std::vector<Swap> swaps;
    for (size_t i = 0; i < 2 * L; ++i) {
        if (s[i] == 0) continue; // step i up (a smaller index is more accurate)
        for (size_t j = 0; j < 2 * L; ++j) {
            if (j / 2 == i / 2 || s[j] + 1 >= limit(j)) continue;
            State t = s;
            t[i] -= 1;
            t[j] += 1;
            if (scored_.count(t) || !fits_budget(t)) continue;
            const int gain = loss(s, i / 2) + loss(s, j / 2) - loss(t, i / 2) - loss(t, j / 2);
            swaps.push_back({gain, t});
        }
    }
    std::sort(swaps.begin(), swaps.end(), [](const Swap &a, const Swap &b) {
        return a.gain != b.gain ? a.gain > b.gain : a.state < b.state;
    });
    for (size_t i = 0; i < swaps.size() && i < 6; ++i) out.push_back(swaps[i].state);
    return out;
}

void Solver::local_search(State current) {
    for (;;) {
        const std::vector<State> around = neighbours(current);
        std::vector<State> next;
        for (const State &t : around)
            if (!scored_.count(t) && int(scored_.size() + next.size()) < screen_total_) next.push_back(t);
        score_all(next);
        State best = current;
        for (const State &t : around)
            if (scored_.count(t) && better(t, best)) best = t;
        if (best == current) return;
        current = best;
    }
}

// Every scored config, the best first.
std::vector<State> Solver::ranked() const {
    std::vector<State> all;
    for (const auto &s : scored_)
        if (drop_mode() || fits(s.second.cost, budget_)) all.push_back(s.first);
    std::sort(all.begin(), all.end(), [&](const State &a, const State &b) { return better(a, b); });
    return all;
}

BudgetPoint Solver::point(const State &s) const {
    BudgetPoint p;
    p.config = space_.config(s);
    p.cost = scored_.at(s).cost;
    p.subset_accuracy = double(scored_.at(s).correct) / subset_.count;
    const auto c = confirmed_.find(s);
    if (c != confirmed_.end()) p.accuracy = double(c->second) / test_.count;
    return p;
}

BudgetOutcome Solver::finish() {
    const std::vector<State> order = ranked();
    return outcome(choose(order), order);
}

// The answer among the ranked configs: the finalists confirmed on all test
// images (drop mode: the cheapest that keeps within the drop there).
State Solver::choose(const std::vector<State> &order) {
    const int finalists = std::max(1, options_.finalists);
    const auto confirm = [&](const State &s) {
        if (!confirmed_.count(s)) {
            if (progress_) progress_(SearchStage::FullCheck, int(confirmed_.size()) + 1, finalists);
            confirmed_[s] = confirm_correct(space_.config(s));
        }
        return confirmed_[s];
    };
    const double drop = budget_.max_drop_points / 100.0;
    const auto within_drop = [&](const State &s) { return double(confirm(s)) / test_.count >= float_full_ - drop; };
    State best;
    bool found = false;
    if (drop_mode()) {
        // Cheapest first (the ranking's order) among those within the drop
        // on the subset, until one keeps within it on all images; else the
        // most accurate setting of every layer.
        for (const State &s : order)
            if (within_drop_on_subset(s) && within_drop(s)) {
                best = s;
                found = true;
                break;
            }
        if (!found && within_drop(space_.top())) best = space_.top(), found = true;
        if (!found)
            throw Error("no configuration found keeps within " + std::to_string(budget_.max_drop_points) +
                        " points of the float model's accuracy");
    } else {
        // Confirmed in the fixed order, not by rank: consecutive finalists
        // then share their first layers' settings, which the compressor
        // and the scorer do not redo (half the solve's time on LeNet-5).
        // The most accurate wins whatever the order.
        std::vector<State> finals(order.begin(), order.begin() + long(std::min(order.size(), size_t(finalists))));
        std::sort(finals.begin(), finals.end());
        const std::vector<std::unique_ptr<CompressedModel>> models = compress_finalists(finals);
        for (size_t i = 0; i < finals.size(); ++i) {
            const State &s = finals[i];
            if (progress_) progress_(SearchStage::FullCheck, int(i) + 1, int(finals.size()));
            const int correct = confirmed_[s] = correct_on_all(*models[i]);
            if (!found || correct > confirmed_[best] || (correct == confirmed_[best] && better(s, best)))
                best = s, found = true;
        }
        if (budget_.max_drop_points >= 0.0 && !within_drop(best)) {
            char text[256];
            std::snprintf(text, sizeof text,
                          "the most accurate configuration found within the budget scores %s on all %d test "
                          "images, %.2f points below the float model's %s: more than the %g points allowed",
                          percent_text(double(confirm(best)) / test_.count).c_str(), test_.count,
                          100.0 * (float_full_ - double(confirm(best)) / test_.count),
                          percent_text(float_full_).c_str(), budget_.max_drop_points);
            throw Error(text);
        }
    }
    return best;
}

BudgetOutcome Solver::outcome(const State &best, const std::vector<State> &order) const {
    BudgetOutcome outcome;
    outcome.model = space_.model.name;
    outcome.budget = budget_;
    outcome.best = point(best);
    outcome.float_accuracy = float_full_;
    outcome.subset_images = subset_.count;
    outcome.test_images = test_.count;
    outcome.evaluated = int(scored_.size());
    outcome.confirmed = int(confirmed_.size());
    outcome.front_resource = resource_;
    outcome.seconds_compressing = seconds_compressing_;
    outcome.seconds_screening = seconds_screening_;
    for (const auto &lane : lanes_) {
        outcome.seconds_compressing += lane->seconds_compressing;
        outcome.seconds_screening += lane->seconds_scoring;
    }
    outcome.seconds_confirming = seconds_confirming_;
    // The front: by increasing resource, each more accurate on the subset than any before.
    std::vector<State> by_cost = order;
    std::sort(by_cost.begin(), by_cost.end(), [&](const State &a, const State &b) {
        if (cost(a) != cost(b)) return cost(a) < cost(b);
        if (scored_.at(a).correct != scored_.at(b).correct) return scored_.at(a).correct > scored_.at(b).correct;
        return a < b;
    });
    for (const auto &s : scored_) outcome.scored.push_back(point(s.first));
    int most = -1;
    for (const State &s : by_cost)
        if (scored_.at(s).correct > most) {
            most = scored_.at(s).correct;
            outcome.front.push_back(point(s));
        }
    return outcome;
}

BudgetOutcome Solver::run() {
    if (space_.model.task != Task::Classification)
        throw Error("the budget solver maximises accuracy; model '" + space_.model.name + "' is a regression model");
    if (!has_limit(budget_) && budget_.max_drop_points < 0.0)
        throw Error("budget: give a flash, RAM or MAC limit, or a maximum accuracy drop");
    check_feasible();
    measure_float();
    measure_sensitivities();
    const std::vector<State> starts = candidates();
    score_all(starts);
    // A local search from each start, the best first: the predictions can
    // put the best start next to a local optimum that another start avoids.
    std::vector<State> order = starts;
    std::sort(order.begin(), order.end(), [&](const State &a, const State &b) { return better(a, b); });
    for (const State &s : order)
        if (drop_mode() || fits(scored_.at(s).cost, budget_)) local_search(s);
    return finish();
}

} // namespace

BudgetOutcome solve_budget(Compressor &compressor, const TestSet &test, const Budget &budget,
                           const BudgetChoices &choices, const BudgetOptions &options, const SearchProgress &progress) {
    return Solver(compressor, test, budget, choices, options, progress).run();
}

// ------------------------------------------------------------------ output

namespace {

std::string figure_or_none(int64_t v) { return v > 0 ? with_commas(v) : "-"; }

// "8 4@0.5 2": each conv2d/linear layer's bits, and keep where below 1.
std::string settings_text(const CompressionConfig &c) {
    std::string out;
    for (const auto &l : c.layers) {
        char item[64];
        const int bits = l.second.bits.value_or(c.defaults.bits);
        if (l.second.keep && *l.second.keep < 1.0) std::snprintf(item, sizeof item, "%s %d@%g", l.first.c_str(), bits, *l.second.keep);
        else std::snprintf(item, sizeof item, "%s %d", l.first.c_str(), bits);
        out += (out.empty() ? "" : ", ") + std::string(item);
    }
    return out;
}

nlohmann::json point_json(const BudgetPoint &p) {
    nlohmann::json j = {{"config", nlohmann::json::parse(config_to_json(p.config))},
                        {"flash_bytes", p.cost.flash_bytes},
                        {"peak_ram_bytes", p.cost.peak_ram_bytes},
                        {"macs", p.cost.macs},
                        {"subset_accuracy", p.subset_accuracy}};
    j["accuracy"] = p.accuracy >= 0.0 ? nlohmann::json(p.accuracy) : nlohmann::json(nullptr);
    return j;
}

} // namespace

std::string budget_outcome_to_json(const BudgetOutcome &o, int indent) {
    const auto limit = [](int64_t v) { return v > 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
    nlohmann::json front = nlohmann::json::array();
    for (const BudgetPoint &p : o.front) front.push_back(point_json(p));
    nlohmann::json j = {
        {"model", o.model},
        {"budget",
         {{"flash_bytes", limit(o.budget.flash_bytes)},
          {"peak_ram_bytes", limit(o.budget.peak_ram_bytes)},
          {"macs", limit(o.budget.macs)},
          {"max_drop_points", o.budget.max_drop_points >= 0.0 ? nlohmann::json(o.budget.max_drop_points) : nlohmann::json(nullptr)}}},
        {"best", point_json(o.best)},
        {"float_accuracy", o.float_accuracy >= 0.0 ? nlohmann::json(o.float_accuracy) : nlohmann::json(nullptr)},
        {"subset_images", o.subset_images},
        {"test_images", o.test_images},
        {"evaluated", o.evaluated},
        {"confirmed", o.confirmed},
        {"front_resource", o.front_resource == Resource::Flash ? "flash_bytes"
                           : o.front_resource == Resource::Ram ? "peak_ram_bytes" : "macs"},
        {"front", front}};
    return j.dump(indent) + "\n";
}

std::string budget_outcome_to_text(const BudgetOutcome &o) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "model %s, budget: flash %s bytes, peak RAM %s bytes, MACs %s", o.model.c_str(),
                  figure_or_none(o.budget.flash_bytes).c_str(), figure_or_none(o.budget.peak_ram_bytes).c_str(),
                  figure_or_none(o.budget.macs).c_str());
    out += line;
    if (o.budget.max_drop_points >= 0.0) {
        std::snprintf(line, sizeof line, ", max drop %g points", o.budget.max_drop_points);
        out += line;
    }
    out += "\n\nbest: " + config_to_json(o.best.config) + "\n";
    std::snprintf(line, sizeof line, "  accuracy  %s on all %s test images (%s on the subset of %s)", percent_text(o.best.accuracy).c_str(),
                  with_commas(o.test_images).c_str(), percent_text(o.best.subset_accuracy).c_str(),
                  with_commas(o.subset_images).c_str());
    out += line;
    if (o.float_accuracy >= 0.0) out += "; float model " + percent_text(o.float_accuracy);
    out += "\n  flash     " + with_commas(o.best.cost.flash_bytes) + " bytes\n  peak RAM  " +
           with_commas(o.best.cost.peak_ram_bytes) + " bytes\n  MACs      " + with_commas(o.best.cost.macs) + "\n";
    std::snprintf(line, sizeof line,
                  "\n%d configurations scored on a stratified subset of %s test images, %d of them again on all %s\n",
                  o.evaluated, with_commas(o.subset_images).c_str(), o.confirmed, with_commas(o.test_images).c_str());
    out += line;
    std::snprintf(line, sizeof line, "time: %.1f s compressing (calibration), %.1f s scoring on the subset, %.1f s on all images\n",
                  o.seconds_compressing, o.seconds_screening, o.seconds_confirming);
    out += line;
    out += std::string("\nfront: ") + resource_name(o.front_resource) +
           " against accuracy on the subset (all: on every test image, where confirmed)\n";
    std::snprintf(line, sizeof line, "%10s %10s %10s %8s %8s  %s\n", "flash B", "RAM B", "MACs", "subset", "all",
                  "bits@keep per layer");
    out += line;
    for (const BudgetPoint &p : o.front) {
        std::snprintf(line, sizeof line, "%10s %10s %10s %8s %8s  %s\n", with_commas(p.cost.flash_bytes).c_str(),
                      with_commas(p.cost.peak_ram_bytes).c_str(), with_commas(p.cost.macs).c_str(),
                      percent_text(p.subset_accuracy).c_str(), p.accuracy >= 0.0 ? percent_text(p.accuracy).c_str() : "-",
                      settings_text(p.config).c_str());
        out += line;
    }
    return out;
}

} // namespace dmc
