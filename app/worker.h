// worker.h - the workbench's compute side, on threads of its own so that the
// window keeps drawing while the engine works (in the browser: Web Workers
// sharing the wasm memory).
//
//   interactive thread  compress the requested config, then evaluate it on
//                       the test set in slices of a few hundred images,
//                       publishing after each slice; a newer request
//                       abandons the rest between slices.
//   background thread   what nobody is waiting for: the sensitivity sweeps,
//                       the budget solver (dmc::solve_budget, as `dmc search`
//                       runs it; the "smallest within 1 point" preset too)
//                       and the header export (dmc::evaluate on the full
//                       set, as `dmc export` does). It pauses while the
//                       interactive thread works.
//
// The UI thread sends requests and copies a Snapshot each frame; nothing
// else is shared.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dmc/dmc.h"
#include "evaluator.h"

namespace app {

// What the test and calibration data are for the current model.
struct Data {
    dmc::TestSet test;
    dmc::CalibrationSet calibration;
    std::vector<int> order; // stratified evaluation order
};

struct SweepCurve { // one layer's sensitivity (dmc sweep's points)
    std::string layer;
    double float_score = 0.0;
    int images = 0;
    std::vector<dmc::SweepPoint> by_bits, by_keep;
    bool done = false;
};

struct Snapshot {
    // The model and its float baseline.
    std::shared_ptr<const dmc::Model> model;
    std::shared_ptr<const Data> data;
    std::shared_ptr<const dmc::CompressedModel> reference; // float_reference(model)
    int float_images = 0;
    double float_accuracy = 0.0;
    double float_mse = 0.0, mse = 0.0; // regression models: mean squared error per output

    // The compressed model of the latest request, and how far its
    // evaluation is.
    uint64_t generation = 0; // of the request these results belong to
    std::string config_json;
    std::string error;       // compress_model refused the config
    std::shared_ptr<const dmc::CompressedModel> cm; // the latest compressed model
    uint64_t cm_generation = 0; // the request cm belongs to (older while the next compresses)
    dmc::Report report; // describe(cm); accuracy fields filled from the evaluation
    int images = 0, correct = 0, agree = 0, agree_images = 0;
    int confusion[10][10] = {};
    std::vector<int> misclassified;   // test indices
    std::vector<double> output_sqnr_db; // per report layer
    int sqnr_images = 0;
    int resumed_at_step = 0;
    bool busy = false;
    // Milliseconds from the request: compressed, first estimate, full result.
    double compress_ms = 0, first_ms = -1, full_ms = -1;
    int first_images = 0;
    // The quick estimate shown before the exact evaluation starts: the config
    // calibrated on the first kQuickCalibration calibration images (compress
    // costs in proportion to them), run on the first images of the
    // stratified order. Replaced by the exact figures as soon as they come.
    int quick_images = 0, quick_correct = 0;
    double quick_ms = -1;
    bool cached = false; // the compressed model came from the cache of recent configs

    // Background results.
    std::map<std::string, SweepCurve> sweeps;
    // The budget solver's progress while it runs (running: its request id).
    uint64_t budget_running = 0;
    std::string budget_stage;
    int budget_done = 0, budget_total = 0;
    std::string background_task; // what the background thread does now ("" idle)
    int background_done = 0, background_total = 0;
};

// A finished export: the header text (or the error that refused it).
struct ExportResult {
    uint64_t id = 0;
    std::string config_json;
    std::string header, error;
    dmc::Report report;
};

// A question for the budget solver: dmc::solve_budget's arguments after
// the compressor and test set. `dmc search` with the same budget, --bits,
// --keep and --subset builds the same (its other options are the
// defaults, as here), so it gives the same answer.
struct BudgetRequest {
    dmc::Budget budget;
    dmc::BudgetChoices choices;
    dmc::BudgetOptions options;
};

// The solver's answer, or why there is none.
struct BudgetResult {
    uint64_t id = 0;
    BudgetRequest request;
    std::string error;      // solve_budget refused (an unmeetable budget names the smallest reachable)
    bool cancelled = false; // cancel_budget() stopped it
    dmc::BudgetOutcome outcome;
    double ms = 0; // from the request to the answer
};

constexpr int kQuickCalibration = 100;
constexpr double kQuickBudgetMs = 25; // evaluation time of the quick estimate
constexpr size_t kRecentModels = 8;   // compressed models kept by config

class Worker {
  public:
    Worker();
    ~Worker();

