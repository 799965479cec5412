// worker.cpp - the workbench's compute threads (see worker.h): what runs
// when, what a newer request abandons, what is published to the UI.
//
// It holds threads, requests, snapshots and caches only. Every figure and
// every choice of config is the engine's: compression (dmc::Compressor),
// evaluation (the Evaluator, on dmc::Executor), the sweep points
// (dmc::sweep_point) and the budget solver (dmc::solve_budget), so the
// window shows what `dmc eval`, `dmc sweep`, `dmc search` and `dmc export`
// give. Each loop is a
// short dispatcher over named steps; a step is called with mu_ held and may
// release it while the engine works, re-taking it to publish.
#include "worker.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "dmc/export.h"

namespace app {

using namespace dmc;

namespace {

struct Cancelled {}; // thrown from a progress callback to abandon stale work

// How a background job's work ended.
enum class Ended { Done, Cancelled, Failed };

// Runs a background job's work with mu_ released (held through `lock` on
// entry, held again on return): Cancelled when a progress callback threw
// Cancelled, Failed (the engine's message in *error, if given) when the
// work threw anything else.
template <typename Work>
Ended unlocked(std::unique_lock<std::mutex> &lock, std::string *error, Work work) {
    lock.unlock();
    Ended ended = Ended::Done;
    try {
        work();
    } catch (const Cancelled &) {
        ended = Ended::Cancelled;
    } catch (const std::exception &e) {
        if (error) *error = e.what();
        ended = Ended::Failed;
    }
    lock.lock();
    return ended;
}

double clock_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Sweep points (dmc sweep's defaults, plus the keeps a slider offers).
const std::vector<int> kSweepBits = {8, 4, 2};
const std::vector<double> kSweepKeeps = {0.75, 0.5, 0.25, 0.1};
constexpr int kSweepImages = 1000; // like `dmc sweep --limit 1000`: a sweep point costs a compress and a run

// The quick estimate's counts: the config compressed by the quick
// compressor, run on the first images of the order for about
// kQuickBudgetMs (at least 100 images). Nothing counted if it fails: the
// exact compression then reports the error.
void quick_count(Compressor &quick, const CompressionConfig &config, const Data &data, int *images, int *correct) {
    try {
        const CompressedModel q = quick.compress(config);
        Executor run(q);
        const double t0 = clock_ms();
        while (*images < int(data.order.size()) && (*images < 100 || clock_ms() - t0 < kQuickBudgetMs)) {
            const int i = data.order[size_t(*images)];
            const int pred = predicted_class(q, data.test.run(run, i));
            *correct += !data.test.labels.empty() && pred == data.test.labels[size_t(i)];
            ++*images;
        }
    } catch (const std::exception &) {
        *images = 0;
    }
}

// Adds the next point of a layer's sensitivity curve (the float score
// first); sets *done and *total to the points done and in all.
void add_sweep_point(Compressor &compressor, const TestSet &test, const std::string &layer, SweepCurve &curve,
                     int *done, int *total) {
    const Model &model = compressor.model();
    const int limit = std::min(kSweepImages, test.count);
    // The output layer is never pruned, nor is a depthwise layer (it keeps
    // the channels of the layer before): no keep points for them.
    const int index = model.find_layer(layer);
    const bool fixed = index == model.output_layer() || !model.layers[size_t(index)].prunable();
    *total = int(1 + kSweepBits.size() + (fixed ? 0 : kSweepKeeps.size()));
    if (curve.images == 0) {
        curve.layer = layer;
        curve.images = limit;
        curve.float_score = score(float_reference(model), test, limit);
        *done = 1;
    } else {
        const bool by_bits = curve.by_bits.size() < kSweepBits.size();
        const int bits = by_bits ? kSweepBits[curve.by_bits.size()] : kFloatBits;
        const double keep = by_bits ? 1.0 : kSweepKeeps[curve.by_keep.size()];
        const SweepPoint p = sweep_point(compressor, test, layer, bits, keep, limit);
        (p.keep < 1.0 ? curve.by_keep : curve.by_bits).push_back(p);
        *done = int(1 + curve.by_bits.size() + curve.by_keep.size());
    }
    curve.done = *done >= *total;
}

} // namespace

Worker::Worker() {
    interactive_ = std::thread([this] { interactive_loop(); });
    background_ = std::thread([this] { background_loop(); });
}

Worker::~Worker() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        quit_ = true;
    }
    cv_.notify_all();
    bg_cv_.notify_all();
    interactive_.join();
    background_.join();
}

