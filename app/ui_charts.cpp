// ui_charts.cpp - the charts, drawn with ImGui's draw list (ImPlot is not
// packaged): flash per layer, the RAM plan, per-layer SQNR, the selected
// layer's weight histogram and pruning mask, sensitivity curves, and size
// against error.
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <functional>

#include "app.h"

namespace app {

using namespace dmc;

namespace {

ImDrawList *dl() { return ImGui::GetWindowDrawList(); }

// Reserves a w x h area for a chart and returns its top left corner.
ImVec2 area(float w, float h) {
    const ImVec2 p = ImGui::GetCursorScreenPos();
    ImGui::Dummy(ImVec2(w, h));
    return p;
}

void text_at(ImVec2 p, ImU32 color, const char *fmt, ...) {
    char buf[256];
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    dl()->AddText(p, color, buf);
}

const ImU32 kText = IM_COL32(220, 220, 220, 255), kDim = IM_COL32(140, 140, 150, 255),
            kGrid = IM_COL32(70, 70, 80, 255), kRed = IM_COL32(235, 80, 80, 255);

// Charts show the latest compressed model: while the next config compresses
// they keep the previous one rather than blink.
bool current(const AppState &s) { return s.snap.cm != nullptr; }

// The step of report layer `i` in the compressed model.
const Step *layer_step(const CompressedModel &cm, int layer) {
    for (const Step &st : cm.steps)
        if ((st.runs(LayerType::Conv2d) || st.runs(LayerType::Linear)) && st.layer == layer) return &st;
    return nullptr;
}

// Blue (negative) - black - orange (positive) for weights.
ImU32 heat(float v) {
    v = std::max(-1.0f, std::min(1.0f, v));
    if (v >= 0) return IM_COL32(int(40 + 215 * v), int(40 + 120 * v), 40, 255);
    return IM_COL32(40, int(40 + 120 * -v), int(40 + 215 * -v), 255);
}

void flash_chart(const Report &r, float width) {
    ImGui::Text("Flash per layer: weights | bias | requantization constants");
    int64_t most = 1;
    for (const LayerReport &l : r.layers) most = std::max(most, l.flash_bytes());
    const float row = 17, label = 60, right = 80;
    const ImVec2 o = area(width, row * float(r.layers.size()) + 4);
    const float span = width - label - right;
    for (size_t i = 0; i < r.layers.size(); ++i) {
        const LayerReport &l = r.layers[i];
        const float y = o.y + row * float(i);
        text_at(ImVec2(o.x, y), kText, "%s", l.name.c_str());
        float x = o.x + label;
        const int64_t parts[3] = {l.weight_bytes, l.bias_bytes, l.constant_bytes};
        const float alpha[3] = {1.0f, 0.6f, 0.35f};
        for (int k = 0; k < 3; ++k) {
            const float w = span * float(parts[k]) / float(most);
            dl()->AddRectFilled(ImVec2(x, y + 2), ImVec2(x + w, y + row - 3), layer_color(int(i), alpha[k]));
            x += w;
        }
        text_at(ImVec2(x + 4, y), kDim, "%s", bytes_text(l.flash_bytes()).c_str());
    }
    ImGui::TextDisabled("total %s (float model %s)", bytes_text(r.flash_bytes).c_str(),
                        bytes_text(r.float_flash_bytes).c_str());
}

void ram_chart(const CompressedModel &cm, float width) {
    ImGui::Text("RAM plan: activation arena per step (input + scratch + output), peak in red");
    const BufferPlan &plan = cm.plan;
    const size_t n = plan.steps.size();
    const float h = 90, bottom = 16;
    const ImVec2 o = area(width, h + bottom + 4);
    const float bar = std::min(40.0f, (width - 10) / float(std::max<size_t>(n, 1)));
    const double most = double(std::max<int64_t>(plan.arena_bytes, 1));
    for (size_t k = 0; k < n; ++k) {
        const BufferPlan::Entry &e = plan.steps[k];
        const float x = o.x + bar * float(k);
        const float bh = h * float(double(e.bytes) / most);
        const bool peak = int(k) == plan.peak_step;
        dl()->AddRectFilled(ImVec2(x + 2, o.y + h - bh), ImVec2(x + bar - 2, o.y + h),
                            peak ? kRed : IM_COL32(90, 140, 200, 255));
        if (ImGui::IsMouseHoveringRect(ImVec2(x, o.y), ImVec2(x + bar, o.y + h)))
            ImGui::SetTooltip("%s: %s (%s)", cm.steps[k].name.c_str(), bytes_text(e.bytes).c_str(),
                              op_name(cm.steps[k]));
        std::string name = cm.steps[k].name.substr(0, size_t(std::max(1.0f, bar / 7)));
        text_at(ImVec2(x + 2, o.y + h + 1), kDim, "%s", name.c_str());
    }
    dl()->AddLine(ImVec2(o.x, o.y), ImVec2(o.x + bar * float(n), o.y), kRed);
    const Step &peak = cm.steps[size_t(std::max(0, plan.peak_step))];
    ImGui::TextDisabled("arena %s, set by '%s'", bytes_text(plan.arena_bytes).c_str(), peak.name.c_str());
}

void sqnr_chart(const Report &r, int sqnr_images, float width) {
    ImGui::Text("Quantization error per layer: SQNR (higher is better); weights | output");
    const float row = 17, label = 60;
    const ImVec2 o = area(width, row * float(r.layers.size()) + 4);
    const float span = (width - label - 150);
    const double top = 60.0; // dB at the bar's end; exact layers fill it
    for (size_t i = 0; i < r.layers.size(); ++i) {
        const LayerReport &l = r.layers[i];
        const float y = o.y + row * float(i);
        text_at(ImVec2(o.x, y), kText, "%s", l.name.c_str());
        const double vals[2] = {l.weight_sqnr_db, l.output_sqnr_db};
        for (int k = 0; k < 2; ++k) {
            const double v = vals[k];
            if (std::isnan(v)) continue;
            const float frac = std::isinf(v) ? 1.0f : float(std::max(0.0, std::min(top, v)) / top);
            const float x0 = o.x + label, yy = y + 2 + k * 7.0f;
            dl()->AddRectFilled(ImVec2(x0, yy), ImVec2(x0 + span * frac, yy + 6), layer_color(int(i), k ? 0.5f : 1.0f));
        }
        text_at(ImVec2(o.x + label + span + 6, y), kDim, "%s | %s", db_text(l.weight_sqnr_db, true).c_str(),
                db_text(l.output_sqnr_db, true).c_str());
    }
    ImGui::TextDisabled("output SQNR on the first %d images of the evaluation order; bar end = %.0f dB", sqnr_images, 60.0);
}

void histogram(const CompressedModel &cm, const Step &st, float width) {
    const std::vector<float> &w = cm.float_layer(st).weight;
    if (w.empty()) return;
    const bool integer = st.integer;
    const int bits = integer ? st.weights.bits : 32;
    const int64_t fan = st.weights.row_length > 0 ? st.weights.row_length : int64_t(w.size()) / std::max(1, st.source.out_channels);
    const int qmax = integer ? weight_qmax(bits) : 0;
    // Each weight in units of its channel's quantization step, so that every
    // channel's levels fall on the same integers -qmax..qmax.
    std::vector<float> x(w.size());
    double lo = 0, hi = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        const size_t c = size_t(int64_t(i) / std::max<int64_t>(fan, 1));
        const double scale = integer && c < st.weights.scales.size() && st.weights.scales[c] > 0 ? st.weights.scales[c] : 1.0;
        x[i] = float(w[i] / scale);
        lo = std::min(lo, double(x[i]));
        hi = std::max(hi, double(x[i]));
    }
    if (integer) lo = -qmax - 0.5, hi = qmax + 0.5;
    if (hi <= lo) hi = lo + 1;
    const int bins = 80;
    std::vector<int> count(bins, 0);
    for (float v : x) count[size_t(std::min(bins - 1, std::max(0, int((v - lo) / (hi - lo) * bins))))]++;
    const int most = std::max(1, *std::max_element(count.begin(), count.end()));
    ImGui::Text("Weights of '%s' (%s): histogram%s", st.name.c_str(), integer ? (std::to_string(bits) + "-bit").c_str() : "float",
                integer ? ", quantization levels in red" : "");
    const float h = 90;
    const ImVec2 o = area(width, h + 16);
    const float bw = width / bins;
    for (int b = 0; b < bins; ++b) {
        const float bh = h * float(count[size_t(b)]) / float(most);
        dl()->AddRectFilled(ImVec2(o.x + b * bw, o.y + h - bh), ImVec2(o.x + (b + 1) * bw - 1, o.y + h),
                            IM_COL32(100, 160, 220, 255));
    }
    if (integer) {
        // One line per level; at 8 bits only every 16th, they would merge.
        const int every = qmax > 16 ? 16 : 1;
        for (int q = -qmax; q <= qmax; ++q) {
            if (q % every) continue;
            const float px = o.x + float((q - lo) / (hi - lo)) * width;
            dl()->AddLine(ImVec2(px, o.y), ImVec2(px, o.y + h), IM_COL32(235, 80, 80, 160));
        }
        text_at(ImVec2(o.x, o.y + h + 1), kDim, "w / channel scale: levels -%d .. %d%s", qmax, qmax,
                every > 1 ? " (every 16th drawn)" : "");
    } else {
        text_at(ImVec2(o.x, o.y + h + 1), kDim, "float weights %.3f .. %.3f (no levels: left in float)", lo, hi);
    }
}

// Which output channels pruning kept: conv filters as their k x k kernels
// (one column per input channel, up to 8), linear neurons as heat maps of
// their input weights laid out like the input image.
void pruning_mask(const CompressedModel &cm, int li, float width) {
    const Layer &l = cm.model.layers[size_t(li)];
    const std::vector<int> &kept = cm.pruned.kept[size_t(li)];
    std::vector<bool> is_kept(size_t(l.out_channels), false);
    for (int c : kept) is_kept[size_t(c)] = true;
    ImGui::Text("Pruning mask of '%s': %d of %d %s kept (pruned ones crossed out)", l.name.c_str(), int(kept.size()),
                l.out_channels, l.type == LayerType::Conv2d ? "filters" : "neurons");
    const int64_t fan = l.fan_in();
    float wmax = 1e-9f;
    for (float v : l.weight) wmax = std::max(wmax, std::fabs(v));
    if (l.type == LayerType::Conv2d) {
        const int k = l.kernel, ins = std::min(l.in_channels, 8);
        const float px = std::max(2.0f, std::min(6.0f, (width - 20) / float(ins * (k + 1)) / 1.0f));
        const float cell = px * float(k + 1);
        const int per_row = std::max(1, int(width / (cell * float(ins) + 8)));
        const int rows = (l.out_channels + per_row - 1) / per_row;
        const ImVec2 o = area(width, float(rows) * (cell + 4));
        for (int oc = 0; oc < l.out_channels; ++oc) {
            const float x0 = o.x + float(oc % per_row) * (cell * float(ins) + 8), y0 = o.y + float(oc / per_row) * (cell + 4);
            for (int ic = 0; ic < ins; ++ic)
                for (int y = 0; y < k; ++y)
                    for (int x = 0; x < k; ++x) {
                        const float v = l.weight[size_t(((int64_t(oc) * k + y) * k + x) * l.in_channels + ic)] / wmax;
                        const ImVec2 p(x0 + float(ic) * cell + float(x) * px, y0 + float(y) * px);
                        dl()->AddRectFilled(p, ImVec2(p.x + px, p.y + px), is_kept[size_t(oc)] ? heat(v * 2) : IM_COL32(45, 45, 50, 255));
                    }
            if (!is_kept[size_t(oc)]) {
                const ImVec2 a(x0, y0), b(x0 + cell * float(ins) - px, y0 + cell - px);
                dl()->AddLine(a, b, kRed, 1.5f);
                dl()->AddLine(ImVec2(a.x, b.y), ImVec2(b.x, a.y), kRed, 1.5f);
            }
        }
        return;
    }
    // Linear: the neuron's weights over its input tensor (H x W, mean over
    // channels), e.g. 28 x 28 for a first layer on the image.
    const Shape in = l.input;
    const int H = std::max(1, in.height), W = std::max(1, in.width), C = std::max(1, in.channels);
    int gh = H, gw = W;
    if (H == 1 && W == 1) gh = 1, gw = int(std::min<int64_t>(fan, 64)); // a vector: first weights as a strip
    const float px = std::max(1.0f, std::min(4.0f, 56.0f / float(std::max(gh, gw))));
    const float cw = px * float(gw) + 4, ch = px * float(gh) + 4;
    const int per_row = std::max(1, int(width / cw));
    const int shown = std::min(l.out_channels, per_row * std::max(1, int(300 / ch)));
    const int rows = (shown + per_row - 1) / per_row;
    const ImVec2 o = area(width, float(rows) * ch);
    for (int oc = 0; oc < shown; ++oc) {
        const float x0 = o.x + float(oc % per_row) * cw, y0 = o.y + float(oc / per_row) * ch;
        const float *w = l.weight.data() + int64_t(oc) * fan;
        for (int y = 0; y < gh; ++y)
            for (int x = 0; x < gw; ++x) {
                float v = 0;
                if (gh == 1 && H == 1 && W == 1) v = w[x];
                else {
                    for (int c = 0; c < C; ++c) v += w[(int64_t(y) * W + x) * C + c];
                    v /= float(C);
                }
                const ImVec2 p(x0 + float(x) * px, y0 + float(y) * px);
                dl()->AddRectFilled(p, ImVec2(p.x + px, p.y + px),
                                    is_kept[size_t(oc)] ? heat(v / wmax * 3) : IM_COL32(45, 45, 50, 255));
            }
        if (!is_kept[size_t(oc)]) {
            dl()->AddLine(ImVec2(x0, y0), ImVec2(x0 + cw - 4, y0 + ch - 4), kRed);
            dl()->AddLine(ImVec2(x0, y0 + ch - 4), ImVec2(x0 + cw - 4, y0), kRed);
        }
    }
    if (shown < l.out_channels) ImGui::TextDisabled("(first %d of %d neurons)", shown, l.out_channels);
}

// The budget solver's answer on the size-versus-error chart: every config
// it scored (hollow, subset error), its front (subset error; a line where
// it is the front against flash, the chart's x: a front against RAM or
// MACs is not monotone in flash, so its points stand alone) and the chosen
// config (a ring, error on all test images). Clicking a point
// puts its config on the sliders; the chosen one is named for the tests.
struct ChartAxes {
    std::function<float(double)> x, y; // flash bytes, error in percent
    double top = 0;                     // the highest error shown, percent
};

// True when the mouse clicked the point this frame; shows its figures on hover.
bool budget_point(const ChartAxes &ax, const BudgetPoint &p, double error_pct, const char *what) {
    const ImVec2 at(ax.x(double(p.cost.flash_bytes)), ax.y(error_pct));
    if (!ImGui::IsMouseHoveringRect(ImVec2(at.x - 5, at.y - 5), ImVec2(at.x + 5, at.y + 5))) return false;
    ImGui::SetTooltip("%s\n%s\nflash %s, RAM %s, %s MACs, %.2f%% error\nclick: put it on the sliders", what,
                      config_to_json(p.config).c_str(), bytes_text(p.cost.flash_bytes).c_str(),
                      bytes_text(p.cost.peak_ram_bytes).c_str(), with_commas(p.cost.macs).c_str(), error_pct);
    return ImGui::IsMouseClicked(0);
}

void budget_overlay(AppState &s, const ChartAxes &ax) {
    const BudgetOutcome &o = s.budget.result.outcome;
    const ImU32 scored = IM_COL32(150, 150, 160, 200), front = IM_COL32(90, 210, 120, 255), chosen = IM_COL32(255, 170, 40, 255);
    const CompressionConfig *clicked = nullptr;
    for (const BudgetPoint &p : o.scored) {
        const double err = 100 * (1 - p.subset_accuracy);
        if (err > ax.top) continue;
        dl()->AddCircle(ImVec2(ax.x(double(p.cost.flash_bytes)), ax.y(err)), 3.0f, scored, 8);
        if (budget_point(ax, p, err, "scored by the solver (subset error)")) clicked = &p.config;
    }
    for (size_t i = 0; i < o.front.size(); ++i) {
        const BudgetPoint &p = o.front[i];
        const ImVec2 at(ax.x(double(p.cost.flash_bytes)), ax.y(100 * (1 - p.subset_accuracy)));
        if (i && o.front_resource == Resource::Flash) {
            const BudgetPoint &q = o.front[i - 1];
            dl()->AddLine(ImVec2(ax.x(double(q.cost.flash_bytes)), ax.y(100 * (1 - q.subset_accuracy))), at, front, 2.0f);
        }
        dl()->AddCircleFilled(at, 3.0f, front);
        if (budget_point(ax, p, 100 * (1 - p.subset_accuracy), "on the solver's front (subset error)")) clicked = &p.config;
    }
    const BudgetPoint &best = o.best;
    const double err = 100 * (1 - best.accuracy);
    const ImVec2 at(ax.x(double(best.cost.flash_bytes)), ax.y(err));
    dl()->AddCircle(at, 8.0f, chosen, 16, 3.0f);
    s.widget_rects["Budget chosen"] = ImVec4(at.x - 5, at.y - 5, 10, 10);
    if (budget_point(ax, best, err, "chosen by the solver (error on all test images)")) clicked = &best.config;
    if (clicked) apply_config(*clicked);
}

} // namespace

