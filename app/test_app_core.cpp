// test_app_core.cpp - the workbench's evaluation core against the engine:
// the cached, sliced evaluation must give the predictions score() gives and
// the output SQNR evaluate() gives, config after config (so the activation
// cache is used and invalidated), and the worker must publish the same.
//
//   test_app_core assets/lenet5.json     (MNIST from $MNIST_DIR; exit 77 = skipped)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "dmc/dmc.h"
#include "evaluator.h"
#include "worker.h"

using namespace dmc;

static int failures = 0;
#define CHECK(cond, ...)                                                                                    \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                     \
            std::printf(__VA_ARGS__);                                                                       \
            std::printf("\n");                                                                              \
            ++failures;                                                                                     \
        }                                                                                                   \
    } while (0)

static bool same_db(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

int main(int argc, char **argv) {
    const char *dir = std::getenv("MNIST_DIR");
    if (argc < 2 || !dir) {
        std::printf("skipped: needs the model path and MNIST_DIR\n");
        return 77;
    }
    const Model model = load_model(argv[1]);
    const ImageSet all = load_mnist(dir, "t10k");
    const ImageSet train = load_mnist(dir, "train");
    const CalibrationSet calibration = calibration_set(train, calibration_indices(train.count, kCalibrationImages));
    // 2,000 test images keep the test short; the logic does not depend on the count.
    std::vector<int> first(2000);
    for (int i = 0; i < 2000; ++i) first[size_t(i)] = i;
    const TestSet test = mnist_test_set(subset(all, first));
    const std::vector<int> order = app::stratified_order(test);

    // The order is a permutation, and stratified: each class's share of the
    // first 200 is within 2 images of its share of the whole.
    {
        std::vector<int> seen(size_t(test.count), 0), head(10, 0), whole(10, 0);
        for (int i : order) seen[size_t(i)]++;
        for (int c : seen) CHECK(c == 1, "order is not a permutation");
        for (int p = 0; p < test.count; ++p) whole[test.labels[size_t(order[size_t(p)])]]++;
        for (int p = 0; p < 200; ++p) head[test.labels[size_t(order[size_t(p)])]]++;
        for (int c = 0; c < 10; ++c)
            CHECK(std::abs(head[size_t(c)] - whole[size_t(c)] * 200.0 / test.count) <= 2.0, "class %d: %d of 200", c,
                  head[size_t(c)]);
    }

    app::FloatRunner floats(model, test, order, 300);
    while (!floats.run(700)) {
    }
    CHECK(floats.baseline().accuracy() == score(float_reference(model), test), "float accuracy");

    // The SQNR images in evaluation order, as a test set of their own.
    std::vector<int> head(order.begin(), order.begin() + floats.baseline().sqnr_images);
    const TestSet sqnr_set = mnist_test_set(subset(subset(all, first), head));

    app::Evaluator eval(test, order);
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
        const CompressionConfig config = parse_config(text);
        auto cm = std::make_shared<CompressedModel>(compress_model(model, config, calibration));
        eval.start(cm, &floats.baseline());
        const int resumed = eval.resumed_at_step();
        while (!eval.run(333)) {
        }
        const double want = score(*cm, test);
        CHECK(double(eval.correct()) / test.count == want, "%s: accuracy %f, score() %f", text,
              double(eval.correct()) / test.count, want);
        Executor run(*cm);
        int differ = 0;
        for (int i = 0; i < test.count; ++i) differ += run.predict_u8(test.pixels.data() + size_t(i) * 784) != eval.predictions()[size_t(i)];
        CHECK(differ == 0, "%s: %d predictions differ from Executor", text, differ);
        const Report r = evaluate(*cm, sqnr_set);
        const std::vector<double> db = eval.output_sqnr_db();
        for (size_t i = 0; i < r.layers.size(); ++i)
            CHECK(same_db(db[i], r.layers[i].output_sqnr_db), "%s: layer %s output SQNR %.17g, evaluate() %.17g", text,
                  r.layers[i].name.c_str(), db[i], r.layers[i].output_sqnr_db);
        std::printf("%-62s accuracy %.4f, resumed at step %d, cache %.1f MB\n", text, want, resumed,
                    double(eval.cache_bytes()) / 1e6);
    }

    // The worker publishes the same figures.
    {
        auto data = std::make_shared<app::Data>();
        data->test = test;
        data->calibration = calibration;
        data->order = order;
        app::Worker worker;
        worker.set_model(std::make_shared<Model>(model), data);
        const CompressionConfig config = parse_config(R"({"default": {"bits": 4}})");
        const uint64_t g = worker.request(config);
        app::Snapshot s;
        for (int t = 0; t < 6000; ++t) {
            s = worker.snapshot();
            if (s.generation == g && s.images == test.count && s.float_images == test.count) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(s.generation == g && s.images == test.count, "worker did not finish (%d images)", s.images);
        const double want = score(compress_model(model, config, calibration), test);
        CHECK(double(s.correct) / test.count == want, "worker accuracy %f, score() %f", double(s.correct) / test.count, want);
        std::printf("worker: first estimate after %.1f ms (%d images), full after %.1f ms, compress %.1f ms\n",
                    s.first_ms, s.first_images, s.full_ms, s.compress_ms);
    }
    // A regression model's Predictions curve agrees with the MSE evaluate()
    // reports (the sine model, next to the given model in assets/).
    {
        std::string path = argv[1];
        path = path.substr(0, path.find_last_of('/') + 1) + "sine.json";
        const Model sine = load_model(path);
        const TestSet grid = sine_test_set();
        const CompressedModel cm = compress_model(sine, parse_config(R"({"default": {"bits": 4}})"), sine_calibration_set());
        const std::vector<float> curve = app::output_curve(cm, grid, 0);
        CHECK(int(curve.size()) == grid.count, "%zu points for %d inputs", curve.size(), grid.count);
        double se = 0.0;
        for (int i = 0; i < grid.count; ++i) {
            const double e = double(curve[size_t(i)]) - double(grid.targets[size_t(i)]);
            se += e * e;
        }
        const double mse = se / grid.count, want = evaluate(cm, grid).mse;
        CHECK(std::fabs(mse - want) <= 1e-6 * want, "curve MSE %g, evaluate() %g", mse, want);
        std::printf("sine, 4-bit: MSE %.3g from the curve, %.3g from evaluate()\n", mse, want);
    }
    std::printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
