// The budget solver (engine/src/budget.cpp) and what it stands on: the
// footprint (describe()'s flash, RAM and MACs without compressing), the
// incremental scorer (score()'s right answers, reusing shared steps), the
// stratified subset, budgets that cannot be met and budgets met exactly,
// the solver against exhaustive search on a small space, and its answer
// for LeNet-5 pinned.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "dmc/budget.h"
#include "test_util.h"

using namespace dmc;

namespace {

const char *const kConfigs[] = {
    R"({})",
    R"({"default": {"bits": 4}})",
    R"({"default": {"bits": 2, "keep": 0.25}, "layers": {"fc3": {"keep": 1}}})",
    R"({"layers": {"conv1": {"bits": 2, "keep": 0.5}, "conv2": {"bits": 4, "keep": 0.875}, "fc1": {"keep": 0.375},
        "fc2": {"bits": 2, "keep": 0.625}, "fc3": {"bits": 4}}})",
    R"({"layers": {"conv1": {"keep": 0.3}, "conv2": {"bits": 32, "keep": 0.75}, "fc2": {"bits": 32}}})",
    R"({"default": {"bits": 32}, "layers": {"conv2": {"bits": 8, "keep": 0.5}}})",
};

struct Lenet5 {
    Model model = load_model(DMC_SOURCE_DIR "/assets/lenet5.json");
    TestSet test;
    CalibrationSet calibration;
};

// LeNet-5 with MNIST, or nullptr without MNIST_DIR.
const Lenet5 *lenet5() {
    static const Lenet5 *loaded = [] () -> const Lenet5 * {
        const char *dir = std::getenv("MNIST_DIR");
        if (!dir || !*dir) return nullptr;
        Lenet5 *l = new Lenet5;
        l->test = mnist_test_set(load_mnist(dir, "t10k"));
        const ImageSet train = load_mnist(dir, "train");
        l->calibration = calibration_set(train, calibration_indices(train.count, kCalibrationImages));
        return l;
    }();
    return loaded;
}

} // namespace

// footprint() gives describe()'s figures, float layers and conversions
// included, on LeNet-5 and on a model with every layer type.
TEST(Budget, FootprintIsDescribesFigures) {
    const Model lenet = load_model(DMC_SOURCE_DIR "/assets/lenet5.json");
    const CalibrationSet calibration = dmc_test::random_images(lenet, 20, 3);
    for (const char *text : kConfigs) {
        const CompressionConfig c = parse_config(text);
        const Report r = describe(compress_model(lenet, c, calibration));
        const Footprint f = footprint(lenet, c);
        EXPECT_EQ(f.flash_bytes, r.flash_bytes) << text;
        EXPECT_EQ(f.peak_ram_bytes, r.peak_ram_bytes) << text;
        EXPECT_EQ(f.macs, r.macs) << text;
        for (const LayerReport &l : r.layers) {
            EXPECT_EQ(f.layer_flash[size_t(l.layer)], l.flash_bytes()) << text << " " << l.name;
            EXPECT_EQ(f.layer_macs[size_t(l.layer)], l.macs) << text << " " << l.name;
        }
    }
    const Model small = dmc_test::small_cnn(5);
    const CalibrationSet few = dmc_test::random_images(small, 20, 6);
    for (const char *text : {R"({})", R"({"default": {"bits": 2, "keep": 0.4}, "layers": {"fc2": {"keep": 1}}})",
                             R"({"layers": {"conv2": {"bits": 32, "keep": 0.5}, "fc1": {"bits": 4, "keep": 0.2}}})"}) {
        const CompressionConfig c = parse_config(text);
        const CompressedModel cm = compress_model(small, c, few);
        const Footprint f = footprint(small, c);
        EXPECT_EQ(f.flash_bytes, describe(cm).flash_bytes) << text;
        EXPECT_EQ(f.peak_ram_bytes, cm.plan.arena_bytes) << text;
        EXPECT_EQ(f.macs, describe(cm).macs) << text;
        ASSERT_EQ(f.step_bytes.size(), cm.plan.steps.size()) << text;
        for (size_t k = 0; k < f.step_bytes.size(); ++k) EXPECT_EQ(f.step_bytes[k], cm.plan.steps[k].bytes) << text << " step " << k;
    }
    // LeNet-5 at 8 bits, by hand: weights + 9 bytes per channel.
    EXPECT_EQ(footprint(lenet, CompressionConfig{}).flash_bytes,
              (150 + 2400 + 48000 + 10080 + 840) + 9 * (6 + 16 + 120 + 84 + 10));
    EXPECT_THROW(footprint(lenet, parse_config(R"({"layers": {"fc3": {"keep": 0.5}}})")), Error);
}

