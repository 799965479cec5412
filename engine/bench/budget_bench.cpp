// budget_bench - the budget solver against exhaustive search, on a space
// small enough to enumerate: every conv2d/linear layer at bits {8, 4, 2} and
// keep {1, 0.5} (the output layer keeps 1). For LeNet-5 that is
// 6^4 * 3 = 3,888 configs, each compressed (the Compressor recalibrates from
// the first layer that changes) and scored on the test images (the
// IncrementalScorer reruns them from there too), in an order that keeps the
// shared prefixes long. Then, at each flash budget, the true optimum (most
// right answers on all test images, then least flash) against what
// solve_budget() finds, with a fresh Compressor, and how long each took.
//
// With --random N, for spaces too large to enumerate (the Caffe LeNet-5
// over dmc search's whole grid: bits {8, 4, 2} x seven keep ratios), the
// baseline is instead the best of N configs drawn uniformly at random
// (seeded) and scored by the same evaluator, and the solver searches the
// same whole grid.
//
// usage: budget_bench [--model FILE] [--mnist DIR] [--limit N]
//                     [--budgets B1,B2,...] [--subset N] [--screen-calibration N]
//                     [--finalists N] [--random N]
// Prints figures; it is not a test.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "dmc/budget.h"
#include "dmc/dmc.h"

using namespace dmc;

namespace {

struct Args {
    std::string model = DMC_SOURCE_DIR "/assets/lenet5.json";
    std::string mnist;
    int limit = 0;
    int subset = 2000;
    int screen = 0; // BudgetOptions::screening_calibration
    int finalists = BudgetOptions().finalists;
    int random = 0; // configs drawn at random instead of the exhaustive space
    std::vector<int64_t> budgets = {8000, 10000, 12000, 14000, 17000, 20000, 25000, 30000};
};

Args parse(int argc, char **argv) {
    Args a;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--model") a.model = v;
        else if (k == "--mnist") a.mnist = v;
        else if (k == "--limit") a.limit = std::atoi(v.c_str());
        else if (k == "--subset") a.subset = std::atoi(v.c_str());
        else if (k == "--screen-calibration") a.screen = std::atoi(v.c_str());
        else if (k == "--finalists") a.finalists = std::atoi(v.c_str());
        else if (k == "--random") a.random = std::atoi(v.c_str());
        else if (k == "--budgets") {
            a.budgets.clear();
            for (size_t at = 0; at < v.size();) {
                const size_t comma = v.find(',', at);
                a.budgets.push_back(std::atoll(v.substr(at, comma - at).c_str()));
                at = comma == std::string::npos ? v.size() : comma + 1;
            }
        } else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            std::exit(2);
        }
    }
    return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Entry {
    CompressionConfig config;
    int64_t flash = 0;
    int correct = 0;
};

// Every config of the space, layer 0's setting outermost (prefixes shared).
std::vector<CompressionConfig> enumerate(const Model &m, const std::vector<int> &bits, const std::vector<double> &keeps) {
    std::vector<int> layers;
    for (size_t i = 0; i < m.layers.size(); ++i)
        if (m.layers[i].has_weights()) layers.push_back(int(i));
    std::vector<CompressionConfig> all(1);
    for (int li : layers) {
        std::vector<CompressionConfig> next;
        const bool output = li == m.output_layer();
        for (const CompressionConfig &c : all)
            for (int b : bits)
                for (double k : keeps) {
                    if (output && k < 1.0) continue;
                    CompressionConfig d = c;
                    LayerSetting &s = d.layers[m.layers[size_t(li)].name];
                    s.bits = b;
                    if (k < 1.0) s.keep = k;
                    next.push_back(d);
                }
        all = std::move(next);
    }
    return all;
}

// n configs of the space that fit `budget` flash bytes, drawn uniformly
// at random (a fixed seed; a draw that does not fit is thrown back: the
// footprint is exact and cheap), sorted by their settings layer by layer
// so that neighbours share prefixes. Fewer when 1,000 draws per config
// found fewer.
std::vector<CompressionConfig> draw(const Model &m, const BudgetChoices &choices, int n, int64_t budget) {
    std::vector<int> layers;
    for (size_t i = 0; i < m.layers.size(); ++i)
        if (m.layers[i].has_weights()) layers.push_back(int(i));
    const auto config_of = [&](const std::vector<int> &pick) {
        CompressionConfig c;
        for (size_t p = 0; p < layers.size(); ++p) {
            LayerSetting &s = c.layers[m.layers[size_t(layers[p])].name];
            s.bits = choices.bits[size_t(pick[p]) % choices.bits.size()];
            const double keep = choices.keeps[size_t(pick[p]) / choices.bits.size()];
            if (keep < 1.0) s.keep = keep;
        }
        return c;
    };
    std::mt19937_64 rng(2026);
    std::vector<std::vector<int>> picks;
    for (int64_t tries = 0; int(picks.size()) < n && tries < int64_t(n) * 1000; ++tries) {
        std::vector<int> pick;
        for (int li : layers) {
            const bool own_keep = m.layers[size_t(li)].prunable() && li != m.output_layer();
            const size_t options = choices.bits.size() * (own_keep ? choices.keeps.size() : 1);
            pick.push_back(int(std::uniform_int_distribution<size_t>(0, options - 1)(rng)));
        }
        if (footprint(m, config_of(pick)).flash_bytes <= budget) picks.push_back(pick);
    }
    std::sort(picks.begin(), picks.end());
    std::vector<CompressionConfig> out;
    for (const std::vector<int> &pick : picks) out.push_back(config_of(pick));
    return out;
}

