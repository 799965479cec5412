// evaluator.h - the workbench's incremental evaluation of a compressed model
// on the test set, built for answering a slider move fast:
//
//  * the stratified order of the test images (dmc::stratified_order): any
//    prefix has the classes in the proportions of the whole set, so the
//    accuracy of the first few hundred images is already a fair estimate;
//  * an activation cache: each weight step's input tensor, per test image,
//    kept under the compressed model's step key of the step before
//    (dmc::CompressedModel::step_keys: equal keys, equal steps). A new config
//    that leaves the first layers as they were resumes at the first step
//    that changed, writing that step's input from the cache into the
//    executor's arena (Executor::step_input, run_from);
//  * slices: run(n) does n more images and returns, so the caller (the
//    worker thread) can publish progress and take a newer request;
//  * two lanes: past the images whose layer outputs feed the output SQNR
//    (those go one at a time, in order), a slice is split between the
//    calling thread and a helper thread, each with its own executors, and
//    their counts are merged in evaluation order: both cores work, and the
//    results are those of one lane;
//  * batches: a lane runs its consecutive images that resume at the same
//    step up to kBatchImages at a time through a dmc::BatchExecutor (each
//    step over the batch; a linear layer's weights unpacked once for it),
//    the same integers as one at a time.
//
// Every computation is the engine's: the steps run in dmc::Executor, the
// prediction is dmc::predicted_class, the errors are dmc::squared_error and
// dmc::SqnrSums. What is here is policy: what to cache within the byte
// budget, in which order to evaluate, how to split a slice.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dmc/dmc.h"

namespace app {

// Per-image results of the float model, computed once per model: its
// predictions and, for the first `sqnr_images` images of the order, the
// float output of every conv2d/linear layer (for the output SQNR).
struct FloatBaseline {
    int images = 0, correct = 0;        // done so far, in `order`
    double squared_error = 0.0;         // regression: summed over outputs and images
    std::vector<uint8_t> prediction;    // by test index
    int sqnr_images = 0;                // outputs kept for order[0 .. sqnr_images)
    std::map<int, std::vector<float>> outputs; // by layer index: sqnr_images tensors
    std::map<int, int64_t> output_size;        // by layer index
    double accuracy() const { return images ? double(correct) / images : 0.0; }
};

class FloatRunner {
  public:
    FloatRunner(const dmc::Model &model, const dmc::TestSet &test, const std::vector<int> &order,
                int sqnr_images);
    // Runs up to n more images; returns true when all are done.
    bool run(int n);
    const FloatBaseline &baseline() const { return base_; }
    const dmc::CompressedModel &reference() const { return reference_; }

  private:
    const dmc::TestSet &test_;
    const std::vector<int> &order_;
    dmc::CompressedModel reference_;
    std::unique_ptr<dmc::Executor> run_;
    FloatBaseline base_;
};

// A second thread that runs one job at a time for the Evaluator.
class HelperThread {
  public:
    HelperThread();
    ~HelperThread();
    void start(std::function<void()> job); // runs job on the helper thread
    void wait();                           // until that job has finished

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::function<void()> job_;
    bool busy_ = false, quit_ = false;
    std::thread thread_;
};

class Evaluator {
  public:
    Evaluator(const dmc::TestSet &test, const std::vector<int> &order);
    ~Evaluator();

    // Starts over on a new compressed model; caches stay where still valid.
    // `floats` (finished, or null: no agreement and SQNR then) gives the
    // float predictions and layer outputs for the first images of the order.
    void start(std::shared_ptr<const dmc::CompressedModel> cm, const FloatBaseline *floats);
    // Evaluates up to n more images; returns true when every image is done.
    bool run(int n);

    bool done() const { return images_ >= int(order_.size()); }
    int images() const { return images_; }
    int correct() const { return correct_; }
    int agree() const { return agree_; }
    double squared_error() const { return se_; } // regression: summed over outputs and images
    int agree_images() const { return agree_images_; }
    const int (&confusion() const)[10][10] { return confusion_; }
    std::vector<int> misclassified(size_t max) const; // test indices, in evaluation order
    const std::vector<uint8_t> &predictions() const { return prediction_; } // by test index, valid when done
    // Output SQNR (dB) of the report's layers, over sqnr_images() images; NaN when not known yet.
    std::vector<double> output_sqnr_db() const;
    int sqnr_images() const { return sqnr_target_; }
    int resumed_at_step() const { return resume_step_; }
    int64_t cache_bytes() const;

  private:
    struct Cache {
        std::string key;  // step_keys of the step before: what made the tensors
        int filled = 0;   // valid for order[0 .. filled): what the lanes read
        int64_t bytes_each = 0;
        std::vector<uint8_t> data;
        std::vector<uint8_t> written; // per position: data holds it (filled advances over these)
    };
    struct LayerSqnr {
        dmc::SqnrSums sums;
        int images = 0; // summed over order[0 .. images)
    };
    // One lane's executor (its arena) and counts; the slice's lanes are
    // merged in order.
    struct Lane {
        std::unique_ptr<dmc::Executor> executor;     // the SQNR images, one at a time
        std::unique_ptr<dmc::BatchExecutor> batch;   // the rest
        int correct = 0, agree = 0, agree_images = 0;
        std::vector<double> squared_errors; // per image, in order: summed in merge() as one lane would
        int confusion[10][10] = {};
        std::vector<int> wrong;
    };
    void plan_cache();
    void plan_sqnr();
    int resume_step(int position, bool sqnr) const;
    void observe_step(int position, int step, const void *output, bool sqnr);
    void count(int position, const void *output, Lane &lane);
    void run_image(int position, Lane &lane);
    void run_images(int first, int last, Lane &lane);
    void run_batch(int first, int n, int start, Lane &lane);
    void merge(Lane &lane);

    const dmc::TestSet &test_;
    const std::vector<int> &order_;
    std::shared_ptr<const dmc::CompressedModel> cm_;
    const FloatBaseline *floats_ = nullptr;
    std::vector<std::string> keys_; // cm_'s step_keys
    Lane lanes_[2];
    std::unique_ptr<HelperThread> helper_; // the second lane's thread, made on first use
    std::vector<int> weight_steps_;       // step index of each report layer
    std::map<int, Cache> cache_;          // by step index whose input it holds
    std::map<std::string, LayerSqnr> sqnr_; // by the layer step's key
    int sqnr_target_ = 0;
    int resume_step_ = 0;
    int images_ = 0, correct_ = 0, agree_ = 0, agree_images_ = 0;
    double se_ = 0.0;
    int confusion_[10][10] = {};
    std::vector<uint8_t> prediction_;
    std::vector<int> wrong_;
};

// Images per batch past the SQNR images (dmc::BatchExecutor).
constexpr int kBatchImages = 32;
// The byte budget of the activation cache: weight-step inputs are cached
// only while all of them for every test image fit.
constexpr int64_t kCacheBudgetBytes = int64_t(64) << 20;
// Float layer outputs kept for the output SQNR: at most this many images,
// within this many bytes.
constexpr int kSqnrImages = 500;
constexpr int64_t kSqnrBudgetBytes = int64_t(24) << 20;

} // namespace app
