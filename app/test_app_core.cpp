// test_app_core.cpp - the workbench's evaluation core against the engine:
// the cached, sliced evaluation must give the predictions score() gives and
// the output SQNR evaluate() gives, config after config (so the activation
// cache is used and invalidated), and the worker must publish the same; its
// budget job must answer what solve_budget answers, and stop when cancelled.
//
// MNIST comes from $MNIST_DIR; without it the MNIST tests are skipped.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "dmc/dmc.h"
#include "evaluator.h"
#include "worker.h"

using namespace dmc;

namespace {

const std::string kAssets = std::string(DMC_SOURCE_DIR) + "/assets/";

bool same_db(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// LeNet-5 on the first 2,000 MNIST test images (the logic does not depend
// on the count), loaded once for every test.
struct Mnist {
    Model model;
    ImageSet all;
    CalibrationSet calibration;
    TestSet test;
    std::vector<int> first;
    std::vector<int> order;
};

const Mnist *mnist() {
    static std::unique_ptr<Mnist> data;
    const char *dir = std::getenv("MNIST_DIR");
    if (!dir || !*dir) return nullptr;
    if (!data) {
        data = std::make_unique<Mnist>();
        data->model = load_model(kAssets + "lenet5.json");
        data->all = load_mnist(dir, "t10k");
        const ImageSet train = load_mnist(dir, "train");
        data->calibration = calibration_set(train, calibration_indices(train.count, kCalibrationImages));
        for (int i = 0; i < 2000; ++i) data->first.push_back(i);
        data->test = mnist_test_set(subset(data->all, data->first));
        data->order = stratified_order(data->test);
    }
    return data.get();
}

#define NEED_MNIST(d)                                                                                        \
    const Mnist *d = mnist();                                                                                \
    if (!d) GTEST_SKIP() << "needs MNIST_DIR"

// The float baseline over the test set, its SQNR outputs for 300 images.
std::unique_ptr<app::FloatRunner> float_baseline(const Mnist &d) {
    auto floats = std::make_unique<app::FloatRunner>(d.model, d.test, d.order, 300);
    while (!floats->run(700)) {
    }
    return floats;
}

// Checks a finished evaluation against score(), the Executor and evaluate()
// on the SQNR images.
void expect_engine_figures(const Mnist &d, const app::Evaluator &eval, const CompressedModel &cm,
                           const TestSet &sqnr_set, const char *text) {
    const double want = score(cm, d.test);
    EXPECT_EQ(double(eval.correct()) / d.test.count, want) << text << ": accuracy against score()";
    Executor run(cm);
    int differ = 0;
    for (int i = 0; i < d.test.count; ++i)
        differ += run.predict_u8(d.test.pixels.data() + size_t(i) * 784) != eval.predictions()[size_t(i)];
    EXPECT_EQ(differ, 0) << text << ": predictions that differ from the Executor's";
    const Report r = evaluate(cm, sqnr_set);
    const std::vector<double> db = eval.output_sqnr_db();
    ASSERT_EQ(db.size(), r.layers.size()) << text;
    for (size_t i = 0; i < r.layers.size(); ++i)
        EXPECT_TRUE(same_db(db[i], r.layers[i].output_sqnr_db))
            << text << ": layer " << r.layers[i].name << " output SQNR " << db[i] << ", evaluate() "
            << r.layers[i].output_sqnr_db;
}

} // namespace

// The order is a permutation, and stratified: each class's share of the
// first 200 is within 2 images of its share of the whole.
TEST(AppCore, OrderIsAStratifiedPermutation) {
    NEED_MNIST(d);
    const TestSet &test = d->test;
    std::vector<int> seen(size_t(test.count), 0), head(10, 0), whole(10, 0);
    for (int i : d->order) seen[size_t(i)]++;
    for (int c : seen) EXPECT_EQ(c, 1) << "order is not a permutation";
    for (int p = 0; p < test.count; ++p) whole[test.labels[size_t(d->order[size_t(p)])]]++;
    for (int p = 0; p < 200; ++p) head[test.labels[size_t(d->order[size_t(p)])]]++;
    for (int c = 0; c < 10; ++c)
        EXPECT_LE(std::abs(head[size_t(c)] - whole[size_t(c)] * 200.0 / test.count), 2.0)
            << "class " << c << ": " << head[size_t(c)] << " of 200";
}

TEST(AppCore, FloatBaselineIsScore) {
    NEED_MNIST(d);
    EXPECT_EQ(float_baseline(*d)->baseline().accuracy(), score(float_reference(d->model), d->test));
}

// Config after config, each resuming where the cache allows.
TEST(AppCore, SlicedEvaluationIsTheEngines) {
    NEED_MNIST(d);
    const auto floats = float_baseline(*d);
    // The SQNR images in evaluation order, as a test set of their own.
    const std::vector<int> head(d->order.begin(), d->order.begin() + floats->baseline().sqnr_images);
    const TestSet sqnr_set = mnist_test_set(subset(subset(d->all, d->first), head));

    app::Evaluator eval(d->test, d->order);
    const char *configs[] = {
        "{}",
        R"({"layers": {"fc1": {"bits": 4}}})",                       // resumes at fc1
        R"({"layers": {"fc1": {"bits": 4}, "fc3": {"bits": 2}}})",   // resumes at fc3
        R"({"layers": {"fc1": {"bits": 4, "keep": 0.5}}})",          // fc3 back: the cache before fc1
        R"({"default": {"bits": 4}, "layers": {"conv2": {"keep": 0.5}}})", // from the start
        R"({"layers": {"conv2": {"bits": 32}, "fc2": {"bits": 2}}})", // a float layer in between
        "{}",
    };
    for (const char *text : configs) {
        auto cm = std::make_shared<CompressedModel>(compress_model(d->model, parse_config(text), d->calibration));
        eval.start(cm, &floats->baseline());
        const int resumed = eval.resumed_at_step();
        while (!eval.run(333)) {
        }
        expect_engine_figures(*d, eval, *cm, sqnr_set, text);
        std::printf("%-62s accuracy %.4f, resumed at step %d, cache %.1f MB\n", text,
                    double(eval.correct()) / d->test.count, resumed, double(eval.cache_bytes()) / 1e6);
    }
}

// A config abandoned part way through the SQNR images leaves caches filled
// for those images and the sums of its unchanged layers incomplete: the
// next config must run those layers again (not resume after them).
TEST(AppCore, AbandonedEvaluationSumsSqnrAgain) {
    NEED_MNIST(d);
    const auto floats = float_baseline(*d);
    const std::vector<int> head(d->order.begin(), d->order.begin() + floats->baseline().sqnr_images);
    const TestSet sqnr_set = mnist_test_set(subset(subset(d->all, d->first), head));
    app::Evaluator eval(d->test, d->order);
    auto first = std::make_shared<CompressedModel>(compress_model(d->model, parse_config("{}"), d->calibration));
    eval.start(first, &floats->baseline());
    eval.run(100); // of 300 SQNR images
    const char *text = R"({"layers": {"fc2": {"bits": 4}}})";
    auto cm = std::make_shared<CompressedModel>(compress_model(d->model, parse_config(text), d->calibration));
    eval.start(cm, &floats->baseline());
    while (!eval.run(333)) {
    }
    expect_engine_figures(*d, eval, *cm, sqnr_set, text);
}

// The worker publishes the same figures.
TEST(AppCore, WorkerPublishesTheEnginesAccuracy) {
    NEED_MNIST(d);
    auto data = std::make_shared<app::Data>();
    data->test = d->test;
    data->calibration = d->calibration;
    data->order = d->order;
    app::Worker worker;
    worker.set_model(std::make_shared<Model>(d->model), data);
    const CompressionConfig config = parse_config(R"({"default": {"bits": 4}})");
    const uint64_t g = worker.request(config);
    app::Snapshot s;
    for (int t = 0; t < 6000; ++t) {
        s = worker.snapshot();
        if (s.generation == g && s.images == d->test.count && s.float_images == d->test.count) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(s.generation == g && s.images == d->test.count) << "worker did not finish (" << s.images << " images)";
    const double want = score(compress_model(d->model, config, d->calibration), d->test);
    EXPECT_EQ(double(s.correct) / d->test.count, want) << "worker accuracy against score()";
    std::printf("worker: first estimate after %.1f ms (%d images), full after %.1f ms, compress %.1f ms\n",
                s.first_ms, s.first_images, s.full_ms, s.compress_ms);
}

namespace {

// A worker on LeNet-5 and the first 2,000 test images.
std::unique_ptr<app::Worker> lenet_worker(const Mnist &d) {
    auto data = std::make_shared<app::Data>();
    data->test = d.test;
    data->calibration = d.calibration;
    data->order = d.order;
    auto worker = std::make_unique<app::Worker>();
    worker->set_model(std::make_shared<Model>(d.model), data);
    return worker;
}

// A small space, quick to search: bits 8 and 4, keep 1 and 0.5, 300 subset images.
app::BudgetRequest small_request(int64_t flash, double max_drop) {
    app::BudgetRequest r;
    r.budget.flash_bytes = flash;
    r.budget.max_drop_points = max_drop;
    r.choices.bits = {8, 4};
    r.choices.keeps = {1.0, 0.5};
    r.options.subset_images = 300;
    return r;
}

// Waits for the worker's answer to request `id` (10 minutes at most).
app::BudgetResult wait_budget(app::Worker &worker, uint64_t id) {
    app::BudgetResult r;
    for (int t = 0; t < 60000; ++t) {
        if (worker.poll_budget(&r) && r.id == id) return r;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "no answer to budget request " << id;
    return r;
}

// The worker's answer against solve_budget's, called directly with a
// fresh compressor and the request's arguments.
void expect_solve_budgets_answer(const Mnist &d, const app::BudgetRequest &request, const app::BudgetResult &got) {
    Compressor compressor(d.model, d.calibration);
    const BudgetOutcome want = solve_budget(compressor, d.test, request.budget, request.choices, request.options);
    ASSERT_EQ(got.error, "");
    ASSERT_FALSE(got.cancelled);
    EXPECT_EQ(config_to_json(got.outcome.best.config), config_to_json(want.best.config));
    EXPECT_EQ(got.outcome.best.accuracy, want.best.accuracy);
    EXPECT_EQ(got.outcome.best.cost.flash_bytes, want.best.cost.flash_bytes);
    EXPECT_EQ(got.outcome.evaluated, want.evaluated);
    EXPECT_EQ(got.outcome.front.size(), want.front.size());
    EXPECT_EQ(got.outcome.scored.size(), size_t(want.evaluated));
    std::printf("budget job: %s, accuracy %.4f, flash %lld bytes, %d scored, %.0f ms from the request\n",
                config_to_json(got.outcome.best.config).c_str(), got.outcome.best.accuracy,
                (long long)got.outcome.best.cost.flash_bytes, got.outcome.evaluated, got.ms);
}

} // namespace

// The budget panel's job: the config solve_budget gives for the same
// budget, choices and options.
TEST(AppCore, WorkerBudgetIsSolveBudgets) {
    NEED_MNIST(d);
    const auto worker = lenet_worker(*d);
    const app::BudgetRequest request = small_request(20000, -1.0);
    const app::BudgetResult got = wait_budget(*worker, worker->request_budget(request));
    expect_solve_budgets_answer(*d, request, got);
    EXPECT_LE(got.outcome.best.cost.flash_bytes, 20000);
}

// The preset: max drop 1 point and no limit, with the float accuracy the
// worker measured handed in (solve_budget measures it itself here).
TEST(AppCore, WorkerSmallestWithinOnePointIsSolveBudgets) {
    NEED_MNIST(d);
    const auto worker = lenet_worker(*d);
    const app::BudgetRequest request = small_request(0, 1.0);
    const app::BudgetResult got = wait_budget(*worker, worker->request_budget(request));
    expect_solve_budgets_answer(*d, request, got);
    EXPECT_GE(got.outcome.best.accuracy, got.outcome.float_accuracy - 0.01);
}

// A budget nothing meets: the engine's message, naming the smallest reachable.
TEST(AppCore, WorkerBudgetUnmeetableSaysWhy) {
    NEED_MNIST(d);
    const auto worker = lenet_worker(*d);
    const app::BudgetResult got = wait_budget(*worker, worker->request_budget(small_request(100, -1.0)));
    EXPECT_FALSE(got.cancelled);
    EXPECT_NE(got.error.find("no configuration meets flash <= 100 bytes"), std::string::npos) << got.error;
    EXPECT_NE(got.error.find("the smallest reachable are flash"), std::string::npos) << got.error;
}

// Cancel stops a running solve between two scores: the answer says
// cancelled (a solve that had finished would have answered in full).
TEST(AppCore, WorkerBudgetCancelStopsIt) {
    NEED_MNIST(d);
    const auto worker = lenet_worker(*d);
    app::BudgetRequest request = small_request(12000, -1.0);
    request.choices = BudgetChoices{}; // the full grid: hundreds of scores
    const uint64_t id = worker->request_budget(request);
    app::Snapshot s;
    for (int t = 0; t < 60000; ++t) {
        s = worker->snapshot();
        if (s.budget_running == id && s.budget_done >= 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(s.budget_running, id) << "the solve never started";
    const double t0 = worker->now_ms();
    worker->cancel_budget();
    const app::BudgetResult got = wait_budget(*worker, id);
    EXPECT_TRUE(got.cancelled);
    EXPECT_EQ(got.error, "");
    EXPECT_TRUE(got.outcome.scored.empty());
    std::printf("cancelled after %d of %d scores; answered %.0f ms after the cancel\n", s.budget_done,
                s.budget_total, worker->now_ms() - t0);
}

// A regression model's Predictions curve agrees with the MSE evaluate()
// reports (the sine model: no MNIST needed).
TEST(AppCore, RegressionCurveGivesEvaluatesMse) {
    const Model sine = load_model(kAssets + "sine.json");
    const TestSet grid = sine_test_set();
    const CompressedModel cm = compress_model(sine, parse_config(R"({"default": {"bits": 4}})"), sine_calibration_set());
    const std::vector<float> curve = output_curve(cm, grid, 0);
    ASSERT_EQ(int(curve.size()), grid.count);
    double se = 0.0;
    for (int i = 0; i < grid.count; ++i) {
        const double e = double(curve[size_t(i)]) - double(grid.targets[size_t(i)]);
        se += e * e;
    }
    const double mse = se / grid.count, want = evaluate(cm, grid).mse;
    EXPECT_LE(std::fabs(mse - want), 1e-6 * want) << "curve MSE " << mse << ", evaluate() " << want;
    std::printf("sine, 4-bit: MSE %.3g from the curve, %.3g from evaluate()\n", mse, want);
}