// Every config scored on the test images, with its flash.
std::vector<Entry> score_all(const Model &model, const CalibrationSet &calibration, const TestSet &test,
                             const std::vector<CompressionConfig> &configs) {
    Compressor compressor(model, calibration);
    IncrementalScorer scorer(test);
    std::vector<Entry> space;
    for (const CompressionConfig &c : configs) {
        space.push_back(Entry{c, footprint(model, c).flash_bytes, scorer.correct(compressor.compress(c))});
        if (space.size() % 50 == 0) std::fprintf(stderr, "\rscored %zu of %zu configs", space.size(), configs.size());
    }
    std::fprintf(stderr, "\r\033[K");
    return space;
}

} // namespace

// The most right answers within `budget`, then the least flash; null if
// nothing fits.
const Entry *best_within(const std::vector<Entry> &space, int64_t budget) {
    const Entry *best = nullptr;
    for (const Entry &e : space)
        if (e.flash <= budget &&
            (!best || e.correct > best->correct || (e.correct == best->correct && e.flash < best->flash)))
            best = &e;
    return best;
}

// One row: the baseline's best against the solver's answer; returns the gap
// in points (baseline minus solver).
double compare_row(const Args &args, const Model &model, const CalibrationSet &calibration, const TestSet &test,
                   const BudgetChoices &choices, int64_t budget, const Entry &best) {
    Compressor compressor(model, calibration);
    Budget b;
    b.flash_bytes = budget;
    BudgetOptions options;
    options.subset_images = args.subset;
    options.screening_calibration = args.screen;
    options.finalists = args.finalists;
    const auto t0 = std::chrono::steady_clock::now();
    const BudgetOutcome found = solve_budget(compressor, test, b, choices, options);
    const double solve_s = seconds_since(t0);
    // The gap in right answers (exact), as points.
    const double gap = 100.0 * double(best.correct - std::lround(found.best.accuracy * test.count)) / test.count;
    std::printf("%8lld | %7.2f%% %8lld | %7.2f%% %8lld %6.2f | %9d %9d %7.1f\n", (long long)budget,
                100.0 * best.correct / test.count, (long long)best.flash, 100.0 * found.best.accuracy,
                (long long)found.best.cost.flash_bytes, gap, found.evaluated, found.confirmed, solve_s);
    std::fflush(stdout);
    return gap;
}

int main(int argc, char **argv) {
    try {
        const Args args = parse(argc, argv);
        const Model model = load_model(args.model);
        TestSet test = load_test_set(model, args.mnist);
        if (args.limit > 0 && args.limit < test.count) test = stratified_subset(test, args.limit);
        const CalibrationSet calibration = load_calibration_set(model, args.mnist);
        const bool random = args.random > 0;
        const BudgetChoices choices = random ? BudgetChoices{} : BudgetChoices{{8, 4, 2}, {1.0, 0.5}};

        std::vector<Entry> space; // the exhaustive space, scored once
        if (!random) {
            const auto t0 = std::chrono::steady_clock::now();
            space = score_all(model, calibration, test, enumerate(model, choices.bits, choices.keeps));
            std::printf("%s: %zu configs (bits {8,4,2} x keep {1,0.5} per layer, output layer keep 1), "
                        "all scored on %d test images in %.1f s\n\n",
                        model.name.c_str(), space.size(), test.count, seconds_since(t0));
        } else {
            std::printf("%s: at each budget, %d configs that fit drawn at random from bits {8,4,2} x keep "
                        "{1,0.875,...,0.25} per layer (output layer keep 1) and scored on %d test images; the "
                        "solver searches the same grid\n\n",
                        model.name.c_str(), args.random, test.count);
        }
        std::printf("%8s | %8s %8s | %8s %8s %6s | %9s %9s %7s\n", "flash<=", random ? "random" : "optimum",
                    "flash", "solver", "flash", "gap", "evaluated", "confirmed", "seconds");
        double worst = -100.0;
        for (int64_t budget : args.budgets) {
            const auto t0 = std::chrono::steady_clock::now();
            if (random) space = score_all(model, calibration, test, draw(model, choices, args.random, budget));
            const Entry *best = best_within(space, budget);
            if (!best) {
                std::printf("%8lld | no config fits\n", (long long)budget);
                continue;
            }
            if (random)
                std::printf("         (random search: %zu configs scored in %.1f s)\n", space.size(), seconds_since(t0));
            worst = std::max(worst, compare_row(args, model, calibration, test, choices, budget, *best));
        }
        if (random) std::printf("\n(gap: the random search's best minus the solver's; negative: the solver found more)");
        std::printf("\nlargest gap: %.2f points (accuracies on all %d test images; the solver scores candidates "
                    "on a stratified subset of %d)\n",
                    worst, test.count, std::min(args.subset, test.count));
        return 0;
    } catch (const Error &e) {
        std::fprintf(stderr, "budget_bench: %s\n", e.what());
        return 1;
    }
}
