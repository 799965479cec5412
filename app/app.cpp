// app.cpp - the workbench's state changes: loading models and data,
// applying configs (sliders, presets, URL fragment, window.dmc.setConfig),
// downloads, and the state as JSON for window.dmc.state().
#include "app.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dmc/export.h"
#include "platform.h"

namespace app {

using namespace dmc;
namespace fs = std::filesystem;

AppState &state() {
    static AppState s;
    return s;
}

namespace {

// MNIST, read once: the test set and the calibration images.
struct Mnist {
    bool ok = false;
    std::string error;
    ImageSet test;
    CalibrationSet calibration;
};
Mnist &mnist() {
    static Mnist m;
    return m;
}

bool exists_idx(const std::string &path) { return fs::exists(path) || fs::exists(path + ".gz"); }

void load_data(const std::string &dir) {
    Mnist &m = mnist();
    try {
        m.test = load_mnist(dir, "t10k");
        // `dmc data` wrote the calibration slice; a raw MNIST folder (the
        // native app) has the training set to draw it from.
        if (exists_idx(dir + "/calibration-images-idx3-ubyte")) {
            m.calibration = raw_inputs(load_mnist(dir, "calibration"));
        } else {
            const ImageSet train = load_mnist(dir, "train");
            m.calibration = calibration_set(train, calibration_indices(train.count, kCalibrationImages));
        }
        m.ok = true;
    } catch (const std::exception &e) {
        m.error = e.what();
    }
}

std::string read_text(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read '" + path + "'");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string stem(const std::string &name) {
    std::string s = fs::path(name).filename().string();
    for (const char *extension : {".json", ".onnx"})
        if (s.size() > 5 && s.compare(s.size() - 5, 5, extension) == 0) s.resize(s.size() - 5);
    return s;
}

std::string percent_encode(const std::string &s) {
    static const char *hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == ',')
            out += char(c);
        else
            out += '%', out += hex[c >> 4], out += hex[c & 15];
    }
    return out;
}

std::string percent_decode(const std::string &s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const std::string h = s.substr(i + 1, 2);
            char *end = nullptr;
            const long v = std::strtol(h.c_str(), &end, 16);
            if (end == h.c_str() + 2) {
                out += char(v);
                i += 2;
                continue;
            }
        }
        out += s[i] == '+' ? ' ' : s[i];
    }
    return out;
}

} // namespace

void init(const std::string &assets_dir, const std::string &data_dir, const std::string &fragment) {
    AppState &s = state();
    s.assets_dir = assets_dir;
    s.data_dir = data_dir;
    std::error_code ec;
    // Models only: assets/ also holds config files (*.config.json).
    for (const auto &e : fs::directory_iterator(assets_dir, ec)) {
        if (e.path().extension() != ".json") continue;
        std::ifstream in(e.path(), std::ios::binary);
        char head[512] = {};
        in.read(head, sizeof head - 1);
        if (std::string(head).find("\"dmc-model\"") != std::string::npos)
            s.asset_models.push_back(e.path().filename().string());
    }
    std::sort(s.asset_models.begin(), s.asset_models.end());
    load_data(data_dir);
    s.data_ok = mnist().ok;
    if (!s.data_ok) s.message = "MNIST data not loaded: " + mnist().error;
    if (!fragment.empty() && apply_fragment(fragment)) return;
    const std::string keep_message = s.message;
    if (!load_asset("lenet5.json") && !s.asset_models.empty()) load_asset(s.asset_models.front());
    if (!keep_message.empty()) s.message = keep_message + (s.message.empty() ? "" : "\n" + s.message);
}

// The model in `text`: an ONNX graph imported with the page's input
// normalisation and named after the file, as `dmc --model FILE.onnx --mean
// M --std S` names it, or a model file.
Model parse_model_or_onnx(const std::string &name, const std::string &text) {
    const AppState &s = state();
    const bool onnx_name = name.size() >= 5 && name.compare(name.size() - 5, 5, ".onnx") == 0;
    if (!onnx_name && !looks_like_onnx(text)) return parse_model(text, name);
    ImportOptions options;
    options.name = c_identifier(fs::path(name).stem().string());
    options.mean = s.onnx_mean;
    options.std = s.onnx_std;
    return import_onnx(text, options);
}

