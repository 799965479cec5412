// main.cpp - one main() for the browser and the native window, as Dear
// ImGui's own examples do: the loop body is frame(), called by the browser's
// animation frames (emscripten_set_main_loop) or by a plain loop natively.
//
//   dmc-app [--assets DIR] [--mnist DIR] [--model FILE] [--config FILE]
//           [--fragment "model=lenet5&config=..."] [--screenshot OUT.png]
//
// Natively --mnist (default $MNIST_DIR) is the MNIST folder, .gz or not;
// in the browser the page has put assets/ and data/ (from `dmc data`) into
// the in-memory file system before main() runs.
#include <SDL.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "app.h"
#include "imgui.h"
#include "imgui_impl_opengl3.h"
#include "imgui_impl_sdl.h"
#include "platform.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#include <emscripten/html5.h>
#else
#include <vector>
#include <zlib.h>
#endif

#if defined(IMGUI_IMPL_OPENGL_ES2)
#include <SDL_opengles2.h>
#else
#include <SDL_opengl.h>
#endif

#ifndef DMC_DEFAULT_ASSETS
#define DMC_DEFAULT_ASSETS "assets"
#endif

namespace {

SDL_Window *g_window = nullptr;
bool g_done = false;
uint64_t g_last_hash = 0;
double g_last_ui_ms = 0;    // when the UI was last built
bool g_input = false;       // this frame handled an input event
std::string g_screenshot; // native --screenshot

// A hash of everything a frame would draw: vertices, indices, commands.
uint64_t draw_data_hash(const ImDrawData *d, const ImGuiIO &io) {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](const void *p, size_t n) {
        const auto *b = static_cast<const unsigned char *>(p);
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            std::memcpy(&w, b + i, 8);
            h = (h ^ w) * 0x100000001b3ull;
            h ^= h >> 29;
        }
        for (; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    };
    mix(&io.DisplaySize, sizeof io.DisplaySize);
    for (int l = 0; l < d->CmdListsCount; ++l) {
        const ImDrawList *list = d->CmdLists[l];
        mix(list->VtxBuffer.Data, size_t(list->VtxBuffer.Size) * sizeof(ImDrawVert));
        mix(list->IdxBuffer.Data, size_t(list->IdxBuffer.Size) * sizeof(ImDrawIdx));
        for (const ImDrawCmd &c : list->CmdBuffer) {
            mix(&c.ClipRect, sizeof c.ClipRect);
            mix(&c.TextureId, sizeof c.TextureId);
            mix(&c.ElemCount, sizeof c.ElemCount);
            mix(&c.IdxOffset, sizeof c.IdxOffset);
        }
    }
    return h | 1; // never 0, the "nothing drawn yet" value
}

#ifdef __EMSCRIPTEN__
// The page's size: the canvas fills it (wasm/index.html).
EM_JS(int, page_width, (), { return window.innerWidth; });
EM_JS(int, page_height, (), { return window.innerHeight; });
#endif

#ifndef __EMSCRIPTEN__
// --screenshot FILE (native): once the evaluation is final, the window as a
// PNG, then exit. For checking the native build without a display
// (SDL_VIDEODRIVER=offscreen).
int g_settled_frames = 0;

