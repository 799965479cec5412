// ui_predictions.cpp - what the compressed model gets wrong. For an MNIST
// classifier: the confusion matrix, a grid of misclassified test digits, and
// a canvas to draw a digit on, with the float and the compressed model's
// predictions side by side. For a regression model: its output over the
// test inputs, float and compressed, against the targets.
#include <algorithm>
#include <cmath>

#include "app.h"
#include "evaluator.h"

namespace app {

using namespace dmc;

namespace {

// The outputs of a model on one 28x28 image, as real numbers, and softmax.
std::vector<float> probabilities(const CompressedModel &cm, const uint8_t *pixels) {
    Executor run(cm);
    const void *out = run.run_u8(pixels);
    const int64_t n = cm.output_shape().size();
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) v[size_t(k)] = float(tensor_value(cm.steps.back(), out, k));
    const float most = *std::max_element(v.begin(), v.end());
    float sum = 0;
    for (float &x : v) sum += (x = std::exp(x - most));
    for (float &x : v) x /= sum;
    return v;
}

void prediction_bars(const char *title, const std::vector<float> &p, float width) {
    const int best = int(std::max_element(p.begin(), p.end()) - p.begin());
    ImGui::Text("%s: %d", title, best);
    ImGui::TextDisabled("p = %.0f%%", 100.0 * p[size_t(best)]);
    ImDrawList *dl = ImGui::GetWindowDrawList();
    const ImVec2 o = ImGui::GetCursorScreenPos();
    const float row = 14;
    ImGui::Dummy(ImVec2(width, row * float(p.size())));
    for (size_t k = 0; k < p.size(); ++k) {
        const float y = o.y + row * float(k);
        char label[8];
        std::snprintf(label, sizeof label, "%d", int(k));
        dl->AddText(ImVec2(o.x, y), IM_COL32(200, 200, 200, 255), label);
        dl->AddRectFilled(ImVec2(o.x + 16, y + 2), ImVec2(o.x + 16 + (width - 20) * p[k], y + row - 2),
                          int(k) == best ? IM_COL32(240, 150, 60, 255) : IM_COL32(100, 160, 220, 255));
    }
}

// A regression model's first output over the test inputs: the targets
// (grey), the float model (blue) and the compressed model (orange). The
// curves are computed once per compressed model.
void regression_curves(const Snapshot &n) {
    static const CompressedModel *cached_cm = nullptr, *cached_ref = nullptr;
    static std::vector<float> compressed, reference;
    if (cached_cm != n.cm.get() || cached_ref != n.reference.get()) {
        compressed = output_curve(*n.cm, n.data->test, 0);
        reference = n.reference ? output_curve(*n.reference, n.data->test, 0) : std::vector<float>();
        cached_cm = n.cm.get();
        cached_ref = n.reference.get();
    }
    const TestSet &test = n.data->test;
    const int64_t outputs = n.cm->output_shape().size();
    std::vector<float> target;
    for (int i = 0; i < test.count && test.targets.size() >= size_t((i + 1) * outputs); ++i)
        target.push_back(test.targets[size_t(i * outputs)]);
    ImGui::Text("Output 0 over the %d test inputs: MSE float %.3g, compressed %.3g (%d images)", test.count,
                n.float_mse, n.mse, n.images);
    float lo = 0, hi = 0;
    for (const std::vector<float> *v : {&target, &reference, &compressed})
        for (float y : *v) lo = std::min(lo, y), hi = std::max(hi, y);
    if (hi <= lo) hi = lo + 1;
    const ImVec2 size(std::max(200.0f, ImGui::GetContentRegionAvail().x - 10), 260);
    const ImVec2 o = ImGui::GetCursorScreenPos();
    ImGui::Dummy(size);
    ImDrawList *dl = ImGui::GetWindowDrawList();
    dl->AddRect(o, ImVec2(o.x + size.x, o.y + size.y), IM_COL32(90, 90, 100, 255));
    auto curve = [&](const std::vector<float> &v, ImU32 colour, float thickness) {
        if (v.size() < 2) return;
        std::vector<ImVec2> points(v.size());
        for (size_t i = 0; i < v.size(); ++i)
            points[i] = ImVec2(o.x + size.x * float(i) / float(v.size() - 1),
                               o.y + size.y * (1.0f - (v[i] - lo) / (hi - lo)));
        dl->AddPolyline(points.data(), int(points.size()), colour, 0, thickness);
    };
    curve(target, IM_COL32(150, 150, 150, 255), 3.0f);
    curve(reference, IM_COL32(100, 160, 220, 255), 1.5f);
    curve(compressed, IM_COL32(240, 150, 60, 255), 1.5f);
    ImGui::TextDisabled("grey: target, blue: float model, orange: compressed model");
}

// Rows are the true digit, columns the prediction; the diagonal in green,
// the errors in red by how many.
void confusion_matrix(const Snapshot &n) {
    ImDrawList *dl = ImGui::GetWindowDrawList();
    ImGui::BeginGroup();
    ImGui::Text("Confusion matrix (%d images)", n.images);
    const float cell = 26;
    const ImVec2 o = ImGui::GetCursorScreenPos();
    ImGui::Dummy(ImVec2(cell * 11, cell * 11));
    int most = 1;
    for (int r = 0; r < 10; ++r)
        for (int c = 0; c < 10; ++c)
            if (r != c) most = std::max(most, n.confusion[r][c]);
    for (int r = 0; r < 10; ++r) {
        char label[4];
        std::snprintf(label, sizeof label, "%d", r);
        dl->AddText(ImVec2(o.x + 4, o.y + cell * float(r + 1) + 6), IM_COL32(160, 160, 170, 255), label);
        dl->AddText(ImVec2(o.x + cell * float(r + 1) + 9, o.y + 6), IM_COL32(160, 160, 170, 255), label);
        for (int c = 0; c < 10; ++c) {
            const int v = n.confusion[r][c];
            const ImVec2 p(o.x + cell * float(c + 1), o.y + cell * float(r + 1));
            ImU32 col;
            if (r == c) col = IM_COL32(40, 90 + std::min(120, v / 8), 60, 255);
            else col = v ? IM_COL32(80 + int(175.0f * float(v) / float(most)), 40, 40, 255) : IM_COL32(35, 35, 40, 255);
            dl->AddRectFilled(p, ImVec2(p.x + cell - 1, p.y + cell - 1), col);
            char num[8];
            std::snprintf(num, sizeof num, "%d", v);
            if (v) dl->AddText(ImVec2(p.x + 2, p.y + 6), IM_COL32(230, 230, 230, 255), num);
        }
    }
    ImGui::TextDisabled("rows: true digit, columns: predicted");
    ImGui::EndGroup();
}

// The draw-a-digit canvas, with the float and compressed predictions beside it.
void digit_canvas(AppState &s, const Snapshot &n) {
    ImDrawList *dl = ImGui::GetWindowDrawList();
    ImGui::BeginGroup();
    ImGui::Text("Draw a digit");
    const float px = 8;
    const ImVec2 c0 = ImGui::GetCursorScreenPos();
    ImGui::InvisibleButton("digit canvas", ImVec2(28 * px, 28 * px));
    name_item("digit canvas");
    if (ImGui::IsItemActive()) {
        // A soft round brush, about 2.5 pixels wide, like MNIST's strokes.
        const ImVec2 m = ImGui::GetIO().MousePos;
        const float cx = (m.x - c0.x) / px, cy = (m.y - c0.y) / px;
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 28; ++x) {
                const float d = std::hypot(float(x) + 0.5f - cx, float(y) + 0.5f - cy);
                const int add = int(255.0f * std::max(0.0f, 1.0f - std::max(0.0f, d - 0.7f) / 1.0f));
                uint8_t &v = s.digit[size_t(y * 28 + x)];
                v = uint8_t(std::min(255, int(v) + add));
            }
    }
    digit_image(s.digit.data(), c0, px);
    dl->AddRect(c0, ImVec2(c0.x + 28 * px, c0.y + 28 * px), IM_COL32(120, 120, 130, 255));
    if (ImGui::Button("Clear")) std::fill(s.digit.begin(), s.digit.end(), 0);
    name_item("Clear digit");
    ImGui::EndGroup();
    ImGui::SameLine(0, 16);
    ImGui::BeginGroup();
    const float bars = std::max(90.0f, std::min(150.0f, ImGui::GetContentRegionAvail().x - 10));
    if (n.reference) prediction_bars("Float", probabilities(*n.reference, s.digit.data()), bars);
    prediction_bars("Compressed", probabilities(*n.cm, s.digit.data()), bars);
    ImGui::EndGroup();
}

