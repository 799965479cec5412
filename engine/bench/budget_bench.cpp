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
// usage: budget_bench [--model FILE] [--mnist DIR] [--limit N]
//                     [--budgets B1,B2,...] [--subset N] [--screen-calibration N]
// Prints figures; it is not a test.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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

} // namespace

int main(int argc, char **argv) {
    try {
        const Args args = parse(argc, argv);
        const Model model = load_model(args.model);
        TestSet test = load_test_set(model, args.mnist);
        if (args.limit > 0 && args.limit < test.count) test = stratified_subset(test, args.limit);
        const CalibrationSet calibration = load_calibration_set(model, args.mnist);
        const BudgetChoices choices{{8, 4, 2}, {1.0, 0.5}};

        auto t0 = std::chrono::steady_clock::now();
        std::vector<Entry> space;
        {
            Compressor compressor(model, calibration);
            IncrementalScorer scorer(test);
            for (const CompressionConfig &c : enumerate(model, choices.bits, choices.keeps)) {
                Entry e{c, footprint(model, c).flash_bytes, scorer.correct(compressor.compress(c))};
                space.push_back(e);
                if (space.size() % 200 == 0) std::fprintf(stderr, "\rexhaustive: %zu configs", space.size());
            }
        }
        const double exhaustive_s = seconds_since(t0);
        std::fprintf(stderr, "\r\033[K");
        std::printf("%s: %zu configs (bits {8,4,2} x keep {1,0.5} per layer, output layer keep 1), "
                    "all scored on %d test images in %.1f s\n\n",
                    model.name.c_str(), space.size(), test.count, exhaustive_s);
        std::printf("%8s | %8s %8s | %8s %8s %6s | %9s %9s %7s\n", "flash<=", "optimum", "flash", "solver", "flash",
                    "gap", "evaluated", "confirmed", "seconds");
        double worst = 0.0;
        for (int64_t budget : args.budgets) {
            const Entry *best = nullptr;
            for (const Entry &e : space)
                if (e.flash <= budget && (!best || e.correct > best->correct ||
                                          (e.correct == best->correct && e.flash < best->flash)))
                    best = &e;
            if (!best) {
                std::printf("%8lld | no config fits\n", (long long)budget);
                continue;
            }
            Compressor compressor(model, calibration);
            Budget b;
            b.flash_bytes = budget;
            BudgetOptions options;
            options.subset_images = args.subset;
            options.screening_calibration = args.screen;
            t0 = std::chrono::steady_clock::now();
            const BudgetOutcome found = solve_budget(compressor, test, b, choices, options);
            const double solve_s = seconds_since(t0);
            const double optimum = 100.0 * best->correct / test.count, solver = 100.0 * found.best.accuracy;
            // The gap in right answers (exact), as points.
            const double gap = 100.0 * double(best->correct - std::lround(found.best.accuracy * test.count)) / test.count;
            worst = std::max(worst, gap);
            std::printf("%8lld | %7.2f%% %8lld | %7.2f%% %8lld %6.2f | %9d %9d %7.1f\n", (long long)budget, optimum,
                        (long long)best->flash, solver, (long long)found.best.cost.flash_bytes, gap,
                        found.evaluated, found.confirmed, solve_s);
            std::fflush(stdout);
        }
        std::printf("\nlargest gap: %.2f points (accuracies on all %d test images; the solver scores candidates "
                    "on a stratified subset of %d)\n",
                    worst, test.count, std::min(args.subset, test.count));
        return 0;
    } catch (const Error &e) {
        std::fprintf(stderr, "budget_bench: %s\n", e.what());
        return 1;
    }
}