bool write_png(const std::string &path, int w, int h, const std::vector<uint8_t> &rgba_bottom_up) {
    std::vector<uint8_t> raw;
    raw.reserve(size_t(h) * (size_t(w) * 3 + 1));
    for (int y = h - 1; y >= 0; --y) { // GL rows run bottom up
        raw.push_back(0);             // filter: none
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) raw.push_back(rgba_bottom_up[(size_t(y) * size_t(w) + size_t(x)) * 4 + size_t(c)]);
    }
    uLongf size = compressBound(uLong(raw.size()));
    std::vector<uint8_t> z(size);
    if (compress2(z.data(), &size, raw.data(), uLong(raw.size()), 9) != Z_OK) return false;
    z.resize(size);
    std::FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    auto be32 = [](uint32_t v, uint8_t *p) { p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v); };
    auto chunk = [&](const char *type, const uint8_t *data, uint32_t n) {
        uint8_t head[8];
        be32(n, head);
        std::memcpy(head + 4, type, 4);
        std::fwrite(head, 1, 8, f);
        if (n) std::fwrite(data, 1, n, f);
        uLong crc = crc32(0, head + 4, 4);
        if (n) crc = crc32(crc, data, n);
        uint8_t c[4];
        be32(uint32_t(crc), c);
        std::fwrite(c, 1, 4, f);
    };
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    std::fwrite(sig, 1, 8, f);
    uint8_t ihdr[13];
    be32(uint32_t(w), ihdr), be32(uint32_t(h), ihdr + 4);
    ihdr[8] = 8, ihdr[9] = 2, ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = 0; // 8-bit RGB
    chunk("IHDR", ihdr, 13);
    chunk("IDAT", z.data(), uint32_t(z.size()));
    chunk("IEND", nullptr, 0);
    return std::fclose(f) == 0;
}

void maybe_screenshot() {
    if (g_screenshot.empty()) return;
    const app::AppState &s = app::state();
    const bool settled = s.snap.data && s.snap.float_images == s.snap.data->test.count && !s.snap.busy &&
                         s.snap.cm_generation == s.requested;
    g_settled_frames = settled ? g_settled_frames + 1 : 0;
    if (g_settled_frames < 5) return;
    int w = 0, h = 0;
    SDL_GL_GetDrawableSize(g_window, &w, &h);
    std::vector<uint8_t> px(size_t(w) * size_t(h) * 4);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadPixels(0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, px.data());
    const bool ok = write_png(g_screenshot, w, h, px);
    std::printf("%s %s (%dx%d)\n", ok ? "wrote" : "could not write", g_screenshot.c_str(), w, h);
    g_done = true;
}
#endif

// The whole file at `path` into *text; false when it cannot be opened.
bool read_text(const char *path, std::string *text) {
    std::FILE *f = std::fopen(path, "rb");
    if (!f) return false;
    char buf[65536];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text->append(buf, n);
    std::fclose(f);
    return true;
}

void handle_events() {
    SDL_Event event;
    while (SDL_PollEvent(&event)) {
        g_input = true;
        ImGui_ImplSDL2_ProcessEvent(&event);
        if (event.type == SDL_QUIT) g_done = true;
        if (event.type == SDL_WINDOWEVENT) g_last_hash = 0; // exposed, resized: draw again
        if (event.type == SDL_DROPFILE) { // native drag and drop of a model file
            char *path = event.drop.file;
            std::string text;
            if (read_text(path, &text)) app::load_model_text(path, text);
            else app::state().message = std::string("Cannot read '") + path + "'";
            SDL_free(path);
        }
    }
}

// While the budget solver runs, what changes on screen is mostly its
// progress bar, once per config scored (some 40 a second): building and
// drawing that UI at most twice a second leaves the cores to the
// solver (in headless Chromium every frame is also rasterized on the CPU).
// Input, and the answer (the request is then no longer out), go through at
// once; app::update() runs every frame.
//
// Likewise while an evaluation runs past its first estimate: the progress
// is drawn ten times a second, not every frame. The first estimate and the
// full result are drawn in the frame that has them (the hold starts only
// once a frame showing the estimate has been drawn, and ends with the
// evaluation).
bool hold_frame(double now_ms) {
    if (g_input) return false;
    const app::AppState &s = app::state();
    if (s.budget.id != 0) return now_ms - g_last_ui_ms < 500.0;
    const bool estimate_drawn = s.shown_first_ms >= 0 && g_last_ui_ms > s.request_ms + s.shown_first_ms;
    return s.snap.busy && s.shown_full_ms < 0 && estimate_drawn && now_ms - g_last_ui_ms < 100.0;
}