double Worker::now_ms() const { return clock_ms(); }

void Worker::set_model(std::shared_ptr<const Model> model, std::shared_ptr<const Data> data) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        model_ = std::move(model);
        data_ = std::move(data);
        ++model_version_;
        has_pending_ = false;
        export_pending_ = budget_pending_ = budget_cancel_ = false;
        sweep_queue_.clear();
        snap_ = Snapshot{};
        snap_.model = model_;
        snap_.data = data_;
        snap_.busy = true;
    }
    cv_.notify_all();
    bg_cv_.notify_all();
}

uint64_t Worker::request(const CompressionConfig &config) {
    uint64_t g;
    {
        std::lock_guard<std::mutex> lock(mu_);
        pending_ = config;
        has_pending_ = true;
        g = ++generation_;
        request_ms_ = clock_ms();
    }
    cv_.notify_all();
    return g;
}

uint64_t Worker::request_export(const CompressionConfig &config) {
    uint64_t id;
    {
        std::lock_guard<std::mutex> lock(mu_);
        export_config_ = config;
        export_pending_ = true;
        export_ready_ = false;
        id = ++export_id_;
    }
    bg_cv_.notify_all();
    return id;
}

bool Worker::poll_export(ExportResult *out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!export_ready_) return false;
    export_ready_ = false;
    *out = std::move(export_result_);
    return true;
}

uint64_t Worker::request_budget(const BudgetRequest &request) {
    uint64_t id;
    {
        std::lock_guard<std::mutex> lock(mu_);
        budget_request_ = request;
        budget_request_ms_ = clock_ms();
        budget_pending_ = true; // a running solve sees it at its next score and stops
        budget_cancel_ = false;
        budget_ready_ = false;
        id = ++budget_id_;
    }
    bg_cv_.notify_all();
    return id;
}

void Worker::cancel_budget() {
    std::lock_guard<std::mutex> lock(mu_);
    if (budget_pending_) { // not started yet: answered here
        budget_pending_ = false;
        budget_result_ = BudgetResult{};
        budget_result_.id = budget_id_;
        budget_result_.request = budget_request_;
        budget_result_.cancelled = true;
        budget_ready_ = true;
    } else if (snap_.budget_running) {
        budget_cancel_ = true; // the running solve answers
    }
}

bool Worker::poll_budget(BudgetResult *out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!budget_ready_) return false;
    budget_ready_ = false;
    *out = std::move(budget_result_);
    return true;
}

void Worker::want_sweeps(const std::string &first_layer) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!model_) return;
        std::vector<std::string> q;
        if (!first_layer.empty() && !snap_.sweeps.count(first_layer)) q.push_back(first_layer);
        for (const Layer &l : model_->layers)
            if (l.has_weights() && l.name != first_layer && !snap_.sweeps.count(l.name)) q.push_back(l.name);
        if (q == sweep_queue_) return;
        sweep_queue_ = q;
    }
    bg_cv_.notify_all();
}

Snapshot Worker::snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return snap_;
}

bool Worker::interactive_idle() const { return !interactive_busy_.load(); }


// ---- the interactive thread ----

struct Worker::Interactive {
    uint64_t version = 0; // of the model below
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Data> data;
    std::unique_ptr<FloatRunner> floats;
    std::unique_ptr<Evaluator> eval;
    bool float_done = false, eval_started = false, eval_done = true;
    uint64_t gen = 0;      // the request being evaluated
    double t_request = 0;  // when it was made
    std::shared_ptr<const CompressedModel> cm;
    int64_t eval_outputs = 1; // outputs per input (for the mean squared error)
    std::vector<std::pair<std::string, std::shared_ptr<const CompressedModel>>> recent; // newest first
    // The model's compressors: the exact one on all calibration inputs, the
    // quick one on the first kQuickCalibration. Each reuses the calibrated
    // steps before the first layer a new config changes.
    std::unique_ptr<Compressor> exact, quick;
};

