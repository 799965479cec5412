#include "evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "dmc_activation.h"

namespace app {

using namespace dmc;

namespace {

// FNV-1a over raw bytes: enough to tell configs apart (a collision would
// need two different steps to hash equal, 2^-64 per pair).
struct Hasher {
    uint64_t h = 1469598103934665603ull;
    void bytes(const void *p, size_t n) {
        const auto *b = static_cast<const uint8_t *>(p);
        for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    }
    template <class T> void value(const T &v) { bytes(&v, sizeof v); }
    template <class T> void vec(const std::vector<T> &v) {
        value(v.size());
        if (!v.empty()) bytes(v.data(), v.size() * sizeof(T));
    }
    void shape(const Shape &s) { value(s.channels), value(s.height), value(s.width); }
};

uint64_t splitmix(uint64_t &state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int predicted(const CompressedModel &cm, const void *out) {
    const int64_t n = cm.output_shape().size();
    if (cm.output_integer()) {
        const auto *q = static_cast<const int8_t *>(out);
        return dmc_argmax_s8(q, int32_t(n)); // the first maximum, as the engine
    }
    const auto *v = static_cast<const float *>(out);
    int best = 0;
    for (int64_t i = 1; i < n; ++i) best = v[i] > v[best] ? int(i) : best;
    return best;
}

double sqnr_db(double signal, double noise) { // as evaluate() defines it
    if (noise <= 0.0) return std::numeric_limits<double>::infinity();
    if (signal <= 0.0) return -std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal / noise);
}

bool is_weight(const Step &s) { return s.op == Op::Conv2d || s.op == Op::Linear; }

} // namespace

double squared_error(const CompressedModel &cm, const void *out, const TestSet &test, int i) {
    const int64_t n = cm.output_shape().size();
    if (test.targets.size() < size_t((int64_t(i) + 1) * n)) return 0.0;
    double sum = 0.0;
    for (int64_t k = 0; k < n; ++k) {
        const double y = cm.output_integer()
                             ? cm.output_q().scale * (static_cast<const int8_t *>(out)[k] - cm.output_q().zero_point)
                             : double(static_cast<const float *>(out)[k]);
        const double e = y - double(test.targets[size_t(int64_t(i) * n + k)]);
        sum += e * e;
    }
    return sum;
}

std::vector<float> output_curve(const CompressedModel &cm, const TestSet &test, int output) {
    Executor run(cm);
    std::vector<float> curve(static_cast<size_t>(test.count));
    for (int i = 0; i < test.count; ++i) {
        const void *out = test.run(run, i);
        curve[size_t(i)] = cm.output_integer()
                               ? float(cm.output_q().scale * (static_cast<const int8_t *>(out)[output] - cm.output_q().zero_point))
                               : static_cast<const float *>(out)[output];
    }
    return curve;
}

std::vector<int> stratified_order(const TestSet &test, uint64_t seed) {
    const int n = test.count;
    if (test.labels.size() != size_t(n)) { // not a classification set: a plain shuffle
        std::vector<int> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        uint64_t s = seed;
        for (int i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[splitmix(s) % uint64_t(i + 1)]);
        return order;
    }
    std::vector<std::vector<int>> by_class(256);
    for (int i = 0; i < n; ++i) by_class[test.labels[size_t(i)]].push_back(i);
    uint64_t s = seed;
    for (auto &c : by_class)
        for (int i = int(c.size()) - 1; i > 0; --i) std::swap(c[size_t(i)], c[splitmix(s) % uint64_t(i + 1)]);
    // Each image gets a key (its rank within its class + 0.5) / class size:
    // sorting by it interleaves the classes in proportion at every prefix.
    std::vector<std::pair<double, int>> keyed;
    keyed.reserve(size_t(n));
    for (auto &c : by_class)
        for (size_t r = 0; r < c.size(); ++r) keyed.push_back({(double(r) + 0.5) / double(c.size()), c[r]});
    std::stable_sort(keyed.begin(), keyed.end(),
                     [](const auto &a, const auto &b) { return a.first < b.first; });
    std::vector<int> order;
    order.reserve(size_t(n));
    for (auto &k : keyed) order.push_back(k.second);
    return order;
}

std::vector<uint64_t> step_prefix_hashes(const CompressedModel &cm) {
    std::vector<uint64_t> out;
    Hasher h;
    h.bytes(cm.input_lut, sizeof cm.input_lut);
    for (const Step &s : cm.steps) {
        h.value(s.op), h.value(s.integer), h.value(s.layer), h.value(s.fused_relu), h.value(s.from_raw_input);
        h.shape(s.input), h.shape(s.output);
        const Layer &l = s.source;
        h.value(l.type), h.value(l.in_channels), h.value(l.out_channels), h.value(l.kernel), h.value(l.stride),
            h.value(l.padding);
        if (is_weight(s)) h.vec(l.weight), h.vec(l.bias);
        h.vec(s.float_weight_t);
        h.value(s.weights.bits), h.value(s.weights.rows), h.value(s.weights.row_length), h.vec(s.weights.packed);
        h.vec(s.bias), h.vec(s.multiplier), h.vec(s.shift);
        h.value(s.in_q.scale), h.value(s.in_q.zero_point), h.value(s.out_q.scale), h.value(s.out_q.zero_point);
        h.value(s.act_min), h.value(s.act_max), h.value(s.pool_divisor.multiplier), h.value(s.pool_divisor.shift);
        h.value(s.input_mean), h.value(s.input_std), h.value(s.input_inv_scale);
        out.push_back(h.h);
    }
    return out;
}

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
        const int pred = predicted(reference_, out);
        base_.prediction[size_t(i)] = uint8_t(pred);
        if (!test_.labels.empty()) base_.correct += pred == test_.labels[size_t(i)];
        else base_.squared_error += squared_error(reference_, out, test_, i);
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
    hashes_ = step_prefix_hashes(*cm_);
    for (Lane &lane : lanes_) lane.arena.assign(size_t((cm_->plan.arena_bytes + 7) / 8) + 1, 0);
    images_ = correct_ = agree_ = agree_images_ = 0;
    se_ = 0.0;
    std::memset(confusion_, 0, sizeof confusion_);
    prediction_.assign(size_t(test_.count), 0);
    wrong_.clear();