void frame() {
    g_input = false;
#ifdef __EMSCRIPTEN__
    int w = 0, h = 0;
    SDL_GetWindowSize(g_window, &w, &h);
    if (w != page_width() || h != page_height()) SDL_SetWindowSize(g_window, page_width(), page_height());
#endif
    handle_events();
    const double work_start = app::platform_now_ms();
    app::update();
    if (hold_frame(work_start)) {
#ifndef __EMSCRIPTEN__
        SDL_Delay(8);
#endif
        return;
    }
    g_last_ui_ms = work_start;
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplSDL2_NewFrame();
    ImGui::NewFrame();
    app::draw_ui();
    ImGui::Render();
    // Draw only when the picture changed. In headless Chromium WebGL is
    // SwiftShader, a CPU rasterizer that competes with the evaluation for the
    // cores; a frame that would look the same is left as it is (the canvas
    // keeps its last picture), while the loop still runs every frame for input.
    const ImGuiIO &io = ImGui::GetIO();
    const uint64_t hash = draw_data_hash(ImGui::GetDrawData(), io);
    if (hash != g_last_hash) {
        g_last_hash = hash;
        glViewport(0, 0, int(io.DisplaySize.x * io.DisplayFramebufferScale.x),
                   int(io.DisplaySize.y * io.DisplayFramebufferScale.y));
        // The windows draw no background (fill rate is what SwiftShader
        // lacks): the clear is their background.
        const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
        glClearColor(bg.x, bg.y, bg.z, 1.0f);
        glClear(GL_COLOR_BUFFER_BIT);
        ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
#ifndef __EMSCRIPTEN__
        maybe_screenshot(); // before the swap: the back buffer holds this frame
#endif
        SDL_GL_SwapWindow(g_window);
        app::state().frames_drawn++;
    }
#ifndef __EMSCRIPTEN__
    else if (!g_screenshot.empty()) {
        g_last_hash = 0; // draw again next frame, for the screenshot
    } else {
        SDL_Delay(8); // nothing new to show: leave the cores to the engine
    }
#endif
    app::state().frame_work_ms = app::platform_now_ms() - work_start;
}

struct Options {
    std::string assets = DMC_DEFAULT_ASSETS, mnist, model_file, config_file, fragment;
};

// Fills *o from the command line; returns -1 to go on, or main()'s exit status.
int parse_options(int argc, char **argv, Options *o) {
#ifdef __EMSCRIPTEN__
    o->assets = "/assets";
    o->mnist = "/data";
#else
    if (const char *env = std::getenv("MNIST_DIR")) o->mnist = env;
#endif
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--assets") o->assets = argv[i + 1];
        else if (a == "--mnist") o->mnist = argv[i + 1];
        else if (a == "--model") o->model_file = argv[i + 1];
        else if (a == "--config") o->config_file = argv[i + 1];
        else if (a == "--fragment") o->fragment = argv[i + 1]; // the page's URL fragment (wasm/dmc.js)
#ifndef __EMSCRIPTEN__
        else if (a == "--screenshot") g_screenshot = argv[i + 1];
#endif
        else {
            std::fprintf(stderr, "usage: dmc-app [--assets DIR] [--mnist DIR] [--model FILE] [--config FILE] "
                                 "[--screenshot OUT.png]\n");
            return 2;
        }
    }
    if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::printf("usage: dmc-app [--assets DIR] [--mnist DIR] [--model FILE] [--config FILE]\n");
        return 0;
    }
    return -1;
}

// SDL, the window (the page's size in the browser) and its GL context, or
// nullptr with main()'s exit status in *rc.
SDL_GLContext open_window(const char **glsl_version, int *rc) {
    if (SDL_Init(SDL_INIT_VIDEO | SDL_INIT_TIMER) != 0) {
#ifndef __EMSCRIPTEN__
        if (!g_screenshot.empty()) {
            std::printf("skipped: SDL_Init: %s\n", SDL_GetError());
            *rc = 77;
            return nullptr;
        }
#endif
        std::fprintf(stderr, "SDL_Init: %s\n", SDL_GetError());
        *rc = 1;
        return nullptr;
    }
#if defined(IMGUI_IMPL_OPENGL_ES2)
    *glsl_version = "#version 100";
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_FLAGS, 0);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_ES);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 2);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 0);
#else
    *glsl_version = "#version 130";
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_FLAGS, 0);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_CORE);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 0);
#endif
    SDL_GL_SetAttribute(SDL_GL_DOUBLEBUFFER, 1);
    int width = 1280, height = 800;
