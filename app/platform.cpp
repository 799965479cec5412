// platform.cpp - browser and native versions of platform.h, and the
// functions the page's scripts call (window.dmc in wasm/dmc.js).
#include "platform.h"

#include <chrono>
#include <fstream>

#include "app.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>

// wasm/dmc.js defines these on window.
EM_JS(void, js_save, (const char *name, const char *mime, const char *text, int length), {
    window.dmcSave(UTF8ToString(name), UTF8ToString(mime), HEAPU8.slice(text, text + length));
});
EM_JS(void, js_download_done, (const char *kind, int ok, const char *detail), {
    if (window.dmcDownloadDone) window.dmcDownloadDone(UTF8ToString(kind), !!ok, UTF8ToString(detail));
});
EM_JS(void, js_budget_done, (int ok, const char *text), {
    if (window.dmcBudgetDone) window.dmcBudgetDone(!!ok, UTF8ToString(text));
});
EM_JS(void, js_set_fragment, (const char *fragment), {
    const f = '#' + UTF8ToString(fragment);
    if (location.hash !== f) {
        window.dmcOwnHash = f; // our own change: the hashchange listener ignores it
        history.replaceState(null, "", f);
    }
});
EM_JS(int, js_pick_file, (), {
    const input = document.getElementById('model-file');
    if (!input) return 0;
    input.click();
    return 1;
});
#endif

namespace app {

std::string platform_save(const std::string &name, const std::string &mime, const std::string &text) {
#ifdef __EMSCRIPTEN__
    js_save(name.c_str(), mime.c_str(), text.data(), int(text.size()));
    return "Downloaded " + name + " (" + std::to_string(text.size()) + " bytes)";
#else
    (void)mime;
    std::ofstream out(name, std::ios::binary);
    out << text;
    return out ? "Wrote " + name + " (" + std::to_string(text.size()) + " bytes)" : "Cannot write " + name;
#endif
}

void platform_download_done(const std::string &kind, bool ok, const std::string &detail) {
#ifdef __EMSCRIPTEN__
    js_download_done(kind.c_str(), ok ? 1 : 0, detail.c_str());
#else
    (void)kind, (void)ok, (void)detail;
#endif
}

void platform_budget_done(bool ok, const std::string &json_or_error) {
#ifdef __EMSCRIPTEN__
    js_budget_done(ok ? 1 : 0, json_or_error.c_str());
#else
    (void)ok, (void)json_or_error;
#endif
}

void platform_set_fragment(const std::string &fragment) {
#ifdef __EMSCRIPTEN__
    js_set_fragment(fragment.c_str());
#else
    (void)fragment;
#endif
}

bool platform_pick_file() {
#ifdef __EMSCRIPTEN__
    return js_pick_file() != 0;
#else
    return false;
#endif
}

double platform_now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

} // namespace app

#ifdef __EMSCRIPTEN__
// The page's entry points (wasm/dmc.js wraps them as window.dmc).
namespace {
std::string g_out; // the last string handed to JavaScript (valid until the next call)
const char *out(std::string s) {
    g_out = std::move(s);
    return g_out.c_str();
}
} // namespace

extern "C" {
EMSCRIPTEN_KEEPALIVE const char *dmc_state_json() { return out(app::state_json()); }
// "" when applied, else the reason.
EMSCRIPTEN_KEEPALIVE const char *dmc_set_config(const char *json) {
    return out(app::set_config_json(json) ? "" : app::state().message);
}
// `bytes` holds `length` bytes: an ONNX file has NULs, so no C string.
EMSCRIPTEN_KEEPALIVE const char *dmc_load_model(const char *name, const char *bytes, int length) {
    const std::string text(bytes, length > 0 ? size_t(length) : 0);
    return out(app::load_model_text(name, text) ? "" : app::state().message);
}
EMSCRIPTEN_KEEPALIVE const char *dmc_apply_fragment(const char *fragment) {
    return out(app::apply_fragment(fragment) ? "" : app::state().message);
}
// {"x":..,"y":..,"w":..,"h":..} in canvas pixels, or "null".
EMSCRIPTEN_KEEPALIVE const char *dmc_widget_rect(const char *label) {
    const auto &rects = app::state().widget_rects;
    auto it = rects.find(label);
    if (it == rects.end()) return out("null");
    char buf[160];
    std::snprintf(buf, sizeof buf, "{\"x\":%.1f,\"y\":%.1f,\"w\":%.1f,\"h\":%.1f}", it->second.x, it->second.y,
                  it->second.z, it->second.w);
    return out(buf);
}
EMSCRIPTEN_KEEPALIVE const char *dmc_widget_names() {
    std::string s = "[";
    for (const auto &r : app::state().widget_rects) s += (s.size() > 1 ? ",\"" : "\"") + r.first + "\"";
    return out(s + "]");
}
EMSCRIPTEN_KEEPALIVE void dmc_download_header() { app::download_header(); }
// "" when the budget request is taken (the answer comes through
// js_budget_done), else the reason.
EMSCRIPTEN_KEEPALIVE const char *dmc_find_budget(const char *json) {
    return out(app::find_budget_json(json) ? "" : app::state().message);
}
EMSCRIPTEN_KEEPALIVE void dmc_cancel_budget() { app::cancel_budget(); }
EMSCRIPTEN_KEEPALIVE const char *dmc_budget_defaults() { return out(app::budget_defaults_json()); }
// The last answer's JSON (as findBudget resolves with), or "null".
EMSCRIPTEN_KEEPALIVE const char *dmc_budget_result() {
    const app::AppState &s = app::state();
    return out(s.budget.has_result ? app::budget_result_json(s.budget.result) : "null");
}
EMSCRIPTEN_KEEPALIVE void dmc_download_config() { app::download_config(); }
}
#endif