// The scorer's count is score()'s, whichever step the next model first
// differs at, and again when nothing differs.
TEST(Budget, IncrementalScorerCountsWhatScoreDoes) {
    const Model m = dmc_test::small_cnn(7);
    const CalibrationSet calibration = dmc_test::random_images(m, 30, 8);
    const TestSet test = dmc_test::random_test_set(120, 9);
    Compressor compressor(m, calibration);
    IncrementalScorer scorer(test);
    for (const char *text : {R"({})", R"({"layers": {"fc2": {"bits": 2}}})", R"({"layers": {"fc1": {"bits": 2}}})",
                             R"({"layers": {"fc1": {"bits": 2}}})", R"({"default": {"bits": 4}})",
                             R"({"layers": {"conv2": {"keep": 0.5}, "fc2": {"bits": 4}}})"}) {
        const CompressedModel cm = compressor.compress(parse_config(text));
        EXPECT_EQ(scorer.correct(cm), int(std::lround(score(cm, test) * test.count))) << text;
    }
}

TEST(Budget, StratifiedSubsetIsTheOrdersPrefix) {
    const TestSet test = dmc_test::random_test_set(50, 3);
    const TestSet sub = stratified_subset(test, 20, 4);
    const std::vector<int> order = stratified_order(test, 4);
    ASSERT_EQ(sub.count, 20);
    for (int j = 0; j < 20; ++j) {
        EXPECT_EQ(sub.labels[size_t(j)], test.labels[size_t(order[size_t(j)])]);
        EXPECT_EQ(sub.pixels[size_t(j) * 144 + 77], test.pixels[size_t(order[size_t(j)]) * 144 + 77]);
    }
    EXPECT_EQ(stratified_subset(test, 500).count, 50);
}

// No config of bits {8, 4} and keep {1, 0.5} has less flash than all at 4
// bits keeping half: one byte less is refused, naming that figure; exactly
// it is met, by that config.
TEST(Budget, UnmeetableAndExactBudgets) {
    const Model m = dmc_test::small_cnn(2);
    const CalibrationSet calibration = dmc_test::random_images(m, 30, 3);
    const TestSet test = dmc_test::random_test_set(60, 4);
    const BudgetChoices choices{{8, 4}, {1.0, 0.5}};
    const CompressionConfig smallest =
        parse_config(R"({"default": {"bits": 4, "keep": 0.5}, "layers": {"fc2": {"keep": 1}}})");
    const Footprint least = footprint(m, smallest);
    Compressor compressor(m, calibration);
    Budget b;
    b.flash_bytes = least.flash_bytes - 1;
    try {
        solve_budget(compressor, test, b, choices);
        FAIL() << "a budget below every config was accepted";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("flash " + with_commas(least.flash_bytes) + " bytes"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("smallest reachable"), std::string::npos) << e.what();
    }
    b.flash_bytes = 0;
    b.peak_ram_bytes = least.peak_ram_bytes - 1;
    EXPECT_THROW(solve_budget(compressor, test, b, choices), Error);

    b.peak_ram_bytes = 0;
    b.flash_bytes = least.flash_bytes;
    const BudgetOutcome met = solve_budget(compressor, test, b, choices);
    EXPECT_EQ(met.best.cost.flash_bytes, least.flash_bytes);
    for (int li : {0, 3, 7, 9}) { // the conv2d/linear layers
        EXPECT_EQ(met.best.config.resolve(m, li).bits, 4) << li;
        EXPECT_EQ(met.best.config.resolve(m, li).keep, li == 9 ? 1.0 : 0.5) << li;
    }
    EXPECT_GE(met.best.accuracy, 0.0);

    // Nothing to optimise for, and bits the solver does not choose.
    EXPECT_THROW(solve_budget(compressor, test, Budget{}, choices), Error);
    b.flash_bytes = 1 << 30;
    EXPECT_THROW(solve_budget(compressor, test, b, BudgetChoices{{8, 32}, {1.0}}), Error);
    EXPECT_THROW(solve_budget(compressor, test, b, BudgetChoices{{8}, {1.0, 0.0}}), Error);
}

