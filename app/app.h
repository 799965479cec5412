// app.h - the workbench's UI state and the panels that draw it. The same
// source runs in the browser (Emscripten, WebGL) and as a native SDL2 +
// OpenGL window (dmc-app); platform.h is where the two differ.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "imgui.h"
#include "worker.h"

namespace app {

// One point of the size-versus-error chart: a config tried in this session.
struct Tried {
    std::string config_json;
    int64_t flash_bytes = 0;
    double error = 0.0; // 1 - accuracy, full test set
};

// The budget panel: its fields (0: no limit) and the solver's last answer.
struct BudgetPanel {
    int64_t flash = 12000, ram = 0, macs = 0; // bytes, bytes, MACs
    bool use_drop = false;
    double drop = 1.0; // points below the float accuracy
    uint64_t id = 0;   // the request awaited (0: none)
    bool apply_when_found = false; // the preset's answer goes to the sliders at once
    std::string status;            // what the panel says under its buttons
    bool has_result = false;
    BudgetResult result; // the last answer (drawn on the size-versus-error chart)
    bool show_chart = false; // brings the size-versus-error tab forward, once
};

struct AppState {
    // Where the models and data are (MEMFS paths in the browser).
    std::string assets_dir, data_dir;
    std::vector<std::string> asset_models; // file names in assets_dir

    // The model and the config as the sliders say.
    std::shared_ptr<const dmc::Model> model;
    std::string model_name; // asset file stem, or the loaded file's name
    dmc::CompressionConfig config;
    std::string message;       // the last error shown to the person (bad file, refused config)
    bool data_ok = false;
    // How the raw input maps to what an imported ONNX graph sees (an ONNX
    // file does not say): (raw - mean) / std, MNIST's by default.
    float onnx_mean = 0.1307f, onnx_std = 0.3081f;

    Worker worker;
    Snapshot snap; // copied each frame
    uint64_t requested = 0;      // generation of the last request
    std::string requested_json; // its config

    int selected_layer = 0; // index into the report's layers
    std::vector<Tried> tried;

    // Downloads waiting for the background thread.
    uint64_t export_id = 0;
    std::string export_status;
    BudgetPanel budget;

    // Named widgets' screen rectangles, for window.dmc.widgetRect().
    std::map<std::string, ImVec4> widget_rects; // x, y, w, h

    // The draw-a-digit canvas: 28x28 pixels, 0..255.
    std::vector<uint8_t> digit = std::vector<uint8_t>(28 * 28, 0);

    // Frame times while an evaluation runs (ms), for the benchmark.
    double last_frame_ms = 0, frame_start_ms = 0;
    double eval_frame_max_ms = 0, eval_frame_sum_ms = 0;
    int eval_frames = 0;
    double busy_frame_max_ms = 0, busy_frame_mean_ms = 0; // of the last finished evaluation
    int busy_frames = 0;
    // The result the page displayed: when (ms after the request) the first
    // estimate and the full result were first drawn.
    double request_ms = 0;
    std::string shown_first_kind; // "exact" or "quick estimate"
    double frame_work_ms = 0;             // main-thread time of the last frame (update, draw, render)
    int64_t frames = 0, frames_drawn = 0; // loop iterations, and those that drew
    double shown_first_ms = -1, shown_full_ms = -1;
    int shown_first_images = 0;
};

AppState &state();

// Loading (app.cpp).
void init(const std::string &assets_dir, const std::string &data_dir, const std::string &fragment);
// A model file or an ONNX file (told apart by content, as dmc does), named
// `name`; false: the message says why, and the loaded model stays.
bool load_model_text(const std::string &name, const std::string &text);
bool load_asset(const std::string &file);
// Applies a config as if the sliders were moved; false (and message) if refused.
bool set_config_json(const std::string &json);
// Requests the config's evaluation; the URL fragment follows unless the
// change is a slider still being dragged (slider_released() commits it).
void apply_config(const dmc::CompressionConfig &config, bool dragging = false);
void slider_released();
std::string fragment();                                 // "model=...&config=..."
bool apply_fragment(const std::string &fragment);
std::string state_json();
std::string config_file_name(); // "<model>.config.json"
std::string header_file_name(); // "<prefix>.h"
void download_header();
void download_config();

// The budget solver (worker.h). The panel's choices and options are
// fixed (kBudget* in app.cpp) so that `dmc search` with budget_cli_args()
// gives the same answer.
BudgetRequest budget_request(int64_t flash, int64_t ram, int64_t macs, double max_drop_points);
void find_budget(const BudgetRequest &request, bool apply_when_found);
// window.dmc.findBudget: {flash, ram, macs, maxDrop, bits, keeps, subset, screenCalibration};
// false (and message) if the text is not such an object.
bool find_budget_json(const std::string &json);
void cancel_budget();
void smallest_within_one_point(); // the preset: max drop 1 point, no limit
std::vector<std::string> budget_cli_args(const BudgetRequest &request); // dmc search's options
std::string budget_defaults_json(); // the panel's bits, keeps, subset, screening calibration, finalists
std::string budget_result_json(const BudgetResult &result);
void update_budget(); // polls the worker's answer (update() calls it)

// Called once per frame before the panels: polls the worker, downloads.
void update();
// The panels (ui_*.cpp).
void draw_ui();
void draw_controls();       // model, presets, accuracy, per-layer sliders
void draw_memory_charts();  // flash stacked bars, RAM plan
void draw_error_charts();   // SQNR bars, weight histogram, pruning mask
void draw_sensitivity();    // per-layer sweeps
void draw_size_vs_error();  // configs tried, Deep Compression's points
void draw_predictions();    // confusion matrix, misclassified, draw a digit

// Records the last item's rectangle under a name (window.dmc.widgetRect).
void name_item(const std::string &name);

// Small drawing helpers shared by the panels (ui_common.cpp).
ImU32 layer_color(int i, float alpha = 1.0f);
// (Numbers with commas and dB figures: dmc/text.h, db_text(db, true) for "34.5 dB".)
std::string bytes_text(int64_t bytes); // "12.3 KB"
void digit_image(const uint8_t *pixels, ImVec2 at, float pixel, bool outline = false);

} // namespace app
