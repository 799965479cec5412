// ui_controls.cpp - the left panel: model choice, presets, the accuracy and
// memory figures, downloads, and one row of controls per layer.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "app.h"
#include "platform.h"

namespace app {

using namespace dmc;

namespace {

// The bit-width slider's stops are the engine's bit widths, in order.
int bits_index(int bits) {
    const std::vector<int> &stops = supported_bits();
    for (size_t i = 0; i < stops.size(); ++i)
        if (stops[i] == bits) return int(i);
    return 2;
}

void model_section() {
    AppState &s = state();
    ImGui::SetNextItemWidth(180);
    const std::string current = s.model_name.empty() ? "(none)" : s.model_name;
    if (ImGui::BeginCombo("##model", current.c_str())) {
        for (const std::string &file : s.asset_models) {
            const bool selected = file == s.model_name + ".json";
            if (ImGui::Selectable(file.c_str(), selected) && !selected) load_asset(file);
        }
        ImGui::EndCombo();
    }
    name_item("Model");
    ImGui::SameLine();
    if (ImGui::Button("Load model file...")) {
        if (!platform_pick_file()) s.message = "Drop a model file (.json or .onnx) on the window to load it.";
    }
    name_item("Load model file");
    ImGui::SameLine();
    ImGui::TextDisabled("(or drop a .json or .onnx here)");
    // An ONNX graph does not say how raw inputs were normalised; the page
    // asks, with MNIST's as the default (dmc import's --mean and --std).
    ImGui::SetNextItemWidth(80);
    ImGui::InputFloat("##onnx_mean", &s.onnx_mean, 0.0f, 0.0f, "%.4f");
    name_item("ONNX mean");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(80);
    ImGui::InputFloat("##onnx_std", &s.onnx_std, 0.0f, 0.0f, "%.4f");
    name_item("ONNX std");
    ImGui::SameLine();
    ImGui::TextDisabled("ONNX input: (pixel / 255 - mean) / std");
    if (s.model) {
        ImGui::TextDisabled("%s: %d layers, %s parameters, input %s", s.model->name.c_str(), int(s.model->layers.size()),
                            with_commas(s.model->parameters()).c_str(), s.model->input.shape.str().c_str());
    }
    if (!s.message.empty()) {
        ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.45f, 0.40f, 1.0f));
        ImGui::TextWrapped("%s", s.message.c_str());
        ImGui::PopStyleColor();
        if (ImGui::SmallButton("Dismiss")) s.message.clear();
        name_item("Dismiss");
    }
}

void presets_section() {
    ImGui::Text("Presets:");
    ImGui::SameLine();
    if (ImGui::Button("Float")) {
        CompressionConfig c;
        c.defaults.bits = kFloatBits;
        apply_config(c);
    }
    name_item("Float");
    ImGui::SameLine();
    if (ImGui::Button("All 8-bit")) apply_config(CompressionConfig{});
    name_item("All 8-bit");
    ImGui::SameLine();
    if (ImGui::Button("All 4-bit")) {
        CompressionConfig c;
        c.defaults.bits = 4;
        apply_config(c);
    }
    name_item("All 4-bit");
    ImGui::SameLine();
    if (ImGui::Button("Smallest within 1 point")) smallest_within_one_point();
    name_item("Smallest within 1 point");
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("The budget solver below with a maximum drop of 1 point and no limit: the smallest flash "
                          "within 1 point of the float accuracy, applied when found.");
}

// The solver's stage and count while it runs, else what it last said.
void budget_progress(const BudgetPanel &b) {
    const Snapshot &n = state().snap;
    if (b.id && n.budget_running == b.id && n.budget_total > 0) {
        char text[160];
        std::snprintf(text, sizeof text, "%s: %d / %d", n.budget_stage.c_str(), n.budget_done, n.budget_total);
        ImGui::ProgressBar(float(n.budget_done) / float(n.budget_total), ImVec2(-1, 0), text);
    } else if (b.id) {
        ImGui::TextDisabled("Waiting for the engine (the float accuracy, or the current evaluation)...");
    } else if (!b.status.empty()) {
        ImGui::TextWrapped("%s", b.status.c_str());
    }
    name_item("Budget progress");
}