void Worker::interactive_loop() {
    Interactive t;
    for (;;) {
        std::unique_lock<std::mutex> lock(mu_);
        const auto has_work = [&] {
            return t.version != model_version_ || has_pending_ || (t.model && !t.float_done) ||
                   (t.eval_started && !t.eval_done);
        };
        // Idle until the next request: the background jobs may go (also
        // when the float baseline was the last work, with no config asked for).
        if (!has_work()) interactive_busy_ = false;
        cv_.wait(lock, [&] { return quit_ || has_work(); });
        if (quit_) return;
        interactive_busy_ = true;
        if (t.version != model_version_) {
            load_model(t, lock);
            continue;
        }
        if (has_pending_) {
            take_request(t, lock);
            continue;
        }
        lock.unlock();
        if (!t.float_done) {
            float_slice(t, lock); // the float baseline first: agreement and output SQNR need it
            continue;
        }
        if (t.eval_started && !t.eval_done) {
            eval_slice(t, lock);
            continue;
        }
        interactive_busy_ = false;
    }
}

void Worker::load_model(Interactive &t, std::unique_lock<std::mutex> &lock) {
    t.version = model_version_;
    t.model = model_;
    t.data = data_;
    lock.unlock();
    t.floats = std::make_unique<FloatRunner>(*t.model, t.data->test, t.data->order, kSqnrImages);
    t.eval = std::make_unique<Evaluator>(t.data->test, t.data->order);
    t.float_done = false;
    t.eval_started = false;
    t.eval_done = true;
    t.recent.clear();
    CalibrationSet quick_calibration;
    quick_calibration.count = std::min(kQuickCalibration, t.data->calibration.count);
    quick_calibration.raw.assign(t.data->calibration.raw.begin(),
                                 t.data->calibration.raw.begin() +
                                     int64_t(quick_calibration.count) * t.model->input.shape.size());
    t.exact = std::make_unique<Compressor>(*t.model, t.data->calibration);
    t.quick = std::make_unique<Compressor>(*t.model, quick_calibration);
    lock.lock();
    if (t.version == model_version_)
        snap_.reference = std::shared_ptr<const CompressedModel>(t.floats ? new CompressedModel(t.floats->reference())
                                                                          : nullptr);
}

// The newest request: a recent compressed model, or a quick estimate and
// then the exact compression; published, then evaluated slice by slice.
void Worker::take_request(Interactive &t, std::unique_lock<std::mutex> &lock) {
    const CompressionConfig config = pending_;
    const std::string key = config_to_json(config);
    t.gen = generation_;
    t.t_request = request_ms_;
    has_pending_ = false;
    lock.unlock();
    std::shared_ptr<const CompressedModel> made;
    for (auto &r : t.recent)
        if (r.first == key) made = r.second;
    const bool cached = made != nullptr;

    // The quick estimate, when the exact model is not at hand and the float
    // baseline is done (before that the page is still loading).
    if (!made && t.float_done && t.data->calibration.count > kQuickCalibration &&
        !quick_estimate(t, config, key, lock))
        return;

    std::string error;
    if (!made) {
        try {
            made = std::make_shared<const CompressedModel>(t.exact->compress(config));
            t.recent.insert(t.recent.begin(), {key, made});
            if (t.recent.size() > kRecentModels) t.recent.pop_back();
        } catch (const std::exception &e) {
            error = e.what();
        }
    }
    publish_compressed(t, made, cached, key, error, clock_ms(), lock);
}

