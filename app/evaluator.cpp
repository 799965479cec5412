// evaluator.cpp - the workbench's evaluation of one compressed model after
// another on the same test set (see evaluator.h for the design).
//
// The file holds policy only, so that the workbench can never disagree with
// `dmc eval`: the steps run in the engine's executors (dmc::Executor and
// dmc::BatchExecutor, per lane), the prediction, squared error and SQNR
// sums are the engine's functions, and what decides
// whether a cached tensor may be reused is the engine's step keys. What
// stays here is which tensors to keep, within which budget, in which order
// the images go, and how a slice is split between two threads.
#include "evaluator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

namespace app {

using namespace dmc;

namespace {

bool is_weight(const Step &s) { return s.runs(LayerType::Conv2d) || s.runs(LayerType::Linear); }

// Where a changed config can start: a weight layer, or a float/int8
// conversion before one. Not step 1 after a table-driven Quantize: the
// lookup is cheaper than a copy from the cache.
bool worth_caching(const std::vector<Step> &steps, int k) {
    const Step &s = steps[size_t(k)];
    const bool boundary = is_weight(s) || s.conversion == Conversion::Dequantize ||
                          (s.conversion == Conversion::Quantize && !s.from_raw_input);
    return boundary && !(k == 1 && steps[0].conversion == Conversion::Quantize);
}

} // namespace

// ---- the float baseline ----

FloatRunner::FloatRunner(const Model &model, const TestSet &test, const std::vector<int> &order, int sqnr_images)
    : test_(test), order_(order), reference_(float_reference(model)) {
    run_ = std::make_unique<Executor>(reference_);
    base_.prediction.assign(size_t(test.count), 0);
    int64_t per_image = 0;
    for (const Step &s : reference_.steps)
        if (is_weight(s)) {
            base_.output_size[s.layer] = s.output.size();
            per_image += s.output.size() * 4;
        }
    base_.sqnr_images = int(std::min<int64_t>({int64_t(sqnr_images), int64_t(test.count),
                                               per_image ? kSqnrBudgetBytes / per_image : 0}));
    for (auto &o : base_.output_size) base_.outputs[o.first].resize(size_t(o.second * base_.sqnr_images));
}

bool FloatRunner::run(int n) {
    const int end = std::min(int(order_.size()), base_.images + n);
    for (int p = base_.images; p < end; ++p) {
        const int i = order_[size_t(p)];
        Executor::Observer keep;
        if (p < base_.sqnr_images)
            keep = [&](int k, const void *out) {
                const Step &s = reference_.steps[size_t(k)];
                if (!is_weight(s)) return;
                const int64_t size = base_.output_size[s.layer];
                const float *v = static_cast<const float *>(out);
                std::copy(v, v + size, base_.outputs[s.layer].begin() + p * size);
            };
        const void *out = test_.run(*run_, i, keep);
        const int pred = predicted_class(reference_, out);
        base_.prediction[size_t(i)] = uint8_t(pred);
        if (!test_.labels.empty()) base_.correct += pred == test_.labels[size_t(i)];
        else base_.squared_error += dmc::squared_error(reference_, out, test_, i);
    }
    base_.images = end;
    return end >= int(order_.size());
}

// ---- the helper thread ----

HelperThread::HelperThread() {
    thread_ = std::thread([this] {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            cv_.wait(lock, [&] { return quit_ || job_; });
            if (quit_) return;
            std::function<void()> job = std::move(job_);
            job_ = nullptr;
            lock.unlock();
            job();
            lock.lock();
            busy_ = false;
            cv_.notify_all();
        }
    });
}

HelperThread::~HelperThread() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void HelperThread::start(std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = std::move(job);
    busy_ = true;
    cv_.notify_all();
}

void HelperThread::wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !busy_; });
}

// ---- the compressed model ----

Evaluator::Evaluator(const TestSet &test, const std::vector<int> &order) : test_(test), order_(order) {}

Evaluator::~Evaluator() = default;

void Evaluator::start(std::shared_ptr<const CompressedModel> cm, const FloatBaseline *floats) {
    cm_ = std::move(cm);
    floats_ = floats;
    keys_ = cm_->step_keys;
    if (keys_.size() != cm_->steps.size()) {
        // A model not made by the engine's compressor has no keys: give it
        // ones no other model has, so nothing of it is ever reused.
        static std::atomic<uint64_t> unkeyed{0};
        const std::string own = "unkeyed " + std::to_string(++unkeyed) + ":";
        keys_.clear();
        for (size_t k = 0; k < cm_->steps.size(); ++k) keys_.push_back(own + std::to_string(k));
    }
    for (Lane &lane : lanes_) {
        lane.executor = std::make_unique<Executor>(*cm_);
        lane.batch = std::make_unique<BatchExecutor>(*cm_, kBatchImages);
    }
    images_ = correct_ = agree_ = agree_images_ = 0;
    se_ = 0.0;
    std::memset(confusion_, 0, sizeof confusion_);
    prediction_.assign(size_t(test_.count), 0);
    wrong_.clear();
    plan_cache();
    plan_sqnr();
    resume_step_ = 0; // for the report: where a fully cached evaluation starts
    for (auto &c : cache_)
        if (c.second.filled >= int(order_.size())) resume_step_ = std::max(resume_step_, c.first);
}