    // Which step inputs to cache: those of weight layers and of the
    // float/int8 conversions before them (where a changed layer starts),
    // never step 1 after a table-driven Quantize (nothing to save there),
    // within the budget, from the last layer back (the cheapest to keep).
    const std::vector<Step> &steps = cm_->steps;
    const int64_t n = int64_t(order_.size());
    std::map<int, Cache> kept;
    int64_t used = 0;
    for (int k = int(steps.size()) - 1; k >= 1; --k) {
        const Step &s = steps[size_t(k)];
        const bool boundary = is_weight(s) || s.op == Op::Dequantize || (s.op == Op::Quantize && !s.from_raw_input);
        if (!boundary || (k == 1 && steps[0].op == Op::Quantize)) continue;
        const int64_t each = steps[size_t(k) - 1].output_bytes();
        if (used + each * n > kCacheBudgetBytes) break;
        used += each * n;
        auto old = cache_.find(k);
        Cache c;
        if (old != cache_.end() && old->second.key == hashes_[size_t(k) - 1] && old->second.bytes_each == each) {
            c = std::move(old->second);
        } else {
            c.key = hashes_[size_t(k) - 1];
            c.bytes_each = each;
            c.data.resize(size_t(each * n));
            c.written.assign(size_t(n), 0);
        }
        kept[k] = std::move(c);
    }
    cache_ = std::move(kept);

    // Output SQNR: layers whose sums (for this exact prefix) are complete
    // keep them; the others are summed again over the first images.
    sqnr_target_ = floats_ ? floats_->sqnr_images : 0;
    weight_steps_.clear();
    for (size_t k = 0; k < steps.size(); ++k)
        if (is_weight(steps[k])) weight_steps_.push_back(int(k));
    std::map<uint64_t, SqnrSums> keep_sums;
    for (int k : weight_steps_) {
        auto it = sqnr_.find(hashes_[size_t(k)]);
        if (it != sqnr_.end() && it->second.images == sqnr_target_ && sqnr_target_ > 0) keep_sums[it->first] = it->second;
        else keep_sums[hashes_[size_t(k)]] = SqnrSums{};
    }
    sqnr_ = std::move(keep_sums);
    resume_step_ = 0; // for the report: where a fully cached evaluation starts
    for (auto &c : cache_)
        if (c.second.filled >= int(n)) resume_step_ = std::max(resume_step_, c.first);
}

