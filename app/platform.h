// platform.h - the few things the browser and the native window do
// differently: saving a file, the URL fragment, picking a model file.
#pragma once

#include <string>

namespace app {

// Browser: a real download (Blob + link), named `name`. Native: writes
// `name` in the current folder. Returns what to tell the person.
std::string platform_save(const std::string &name, const std::string &mime, const std::string &text);
// Tells the page's scripts that an asked-for download finished or failed
// (resolves window.dmc.downloadHeader()'s promise); nothing natively.
void platform_download_done(const std::string &kind, bool ok, const std::string &detail);

// Tells the page's scripts the budget solver's answer: the result's JSON,
// or why there is none (settles window.dmc.findBudget()'s promise).
void platform_budget_done(bool ok, const std::string &json_or_error);

// Browser: replaces the URL fragment (no history entry). Native: nothing.
void platform_set_fragment(const std::string &fragment);

// Browser: opens the file picker (the page hands the file to
// load_model_text). Native: false (type a path, or drop a file).
bool platform_pick_file();

double platform_now_ms();

} // namespace app