// Publishes the quick estimate. False: the request is stale or replaced
// already (skip its exact model); true: go on, with mu_ released.
bool Worker::quick_estimate(Interactive &t, const CompressionConfig &config, const std::string &key,
                            std::unique_lock<std::mutex> &lock) {
    int images = 0, correct = 0;
    quick_count(*t.quick, config, *t.data, &images, &correct);
    const double t_quick = clock_ms();
    lock.lock();
    if (t.version != model_version_ || t.gen != generation_) return false; // a newer request came
    Snapshot &s = snap_;
    s.generation = t.gen;
    s.config_json = key;
    s.error.clear();
    s.images = s.correct = s.agree = s.agree_images = 0;
    s.first_ms = s.full_ms = -1;
    s.first_images = 0;
    s.quick_images = images;
    s.quick_correct = correct;
    s.quick_ms = images ? t_quick - t.t_request : -1;
    s.busy = true;
    if (has_pending_) return false;
    lock.unlock();
    return true;
}

// Publishes the compressed model (or the error) and starts its evaluation.
void Worker::publish_compressed(Interactive &t, std::shared_ptr<const CompressedModel> made, bool cached,
                                const std::string &key, const std::string &error, double t_compressed,
                                std::unique_lock<std::mutex> &lock) {
    Report described;
    if (made) described = describe(*made);
    lock.lock();
    if (t.version != model_version_ || t.gen != generation_) return; // stale already
    Snapshot &s = snap_;
    if (s.generation != t.gen) s.quick_images = s.quick_correct = 0, s.quick_ms = -1;
    s.generation = t.gen;
    s.config_json = key;
    s.error = error;
    s.cached = cached;
    s.compress_ms = t_compressed - t.t_request;
    s.first_ms = s.full_ms = -1;
    s.first_images = 0;
    s.images = s.correct = s.agree = s.agree_images = 0;
    s.misclassified.clear();
    std::fill(&s.confusion[0][0], &s.confusion[0][0] + 100, 0);
    if (!made) {
        t.eval_done = true;
        s.busy = !t.float_done;
        return;
    }
    t.cm = made;
    t.eval_outputs = t.cm->output_shape().size();
    s.cm = t.cm;
    s.cm_generation = t.gen;
    s.report = described;
    s.output_sqnr_db.assign(described.layers.size(), std::nan(""));
    t.eval_started = true;
    t.eval_done = false;
    s.busy = true;
    lock.unlock();
    t.eval->start(t.cm, &t.floats->baseline());
    lock.lock();
}

// About 40 ms of the float baseline (mu_ released on entry).
void Worker::float_slice(Interactive &t, std::unique_lock<std::mutex> &lock) {
    const double t0 = clock_ms();
    while (!t.float_done && clock_ms() - t0 < 40) t.float_done = t.floats->run(100);
    lock.lock();
    if (t.version != model_version_) return;
    const FloatBaseline &base = t.floats->baseline();
    snap_.float_images = base.images;
    snap_.float_accuracy = base.accuracy();
    const double outs = double(t.model->output_shape().size());
    snap_.float_mse = base.images ? base.squared_error / (base.images * outs) : 0.0;
    snap_.busy = !t.float_done || !t.eval_done;
}

// One slice of the evaluation (mu_ released on entry), short enough to hear
// a newer request soon: the first one small (the first estimate), then
// about 40 ms each.
void Worker::eval_slice(Interactive &t, std::unique_lock<std::mutex> &lock) {
    const double t0 = clock_ms();
    const double budget = t.eval->images() == 0 ? 15 : 40;
    do {
        t.eval_done = t.eval->run(t.eval->images() == 0 ? 100 : 200);
    } while (!t.eval_done && clock_ms() - t0 < budget);
    const double now = clock_ms();
    lock.lock();
    if (t.version == model_version_ && t.gen == generation_) {
        publish_eval(t, now);
        snap_.busy = !t.eval_done;
    }
    interactive_busy_ = has_pending_ || !t.eval_done;
}