void draw_memory_charts() {
    AppState &s = state();
    if (!current(s)) {
        ImGui::TextDisabled("Compressing...");
        return;
    }
    const float width = ImGui::GetContentRegionAvail().x;
    flash_chart(s.snap.report, width * 0.98f);
    ImGui::Spacing();
    ram_chart(*s.snap.cm, width * 0.98f);
    ImGui::Separator();
}

void draw_error_charts() {
    AppState &s = state();
    if (!current(s)) return;
    const float width = ImGui::GetContentRegionAvail().x;
    sqnr_chart(s.snap.report, s.snap.sqnr_images, width * 0.98f);
    ImGui::Separator();
    const std::vector<LayerReport> &layers = s.snap.report.layers;
    if (layers.empty()) return;
    s.selected_layer = std::min(s.selected_layer, int(layers.size()) - 1);
    // Selecting a layer here too (the left table's names do the same).
    for (size_t i = 0; i < layers.size(); ++i) {
        if (i) ImGui::SameLine();
        if (ImGui::RadioButton(layers[i].name.c_str(), s.selected_layer == int(i))) s.selected_layer = int(i);
        name_item("select " + layers[i].name);
    }
    const LayerReport &sel = layers[size_t(s.selected_layer)];
    if (const Step *st = layer_step(*s.snap.cm, sel.layer)) histogram(*s.snap.cm, *st, width * 0.98f);
    pruning_mask(*s.snap.cm, sel.layer, width * 0.98f);
}

