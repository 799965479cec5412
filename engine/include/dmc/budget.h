// dmc/budget.h - the budget solver: "my board has this much flash, this
// much RAM and this many MACs to spend" in, the most accurate per-layer
// configuration that fits out, with the front of accuracy against the
// budgeted resource. budget.cpp explains how it searches.
//
// Also here, because the solver stands on them: the exact footprint of a
// config without compressing anything, and a scorer that reuses the test
// activations of the steps two compressions share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dmc/compressed_model.h"
#include "dmc/dataset.h"
#include "dmc/search.h"

namespace dmc {

// What describe() would report for compress(config), computed from shapes
// alone: no pruning of weights, no quantization, no calibration.
struct Footprint {
    int64_t flash_bytes = 0;    // Report::flash_bytes
    int64_t peak_ram_bytes = 0; // Report::peak_ram_bytes (the buffer plan's arena)
    int64_t macs = 0;           // Report::macs
    // Per model layer (0 for layers without weights): LayerReport's figures.
    std::vector<int64_t> layer_flash, layer_macs;
    // Per step of the compressed model: input + scratch + output, aligned
    // (BufferPlan::Entry::bytes), and the model layer the step implements
    // (-1 for conversions).
    std::vector<int64_t> step_bytes;
    std::vector<int> step_layer;
};
// Throws dmc::Error if the config does not fit the model (validate_config).
Footprint footprint(const Model &model, const CompressionConfig &config);

// Counts a compressed model's right answers on a classification test set,
// as score() does, but keeps every step's output for every input of the
// last model it scored: the next model whose step_keys agree up to step k
// runs from step k + 1 only. Scoring configs that differ in the last
// layers costs little more than those layers.
class IncrementalScorer {
  public:
    explicit IncrementalScorer(const TestSet &test); // keeps a reference: `test` must outlive it
    int correct(const CompressedModel &model);
    int count() const { return test_.count; }

  private:
    const TestSet &test_;
    std::vector<std::string> keys_;              // the last model's step_keys
    std::vector<std::vector<uint8_t>> outputs_;  // outputs_[k]: step k's output for every input
    int last_correct_ = 0;
};

// The first `count` inputs of `test` in stratified_order(test, seed): a
// subset whose classes have the whole set's proportions.
TestSet stratified_subset(const TestSet &test, int count, uint64_t seed = 1);

// What must fit. A limit of 0 is no limit. A configuration fits when each
// figure is <= its limit (a budget met exactly is met).
struct Budget {
    int64_t flash_bytes = 0;
    int64_t peak_ram_bytes = 0;
    int64_t macs = 0;
    // Negative: none. Otherwise the chosen config's accuracy on all test
    // images must be at least the float model's minus this many points;
    // with no other limit, the solver looks for the smallest flash that
    // keeps within it instead of the highest accuracy.
    double max_drop_points = -1.0;
};

// The settings each conv2d/linear layer may take. The output layer keeps
// all its channels whatever `keeps` says.
struct BudgetChoices {
    std::vector<int> bits = {8, 4, 2};                                      // from 2, 4, 8
    std::vector<double> keeps = {1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25}; // in (0, 1]
};

struct BudgetOptions {
    int subset_images = 2000; // candidates are scored on this stratified subset...
    // ...compressed with the first this many calibration inputs (0: all of
    // them): a cheaper, slightly different calibration that ranks configs
    // much as the full one does (budget_bench measures how much). Finalists
    // are compressed with every calibration input, as dmc eval does, so the
    // answer's figures are exact either way.
    int screening_calibration = 0;
    int finalists = 6;        // ...and this many of the best confirmed on all images
    int max_evaluations = 400; // subset scores at most, sensitivities included
    // Threads that score candidates on the subset (each with a compressor
    // and a scorer of its own) and the finalists (each on a part of the
    // test inputs): the same answer and the same configs scored with any
    // number, sooner with two on two cores.
    int threads = 1;
    uint64_t seed = 1;         // of the stratified order
    double float_accuracy = -1.0; // on all images, when the caller has it (else measured if needed)
};

enum class Resource { Flash, Ram, Macs };
const char *resource_name(Resource r); // "flash", "RAM", "MACs"

struct BudgetPoint {
    CompressionConfig config;
    Footprint cost;
    double subset_accuracy = 0.0; // on the stratified subset
    double accuracy = -1.0;       // on all test images; negative where not measured
};

struct BudgetOutcome {
    std::string model;
    Budget budget;
    BudgetPoint best; // its accuracy is on all test images
    double float_accuracy = -1.0; // on all test images; negative where not measured
    int subset_images = 0, test_images = 0;
    int evaluated = 0; // configs scored on the subset
    int confirmed = 0; // configs scored on all test images
    // Where the time went, in wall seconds summed over the threads that
    // screen (so more than the whole run's with several): compressing
    // (calibration), scoring on the subset, and on all images.
    double seconds_compressing = 0.0, seconds_screening = 0.0, seconds_confirming = 0.0;
    Resource front_resource = Resource::Flash;
    // The configs evaluated that no other evaluated config beats on both
    // front_resource (lower) and subset accuracy (higher), by increasing
    // resource. Subset accuracies; `accuracy` too where it was confirmed.
    std::vector<BudgetPoint> front;
    // Every config scored on the subset (fitting or not, the order fixed),
    // for a chart of what the solver looked at; not in the JSON or text.
    std::vector<BudgetPoint> scored;
};

// The most accurate configuration within `budget` that the solver finds
// (see budget.cpp). Classification models only. Throws dmc::Error for a
// budget no configuration of `choices` meets, naming the smallest flash,
// RAM and MACs they reach, and for bad choices. `progress` is called before
// each score as smallest_within's is; a caller may throw from it to cancel.
BudgetOutcome solve_budget(Compressor &compressor, const TestSet &test, const Budget &budget,
                           const BudgetChoices &choices = {}, const BudgetOptions &options = {},
                           const SearchProgress &progress = nullptr);

std::string budget_outcome_to_json(const BudgetOutcome &outcome, int indent = 2);
std::string budget_outcome_to_text(const BudgetOutcome &outcome);

} // namespace dmc