// A limit field of the budget panel: a whole number, 0 for no limit.
void limit_field(const char *label, int64_t *value) {
    ImGui::SetNextItemWidth(86);
    ImGui::InputScalar(label, ImGuiDataType_S64, value, nullptr, nullptr, "%lld");
    if (*value < 0) *value = 0;
    name_item(std::string("Budget ") + label);
}

// The budget panel: flash, RAM and MAC limits (and a maximum drop) in,
// dmc::solve_budget on the worker's background thread, the answer out:
// drawn on the size-versus-error chart, put on the sliders by Apply.
void budget_section() {
    AppState &s = state();
    BudgetPanel &b = s.budget;
    ImGui::Text("Budget:");
    ImGui::SameLine();
    limit_field("flash B", &b.flash);
    ImGui::SameLine();
    limit_field("RAM B", &b.ram);
    ImGui::SameLine();
    limit_field("MACs", &b.macs);
    ImGui::Checkbox("max drop", &b.use_drop);
    name_item("Budget max drop");
    ImGui::SameLine();
    ImGui::BeginDisabled(!b.use_drop);
    ImGui::SetNextItemWidth(60);
    ImGui::InputDouble("points", &b.drop, 0.0, 0.0, "%.2f");
    if (b.drop < 0.0) b.drop = 0.0;
    name_item("Budget drop points");
    ImGui::EndDisabled();
    const BudgetRequest request = budget_request(b.flash, b.ram, b.macs, b.use_drop ? b.drop : -1.0);
    ImGui::SameLine();
    if (ImGui::Button("Find")) find_budget(request, false);
    name_item("Find");
    if (b.id) {
        ImGui::SameLine();
        if (ImGui::Button("Cancel")) cancel_budget();
        name_item("Cancel");
    }
    if (b.has_result) {
        ImGui::SameLine();
        if (ImGui::Button("Apply")) apply_config(b.result.outcome.best.config);
        name_item("Apply");
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("Put the chosen configuration on the sliders");
    }
    budget_progress(b);
    std::string command = "= dmc search";
    for (const std::string &arg : budget_cli_args(request)) command += " " + arg;
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
    ImGui::TextWrapped("%s", command.c_str());
    ImGui::PopStyleColor();
}

void figures_section() {
    AppState &s = state();
    const Snapshot &n = s.snap;
    const int total = n.data ? n.data->test.count : 0;
    const bool current = n.generation == s.requested;
    const bool classifier = !s.model || s.model->task == Task::Classification;

    if (n.float_images < total) {
        ImGui::Text("Float model: evaluating...");
        ImGui::ProgressBar(total ? float(n.float_images) / total : 0.0f, ImVec2(-1, 0),
                           (std::to_string(n.float_images) + " / " + std::to_string(total)).c_str());
    } else if (classifier) {
        ImGui::Text("Float accuracy      %6.2f%%  (%s test images)", 100.0 * n.float_accuracy, with_commas(total).c_str());
    } else {
        ImGui::Text("Float mean squared error       %.6f  (%s test points)", n.float_mse, with_commas(total).c_str());
    }
    const bool exact = current && n.cm && n.cm_generation == s.requested;
    if (current && !n.error.empty()) {
        ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.45f, 0.40f, 1.0f));
        ImGui::TextWrapped("The engine refused this config: %s", n.error.c_str());
        ImGui::PopStyleColor();
    } else if (exact && n.images > 0 && classifier) {
        const double acc = double(n.correct) / n.images;
        ImGui::Text("Compressed accuracy %6.2f%%  (%s of %s images%s)", 100.0 * acc, with_commas(n.images).c_str(),
                    with_commas(total).c_str(), n.images < total ? ", estimate" : "");
        if (n.float_images == total) {
            ImGui::SameLine();
            const double delta = 100.0 * (acc - n.float_accuracy);
            ImGui::TextColored(delta < -1.0 ? ImVec4(1, 0.45f, 0.4f, 1) : ImVec4(0.5f, 0.85f, 0.5f, 1), "%+.2f pts",
                               delta);
        }
    } else if (exact && n.images > 0) {
        ImGui::Text("Compressed mean squared error  %.6f  (%s of %s points)", n.mse, with_commas(n.images).c_str(),
                    with_commas(total).c_str());
    } else if (current && n.quick_images > 0 && classifier) {
        ImGui::Text("Compressed accuracy ~%5.2f%%  (quick estimate: %d images, calibrated on %d)",
                    100.0 * n.quick_correct / n.quick_images, n.quick_images, kQuickCalibration);
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("Shown while the exact model compresses: the same config calibrated on the first %d of "
                              "the 1,000 calibration images, on the first test images of a stratified order.",
                              kQuickCalibration);
    } else {
        ImGui::Text("Compressed accuracy   ...   (compressing)");
    }
    const float progress = exact && total ? float(n.images) / float(total) : 0.0f;
    ImGui::ProgressBar(progress, ImVec2(-1, 0),
                       (exact ? with_commas(n.images) : std::string("0")).append(" / ").append(with_commas(total)).c_str());
    name_item("Evaluation progress");
    if (n.cm) { // the latest compressed model (the previous config's while the next compresses)
        const Report &r = n.report;
        ImGui::Text("Flash %s (float %s, %.1fx smaller)   Peak RAM %s (%s)", bytes_text(r.flash_bytes).c_str(),
                    bytes_text(r.float_flash_bytes).c_str(),
                    r.flash_bytes ? double(r.float_flash_bytes) / double(r.flash_bytes) : 0.0,
                    bytes_text(r.peak_ram_bytes).c_str(), r.peak_step.c_str());
        if (classifier)
            ImGui::TextDisabled("MACs %s   agreement with float %.2f%%   compress %.0f ms", with_commas(r.macs).c_str(),
                                n.agree_images ? 100.0 * n.agree / n.agree_images : 0.0, n.compress_ms);
        else
            ImGui::TextDisabled("MACs %s   compress %.0f ms", with_commas(r.macs).c_str(), n.compress_ms);
        // Whole milliseconds, and no live frame time: a text that changes
        // every frame would make every frame redraw (see main.cpp).
        ImGui::TextDisabled("last change: first estimate %.0f ms (%d images), full result %s", s.shown_first_ms,
                            s.shown_first_images,
                            s.shown_full_ms >= 0 ? (std::to_string(int(s.shown_full_ms + 0.5)) + " ms").c_str() : "...");
    }
}