// Which step inputs to cache: those worth it (worth_caching), within the
// budget, from the last layer back (the cheapest to keep). A cache whose
// key is unchanged keeps what it holds.
void Evaluator::plan_cache() {
    const std::vector<Step> &steps = cm_->steps;
    const int64_t n = int64_t(order_.size());
    std::map<int, Cache> kept;
    int64_t used = 0;
    for (int k = int(steps.size()) - 1; k >= 1; --k) {
        if (!worth_caching(steps, k)) continue;
        const int64_t each = steps[size_t(k) - 1].output_bytes();
        if (used + each * n > kCacheBudgetBytes) break;
        used += each * n;
        const std::string &key = keys_[size_t(k) - 1];
        auto old = cache_.find(k);
        Cache c;
        if (old != cache_.end() && old->second.key == key && old->second.bytes_each == each) {
            c = std::move(old->second);
        } else {
            c.key = key;
            c.bytes_each = each;
            c.data.resize(size_t(each * n));
            c.written.assign(size_t(n), 0);
        }
        kept[k] = std::move(c);
    }
    cache_ = std::move(kept);
}

// Output SQNR: layers whose sums (for this exact prefix) are complete keep
// them; the others are summed again over the first images.
void Evaluator::plan_sqnr() {
    sqnr_target_ = floats_ ? floats_->sqnr_images : 0;
    weight_steps_.clear();
    for (size_t k = 0; k < cm_->steps.size(); ++k)
        if (is_weight(cm_->steps[k])) weight_steps_.push_back(int(k));
    std::map<std::string, LayerSqnr> kept;
    for (int k : weight_steps_) {
        const std::string &key = keys_[size_t(k)];
        auto it = sqnr_.find(key);
        const bool complete = it != sqnr_.end() && it->second.images == sqnr_target_ && sqnr_target_ > 0;
        kept[key] = complete ? it->second : LayerSqnr{};
    }
    sqnr_ = std::move(kept);
}

// The step image `position` starts at: the last cached step input that
// holds it, but for the SQNR images no later than the first layer whose
// sums still need this image (0: from the test input).
int Evaluator::resume_step(int position, bool sqnr) const {
    int latest = std::numeric_limits<int>::max();
    if (sqnr)
        for (int k : weight_steps_)
            if (sqnr_.at(keys_[size_t(k)]).images < sqnr_target_) latest = std::min(latest, k);
    int start = 0;
    for (auto &c : cache_)
        if (c.second.filled > position && c.first <= latest) start = std::max(start, c.first);
    return start;
}

// Step `step` has just written `output` (what step + 1 reads) for image
// `position`: keep it for the next config, and add it to its layer's SQNR.
void Evaluator::observe_step(int position, int step, const void *output, bool sqnr) {
    // Lanes write different positions; run() advances `filled` afterwards.
    auto c = cache_.find(step + 1);
    if (c != cache_.end() && !c->second.written[size_t(position)]) {
        std::memcpy(c->second.data.data() + position * c->second.bytes_each, output, size_t(c->second.bytes_each));
        c->second.written[size_t(position)] = 1;
    }
    const Step &s = cm_->steps[size_t(step)];
    if (!sqnr || !is_weight(s)) return;
    LayerSqnr &layer = sqnr_.at(keys_[size_t(step)]);
    if (layer.images >= sqnr_target_ || layer.images != position) return;
    const int64_t size = floats_->output_size.at(s.layer);
    layer.sums.add(*cm_, step, output, floats_->outputs.at(s.layer).data() + position * size);
    layer.images = position + 1;
}

void Evaluator::count(int position, const void *output, Lane &lane) {
    const int i = order_[size_t(position)];
    const int pred = predicted_class(*cm_, output);
    prediction_[size_t(i)] = uint8_t(pred);
    if (!test_.labels.empty()) {
        const int label = test_.labels[size_t(i)];
        lane.correct += pred == label;
        if (pred != label) lane.wrong.push_back(i);
        if (label < 10 && pred < 10) lane.confusion[label][pred]++;
    } else {
        lane.squared_errors.push_back(dmc::squared_error(*cm_, output, test_, i));
    }
    if (floats_ && floats_->images > position) {
        lane.agree += pred == floats_->prediction[size_t(i)];
        lane.agree_images++;
    }
}