void draw_sensitivity() {
    AppState &s = state();
    if (!s.model) return;
    const std::string sel = current(s) && !s.snap.report.layers.empty()
                                ? s.snap.report.layers[size_t(std::min<int>(s.selected_layer, int(s.snap.report.layers.size()) - 1))].name
                                : "";
    s.worker.want_sweeps(sel);
    const auto &sweeps = s.snap.sweeps;
    ImGui::TextWrapped("Each layer alone compressed, every other layer float (dmc sweep), accuracy on the first %d "
                       "test images. A flat curve: the layer can take more compression.",
                       sweeps.empty() ? 1000 : sweeps.begin()->second.images);
    const float width = ImGui::GetContentRegionAvail().x * 0.98f;
    double lo = 1.0, hi = 0.0;
    for (const auto &c : sweeps) {
        hi = std::max(hi, c.second.float_score);
        for (const SweepPoint &p : c.second.by_bits) lo = std::min(lo, p.score);
        for (const SweepPoint &p : c.second.by_keep) lo = std::min(lo, p.score);
    }
    if (hi <= 0) hi = 1.0;
    lo = std::max(0.0, std::min(lo, hi - 0.01));
    const double top = std::min(1.0, hi + 0.002);
    auto chart = [&](const char *title, bool by_bits) {
        ImGui::Text("%s", title);
        const float h = 170, left = 50, bottom = 18;
        const ImVec2 o = area(width, h + bottom);
        const float pw = width - left - 90;
        auto Y = [&](double v) { return o.y + h - float((v - lo) / (top - lo)) * h; };
        for (int t = 0; t <= 4; ++t) {
            const double v = lo + (top - lo) * t / 4;
            dl()->AddLine(ImVec2(o.x + left, Y(v)), ImVec2(o.x + left + pw, Y(v)), kGrid);
            text_at(ImVec2(o.x, Y(v) - 7), kDim, "%.1f%%", 100 * v);
        }
        // x: bits 2, 4, 8, float evenly; keep 0..1 linear.
        auto X = [&](const SweepPoint &p) {
            if (by_bits) {
                const int i = p.bits == 2 ? 0 : p.bits == 4 ? 1 : p.bits == 8 ? 2 : 3;
                return o.x + left + pw * (0.05f + 0.9f * float(i) / 3.0f);
            }
            return o.x + left + pw * float(p.keep);
        };
        if (by_bits) {
            const char *labels[] = {"2", "4", "8", "float"};
            for (int i = 0; i < 4; ++i) text_at(ImVec2(o.x + left + pw * (0.05f + 0.9f * float(i) / 3.0f) - 6, o.y + h + 2), kDim, "%s", labels[i]);
        } else {
            for (int i = 0; i <= 4; ++i) text_at(ImVec2(o.x + left + pw * float(i) / 4 - 8, o.y + h + 2), kDim, "%.2f", i / 4.0);
        }
        int li = 0;
        for (const auto &c : sweeps) {
            std::vector<SweepPoint> pts = by_bits ? c.second.by_bits : c.second.by_keep;
            SweepPoint f;
            f.score = c.second.float_score;
            f.bits = kFloatBits;
            f.keep = 1.0;
            pts.push_back(f);
            std::sort(pts.begin(), pts.end(), [&](const SweepPoint &a, const SweepPoint &b) { return X(a) < X(b); });
            const bool is_sel = c.first == sel;
            for (size_t i = 0; i < pts.size(); ++i) {
                const ImVec2 p(X(pts[i]), Y(std::max(lo, pts[i].score)));
                dl()->AddCircleFilled(p, is_sel ? 4.0f : 3.0f, layer_color(li));
                if (i) dl()->AddLine(ImVec2(X(pts[i - 1]), Y(std::max(lo, pts[i - 1].score))), p, layer_color(li), is_sel ? 3.0f : 1.5f);
            }
            text_at(ImVec2(o.x + left + pw + 8, o.y + 14.0f * float(li)), layer_color(li), "%s%s", c.first.c_str(),
                    c.second.done ? "" : " ...");
            ++li;
        }
    };
    chart("Accuracy against bits (keep 1)", true);
    chart("Accuracy against keep ratio (weights float)", false);
    if (!s.snap.background_task.empty())
        ImGui::TextDisabled("%s: %d / %d", s.snap.background_task.c_str(), s.snap.background_done, s.snap.background_total);
}

