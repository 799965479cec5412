// search.cpp - sensitivity sweep points and the "smallest within a drop"
// search.
//
// The search is greedy, over a ladder of settings per conv2d/linear layer,
// from the largest to the smallest:
//
//   8 bits; 4 bits; 4 bits keeping 0.75, 0.5, 0.35, 0.25 of the channels;
//   2 bits keeping 0.25.
//
// Every layer starts on the first rung. Each round takes the layer whose
// weights take the most bytes on its current rung (weights x bits x keep;
// the first such layer on a tie) and tries it one rung down, the others as
// they are. The candidate is compressed and scored on the first
// screen_images test inputs: it is accepted if its accuracy there is at
// least the float model's on the same inputs, minus the allowed drop, plus
// a margin; otherwise that layer stays where it is for good. A layer at the
// bottom of the ladder, or the output layer at the last rung that keeps all
// its channels (the output layer is never pruned), is done too. The rounds
// end when every layer is done: at most layers x rungs candidates, each one
// compression (the Compressor recalibrates only from the changed layer on)
// and one partial score.
//
// Why greedy by bytes: the biggest layer is where a rung saves the most
// flash, and a layer that fails once is unlikely to pass later, when the
// others have only added noise. Why a subset: screening on 2,000 of MNIST's
// 10,000 test images makes a candidate five times cheaper, and the margin
// pays for the subset's noise.
//
// The last accepted config is then scored on the whole test set; if it
// misses the allowed drop there, the search steps back through the accepted
// configs, newest first, to the first that meets it (all 8-bit if none).
#include "dmc/search.h"

#include <algorithm>
#include <vector>

#include "dmc/error.h"

namespace dmc {

SweepPoint sweep_point(Compressor &compressor, const TestSet &test, const std::string &layer, int bits,
                       double keep, int limit) {
    CompressionConfig c;
    c.defaults.bits = kFloatBits;
    c.layers[layer].bits = bits;
    c.layers[layer].keep = keep;
    return SweepPoint{bits, keep, score(compressor.compress(c), test, limit)};
}

namespace {

struct Rung {
    int bits;
    double keep;
};
const Rung kLadder[] = {{8, 1.0}, {4, 1.0}, {4, 0.75}, {4, 0.5}, {4, 0.35}, {4, 0.25}, {2, 0.25}};
constexpr size_t kRungs = sizeof kLadder / sizeof kLadder[0];

// Where each conv2d/linear layer stands on the ladder, by model layer index.
using Rungs = std::vector<size_t>;

class Greedy {
  public:
    explicit Greedy(const Model &model) : model_(model) {
        for (size_t i = 0; i < model.layers.size(); ++i)
            if (model.layers[i].has_weights()) layers_.push_back(int(i));
        rungs_.assign(model.layers.size(), 0);
        done_.assign(model.layers.size(), false);
    }

    int max_tries() const { return int(layers_.size() * kRungs); }
    const Rungs &rungs() const { return rungs_; }

    CompressionConfig config(const Rungs &rungs) const {
        CompressionConfig c;
        for (int li : layers_) {
            const Rung &r = kLadder[rungs[size_t(li)]];
            LayerSetting &s = c.layers[model_.layers[size_t(li)].name];
            s.bits = r.bits;
            if (r.keep < 1.0) s.keep = r.keep;
        }
        return c;
    }

    // The layer to move down a rung next, or -1 when every layer is done.
    int pick() {
        const int out = model_.output_layer();
        int best = -1;
        double most = -1;
        for (int li : layers_) {
            const size_t r = rungs_[size_t(li)];
            if (done_[size_t(li)]) continue;
            if (r + 1 >= kRungs || (li == out && kLadder[r + 1].keep < 1.0)) {
                done_[size_t(li)] = true;
                continue;
            }
            const double bytes = double(model_.layers[size_t(li)].weight.size()) * kLadder[r].bits * kLadder[r].keep;
            if (bytes > most) most = bytes, best = li;
        }
        return best;
    }

    Rungs one_down(int layer) const {
        Rungs trial = rungs_;
        trial[size_t(layer)]++;
        return trial;
    }
    void accept(const Rungs &trial) { rungs_ = trial; }
    void reject(int layer) { done_[size_t(layer)] = true; }

  private:
    const Model &model_;
    std::vector<int> layers_;
    Rungs rungs_;
    std::vector<bool> done_;
};

} // namespace

SearchOutcome smallest_within(Compressor &compressor, const TestSet &test, double max_drop_points,
                              const SearchOptions &options, const SearchProgress &progress) {
    const Model &model = compressor.model();
    if (model.task != Task::Classification)
        throw Error("the search keeps accuracy within a drop; model '" + model.name + "' is a regression model");
    const double drop = max_drop_points / 100.0;
    const int limit = std::min(options.screen_images, test.count);
    const CompressedModel reference = float_reference(model);
    const double float_subset = score(reference, test, limit);
    const double float_full = options.float_accuracy >= 0.0 ? options.float_accuracy : score(reference, test);

    Greedy greedy(model);
    SearchOutcome result;
    std::vector<Rungs> accepted = {greedy.rungs()};
    for (int layer; (layer = greedy.pick()) >= 0;) {
        if (progress) progress(SearchStage::Screening, ++result.tries, greedy.max_tries());
        const Rungs trial = greedy.one_down(layer);
        const double acc = score(compressor.compress(greedy.config(trial)), test, limit);
        if (acc >= float_subset - drop + options.screen_margin) {
            greedy.accept(trial);
            accepted.push_back(trial);
        } else {
            greedy.reject(layer);
        }
    }
    for (;;) {
        const CompressionConfig c = greedy.config(accepted.back());
        const CompressedModel cm = compressor.compress(c);
        if (progress) progress(SearchStage::FullCheck, result.tries, greedy.max_tries());
        const double acc = score(cm, test);
        if (acc >= float_full - drop || accepted.size() == 1) {
            result.config = c;
            result.accuracy = acc;
            result.flash_bytes = describe(cm).flash_bytes;
            return result;
        }
        accepted.pop_back();
    }
}

} // namespace dmc