    // A new model and its data; drops everything computed for the old one.
    void set_model(std::shared_ptr<const dmc::Model> model, std::shared_ptr<const Data> data);
    // Compress and evaluate this config (newest wins). Returns its generation.
    uint64_t request(const dmc::CompressionConfig &config);

    // Background jobs. Each returns an id; results are polled.
    uint64_t request_export(const dmc::CompressionConfig &config);
    bool poll_export(ExportResult *out);
    // The budget solver: a newer request replaces a running one; cancel
    // stops it between two scores and polls a result with `cancelled` set.
    uint64_t request_budget(const BudgetRequest &request);
    void cancel_budget();
    bool poll_budget(BudgetResult *out);
    void want_sweeps(const std::string &first_layer); // computes every layer's, this one first

    Snapshot snapshot() const;
    double now_ms() const;

  private:
    // The interactive thread's state, and the steps of its loop (each
    // called with mu_ held through `lock`; what they leave locked is
    // released when the loop goes round).
    struct Interactive;
    void interactive_loop();
    void load_model(Interactive &t, std::unique_lock<std::mutex> &lock);
    void take_request(Interactive &t, std::unique_lock<std::mutex> &lock);
    bool quick_estimate(Interactive &t, const dmc::CompressionConfig &config, const std::string &key,
                        std::unique_lock<std::mutex> &lock);
    void publish_compressed(Interactive &t, std::shared_ptr<const dmc::CompressedModel> made, bool cached,
                            const std::string &key, const std::string &error, double t_compressed,
                            std::unique_lock<std::mutex> &lock);
    void float_slice(Interactive &t, std::unique_lock<std::mutex> &lock);
    void eval_slice(Interactive &t, std::unique_lock<std::mutex> &lock);
    void publish_eval(const Interactive &t, double now);

    // The background thread: one job per pass, the model it was taken for
    // in a Job; the job's progress throws when the model has been replaced.
    struct Job;
    void background_loop();
    // Each returns false when its job cannot start yet (it stays pending).
    bool run_export(Job &job, std::unique_lock<std::mutex> &lock);
    bool run_budget(Job &job, std::unique_lock<std::mutex> &lock);
    void budget_progress(const Job &job, dmc::SearchStage stage, int done, int total);
    bool run_sweep_point(Job &job, std::unique_lock<std::mutex> &lock);
    void progress(const Job &job, const char *task, int done, int total);
    bool stale(const Job &job);
    bool interactive_idle() const;

    mutable std::mutex mu_;
    std::condition_variable cv_, bg_cv_;
    bool quit_ = false;

    // Requests (under mu_).
    uint64_t model_version_ = 0;
    std::shared_ptr<const dmc::Model> model_;
    std::shared_ptr<const Data> data_;
    uint64_t generation_ = 0;
    dmc::CompressionConfig pending_;
    bool has_pending_ = false;
    double request_ms_ = 0;
    uint64_t export_id_ = 0, budget_id_ = 0;
    dmc::CompressionConfig export_config_;
    bool export_pending_ = false, budget_pending_ = false, budget_cancel_ = false;
    BudgetRequest budget_request_;
    double budget_request_ms_ = 0;
    std::vector<std::string> sweep_queue_;
    ExportResult export_result_;
    bool export_ready_ = false;
    BudgetResult budget_result_;
    bool budget_ready_ = false;

    Snapshot snap_; // published (under mu_)
    std::atomic<bool> interactive_busy_{false};
    std::thread interactive_, background_;
};

} // namespace app