// Misclassified test digits, true label > prediction, three rows at most.
void misclassified_grid(const Snapshot &n) {
    const TestSet &test = n.data->test;
    ImDrawList *dl = ImGui::GetWindowDrawList();
    ImGui::Text("Misclassified by the compressed model (%d of %d so far; label > prediction)", int(n.images - n.correct),
                n.images);
    const float dp = 2, tile = 28 * dp + 8;
    const float width = ImGui::GetContentRegionAvail().x;
    const int per_row = std::max(1, int(width / tile));
    const int shown = std::min<int>(int(n.misclassified.size()), per_row * 3);
    const ImVec2 g = ImGui::GetCursorScreenPos();
    ImGui::Dummy(ImVec2(width, (tile + 14) * float((shown + per_row - 1) / per_row)));
    // The predictions of those images come from the evaluation: re-run the
    // few shown, it is cheaper than keeping them all.
    Executor run(*n.cm);
    for (int k = 0; k < shown; ++k) {
        const int i = n.misclassified[size_t(k)];
        const ImVec2 p(g.x + float(k % per_row) * tile, g.y + float(k / per_row) * (tile + 14));
        digit_image(test.pixels.data() + size_t(i) * 784, p, dp, true);
        char label[24];
        std::snprintf(label, sizeof label, "%d > %d", int(test.labels[size_t(i)]), run.predict_u8(test.pixels.data() + size_t(i) * 784));
        dl->AddText(ImVec2(p.x, p.y + 28 * dp + 1), IM_COL32(230, 120, 110, 255), label);
    }
}

} // namespace

void draw_predictions() {
    AppState &s = state();
    const Snapshot &n = s.snap;
    const bool current = n.cm && n.data;
    const bool regression = s.model && s.model->task == Task::Regression;
    const bool mnist = s.model && s.model->dataset == "mnist" && s.model->task == Task::Classification;
    if (current && regression) {
        regression_curves(n);
        return;
    }
    if (!current || !mnist) {
        ImGui::TextDisabled(mnist || regression ? "Compressing..." : "Predictions are shown for MNIST classifiers and regression models.");
        return;
    }
    confusion_matrix(n);
    ImGui::SameLine(0, 24);
    digit_canvas(s, n);
    ImGui::Separator();
    misclassified_grid(n);
}

} // namespace app