void Evaluator::run_image(int p, Lane &lane) {
    const CompressedModel &cm = *cm_;
    const std::vector<Step> &steps = cm.steps;
    const int i = order_[size_t(p)];
    char *arena = reinterpret_cast<char *>(lane.arena.data());

    // Start at the last cached step input that holds image p; for the first
    // images, no later than a layer whose output SQNR is being summed.
    int start = 0;
    for (auto &c : cache_)
        if (c.second.filled > p) start = std::max(start, c.first);
    const bool sqnr = p < sqnr_target_ && floats_;
    if (sqnr)
        for (int k : weight_steps_)
            if (sqnr_[hashes_[size_t(k)]].images < sqnr_target_) start = std::min(start, k);

    if (start > 0) {
        const Cache &c = cache_.at(start); // at(): safe beside the other lane
        std::memcpy(arena + cm.plan.steps[size_t(start)].input_offset, c.data.data() + p * c.bytes_each,
                    size_t(c.bytes_each));
    } else {
        // Step 0 as Executor::run_u8 / run do it.
        const Step &first = steps[0];
        const BufferPlan::Entry &e = cm.plan.steps[0];
        const int64_t n = first.input.size();
        if (!test_.pixels.empty() && first.op == Op::Quantize) {
            int8_t *q = reinterpret_cast<int8_t *>(arena + e.output_offset);
            const uint8_t *px = test_.pixels.data() + size_t(i) * size_t(n);
            for (int64_t j = 0; j < n; ++j) q[j] = cm.input_lut[px[j]];
        } else {
            std::vector<float> raw(static_cast<size_t>(n));
            if (!test_.pixels.empty())
                for (int64_t j = 0; j < n; ++j) raw[size_t(j)] = float(test_.pixels[size_t(i * n + j)]) / 255.0f;
            else
                std::copy_n(test_.raw.data() + size_t(i) * size_t(n), n, raw.begin());
            run_step(first, raw.data(), arena + e.output_offset, arena + e.scratch_offset);
        }
    }
    const int from = start > 0 ? start : 1;
    for (int k = start > 0 ? start : 0; k < int(steps.size()); ++k) {
        const BufferPlan::Entry &e = cm.plan.steps[size_t(k)];
        if (k >= from) {
            // Keep this step's input for the next config (lanes write
            // different positions; run() advances `filled` afterwards).
            auto c = cache_.find(k);
            if (c != cache_.end() && !c->second.written[size_t(p)] && k > start) {
                std::memcpy(c->second.data.data() + p * c->second.bytes_each, arena + e.input_offset,
                            size_t(c->second.bytes_each));
                c->second.written[size_t(p)] = 1;
            }
            run_step(steps[size_t(k)], arena + e.input_offset, arena + e.output_offset, arena + e.scratch_offset);
        }
        const Step &s = steps[size_t(k)];
        if (!sqnr || !is_weight(s)) continue;
        SqnrSums &sums = sqnr_[hashes_[size_t(k)]];
        if (sums.images >= sqnr_target_ || sums.images != p) continue;
        // The same sums as evaluate(): this layer's kept channels against the
        // float model's output of the same layer.
        const void *out = arena + e.output_offset;
        const int64_t size = floats_->output_size.at(s.layer);
        const float *ref = floats_->outputs.at(s.layer).data() + p * size;
        const std::vector<int> &kept = cm.pruned.kept[size_t(s.layer)];
        const int64_t positions = int64_t(s.output.height) * s.output.width;
        const int64_t c_kept = s.output.channels, c_all = size / positions;
        double sig = 0.0, err = 0.0;
        for (int64_t q = 0; q < positions; ++q)
            for (int64_t c = 0; c < c_kept; ++c) {
                const double x = ref[q * c_all + kept[size_t(c)]];
                const int64_t at = q * c_kept + c;
                const double y = s.integer ? s.out_q.scale * (static_cast<const int8_t *>(out)[at] - s.out_q.zero_point)
                                           : double(static_cast<const float *>(out)[at]);
                sig += x * x;
                err += (y - x) * (y - x);
            }
        sums.signal += sig;
        sums.noise += err;
        sums.images = p + 1;
    }
    const void *out = arena + cm.plan.steps.back().output_offset;
    const int pred = predicted(cm, out);
    prediction_[size_t(i)] = uint8_t(pred);
    if (!test_.labels.empty()) {
        const int label = test_.labels[size_t(i)];
        lane.correct += pred == label;
        if (pred != label) lane.wrong.push_back(i);
        if (label < 10 && pred < 10) lane.confusion[label][pred]++;
    } else {
        lane.squared_errors.push_back(app::squared_error(cm, out, test_, i));
    }
    if (floats_ && floats_->images > p) {
        lane.agree += pred == floats_->prediction[size_t(i)];
        lane.agree_images++;
    }
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
            for (int q = mid; q < end; ++q) run_image(q, lanes_[1]);
        });
        for (int q = p; q < mid; ++q) run_image(q, lanes_[0]);
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
        auto it = sqnr_.find(hashes_[size_t(k)]);
        if (it == sqnr_.end() || it->second.images < sqnr_target_ || sqnr_target_ == 0)
            out.push_back(std::numeric_limits<double>::quiet_NaN());
        else
            out.push_back(sqnr_db(it->second.signal, it->second.noise));
    }
    return out;
}

int64_t Evaluator::cache_bytes() const {
    int64_t b = 0;
    for (auto &c : cache_) b += int64_t(c.second.data.size());
    return b;
}

} // namespace app