bool load_model_text(const std::string &name, const std::string &text) {
    AppState &s = state();
    try {
        auto model = std::make_shared<Model>(parse_model_or_onnx(name, text));
        auto data = std::make_shared<Data>();
        if (model->dataset == "sine") {
            data->test = sine_test_set();
            data->calibration = sine_calibration_set();
        } else {
            if (!mnist().ok) throw Error("model '" + model->name + "' is evaluated on MNIST, which is not loaded: " + mnist().error);
            data->test = mnist_test_set(mnist().test);
            data->calibration = mnist().calibration;
        }
        check_model_fits(*model, data->test);
        data->order = stratified_order(data->test);
        s.model = model;
        s.model_name = stem(name);
        s.config = CompressionConfig{};
        s.selected_layer = 0;
        s.tried.clear();
        s.message.clear();
        s.worker.set_model(model, data); // drops a budget request for the old model: its promise is told
        if (s.budget.id) platform_budget_done(false, "a new model was loaded");
        s.budget.id = 0;
        s.budget.has_result = false;
        s.budget.status.clear();
        s.snap = s.worker.snapshot();
        s.requested_json.clear(); // a new model: even an equal config is a new request
        apply_config(s.config);
        return true;
    } catch (const std::exception &e) {
        // A bad file changes nothing: the model loaded before stays.
        s.message = std::string("Could not load '") + name + "': " + e.what();
        return false;
    }
}

bool load_asset(const std::string &file) {
    try {
        return load_model_text(file, read_text(state().assets_dir + "/" + file));
    } catch (const std::exception &e) {
        state().message = e.what();
        return false;
    }
}

void apply_config(const CompressionConfig &config, bool dragging) {
    AppState &s = state();
    s.config = config;
    const std::string json = config_to_json(config);
    if (json != s.requested_json) {
        s.requested_json = json;
        s.requested = s.worker.request(config);
        s.request_ms = s.worker.now_ms();
        s.shown_first_ms = s.shown_full_ms = -1;
    }
    // The link follows committed changes only (browsers throttle
    // history.replaceState, and a drag changes the value every frame).
    if (!dragging) platform_set_fragment(fragment());
}

void slider_released() {
    AppState &s = state();
    platform_set_fragment(fragment());
    // The speed figures count from the release: what the page already
    // showed for this value while the mouse was down counts as 0 ms.
    s.request_ms = s.worker.now_ms();
    if (s.shown_first_ms >= 0) s.shown_first_ms = 0;
    if (s.shown_full_ms >= 0) s.shown_full_ms = 0;
}

bool set_config_json(const std::string &json) {
    AppState &s = state();
    try {
        if (!s.model) throw Error("no model loaded");
        CompressionConfig c = parse_config(json, "config");
        validate_config(c, *s.model);
        apply_config(c);
        return true;
    } catch (const std::exception &e) {
        s.message = std::string("Config refused: ") + e.what();
        return false;
    }
}

std::string fragment() {
    const AppState &s = state();
    return "model=" + percent_encode(s.model_name) + "&config=" + percent_encode(config_to_json(s.config));
}

bool apply_fragment(const std::string &fragment_text) {
    AppState &s = state();
    std::string f = fragment_text;
    if (!f.empty() && f[0] == '#') f.erase(0, 1);
    std::map<std::string, std::string> kv;
    std::istringstream in(f);
    for (std::string part; std::getline(in, part, '&');) {
        const size_t eq = part.find('=');
        if (eq != std::string::npos) kv[part.substr(0, eq)] = percent_decode(part.substr(eq + 1));
    }
    if (kv.empty()) return false;
    if (kv.count("model") && kv["model"] != s.model_name) {
        const std::string file = kv["model"] + ".json";
        if (std::find(s.asset_models.begin(), s.asset_models.end(), file) == s.asset_models.end()) {
            s.message = "The link names model '" + kv["model"] + "', which is not among the assets (a model "
                        "loaded from a file cannot travel in a link): load that file, then the link again.";
            return false;
        }
        if (!load_asset(file)) return false;
    }
    if (kv.count("config")) return set_config_json(kv["config"]);
    return s.model != nullptr;
}

std::string config_file_name() {
    const AppState &s = state();
    return (s.model ? default_prefix(*s.model) : std::string("model")) + ".config.json";
}

