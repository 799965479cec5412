// app_budget.cpp - the budget panel's state changes: its request to the
// worker (dmc::solve_budget on the background thread), the answer coming
// back, and both as JSON for window.dmc.findBudget. The panel and the
// chart that draw them are in ui_controls.cpp and ui_charts.cpp.
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "app.h"
#include "platform.h"

namespace app {

using namespace dmc;

namespace {

// The panel's search space and subset, chosen for a full answer in a few
// seconds in the browser: four keep ratios instead of dmc search's seven,
// candidates scored on 500 stratified test images instead of 2,000 and
// compressed with 250 calibration inputs instead of 1,000 (the finalists
// with all), on two threads (the page has two cores; the answer is the
// same with one). Ten finalists instead of six: with the smaller subset
// the best configs on it are further from the best on all images
// (budget_bench, 7,000 to 30,000 bytes: 0.19 points from the optimum at
// 25,000 with six, on it everywhere with ten). Everything else is
// solve_budget's default, as in `dmc search`.
const std::vector<int> kBudgetBits = {8, 4, 2};
const std::vector<double> kBudgetKeeps = {1.0, 0.75, 0.5, 0.25};
constexpr int kBudgetSubset = 500;
constexpr int kBudgetScreenCalibration = 250;
constexpr int kBudgetFinalists = 10;
constexpr int kBudgetThreads = 2;

// The shortest text that reads back as the same double ("1", "0.75"):
// what dmc search parses, and what JavaScript prints for the number.
std::string number_text(double v) {
    char text[32];
    for (int digits = 1; digits <= 17; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, v);
        if (std::strtod(text, nullptr) == v) break;
    }
    return text;
}

template <typename T> std::string comma_list(const std::vector<T> &values) {
    std::string out;
    for (const T &v : values) out += (out.empty() ? "" : ",") + number_text(double(v));
    return out;
}

// Where a request's figure of `key` is (0 or absent: no limit).
int64_t limit_field(const nlohmann::json &j, const char *key) {
    if (!j.contains(key) || j[key].is_null()) return 0;
    if (!j[key].is_number()) throw Error(std::string("findBudget: '") + key + "' is not a number");
    const double v = j[key].get<double>();
    if (!(v >= 0.0 && v <= 9e15)) throw Error(std::string("findBudget: '") + key + "' is out of range");
    return int64_t(v);
}

std::string outcome_status(const BudgetResult &r) {
    const BudgetPoint &b = r.outcome.best;
    char line[256];
    std::snprintf(line, sizeof line, "Found in %.1f s: %.2f%% on all %s test images, flash %s, RAM %s, %s MACs (%d configs scored)",
                  r.ms / 1000.0, 100.0 * b.accuracy, with_commas(r.outcome.test_images).c_str(),
                  bytes_text(b.cost.flash_bytes).c_str(), bytes_text(b.cost.peak_ram_bytes).c_str(),
                  with_commas(b.cost.macs).c_str(), r.outcome.evaluated);
    return line;
}

} // namespace

BudgetRequest budget_request(int64_t flash, int64_t ram, int64_t macs, double max_drop_points) {
    BudgetRequest r;
    r.budget.flash_bytes = flash;
    r.budget.peak_ram_bytes = ram;
    r.budget.macs = macs;
    r.budget.max_drop_points = max_drop_points;
    r.choices.bits = kBudgetBits;
    r.choices.keeps = kBudgetKeeps;
    r.options.subset_images = kBudgetSubset;
    r.options.screening_calibration = kBudgetScreenCalibration;
    r.options.finalists = kBudgetFinalists;
    r.options.threads = kBudgetThreads;
    return r;
}

void find_budget(const BudgetRequest &request, bool apply_when_found) {
    AppState &s = state();
    if (!s.model) return;
    if (s.budget.id) platform_budget_done(false, "replaced by a newer request");
    s.budget.id = s.worker.request_budget(request);
    s.budget.apply_when_found = apply_when_found;
    s.budget.status = "Searching...";
}