// Copies the evaluator's progress into the snapshot (under mu_).
void Worker::publish_eval(const Interactive &t, double now) {
    const Evaluator &eval = *t.eval;
    Snapshot &s = snap_;
    s.images = eval.images();
    s.correct = eval.correct();
    s.agree = eval.agree();
    s.agree_images = eval.agree_images();
    std::copy(&eval.confusion()[0][0], &eval.confusion()[0][0] + 100, &s.confusion[0][0]);
    s.misclassified = eval.misclassified(256);
    s.output_sqnr_db = eval.output_sqnr_db();
    s.sqnr_images = eval.sqnr_images();
    s.resumed_at_step = eval.resumed_at_step();
    s.report.images = s.images;
    s.report.accuracy = s.images ? double(s.correct) / s.images : 0.0;
    s.report.agreement = s.agree_images ? double(s.agree) / s.agree_images : 0.0;
    s.report.float_accuracy = s.float_accuracy;
    const double outputs = double(t.eval_outputs);
    s.mse = s.images && outputs > 0 ? eval.squared_error() / (double(s.images) * outputs) : 0.0;
    for (size_t i = 0; i < s.report.layers.size() && i < s.output_sqnr_db.size(); ++i)
        s.report.layers[i].output_sqnr_db = s.output_sqnr_db[i];
    if (s.first_ms < 0 && s.images > 0) {
        s.first_ms = now - t.t_request;
        s.first_images = s.images;
    }
    if (eval.done() && s.full_ms < 0) s.full_ms = now - t.t_request;
}

// ---- the background thread ----

// What a background job works on: the model of the moment it was taken.
struct Worker::Job {
    uint64_t version = 0;
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Data> data;
    Compressor *compressor = nullptr;
    bool float_ready = false; // the float baseline is complete
};

void Worker::background_loop() {
    // The background thread's own compressor (Compressor is not shared
    // between threads): sweeps and the preset search change one layer at a
    // time, so most of their compressions reuse the calibrated steps before it.
    std::unique_ptr<Compressor> compressor;
    std::shared_ptr<const Model> compressor_model;
    bool waiting = false; // the last pass had work it could not start yet
    for (;;) {
        std::unique_lock<std::mutex> lock(mu_);
        // Work that must wait is looked at again after 20 ms: the predicate
        // would hold at once, and a spin takes a core from the engine.
        if (waiting) bg_cv_.wait_for(lock, std::chrono::milliseconds(20));
        else bg_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
            return quit_ || export_pending_ || budget_pending_ || !sweep_queue_.empty();
        });
        if (quit_) return;
        waiting = false;
        if (!export_pending_ && !budget_pending_ && sweep_queue_.empty()) continue;
        waiting = true;
        // An export is asked for by a person waiting for a file: it goes
        // ahead even while the interactive thread works. The rest waits.
        if (!export_pending_ && !interactive_idle()) continue;
        if (!model_ || !data_) continue;
        Job job;
        job.version = model_version_;
        job.model = model_;
        job.data = data_;
        job.float_ready = snap_.float_images == job.data->test.count && snap_.reference;
        if (compressor_model != job.model) {
            compressor = std::make_unique<Compressor>(*job.model, job.data->calibration);
            compressor_model = job.model;
        }
        job.compressor = compressor.get();
        if (export_pending_) waiting = !run_export(job, lock);
        else if (budget_pending_) waiting = !run_budget(job, lock);
        else waiting = !run_sweep_point(job, lock);
    }
}

bool Worker::stale(const Job &job) {
    std::lock_guard<std::mutex> g(mu_);
    return quit_ || job.version != model_version_;
}

void Worker::progress(const Job &job, const char *task, int done, int total) {
    std::lock_guard<std::mutex> g(mu_);
    if (quit_ || job.version != model_version_) throw Cancelled{};
    snap_.background_task = task;
    snap_.background_done = done;
    snap_.background_total = total;
}