std::string header_file_name() {
    const AppState &s = state();
    return (s.model ? default_prefix(*s.model) : std::string("model")) + ".h";
}

void download_header() {
    AppState &s = state();
    if (!s.model) return;
    s.export_id = s.worker.request_export(s.config);
    s.export_status = "Preparing " + header_file_name() + ": evaluating all test images, as dmc export does...";
}

void download_config() {
    AppState &s = state();
    if (!s.model) return;
    s.export_status = platform_save(config_file_name(), "application/json", config_to_json(s.config, 2) + "\n");
    platform_download_done("config", true, config_file_name());
}

void update() {
    AppState &s = state();
    const double now = s.worker.now_ms();
    s.frames++;
    if (s.frame_start_ms > 0) s.last_frame_ms = now - s.frame_start_ms;
    s.frame_start_ms = now;

    const bool was_busy = s.snap.busy;
    s.snap = s.worker.snapshot();
    const bool current = s.snap.generation == s.requested;

    // Frame times while the engine evaluates: the UI must keep drawing.
    if (s.snap.busy && s.last_frame_ms > 0) {
        s.eval_frame_max_ms = std::max(s.eval_frame_max_ms, s.last_frame_ms);
        s.eval_frame_sum_ms += s.last_frame_ms;
        s.eval_frames++;
    }
    if (was_busy && !s.snap.busy && s.eval_frames > 0) {
        s.busy_frame_max_ms = s.eval_frame_max_ms;
        s.busy_frame_mean_ms = s.eval_frame_sum_ms / s.eval_frames;
        s.busy_frames = s.eval_frames;
        s.eval_frame_max_ms = s.eval_frame_sum_ms = 0;
        s.eval_frames = 0;
    }
    // When this frame first shows the estimate and the full result: the
    // figures the speed requirement is about (request = slider released).
    if (current) {
        const bool exact = s.snap.cm && s.snap.cm_generation == s.requested && s.snap.images > 0;
        if (s.shown_first_ms < 0 && (exact || s.snap.quick_images > 0)) {
            s.shown_first_ms = now - s.request_ms;
            s.shown_first_images = exact ? s.snap.images : s.snap.quick_images;
            s.shown_first_kind = exact ? "exact" : "quick estimate";
        }
        if (s.shown_full_ms < 0 && s.snap.data && s.snap.cm_generation == s.requested &&
            s.snap.images == s.snap.data->test.count)
            s.shown_full_ms = now - s.request_ms;
    }
    if (current && s.snap.cm && s.snap.cm_generation == s.requested && !s.snap.busy && s.snap.images == (s.snap.data ? s.snap.data->test.count : 0)) {
        const std::string json = config_to_json(s.config);
        const bool seen = std::any_of(s.tried.begin(), s.tried.end(),
                                      [&](const Tried &t) { return t.config_json == json; });
        if (!seen && s.snap.images > 0)
            s.tried.push_back({json, s.snap.report.flash_bytes, 1.0 - double(s.snap.correct) / s.snap.images});
    }

    ExportResult ex;
    if (s.worker.poll_export(&ex) && ex.id == s.export_id) {
        if (ex.error.empty()) {
            s.export_status = platform_save(header_file_name(), "text/x-c", ex.header);
            platform_download_done("header", true, header_file_name());
        } else {
            s.export_status.clear();
            s.message = "Download header: " + ex.error;
            platform_download_done("header", false, ex.error);
        }
    }
    update_budget();
}

// The budget panel's state, for state_json().
static nlohmann::json budget_json(const AppState &s) {
    const Snapshot &n = s.snap;
    return {{"running", n.budget_running != 0 || s.budget.id != 0},
            {"stage", n.budget_running ? n.budget_stage : ""},
            {"done", n.budget_running ? n.budget_done : 0},
            {"total", n.budget_running ? n.budget_total : 0},
            {"status", s.budget.status},
            {"has_result", s.budget.has_result}};
}