#ifdef __EMSCRIPTEN__
    width = page_width();
    height = page_height();
#endif
    g_window = SDL_CreateWindow("Deep MicroCompression Workbench", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, width,
                                height, SDL_WindowFlags(SDL_WINDOW_OPENGL | SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI));
    // Without a display or GL, --screenshot (a check, not a person) is skipped.
    const int no_display = g_screenshot.empty() ? 1 : 77;
    if (!g_window) {
        std::fprintf(stderr, "%sSDL_CreateWindow: %s\n", no_display == 77 ? "skipped: " : "", SDL_GetError());
        *rc = no_display;
        return nullptr;
    }
    SDL_GLContext gl = SDL_GL_CreateContext(g_window);
    if (!gl) {
        std::fprintf(stderr, "%sSDL_GL_CreateContext: %s\n", no_display == 77 ? "skipped: " : "", SDL_GetError());
        *rc = no_display;
        return nullptr;
    }
    SDL_GL_MakeCurrent(g_window, gl);
    SDL_GL_SetSwapInterval(1);
    return gl;
}

void init_imgui(SDL_GLContext gl, const char *glsl_version) {
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO &io = ImGui::GetIO();
    io.IniFilename = nullptr; // the layout is fixed; nothing to remember
    ImGui::StyleColorsDark();
    ImGuiStyle &style = ImGui::GetStyle();
    style.WindowRounding = 0.0f;
    style.FrameRounding = 3.0f;
    style.GrabMinSize = 12.0f;
    ImGui_ImplSDL2_InitForOpenGL(g_window, gl);
    ImGui_ImplOpenGL3_Init(glsl_version);
}

// --model and --config: a file that cannot be read reaches the app as empty
// text, whose error the app shows like any other bad file.
void load_start_files(const Options &o) {
    if (!o.model_file.empty()) {
        std::string text;
        read_text(o.model_file.c_str(), &text);
        app::load_model_text(o.model_file, text);
    }
    if (!o.config_file.empty()) {
        std::string text;
        read_text(o.config_file.c_str(), &text);
        app::set_config_json(text);
    }
}

#ifndef __EMSCRIPTEN__
// The native loop, until the window closes (or the screenshot is written).
int run_native(SDL_GLContext gl) {
    // Without the test images the evaluation never becomes final, so a
    // --screenshot check has nothing to wait for.
    int rc = 0;
    if (!g_screenshot.empty() && !app::state().data_ok) {
        std::printf("skipped: %s\n", app::state().message.c_str());
        rc = 77;
    }
    while (rc == 0 && !g_done) frame();
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplSDL2_Shutdown();
    ImGui::DestroyContext();
    SDL_GL_DeleteContext(gl);
    SDL_DestroyWindow(g_window);
    SDL_Quit();
    return rc;
}
#endif

} // namespace

int main(int argc, char **argv) {
    Options options;
    const int parsed = parse_options(argc, argv, &options);
    if (parsed >= 0) return parsed;
    const char *glsl_version = nullptr;
    int rc = 0;
    SDL_GLContext gl = open_window(&glsl_version, &rc);
    if (!gl) return rc;
    init_imgui(gl, glsl_version);
    app::init(options.assets, options.mnist, options.fragment);
    load_start_files(options);
#ifdef __EMSCRIPTEN__
    EM_ASM({ if (window.dmcAppStarted) window.dmcAppStarted(); });
    emscripten_set_main_loop(frame, 0, true);
    return 0;
#else
    return run_native(gl);
#endif
}