bool find_budget_json(const std::string &text) {
    AppState &s = state();
    try {
        if (!s.model) throw Error("no model loaded");
        const nlohmann::json j = nlohmann::json::parse(text);
        if (!j.is_object()) throw Error("findBudget: give an object such as {flash: 12000}");
        const bool drop = j.contains("maxDrop") && !j["maxDrop"].is_null();
        BudgetRequest r = budget_request(limit_field(j, "flash"), limit_field(j, "ram"), limit_field(j, "macs"),
                                         drop ? j["maxDrop"].get<double>() : -1.0);
        if (j.contains("bits")) r.choices.bits = j["bits"].get<std::vector<int>>();
        if (j.contains("keeps")) r.choices.keeps = j["keeps"].get<std::vector<double>>();
        if (j.contains("subset")) r.options.subset_images = j["subset"].get<int>();
        if (j.contains("screenCalibration")) r.options.screening_calibration = j["screenCalibration"].get<int>();
        if (j.contains("finalists")) r.options.finalists = j["finalists"].get<int>();
        find_budget(r, false);
        return true;
    } catch (const std::exception &e) {
        s.message = std::string("Budget refused: ") + e.what();
        return false;
    }
}

void cancel_budget() { state().worker.cancel_budget(); }

void smallest_within_one_point() { find_budget(budget_request(0, 0, 0, 1.0), true); }

std::vector<std::string> budget_cli_args(const BudgetRequest &r) {
    std::vector<std::string> args;
    if (r.budget.flash_bytes > 0) args.insert(args.end(), {"--flash", std::to_string(r.budget.flash_bytes)});
    if (r.budget.peak_ram_bytes > 0) args.insert(args.end(), {"--ram", std::to_string(r.budget.peak_ram_bytes)});
    if (r.budget.macs > 0) args.insert(args.end(), {"--macs", std::to_string(r.budget.macs)});
    if (r.budget.max_drop_points >= 0.0) args.insert(args.end(), {"--max-drop", number_text(r.budget.max_drop_points)});
    args.insert(args.end(), {"--bits", comma_list(r.choices.bits), "--keep", comma_list(r.choices.keeps), "--subset",
                             std::to_string(r.options.subset_images)});
    if (r.options.screening_calibration > 0)
        args.insert(args.end(), {"--screen-calibration", std::to_string(r.options.screening_calibration)});
    if (r.options.finalists != BudgetOptions().finalists)
        args.insert(args.end(), {"--finalists", std::to_string(r.options.finalists)});
    return args;
}

std::string budget_defaults_json() {
    return nlohmann::json{{"bits", kBudgetBits},
                          {"keeps", kBudgetKeeps},
                          {"subset", kBudgetSubset},
                          {"screenCalibration", kBudgetScreenCalibration},
                          {"finalists", kBudgetFinalists}}
        .dump();
}

// dmc search --json's object, and: the chosen figures at the top level,
// every config scored (figures only), the time taken (and where it went,
// summed over the threads, as dmc search prints it), and the request as
// dmc search options.
std::string budget_result_json(const BudgetResult &r) {
    nlohmann::json j = nlohmann::json::parse(budget_outcome_to_json(r.outcome));
    for (const char *key : {"config", "accuracy", "flash_bytes", "peak_ram_bytes", "macs"}) j[key] = j["best"][key];
    nlohmann::json scored = nlohmann::json::array();
    for (const BudgetPoint &p : r.outcome.scored)
        scored.push_back({{"flash_bytes", p.cost.flash_bytes},
                          {"peak_ram_bytes", p.cost.peak_ram_bytes},
                          {"macs", p.cost.macs},
                          {"subset_accuracy", p.subset_accuracy}});
    j["scored"] = scored;
    j["ms"] = r.ms;
    j["seconds"] = {{"compressing", r.outcome.seconds_compressing},
                    {"screening", r.outcome.seconds_screening},
                    {"confirming", r.outcome.seconds_confirming}};
    j["cli_args"] = budget_cli_args(r.request);
    return j.dump();
}

// Called from update(): the answer, to the panel (and the sliders, for
// the preset) and to window.dmc.findBudget's promise.
void update_budget() {
    AppState &s = state();
    BudgetResult r;
    if (!s.worker.poll_budget(&r) || r.id != s.budget.id) return;
    s.budget.id = 0;
    if (r.cancelled) {
        s.budget.status = "Cancelled.";
        platform_budget_done(false, "cancelled");
        return;
    }
    if (!r.error.empty()) {
        s.budget.status = "No answer: " + r.error;
        platform_budget_done(false, r.error);
        return;
    }
    s.budget.status = outcome_status(r);
    s.budget.result = std::move(r);
    s.budget.has_result = true;
    s.budget.show_chart = true;
    if (s.budget.apply_when_found) apply_config(s.budget.result.outcome.best.config);
    platform_budget_done(true, budget_result_json(s.budget.result));
}

} // namespace app