// How long each stage took, for state_json(); `current`: the snapshot is of
// the config requested last.
static nlohmann::json timing_json(const AppState &s, bool current) {
    const Snapshot &n = s.snap;
    return {{"compress_ms", current ? n.compress_ms : -1},
            {"first_ms", current ? n.first_ms : -1},
            {"first_images", current ? n.first_images : 0},
            {"quick_ms", n.generation == s.requested ? n.quick_ms : -1},
            {"quick_images", n.generation == s.requested ? n.quick_images : 0},
            {"quick_calibration_images", kQuickCalibration},
            {"cached", current && n.cached},
            {"first_kind", s.shown_first_kind},
            {"full_ms", current ? n.full_ms : -1},
            {"shown_first_ms", s.shown_first_ms},
            {"shown_first_images", s.shown_first_images},
            {"shown_full_ms", s.shown_full_ms},
            {"resumed_at_step", n.resumed_at_step},
            {"frame_ms", s.last_frame_ms},
            {"frame_work_ms", s.frame_work_ms},
            {"vertices", ImGui::GetIO().MetricsRenderVertices},
            {"frames", s.frames},
            {"frames_drawn", s.frames_drawn},
            {"eval_frame_max_ms", s.busy_frame_max_ms},
            {"eval_frame_mean_ms", s.busy_frame_mean_ms},
            {"eval_frames", s.busy_frames}};
}

std::string state_json() {
    const AppState &s = state();
    const Snapshot &n = s.snap;
    // While a slider is dragged, s.config previews the value and nothing is
    // requested yet: no result is current then.
    const bool editing = config_to_json(s.config) != s.requested_json;
    const bool current = !editing && n.generation == s.requested && n.cm && n.cm_generation == s.requested;
    const bool classifier = !s.model || s.model->task == Task::Classification;
    // The layers as `dmc eval --json` writes them.
    const nlohmann::json layers =
        current ? nlohmann::json::parse(report_to_json(n.report))["layers"] : nlohmann::json::array();
    const int total = n.data ? n.data->test.count : 0;
    nlohmann::json j = {
        {"ready", s.model != nullptr && s.data_ok},
        {"model", s.model ? s.model->name : ""},
        {"model_file", s.model_name},
        {"models", s.asset_models},
        {"config", nlohmann::json::parse(config_to_json(s.config))},
        {"test_images", total},
        {"float_accuracy", n.float_images > 0 && classifier ? nlohmann::json(n.float_accuracy) : nlohmann::json(nullptr)},
        {"float_images_evaluated", n.float_images},
        {"task", s.model && s.model->task == Task::Regression ? "regression" : "classification"},
        {"float_mse", n.float_mse},
        {"mse", current ? n.mse : 0.0},
        // What the page shows: the exact figure once the evaluation has
        // begun, before that the quick estimate (see worker.h).
        {"accuracy", !classifier ? nlohmann::json(nullptr)
                     : current && n.images > 0 ? nlohmann::json(double(n.correct) / n.images)
                     : !editing && n.generation == s.requested && n.quick_images > 0
                         ? nlohmann::json(double(n.quick_correct) / n.quick_images)
                         : nlohmann::json(nullptr)},
        {"accuracy_kind", !classifier ? "none" : current && n.images > 0 ? "exact" : !editing && n.generation == s.requested && n.quick_images > 0 ? "quick estimate" : "none"},
        {"images_evaluated", current ? n.images : 0},
        {"agreement", current && n.agree_images > 0 ? nlohmann::json(double(n.agree) / n.agree_images)
                                                    : nlohmann::json(nullptr)},
        {"flash_bytes", current ? n.report.flash_bytes : 0},
        {"float_flash_bytes", current ? n.report.float_flash_bytes : 0},
        {"peak_ram_bytes", current ? n.report.peak_ram_bytes : 0},
        {"peak_step", current ? n.report.peak_step : ""},
        {"macs", current ? n.report.macs : 0},
        {"layers", layers},
        {"sqnr_images", n.sqnr_images},
        {"busy", n.busy || n.generation != s.requested || editing},
        {"editing", editing},
        {"config_error", n.generation == s.requested ? n.error : ""},
        {"error", s.message},
        {"background", n.background_task},
        {"export_status", s.export_status},
        {"budget", budget_json(s)},
        {"tried", int(s.tried.size())},
        {"fragment", fragment()},
#if defined(__wasm_simd128__)
        {"simd128", true}, // the engine is compiled with the same flags: its wasm SIMD dot products
#else
        {"simd128", false},
#endif
        {"timing", timing_json(s, current)}};
    return j.dump();
}

} // namespace app