void draw_size_vs_error() {
    AppState &s = state();
    ImGui::TextWrapped("Every configuration tried in this session (full test set), against Deep Compression's "
                       "published LeNet results (Han et al. 2016: LeNet-5 44 KB at 0.74%% error, LeNet-300-100 27 KB "
                       "at 1.58%%).");
    const float width = ImGui::GetContentRegionAvail().x * 0.98f, h = 330, left = 50, bottom = 20;
    const ImVec2 o = area(width, h + bottom);
    const float pw = width - left - 10;
    // x: flash, log scale 500 B .. 2 MB; y: error 0 .. top %.
    double top = 3.0;
    for (const Tried &t : s.tried) top = std::max(top, std::min(100.0, 100 * t.error * 1.15));
    // The solver's chosen config with room above it; its worse points may fall off the top.
    if (s.budget.has_result) top = std::max(top, std::min(100.0, 100 * (1 - s.budget.result.outcome.best.accuracy) * 2));
    const double lx0 = std::log10(500.0), lx1 = std::log10(2e6);
    auto X = [&](double bytes) { return o.x + left + pw * float((std::log10(std::max(bytes, 500.0)) - lx0) / (lx1 - lx0)); };
    auto Y = [&](double err_pct) { return o.y + h - float(std::min(err_pct, top) / top) * h; };
    for (double b : {1e3, 1e4, 1e5, 1e6}) {
        dl()->AddLine(ImVec2(X(b), o.y), ImVec2(X(b), o.y + h), kGrid);
        text_at(ImVec2(X(b) - 12, o.y + h + 3), kDim, "%s", bytes_text(int64_t(b)).c_str());
    }
    for (int t = 0; t <= 4; ++t) {
        const double v = top * t / 4;
        dl()->AddLine(ImVec2(o.x + left, Y(v)), ImVec2(o.x + left + pw, Y(v)), kGrid);
        text_at(ImVec2(o.x, Y(v) - 7), kDim, "%.2f%%", v);
    }
    // Deep Compression's points: diamonds.
    struct Ref { const char *name; double bytes, err; };
    for (const Ref &r : {Ref{"Deep Compression LeNet-5", 44e3, 0.74}, Ref{"Deep Compression LeNet-300-100", 27e3, 1.58}}) {
        const ImVec2 p(X(r.bytes), Y(r.err));
        dl()->AddQuadFilled(ImVec2(p.x, p.y - 6), ImVec2(p.x + 6, p.y), ImVec2(p.x, p.y + 6), ImVec2(p.x - 6, p.y),
                            IM_COL32(240, 200, 60, 255));
        text_at(ImVec2(p.x + 8, p.y - 7), IM_COL32(240, 200, 60, 255), "%s", r.name);
    }
    if (current(s) && s.snap.float_images > 0) {
        const ImVec2 p(X(double(s.snap.report.float_flash_bytes)), Y(100 * (1 - s.snap.float_accuracy)));
        dl()->AddCircle(p, 6, kText, 12, 2);
        text_at(ImVec2(p.x - 30, p.y - 20), kText, "float");
    }
    if (s.budget.has_result) {
        dl()->PushClipRect(ImVec2(o.x + left, o.y), ImVec2(o.x + left + pw, o.y + h), true);
        budget_overlay(s, ChartAxes{X, Y, top});
        dl()->PopClipRect();
    }
    const std::string now = config_to_json(s.config);
    for (const Tried &t : s.tried) {
        const ImVec2 p(X(double(t.flash_bytes)), Y(100 * t.error));
        const bool is_now = t.config_json == now;
        dl()->AddCircleFilled(p, is_now ? 6.0f : 4.0f, is_now ? kRed : IM_COL32(100, 170, 240, 255));
        if (ImGui::IsMouseHoveringRect(ImVec2(p.x - 5, p.y - 5), ImVec2(p.x + 5, p.y + 5)))
            ImGui::SetTooltip("%s\n%s flash, %.2f%% error", t.config_json.c_str(), bytes_text(t.flash_bytes).c_str(),
                              100 * t.error);
    }
    ImGui::TextDisabled("%d configurations tried; the current one in red. x: flash (log scale), y: test error.",
                        int(s.tried.size()));
    if (s.budget.has_result) {
        const BudgetOutcome &b = s.budget.result.outcome;
        ImGui::TextDisabled("Budget solver: %d configs scored on %s test images (grey), its front against %s "
                            "(green%s), the chosen one (orange ring) on all %s. Click a point to apply it.",
                            b.evaluated, with_commas(b.subset_images).c_str(), resource_name(b.front_resource),
                            b.front_resource == Resource::Flash ? "" : ", each point at its flash",
                            with_commas(b.test_images).c_str());
    }
}

} // namespace app