void downloads_section() {
    AppState &s = state();
    if (ImGui::Button("Download header")) download_header();
    name_item("Download header");
    ImGui::SameLine();
    if (ImGui::Button("Download config")) download_config();
    name_item("Download config");
    ImGui::SameLine();
    ImGui::TextDisabled("%s, %s", header_file_name().c_str(), config_file_name().c_str());
    const Snapshot &n = s.snap;
    if (!n.background_task.empty() && n.background_total > 0) {
        ImGui::ProgressBar(float(n.background_done) / float(n.background_total), ImVec2(-1, 0),
                           n.background_task.c_str());
    } else if (!s.export_status.empty()) {
        ImGui::TextDisabled("%s", s.export_status.c_str());
    }
}

// A layer's keep-ratio slider. Every new value is evaluated while the
// slider moves (the worker keeps only the newest request; see worker.h):
// the figures follow the mouse, and the value under it at the release is
// often done.
void keep_slider(AppState &s, const Layer &layer, const LayerCompression &eff, bool is_output, int row) {
    float keep = float(eff.keep);
    ImGui::SetNextItemWidth(-1);
    // A depthwise layer has no keep of its own: it keeps the channels of
    // the layer before it (the config refuses one).
    const bool fixed = is_output || !layer.prunable();
    if (fixed) ImGui::BeginDisabled();
    char keep_label[32];
    std::snprintf(keep_label, sizeof keep_label, "keep %.2f", double(keep));
    if (ImGui::SliderFloat("##keep", &keep, 0.05f, 1.0f, keep_label, ImGuiSliderFlags_AlwaysClamp)) {
        CompressionConfig c = s.config;
        c.layers[layer.name].keep = std::round(double(keep) * 100.0) / 100.0;
        apply_config(c, true);
    }
    const bool keep_done = ImGui::IsItemDeactivatedAfterEdit();
    name_item(layer.name + " keep");
    if (fixed) {
        ImGui::EndDisabled();
        if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
            ImGui::SetTooltip(is_output ? "The output layer is never pruned: its outputs are the classes."
                                        : "A depthwise layer keeps the channels the layer before it keeps.");
    }
    if (keep_done) {
        slider_released();
        s.selected_layer = row;
    }
}