bool Worker::run_export(Job &job, std::unique_lock<std::mutex> &lock) {
    const CompressionConfig config = export_config_;
    ExportResult r;
    r.id = export_id_;
    export_pending_ = false;
    const Ended ended = unlocked(lock, &r.error, [&] {
        r.config_json = config_to_json(config);
        progress(job, "export: compressing", 0, job.data->test.count);
        require_integer_only(config, *job.model);
        const CompressedModel cm = job.compressor->compress(config);
        // What `dmc export` does: the full test set, output SQNR on.
        EvalOptions options;
        options.progress = [&](int done, int total) {
            progress(job, "export: evaluating (as dmc export)", done, total);
            std::lock_guard<std::mutex> g(mu_);
            if (export_pending_) throw Cancelled{}; // a newer export replaces this one
        };
        r.report = evaluate(cm, job.data->test, options);
        r.header = export_header(cm, r.report);
    });
    snap_.background_task.clear();
    if (ended != Ended::Cancelled && job.version == model_version_ && !export_pending_) {
        export_result_ = std::move(r);
        export_ready_ = true;
    }
    return true;
}

// Each score waits while a person moves a slider (the interactive thread
// has the cores then); a cancel, a newer request or a new model stops the
// solve by throwing from here, between two scores.
void Worker::budget_progress(const Job &job, SearchStage stage, int done, int total) {
    const bool screening = stage == SearchStage::Screening;
    while (screening && !interactive_idle() && !stale(job))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard<std::mutex> g(mu_);
    if (quit_ || job.version != model_version_ || budget_cancel_ || budget_pending_) throw Cancelled{};
    snap_.budget_stage = screening ? "scoring configurations on the subset" : "confirming the finalists on all images";
    snap_.budget_done = done;
    snap_.budget_total = total;
}

// dmc::solve_budget with the request's budget, choices and options. With
// a maximum drop, the float accuracy the interactive thread measured on
// the whole set is handed in: the number solve_budget would measure (the
// same images through the same float reference), without the wait.
bool Worker::run_budget(Job &job, std::unique_lock<std::mutex> &lock) {
    BudgetRequest request = budget_request_;
    if (request.budget.max_drop_points >= 0.0) {
        if (!job.float_ready) return false; // stays pending until the float accuracy is in
        request.options.float_accuracy = snap_.float_accuracy;
    }
    BudgetResult r;
    r.id = budget_id_;
    r.request = budget_request_;
    const double t0 = budget_request_ms_;
    budget_pending_ = budget_cancel_ = false;
    snap_.budget_running = r.id;
    snap_.budget_stage = "starting";
    snap_.budget_done = snap_.budget_total = 0;
    const Ended ended = unlocked(lock, &r.error, [&] {
        r.outcome = solve_budget(*job.compressor, job.data->test, request.budget, request.choices, request.options,
                                 [&](SearchStage stage, int done, int total) { budget_progress(job, stage, done, total); });
    });
    r.cancelled = ended == Ended::Cancelled;
    r.ms = clock_ms() - t0;
    snap_.budget_running = 0;
    // Replaced by a newer request or a new model: nobody waits for this one.
    if (job.version != model_version_ || budget_pending_) return true;
    budget_cancel_ = false;
    budget_result_ = std::move(r);
    budget_ready_ = true;
    return true;
}

// One sweep point per pass, so a slider move is never kept waiting for
// more than one point.
bool Worker::run_sweep_point(Job &job, std::unique_lock<std::mutex> &lock) {
    if (!job.float_ready) return false;
    const std::string layer = sweep_queue_.front();
    SweepCurve curve = snap_.sweeps.count(layer) ? snap_.sweeps[layer] : SweepCurve{};
    const Ended ended = unlocked(lock, nullptr, [&] {
        int done = 0, total = 0;
        add_sweep_point(*job.compressor, job.data->test, layer, curve, &done, &total);
        progress(job, "sensitivity sweep", done, total);
    });
    if (ended == Ended::Cancelled) {
        snap_.background_task.clear();
        return true;
    }
    if (ended == Ended::Failed) curve.done = true; // a layer the engine refuses: show what there is
    if (job.version != model_version_) return true;
    snap_.sweeps[layer] = curve;
    if (curve.done) {
        snap_.background_task.clear();
        sweep_queue_.erase(std::remove(sweep_queue_.begin(), sweep_queue_.end(), layer), sweep_queue_.end());
    }
    return true;
}

} // namespace app
