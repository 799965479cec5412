#include "worker.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "dmc/export.h"

namespace app {

using namespace dmc;

namespace {

struct Cancelled {}; // thrown from a progress callback to abandon stale work

double clock_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Sweep points (dmc sweep's defaults, plus the keeps a slider offers).
const std::vector<int> kSweepBits = {8, 4, 2};
const std::vector<double> kSweepKeeps = {0.75, 0.5, 0.25, 0.1};
constexpr int kSweepImages = 1000; // like `dmc sweep --limit 1000`: a sweep point costs a compress and a run

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
        export_pending_ = search_pending_ = false;
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

uint64_t Worker::request_search(double max_drop_points) {
    uint64_t id;
    {
        std::lock_guard<std::mutex> lock(mu_);
        search_drop_ = max_drop_points;
        search_pending_ = true;
        search_ready_ = false;
        id = ++search_id_;
    }
    bg_cv_.notify_all();
    return id;
}

bool Worker::poll_search(SearchResult *out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!search_ready_) return false;
    search_ready_ = false;
    *out = std::move(search_result_);
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

void Worker::interactive_loop() {
    uint64_t version = 0;
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Data> data;
    std::unique_ptr<FloatRunner> floats;
    std::unique_ptr<Evaluator> eval;
    bool float_done = false, eval_started = false, eval_done = true;
    uint64_t gen = 0;
    double t_request = 0;
    std::shared_ptr<const CompressedModel> cm;
    int64_t eval_outputs = 1; // outputs per input (for the mean squared error)
    std::vector<std::pair<std::string, std::shared_ptr<const CompressedModel>>> recent; // newest first
    // The model's compressors: the exact one on all calibration inputs, the
    // quick one on the first kQuickCalibration. Each reuses the calibrated
    // steps before the first layer a new config changes.
    std::unique_ptr<Compressor> exact, quick;

    // Copies the evaluator's progress into the snapshot (under mu_).
    auto publish_eval = [&](double now) {
        Snapshot &s = snap_;
        s.images = eval->images();
        s.correct = eval->correct();
        s.agree = eval->agree();
        s.agree_images = eval->agree_images();
        std::copy(&eval->confusion()[0][0], &eval->confusion()[0][0] + 100, &s.confusion[0][0]);
        s.misclassified = eval->misclassified(256);
        s.output_sqnr_db = eval->output_sqnr_db();
        s.sqnr_images = eval->sqnr_images();
        s.resumed_at_step = eval->resumed_at_step();
        s.report.images = s.images;
        s.report.accuracy = s.images ? double(s.correct) / s.images : 0.0;
        s.report.agreement = s.agree_images ? double(s.agree) / s.agree_images : 0.0;
        s.report.float_accuracy = s.float_accuracy;
        const double outputs = double(eval_outputs);
        s.mse = s.images && outputs > 0 ? eval->squared_error() / (double(s.images) * outputs) : 0.0;
        for (size_t i = 0; i < s.report.layers.size() && i < s.output_sqnr_db.size(); ++i)
            s.report.layers[i].output_sqnr_db = s.output_sqnr_db[i];
        if (s.first_ms < 0 && s.images > 0) {
            s.first_ms = now - t_request;
            s.first_images = s.images;
        }
        if (eval->done() && s.full_ms < 0) s.full_ms = now - t_request;
    };

    for (;;) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
            return quit_ || version != model_version_ || has_pending_ || (model && !float_done) ||
                   (eval_started && !eval_done);
        });
        if (quit_) return;
        interactive_busy_ = true;
        if (version != model_version_) {
            version = model_version_;
            model = model_;
            data = data_;
            lock.unlock();
            floats = std::make_unique<FloatRunner>(*model, data->test, data->order, kSqnrImages);
            eval = std::make_unique<Evaluator>(data->test, data->order);
            float_done = false;
            eval_started = false;
            eval_done = true;
            recent.clear();
            CalibrationSet quick_calibration;
            quick_calibration.count = std::min(kQuickCalibration, data->calibration.count);
            quick_calibration.raw.assign(data->calibration.raw.begin(),
                                         data->calibration.raw.begin() +
                                             int64_t(quick_calibration.count) * model->input.shape.size());
            exact = std::make_unique<Compressor>(*model, data->calibration);
            quick = std::make_unique<Compressor>(*model, quick_calibration);
            lock.lock();
            if (version == model_version_) snap_.reference = std::shared_ptr<const CompressedModel>(
                                               floats ? new CompressedModel(floats->reference()) : nullptr);
            continue;
        }
        if (has_pending_) {
            const CompressionConfig config = pending_;
            const std::string key = config_to_json(config);
            gen = generation_;
            t_request = request_ms_;
            has_pending_ = false;
            lock.unlock();
            std::shared_ptr<const CompressedModel> made;
            for (auto &r : recent)
                if (r.first == key) made = r.second;
            const bool cached = made != nullptr;

            // The quick estimate, when the exact model is not at hand and the
            // float baseline is done (before that the page is still loading).
            if (!made && float_done && data->calibration.count > kQuickCalibration) {
                int images = 0, correct = 0;
                try {
                    const CompressedModel q = quick->compress(config);
                    Executor run(q);
                    const double t0 = clock_ms();
                    while (images < int(data->order.size()) && (images < 100 || clock_ms() - t0 < kQuickBudgetMs)) {
                        const int i = data->order[size_t(images)];
                        const int64_t n = data->test.shape.size();
                        const int pred = data->test.pixels.empty()
                                             ? run.predict(data->test.raw.data() + size_t(i) * size_t(n))
                                             : run.predict_u8(data->test.pixels.data() + size_t(i) * size_t(n));
                        correct += !data->test.labels.empty() && pred == data->test.labels[size_t(i)];
                        ++images;
                    }
                } catch (const std::exception &) {
                    images = 0; // the exact compression reports the error
                }
                const double t_quick = clock_ms();
                lock.lock();
                if (version != model_version_ || gen != generation_) continue; // a newer request came
                Snapshot &s = snap_;
                s.generation = gen;
                s.config_json = key;
                s.error.clear();
                s.images = s.correct = s.agree = s.agree_images = 0;
                s.first_ms = s.full_ms = -1;
                s.first_images = 0;
                s.quick_images = images;
                s.quick_correct = correct;
                s.quick_ms = images ? t_quick - t_request : -1;
                s.busy = true;
                if (has_pending_) continue; // skip the exact model of a config already replaced
                lock.unlock();
            }

            std::string error;
            if (!made) {
                try {
                    made = std::make_shared<const CompressedModel>(exact->compress(config));
                    recent.insert(recent.begin(), {key, made});
                    if (recent.size() > kRecentModels) recent.pop_back();
                } catch (const std::exception &e) {
                    error = e.what();
                }
            }
            const double t_compressed = clock_ms();
            Report described;
            if (made) described = describe(*made);
            lock.lock();
            if (version != model_version_ || gen != generation_) continue; // stale already
            Snapshot &s = snap_;
            if (s.generation != gen) s.quick_images = s.quick_correct = 0, s.quick_ms = -1;
            s.generation = gen;
            s.config_json = key;
            s.error = error;
            s.cached = cached;
            s.compress_ms = t_compressed - t_request;
            s.first_ms = s.full_ms = -1;
            s.first_images = 0;
            s.images = s.correct = s.agree = s.agree_images = 0;
            s.misclassified.clear();
            std::fill(&s.confusion[0][0], &s.confusion[0][0] + 100, 0);
            if (made) {
                cm = made;
                eval_outputs = cm->output_shape().size();
                s.cm = cm;
                s.cm_generation = gen;
                s.report = described;
                s.output_sqnr_db.assign(described.layers.size(), std::nan(""));
                eval_started = true;
                eval_done = false;
                s.busy = true;
                lock.unlock();
                eval->start(cm, &floats->baseline());
                lock.lock();
            } else {
                eval_done = true;
                s.busy = !float_done;
            }
            continue;
        }
        lock.unlock();
        if (!float_done) {
            // The float baseline first: agreement and output SQNR need it.
            const double t0 = clock_ms();
            while (!float_done && clock_ms() - t0 < 40) float_done = floats->run(100);
            lock.lock();
            if (version == model_version_) {
                snap_.float_images = floats->baseline().images;
                snap_.float_accuracy = floats->baseline().accuracy();
                const double outs = double(model->output_shape().size());
                snap_.float_mse = floats->baseline().images
                                      ? floats->baseline().squared_error / (floats->baseline().images * outs)
                                      : 0.0;
                snap_.busy = !float_done || !eval_done;
            }
            continue;
        }
        if (eval_started && !eval_done) {
            // Slices short enough to hear a newer request soon: the first
            // one small (the first estimate), then about 40 ms each.
            const double t0 = clock_ms();
            const double budget = eval->images() == 0 ? 15 : 40;
            do {
                eval_done = eval->run(eval->images() == 0 ? 100 : 200);
            } while (!eval_done && clock_ms() - t0 < budget);
            const double now = clock_ms();
            lock.lock();
            if (version == model_version_ && gen == generation_) {
                publish_eval(now);
                snap_.busy = !eval_done;
            }
            interactive_busy_ = has_pending_ || !eval_done;
            continue;
        }
        interactive_busy_ = false;
    }
}