// A layer's bit width: a slider with four stops, 2, 4, 8 and 32 (float).
void bits_slider(AppState &s, const Layer &layer, const LayerCompression &eff, int row) {
    int bi = bits_index(eff.bits);
    ImGui::SetNextItemWidth(-1);
    const char *bits_label = eff.bits == 32 ? "float" : eff.bits == 8 ? "8 bit" : eff.bits == 4 ? "4 bit" : "2 bit";
    if (ImGui::SliderInt("##bits", &bi, 0, 3, bits_label, ImGuiSliderFlags_AlwaysClamp | ImGuiSliderFlags_NoInput)) {
        CompressionConfig c = s.config;
        c.layers[layer.name].bits = supported_bits()[size_t(bi)];
        apply_config(c, true);
    }
    const bool bits_done = ImGui::IsItemDeactivatedAfterEdit();
    name_item(layer.name + " bits");
    if (bits_done) {
        slider_released();
        s.selected_layer = row;
    }
}

// The report's figures for one layer (channels, params, flash, MACs,
// SQNR); before the first report, the channels the sliders ask for.
void layer_figures(const LayerReport *rep, const Layer &layer, const LayerCompression &eff, int sqnr_images) {
    ImGui::TableNextColumn();
    if (rep) ImGui::Text("%d/%d", rep->channels_kept, rep->channels_total);
    else ImGui::TextDisabled("%d/%d", kept_channels(eff.keep, layer.out_channels), layer.out_channels);
    ImGui::TableNextColumn();
    if (rep) ImGui::Text("%s", with_commas(rep->params).c_str());
    ImGui::TableNextColumn();
    if (rep) ImGui::Text("%s", bytes_text(rep->flash_bytes()).c_str());
    ImGui::TableNextColumn();
    if (rep) ImGui::Text("%.1fK", double(rep->macs) / 1000.0);
    ImGui::TableNextColumn();
    if (!rep) return;
    ImGui::Text("%s / %s", db_text(rep->weight_sqnr_db, true).c_str(), db_text(rep->output_sqnr_db, true).c_str());
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Weight SQNR (quantized vs float weights) / output SQNR (this layer's output vs the "
                          "float model's) on the first %d test images of the evaluation order",
                          sqnr_images);
}

void layers_section() {
    AppState &s = state();
    if (!s.model) return;
    const Snapshot &n = s.snap;
    const bool current = n.cm != nullptr; // may lag one compression behind the sliders
    const int output = s.model->output_layer();
    const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit;
    if (!ImGui::BeginTable("layers", 8, flags)) return;
    ImGui::TableSetupColumn("layer");
    ImGui::TableSetupColumn("keep", ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableSetupColumn("bits", ImGuiTableColumnFlags_WidthFixed, 70);
    ImGui::TableSetupColumn("kept");
    ImGui::TableSetupColumn("params");
    ImGui::TableSetupColumn("flash");
    ImGui::TableSetupColumn("MACs");
    ImGui::TableSetupColumn("SQNR w/out");
    ImGui::TableHeadersRow();
    int row = 0;
    for (size_t li = 0; li < s.model->layers.size(); ++li) {
        const Layer &layer = s.model->layers[li];
        if (!layer.has_weights()) continue;
        const LayerCompression eff = s.config.resolve(*s.model, int(li));
        const LayerReport *rep = nullptr;
        if (current)
            for (const LayerReport &r : n.report.layers)
                if (r.layer == int(li)) rep = &r;
        ImGui::PushID(int(li));
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        if (ImGui::Selectable(layer.name.c_str(), s.selected_layer == row, ImGuiSelectableFlags_None, ImVec2(46, 0)))
            s.selected_layer = row;
        name_item(layer.name + " row");
        ImGui::TableNextColumn();
        keep_slider(s, layer, eff, int(li) == output, row);
        ImGui::TableNextColumn();
        bits_slider(s, layer, eff, row);
        layer_figures(rep, layer, eff, n.sqnr_images);
        ImGui::PopID();
        ++row;
    }
    ImGui::EndTable();
}

} // namespace

void draw_controls() {
    model_section();
    ImGui::Separator();
    presets_section();
    ImGui::Separator();
    budget_section();
    ImGui::Separator();
    figures_section();
    ImGui::Separator();
    downloads_section();
    ImGui::Separator();
    layers_section();
    ImGui::Spacing();
    ImGui::TextDisabled("The figures follow the sliders. Click a layer name to inspect it on the right.");
    ImGui::TextDisabled("The link in the address bar restores this model and config.");
}

} // namespace app
