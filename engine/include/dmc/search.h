// dmc/search.h - choosing a compression: the points of a per-layer
// sensitivity sweep, and the greedy search for the smallest config whose
// accuracy stays within a given drop of the float model's. The CLI's sweep
// and the workbench's sensitivity tab and preset all call these, so a
// figure or a chosen config is the same wherever it is asked for.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "dmc/compressed_model.h"
#include "dmc/dataset.h"
#include "dmc/evaluate.h"

namespace dmc {

// One point of a sensitivity sweep: the score (accuracy, or MSE for a
// regression model) on the first `limit` test inputs (0: all) with only
// `layer` compressed (to `bits`, keeping `keep` of its channels) and every
// other layer left in float. What sweep_layer() gives for that point.
SweepPoint sweep_point(Compressor &compressor, const TestSet &test, const std::string &layer, int bits,
                       double keep, int limit = 0);

// The greedy search (see search.cpp for how it goes).
struct SearchOptions {
    // Candidates are screened on the first `screen_images` test inputs...
    int screen_images = 2000;
    // ...and must stay this much (a fraction) above the allowed accuracy
    // there: a subset is noisier than the whole set.
    double screen_margin = 0.002;
    // The float model's accuracy on the whole set when the caller has it
    // already (the workbench does); negative: measured here.
    double float_accuracy = -1.0;
};

enum class SearchStage {
    Screening, // a candidate, before it is compressed and scored on the subset
    FullCheck, // the winner (or one step back from it), before its full-set score
};
// Called before each compression is scored: done counts the candidates
// tried, total is the most there can be. A caller may throw from it to
// abandon the search, or wait in it (the workbench waits while a person
// moves a slider).
using SearchProgress = std::function<void(SearchStage stage, int done, int total)>;

struct SearchOutcome {
    CompressionConfig config;
    double accuracy = 0.0;   // on the whole test set
    int64_t flash_bytes = 0; // describe()'s
    int tries = 0;           // candidates screened
};

// The smallest config (by the greedy search) whose accuracy on the whole
// of `test` is at least the float model's minus max_drop_points / 100.
// Classification models only (throws dmc::Error otherwise).
SearchOutcome smallest_within(Compressor &compressor, const TestSet &test, double max_drop_points,
                              const SearchOptions &options = {}, const SearchProgress &progress = nullptr);

} // namespace dmc