// On a space small enough to enumerate (small_cnn, bits {8, 4, 2}, keep
// {1, 0.5}: 6^3 * 3 = 648 configs; 300 random inputs labelled with the
// float model's predictions, so that accuracy is agreement with it), the
// solver's answer fits every budget and comes within 3 right answers (1
// point) of the true optimum; its front is ordered and undominated; two
// or three screening threads give the same answer from the same configs.
TEST(Budget, SolverAgainstExhaustiveSearchOnASmallSpace) {
    const Model m = dmc_test::small_cnn(4);
    const CalibrationSet calibration = dmc_test::random_images(m, 40, 5);
    TestSet test = dmc_test::random_test_set(300, 6);
    {
        const CompressedModel reference = float_reference(m);
        Executor run(reference);
        for (int i = 0; i < test.count; ++i) test.labels[size_t(i)] = uint8_t(predicted_class(reference, test.run(run, i)));
    }
    const BudgetChoices choices{{8, 4, 2}, {1.0, 0.5}};
    std::vector<std::pair<Footprint, int>> all;
    {
        Compressor compressor(m, calibration);
        IncrementalScorer scorer(test);
        const char *names[] = {"conv1", "conv2", "fc1", "fc2"};
        for (int code = 0; code < 6 * 6 * 6 * 3; ++code) {
            CompressionConfig c;
            int rest = code;
            for (int p = 3; p >= 0; --p) {
                const int options = p == 3 ? 3 : 6, pick = rest % options;
                rest /= options;
                c.layers[names[p]].bits = choices.bits[size_t(pick % 3)];
                if (pick / 3) c.layers[names[p]].keep = 0.5;
            }
            all.push_back({footprint(m, c), scorer.correct(compressor.compress(c))});
        }
    }
    BudgetOptions options;
    options.subset_images = 150;
    const int64_t largest = footprint(m, CompressionConfig{}).flash_bytes;
    const int64_t least = footprint(m, parse_config(R"({"default": {"bits": 2, "keep": 0.5}, "layers": {"fc2": {"keep": 1}}})")).flash_bytes;
    for (int64_t budget : {least, least + (largest - least) / 4, least + (largest - least) / 2, largest}) {
        int optimum = -1;
        for (const auto &e : all)
            if (e.first.flash_bytes <= budget) optimum = std::max(optimum, e.second);
        Compressor compressor(m, calibration);
        Budget b;
        b.flash_bytes = budget;
        const BudgetOutcome found = solve_budget(compressor, test, b, choices, options);
        EXPECT_LE(found.best.cost.flash_bytes, budget);
        EXPECT_EQ(found.best.cost.flash_bytes, footprint(m, found.best.config).flash_bytes);
        EXPECT_GE(int(std::lround(found.best.accuracy * test.count)), optimum - 3) << "budget " << budget;
        EXPECT_EQ(found.test_images, 300);
        EXPECT_EQ(found.subset_images, 150);
        ASSERT_FALSE(found.front.empty());
        for (size_t i = 1; i < found.front.size(); ++i) {
            EXPECT_GT(found.front[i].cost.flash_bytes, found.front[i - 1].cost.flash_bytes);
            EXPECT_GT(found.front[i].subset_accuracy, found.front[i - 1].subset_accuracy);
        }
        EXPECT_LE(found.front.back().cost.flash_bytes, budget);

        // Two screening threads (one pair working a segment from both
        // ends), and three (a pair and a lone lane): the same configs
        // scored, the same answer.
        for (int threads : {2, 3}) {
            BudgetOptions more = options;
            more.threads = threads;
            Compressor again(m, calibration);
            const BudgetOutcome threaded = solve_budget(again, test, b, choices, more);
            EXPECT_EQ(budget_outcome_to_json(threaded), budget_outcome_to_json(found)) << "budget " << budget;
            ASSERT_EQ(threaded.scored.size(), found.scored.size());
            for (size_t i = 0; i < found.scored.size(); ++i)
                EXPECT_EQ(config_to_json(threaded.scored[i].config), config_to_json(found.scored[i].config));
        }
    }
}

