// ui_common.cpp - the window layout and helpers every panel uses.
#include <cmath>
#include <cstdio>

#include "app.h"

namespace app {

void name_item(const std::string &name) {
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    state().widget_rects[name] = ImVec4(a.x, a.y, b.x - a.x, b.y - a.y);
}

ImU32 layer_color(int i, float alpha) {
    static const ImVec4 colors[] = {{0.33f, 0.62f, 0.93f, 1}, {0.96f, 0.60f, 0.22f, 1}, {0.40f, 0.78f, 0.42f, 1},
                                    {0.88f, 0.36f, 0.40f, 1}, {0.67f, 0.52f, 0.88f, 1}, {0.55f, 0.80f, 0.80f, 1},
                                    {0.90f, 0.80f, 0.35f, 1}, {0.70f, 0.70f, 0.70f, 1}};
    ImVec4 c = colors[i % 8];
    c.w = alpha;
    return ImGui::ColorConvertFloat4ToU32(c);
}

std::string bytes_text(int64_t bytes) {
    char buf[32];
    if (bytes < 10000) std::snprintf(buf, sizeof buf, "%lld B", (long long)bytes);
    else if (bytes < 10000000) std::snprintf(buf, sizeof buf, "%.1f KB", double(bytes) / 1000.0);
    else std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / 1e6);
    return buf;
}

void digit_image(const uint8_t *pixels, ImVec2 at, float pixel, bool outline) {
    ImDrawList *dl = ImGui::GetWindowDrawList();
    dl->AddRectFilled(at, ImVec2(at.x + 28 * pixel, at.y + 28 * pixel), IM_COL32(0, 0, 0, 255));
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
            const int v = pixels[y * 28 + x];
            if (v == 0) continue;
            const ImVec2 p(at.x + x * pixel, at.y + y * pixel);
            dl->AddRectFilled(p, ImVec2(p.x + pixel, p.y + pixel), IM_COL32(v, v, v, 255));
        }
    if (outline) dl->AddRect(at, ImVec2(at.x + 28 * pixel, at.y + 28 * pixel), IM_COL32(230, 80, 80, 255));
}

// A tab of the charts window, named "tab <label>" for the tests; `draw`
// fills it while it is selected.
template <typename Draw>
static void tab(const char *label, Draw draw, ImGuiTabItemFlags flags = 0) {
    const bool open = ImGui::BeginTabItem(label, nullptr, flags);
    name_item(std::string("tab ") + label);
    if (open) {
        draw();
        ImGui::EndTabItem();
    }
}

void draw_ui() {
    AppState &s = state();
    s.widget_rects.clear();
    const ImGuiIO &io = ImGui::GetIO();
    const float left = std::min(600.0f, std::max(470.0f, io.DisplaySize.x * 0.46f));
    // NoBackground: the frame's clear colour is the background (main.cpp).
    const ImGuiWindowFlags fixed = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                                   ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBackground;

    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(left, io.DisplaySize.y));
    ImGui::Begin("Deep MicroCompression Workbench", nullptr, fixed);
    draw_controls();
    ImGui::End();

    ImGui::SetNextWindowPos(ImVec2(left, 0));
    ImGui::SetNextWindowSize(ImVec2(io.DisplaySize.x - left, io.DisplaySize.y));
    ImGui::Begin("Charts", nullptr, fixed | ImGuiWindowFlags_NoTitleBar);
    if (ImGui::BeginTabBar("views")) {
        tab("Memory and error", [] {
            draw_memory_charts();
            draw_error_charts();
        });
        tab("Sensitivity", draw_sensitivity);
        // A new answer of the budget solver brings its chart forward, once.
        const ImGuiTabItemFlags size_flags = s.budget.show_chart ? ImGuiTabItemFlags_SetSelected : 0;
        s.budget.show_chart = false;
        tab("Size vs error", draw_size_vs_error, size_flags);
        tab("Predictions", draw_predictions);
        ImGui::EndTabBar();
    }
    ImGui::End();
}

} // namespace app