void Evaluator::run_image(int position, Lane &lane) {
    const bool sqnr = position < sqnr_target_ && floats_;
    const int start = resume_step(position, sqnr);
    const Executor::Observer observe = [&](int step, const void *output) {
        observe_step(position, step, output, sqnr);
    };
    const void *out;
    if (start > 0) {
        const Cache &c = cache_.at(start); // at(): safe beside the other lane
        std::memcpy(lane.executor->step_input(start), c.data.data() + position * c.bytes_each, size_t(c.bytes_each));
        out = lane.executor->run_from(start, observe);
    } else {
        out = test_.run(*lane.executor, order_[size_t(position)], observe);
    }
    count(position, out, lane);
}

// Positions first .. last - 1, none of them an SQNR image, in batches: runs
// of consecutive positions that resume at the same step.
void Evaluator::run_images(int first, int last, Lane &lane) {
    for (int p = first; p < last;) {
        const int start = resume_step(p, false);
        int q = p + 1;
        while (q < last && q - p < lane.batch->capacity() && resume_step(q, false) == start) ++q;
        run_batch(p, q - p, start, lane);
        p = q;
    }
}

void Evaluator::run_batch(int first, int n, int start, Lane &lane) {
    BatchExecutor &run = *lane.batch;
    const BatchExecutor::Observer observe = [&](int step, int b, const void *output) {
        observe_step(first + b, step, output, false);
    };
    if (start > 0) {
        const Cache &c = cache_.at(start); // at(): safe beside the other lane
        for (int b = 0; b < n; ++b)
            std::memcpy(run.step_input(start, b), c.data.data() + (first + b) * c.bytes_each, size_t(c.bytes_each));
        run.run_from(start, n, observe);
    } else {
        std::vector<int> index(static_cast<size_t>(n));
        for (int b = 0; b < n; ++b) index[size_t(b)] = order_[size_t(first + b)];
        test_.run(run, index.data(), n, observe);
    }
    for (int b = 0; b < n; ++b) count(first + b, run.output(b), lane);
}

void Evaluator::merge(Lane &lane) {
    correct_ += lane.correct;
    agree_ += lane.agree;
    agree_images_ += lane.agree_images;
    for (double e : lane.squared_errors) se_ += e; // in evaluation order, as one lane would
    for (int a = 0; a < 10; ++a)
        for (int b = 0; b < 10; ++b) confusion_[a][b] += lane.confusion[a][b];
    wrong_.insert(wrong_.end(), lane.wrong.begin(), lane.wrong.end());
    lane.correct = lane.agree = lane.agree_images = 0;
    lane.squared_errors.clear();
    std::memset(lane.confusion, 0, sizeof lane.confusion);
    lane.wrong.clear();
}

bool Evaluator::run(int n) {
    if (!cm_) return true;
    const int end = std::min(int(order_.size()), images_ + n);
    int p = images_;
    // The images whose layer outputs feed the output SQNR, one at a time in
    // order (the sums are formed in that order); the rest in two lanes.
    for (; p < end && p < sqnr_target_; ++p) run_image(p, lanes_[0]);
    merge(lanes_[0]);
    if (p < end) {
        const int mid = p + (end - p + 1) / 2;
        if (!helper_) helper_ = std::make_unique<HelperThread>();
        helper_->start([this, mid, end] {
            run_images(mid, end, lanes_[1]);
        });
        run_images(p, mid, lanes_[0]);
        helper_->wait();
        merge(lanes_[0]);
        merge(lanes_[1]);
    }
    images_ = end;
    // A cache is read up to where every position has been written.
    for (auto &c : cache_)
        while (c.second.filled < int(order_.size()) && c.second.written[size_t(c.second.filled)]) ++c.second.filled;
    return done();
}

std::vector<int> Evaluator::misclassified(size_t max) const {
    return std::vector<int>(wrong_.begin(), wrong_.begin() + std::min(max, wrong_.size()));
}

std::vector<double> Evaluator::output_sqnr_db() const {
    std::vector<double> out;
    for (int k : weight_steps_) {
        auto it = sqnr_.find(keys_[size_t(k)]);
        const bool complete = it != sqnr_.end() && it->second.images >= sqnr_target_ && sqnr_target_ > 0;
        out.push_back(complete ? it->second.sums.db() : std::numeric_limits<double>::quiet_NaN());
    }
    return out;
}

int64_t Evaluator::cache_bytes() const {
    int64_t b = 0;
    for (auto &c : cache_) b += int64_t(c.second.data.size());
    return b;
}

} // namespace app