// The same budget twice gives the same answer; at 12,000 bytes of flash on
// LeNet-5 (bits {8, 4, 2}, keep {1, 0.75, 0.5}: 9^4 * 3 configs; 2,000 test
// images, a subset of 500) the answer is pinned, as smallest_within's is in
// test_search.cpp.
TEST(Budget, Lenet5At12000BytesIsPinned) {
    const Lenet5 *l = lenet5();
    if (!l) GTEST_SKIP() << "needs MNIST_DIR";
    Budget b;
    b.flash_bytes = 12000;
    const BudgetChoices choices{{8, 4, 2}, {1.0, 0.75, 0.5}};
    BudgetOptions options;
    options.subset_images = 500;
    options.finalists = 2;
    options.max_evaluations = 60;
    TestSet test = stratified_subset(l->test, 2000); // fast: 2,000 "all" images
    std::vector<int> done;
    Compressor compressor(l->model, l->calibration);
    const BudgetOutcome found = solve_budget(compressor, test, b, choices, options, [&](SearchStage stage, int n, int) {
        if (stage == SearchStage::Screening) done.push_back(n);
    });
    Compressor again(l->model, l->calibration);
    const BudgetOutcome twice = solve_budget(again, test, b, choices, options);
    EXPECT_EQ(config_to_json(found.best.config), config_to_json(twice.best.config));
    EXPECT_EQ(found.best.accuracy, twice.best.accuracy);
    EXPECT_EQ(found.evaluated, twice.evaluated);
    EXPECT_EQ(int(done.size()), found.evaluated);
    EXPECT_LE(found.best.cost.flash_bytes, 12000);
    const CompressedModel cm = compress_model(l->model, found.best.config, l->calibration);
    EXPECT_EQ(found.best.accuracy, score(cm, test));
    EXPECT_EQ(found.best.cost.flash_bytes, describe(cm).flash_bytes);
    // 4 bits everywhere but fc2 (2 bits), conv2 keeping 0.75 of its
    // channels, fc1 and fc2 half: 1,636 of the 2,000 images right.
    EXPECT_EQ(config_to_json(found.best.config),
              config_to_json(parse_config(R"({"layers": {"conv1": {"bits": 4}, "conv2": {"bits": 4, "keep": 0.75},
                  "fc1": {"bits": 4, "keep": 0.5}, "fc2": {"bits": 2, "keep": 0.5}, "fc3": {"bits": 4}}})")));
    EXPECT_EQ(int(std::lround(found.best.accuracy * 2000)), 1636);
    EXPECT_EQ(found.evaluated, 60); // the cap: sensitivities, candidates, then the local search
}