// ---- the background thread ----

void Worker::background_loop() {
    // The background thread's own compressor (Compressor is not shared
    // between threads): sweeps and the preset search change one layer at a
    // time, so most of their compressions reuse the calibrated steps before it.
    std::unique_ptr<Compressor> compressor;
    std::shared_ptr<const Model> compressor_model;
    for (;;) {
        std::unique_lock<std::mutex> lock(mu_);
        bg_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
            return quit_ || export_pending_ || search_pending_ || !sweep_queue_.empty();
        });
        if (quit_) return;
        if (!export_pending_ && !search_pending_ && sweep_queue_.empty()) continue;
        // An export is asked for by a person waiting for a file: it goes
        // ahead even while the interactive thread works. The rest waits.
        if (!export_pending_ && !interactive_idle()) continue;
        if (!model_ || !data_) continue;
        const uint64_t version = model_version_;
        std::shared_ptr<const Model> model = model_;
        std::shared_ptr<const Data> data = data_;
        const bool float_ready = snap_.float_images == data->test.count && snap_.reference;
        if (compressor_model != model) {
            compressor = std::make_unique<Compressor>(*model, data->calibration);
            compressor_model = model;
        }
        auto compress = [&](const CompressionConfig &c) { return compressor->compress(c); };
        auto stale = [&] {
            std::lock_guard<std::mutex> g(mu_);
            return quit_ || version != model_version_;
        };
        auto progress = [&](const char *task, int done, int total) {
            std::lock_guard<std::mutex> g(mu_);
            if (quit_ || version != model_version_) throw Cancelled{};
            snap_.background_task = task;
            snap_.background_done = done;
            snap_.background_total = total;
        };

        if (export_pending_) {
            const CompressionConfig config = export_config_;
            const uint64_t id = export_id_;
            export_pending_ = false;
            lock.unlock();
            ExportResult r;
            r.id = id;
            r.config_json = config_to_json(config);
            try {
                progress("export: compressing", 0, data->test.count);
                require_integer_only(config, *model);
                const CompressedModel cm = compress(config);
                // What `dmc export` does: the full test set, output SQNR on.
                EvalOptions options;
                options.progress = [&](int done, int total) {
                    progress("export: evaluating (as dmc export)", done, total);
                    std::lock_guard<std::mutex> g(mu_);
                    if (export_pending_) throw Cancelled{}; // a newer export replaces this one
                };
                r.report = evaluate(cm, data->test, options);
                r.header = export_header(cm, r.report);
            } catch (const Cancelled &) {
                lock.lock();
                snap_.background_task.clear();
                continue;
            } catch (const std::exception &e) {
                r.error = e.what();
            }
            lock.lock();
            snap_.background_task.clear();
            if (version == model_version_ && !export_pending_) {
                export_result_ = std::move(r);
                export_ready_ = true;
            }
            continue;
        }

        if (search_pending_) {
            if (!float_ready) continue; // the search measures against the float accuracy
            const double float_full = snap_.float_accuracy;
            const uint64_t id = search_id_;
            const double drop = search_drop_;
            search_pending_ = false;
            lock.unlock();
            SearchResult r;
            r.id = id;
            try {
                // Greedy: every layer starts at 8 bits, keep 1; the layer
                // with the most weight bytes tries its next smaller setting,
                // kept if accuracy on the first images stays within the
                // budget (with a margin), else the layer is done. The winner
                // is checked on the full test set, backing off if needed.
                struct Rung { int bits; double keep; };
                const std::vector<Rung> ladder = {{8, 1.0}, {4, 1.0}, {4, 0.75}, {4, 0.5},
                                                  {4, 0.35}, {4, 0.25}, {2, 0.25}};
                const int out = model->output_layer();
                std::vector<int> layers;
                for (size_t i = 0; i < model->layers.size(); ++i)
                    if (model->layers[i].has_weights()) layers.push_back(int(i));
                std::map<int, size_t> rung;
                std::map<int, bool> frozen;
                auto config_of = [&](const std::map<int, size_t> &rungs) {
                    CompressionConfig c;
                    for (int li : layers) {
                        const Rung &g = ladder[rungs.at(li)];
                        c.layers[model->layers[size_t(li)].name].bits = g.bits;
                        if (g.keep < 1.0) c.layers[model->layers[size_t(li)].name].keep = g.keep;
                    }
                    return c;
                };
                for (int li : layers) rung[li] = 0, frozen[li] = false;
                const int limit = std::min(2000, data->test.count);
                const double float_sub = score(float_reference(*model), data->test, limit);
                const double margin = 0.002; // the subset is noisier than the full set
                int tries = 0;
                const int max_tries = int(layers.size() * ladder.size());
                std::vector<std::map<int, size_t>> accepted = {rung};
                for (;;) {
                    int pick = -1;
                    double most = -1;
                    for (int li : layers) {
                        if (frozen[li]) continue;
                        if (rung[li] + 1 >= ladder.size()) { frozen[li] = true; continue; }
                        if (li == out && ladder[rung[li] + 1].keep < 1.0) { frozen[li] = true; continue; }
                        const Rung &g = ladder[rung[li]];
                        const double bytes = double(model->layers[size_t(li)].weight.size()) * g.bits * g.keep;
                        if (bytes > most) most = bytes, pick = li;
                    }
                    if (pick < 0) break;
                    while (!interactive_idle() && !stale()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    progress("preset: searching the smallest config", ++tries, max_tries);
                    std::map<int, size_t> trial = rung;
                    trial[pick]++;
                    const double acc = score(compress(config_of(trial)), data->test, limit);
                    if (acc >= float_sub - drop / 100.0 + margin) {
                        rung = trial;
                        accepted.push_back(rung);
                    } else {
                        frozen[pick] = true;
                    }
                }
                // The full check, backing off one accepted step at a time.
                for (;;) {
                    const CompressionConfig c = config_of(accepted.back());
                    const CompressedModel cm = compress(c);
                    progress("preset: checking on the full test set", tries, max_tries);
                    const double acc = score(cm, data->test);
                    if (acc >= float_full - drop / 100.0 || accepted.size() == 1) {
                        r.config_json = config_to_json(c);
                        r.accuracy = acc;
                        r.flash_bytes = describe(cm).flash_bytes;
                        break;
                    }
                    accepted.pop_back();
                }
            } catch (const Cancelled &) {
                lock.lock();
                snap_.background_task.clear();
                continue;
            } catch (const std::exception &e) {
                r.error = e.what();
            }
            lock.lock();
            snap_.background_task.clear();
            if (version == model_version_) {
                search_result_ = std::move(r);
                search_ready_ = true;
            }
            continue;
        }

        // One sweep point per pass, so a slider move is never kept waiting
        // for more than one point.
        if (!float_ready) continue;
        const std::string layer = sweep_queue_.front();
        SweepCurve curve = snap_.sweeps.count(layer) ? snap_.sweeps[layer] : SweepCurve{};
        lock.unlock();
        try {
            const int limit = std::min(kSweepImages, data->test.count);
            const bool output = model->find_layer(layer) == model->output_layer();
            const size_t total = 1 + kSweepBits.size() + (output ? 0 : kSweepKeeps.size());
            size_t done = 1 + curve.by_bits.size() + curve.by_keep.size();
            if (curve.images == 0) {
                curve.layer = layer;
                curve.images = limit;
                curve.float_score = score(float_reference(*model), data->test, limit);
                done = 1;
            } else {
                // The point dmc::sweep_layer computes: only this layer
                // compressed, every other layer float.
                CompressionConfig c;
                c.defaults.bits = kFloatBits;
                SweepPoint p;
                if (curve.by_bits.size() < kSweepBits.size()) {
                    p.bits = kSweepBits[curve.by_bits.size()];
                    p.keep = 1.0;
                } else {
                    p.bits = kFloatBits;
                    p.keep = kSweepKeeps[curve.by_keep.size()];
                }
                c.layers[layer].bits = p.bits;
                c.layers[layer].keep = p.keep;
                p.score = score(compress(c), data->test, limit);
                (p.keep < 1.0 ? curve.by_keep : curve.by_bits).push_back(p);
                ++done;
            }
            curve.done = done >= total;
            progress("sensitivity sweep", int(done), int(total));
        } catch (const Cancelled &) {
            lock.lock();
            snap_.background_task.clear();
            continue;
        } catch (const std::exception &e) {
            curve.done = true; // a layer the engine refuses: show what there is
        }
        lock.lock();
        if (version != model_version_) continue;
        snap_.sweeps[layer] = curve;
        if (curve.done) {
            snap_.background_task.clear();
            sweep_queue_.erase(std::remove(sweep_queue_.begin(), sweep_queue_.end(), layer), sweep_queue_.end());
        }
    }
}

} // namespace app
