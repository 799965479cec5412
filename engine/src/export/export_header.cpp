// export_header.cpp - writes the microcontroller header (stb style: the
// declarations always, the implementation where PREFIX_IMPLEMENTATION is
// defined) and the library folder around it.
#include "dmc/export.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "dmc/error.h"
#include "dmc_arith.h"
#include "export/kernel_sources.h"

namespace dmc {

namespace {

std::string upper(std::string s) {
    for (char &c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool is_c_identifier(const std::string &s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

// Writes `values` as a C initializer, `per_line` to a line.
template <typename T>
void write_values(std::ostringstream &out, const T *values, size_t n, bool hex, size_t per_line) {
    for (size_t i = 0; i < n; ++i) {
        if (i % per_line == 0) out << "\n   ";
        if (hex) {
            char buf[8];
            std::snprintf(buf, sizeof buf, " 0x%02x,", unsigned(values[i]) & 0xFFu);
            out << buf;
        } else {
            out << ' ' << int64_t(values[i]) << ',';
        }
    }
    out << "\n";
}

// The kernel headers the model needs, with their local #includes removed
// (they follow each other in dependency order).
std::string kernels_for(const CompressedModel &cm) {
    bool conv = false, linear = false, pool = false, depthwise = false;
    for (const Step &s : cm.steps) {
        conv = conv || s.runs(LayerType::Conv2d);
        linear = linear || s.runs(LayerType::Linear);
        pool = pool || s.runs(LayerType::MaxPool2d) || s.runs(LayerType::AvgPool2d) || s.runs(LayerType::GlobalAvgPool2d);
        depthwise = depthwise || s.runs(LayerType::DepthwiseConv2d);
    }
    std::string out;
    for (const KernelSource &k : kernel_sources()) {
        const std::string name = k.name;
        if ((name == "dmc_conv2d.h" && !conv) || (name == "dmc_linear.h" && !linear) ||
            (name == "dmc_pool.h" && !pool) || (name == "dmc_depthwise.h" && !depthwise))
            continue;
        std::istringstream in(k.text);
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind("#include \"", 0) == 0) continue;
            out += line + "\n";
        }
        out += "\n";
    }
    return out;
}

// The report's table, as comment lines.
std::string comment_block(const std::string &text) {
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line)) out += line.empty() ? " *\n" : " *   " + line + "\n";
    return out;
}

// A C float literal that reads back as exactly v (finite).
std::string float_literal(float v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.9g", double(v));
    std::string text = buf;
    if (text.find_first_of(".en") == std::string::npos) text += ".0";
    return text + "f";
}

// What every part of the header needs.
struct Header {
    const CompressedModel &cm;
    const Report &report;
    std::string p, P; // the prefix, and in capitals
    bool classifier, image;
    int64_t input_size, output_size;
    int64_t input_offset, output_offset; // of the model's input and output in the arena
};

// float_literal(v), refusing an inf or NaN: no C float literal holds one
// ("inff" would not compile). `what` names v in the message; a tiny input
// std is the usual cause, so the message shows it.
std::string finite_literal(const Header &h, float v, const std::string &what) {
    if (!std::isfinite(v)) {
        std::ostringstream m;
        m << "export: " << what << " is " << (std::isnan(v) ? "NaN" : "infinite")
          << ", which no C float literal can hold (the model's input std is " << h.cm.model.input.std << ")";
        throw Error(m.str());
    }
    return float_literal(v);
}

// ---- the names the header defines ----
//
// Every identifier the header defines, checked once before any text is
// written. Two definitions of one name do not compile, and a macro of ours
// equal to a kernel's include guard would silently drop that kernel, so
// such a model is refused here with the name to change. These lists must
// name what the write_* functions below define.

// Why `id` is not the header's to define, completing "would define id,
// which ..."; "" where it is free.
std::string reserved_by(const std::string &id) {
    const auto starts = [&](const char *s) { return id.rfind(s, 0) == 0; };
    const auto ends = [&](const std::string &s) {
        return id.size() >= s.size() && id.compare(id.size() - s.size(), s.size(), s) == 0;
    };
    if (starts("dmc_") || starts("DMC_"))
        return "the embedded kernels reserve (every name beginning dmc_ or DMC_ is theirs)";
    if (starts("_")) return "C reserves (names beginning with _ belong to the compiler and C library)";
    if (ends("_t")) return "POSIX reserves for types (int8_t, size_t: names ending in _t)";
    if ((starts("INT") || starts("UINT")) && (ends("_MIN") || ends("_MAX") || ends("_WIDTH") || ends("_C")))
        return "<stdint.h> reserves (INT and UINT names ending in _MIN, _MAX, _WIDTH or _C)";
    // The rest of what <stddef.h>, <stdint.h> and <string.h> declare with an
    // '_' (every name the header defines has one), glibc's and newlib's
    // extensions included.
    static const std::set<std::string> library = {
        "PTRDIFF_MIN", "PTRDIFF_MAX", "PTRDIFF_WIDTH", "SIG_ATOMIC_MIN", "SIG_ATOMIC_MAX", "SIG_ATOMIC_WIDTH",
        "SIZE_MAX", "SIZE_WIDTH", "WCHAR_MIN", "WCHAR_MAX", "WCHAR_WIDTH", "WINT_MIN", "WINT_MAX", "WINT_WIDTH",
        "explicit_bzero", "sigabbrev_np", "sigdescr_np", "strcasecmp_l", "strcoll_l", "strerror_l",
        "strerror_r", "strerrordesc_np", "strerrorname_np", "strncasecmp_l", "strtok_r", "strxfrm_l"};
    if (library.count(id)) return "<stdint.h> or <string.h> declares";
    static const std::set<std::string> keywords = {
        "and_eq", "not_eq", "or_eq", "xor_eq", "static_assert", "thread_local", "const_cast", "static_cast",
        "dynamic_cast", "reinterpret_cast", "co_await", "co_return", "co_yield"};
    if (keywords.count(id)) return "is a C++ keyword";
    return "";
}

// The names the header defines for itself, from the prefix: the functions
// first, so that a clash is reported on the name a user would recognise.
std::vector<std::string> own_names(const Header &h) {
    const std::string &p = h.p;
    std::vector<std::string> names = {p + "_quantize_input", p + "_infer",  p + "_infer_arena",
                                      p + "_dequantize_output", p + "_run", p + "_arena"};
    if (h.image) {
        names.push_back(p + "_quantize_input_u8");
        names.push_back(p + "_input_lut");
    }
    if (h.classifier) names.push_back(p + "_predict");
    for (const char *macro : {"_H", "_INPUT_SIZE", "_OUTPUT_SIZE", "_FLASH_BYTES", "_ARENA_BYTES", "_MACS",
                              "_IMPLEMENTATION", "_IMPLEMENTED", "_ALIGNED"})
        names.push_back(h.P + macro);
    return names;
}

// The identifier of a step's constants: <prefix>_<layer name>.
std::string step_id(const Header &h, const Step &s) { return h.p + "_" + s.name; }

// The names step `s` defines: a conv2d or linear step its arrays and
// parameter struct, a pooling step its parameter struct, others nothing.
std::vector<std::string> step_names(const Header &h, const Step &s) {
    const std::string id = step_id(h, s);
    if (s.has_weights()) return {id, id + "_weights", id + "_bias", id + "_multiplier", id + "_shift"};
    if (s.runs(LayerType::MaxPool2d) || s.runs(LayerType::AvgPool2d) || s.runs(LayerType::GlobalAvgPool2d)) return {id};
    return {};
}

// Refuses a header that would define a name twice or a name that is not
// its own to define. `default_prefix`: the prefix is the model's name.
void check_names(const Header &h, bool default_prefix) {
    std::map<std::string, std::string> definer; // name -> the layer defining it, "" for the header
    for (const std::string &id : own_names(h)) {
        const std::string why = reserved_by(id);
        if (!why.empty())
            throw Error("export: prefix '" + h.p + "' would define " + id + ", which " + why +
                        "; choose another prefix" +
                        (default_prefix ? " (it is the model's name in lower case)" : ""));
        definer[id] = "";
    }
    for (size_t k = 1; k < h.cm.steps.size(); ++k) {
        const std::string &layer = h.cm.steps[k].name;
        const std::string what = "export: layer '" + layer + "' would define ";
        for (const std::string &id : step_names(h, h.cm.steps[k])) {
            const std::string why = reserved_by(id);
            if (!why.empty()) throw Error(what + id + ", which " + why + "; rename the layer");
            const auto found = definer.find(id);
            if (found != definer.end() && found->second.empty())
                throw Error(what + id + ", which the header itself defines; rename the layer");
            if (found != definer.end())
                throw Error(what + id + ", which layer '" + found->second + "' also defines; rename one of them");
            definer[id] = layer;
        }
    }
}

// ---- the opening comment: what it is, how to use it, what it costs ----

void write_usage(std::ostringstream &o, const Header &h) {
    const Model &m = h.cm.model;
    const std::string &p = h.p, &P = h.P;
    o << "/*\n * " << p << ".h - the model '" << m.name << "' compressed for microcontrollers by Deep MicroCompression.\n"
      << " * Generated by the engine (dmc export); do not edit.\n"
      << " *\n"
      << " * Integer-only inference: packed weights in flash (const), one activation\n"
      << " * arena (static, or the caller's), no heap, no float in " << p << "_infer(). C99 and C++11.\n"
      << " * In exactly one C or C++ file:\n"
      << " *     #define " << P << "_IMPLEMENTATION\n"
      << " *     #include \"" << p << ".h\"\n"
      << " * and include it without the define wherever else it is used.\n"
      << " * On Cortex-M4/M7 the dot products use the DSP extension (SMLAD); define\n"
      << " * DMC_NO_DSP to use plain C there too. Both give the same integers.\n"
      << " *\n"
      << " * API\n"
      << " *   " << P << "_INPUT_SIZE    " << h.input_size << "  int8 inputs (" << m.input.shape.str()
      << ", channel fastest)\n"
      << " *   " << P << "_OUTPUT_SIZE   " << h.output_size << "\n"
      << " *   " << P << "_FLASH_BYTES   " << h.report.flash_bytes
      << "  packed weights + int32 biases + requantization constants\n"
      << " *   " << P << "_ARENA_BYTES   " << h.cm.plan.arena_bytes << "  the activation arena (RAM)\n"
      << " *   " << P << "_MACS          " << h.report.macs << "  multiply-accumulates per inference\n"
      << " *   void " << p << "_quantize_input(const float *x, int8_t *q);\n"
      << " *       raw input x (min " << m.input.min << ", max " << m.input.max << "; the header applies the model's\n"
      << " *       normalisation (x - " << m.input.mean << ") / " << m.input.std << ") to int8\n";
    if (h.image)
        o << " *   void " << p << "_quantize_input_u8(const uint8_t *pixels, int8_t *q);\n"
          << " *       8-bit pixels (raw x = pixel / 255) to int8, by table: no float\n";
    o << " *   void " << p << "_infer(const int8_t *q_in, int8_t *q_out);\n"
      << " *       the model, integer only, in the header's static arena\n"
      << " *   void " << p << "_infer_arena(const int8_t *q_in, int8_t *q_out, void *arena);\n"
      << " *       the same in the caller's arena of " << P << "_ARENA_BYTES bytes, which it\n"
      << " *       uses whole and alone while it runs: two models, or two threads, each\n"
      << " *       with an arena of its own, run at once. Any alignment will do (every\n"
      << " *       access is a byte or a memcpy); 4-byte aligned, as the static arena\n"
      << " *       is, suits Cortex-M best\n"
      << " *   float " << p << "_dequantize_output(int8_t q, int index);\n";
    if (h.classifier)
        o << " *   int " << p << "_predict(const float *x);\n"
          << " *       the class: argmax of the outputs, a tie going to the lowest index\n"
          << " *       (in the static arena)\n";
    o << " *\n";
}

void write_figures(std::ostringstream &o, const Header &h) {
    const Report &report = h.report;
    const Model &m = h.cm.model;
    if (report.images > 0) {
        char line[200];
        if (h.classifier)
            std::snprintf(line, sizeof line, " * Test accuracy (%s, %d inputs): float model %.2f%%, this header %.2f%%\n",
                          m.dataset.c_str(), report.images, 100.0 * report.float_accuracy, 100.0 * report.accuracy);
        else
            std::snprintf(line, sizeof line, " * Mean squared error (%s, %d inputs): float model %.6f, this header %.6f\n",
                          m.dataset.c_str(), report.images, report.float_mse, report.mse);
        o << line << " *\n";
    }
    Report table = report;
    table.images = 0; // the accuracy line is above
    o << comment_block(report_to_text(table)) << " *\n"
      << " * Reproduce with the engine's command-line tool:\n"
      << " *   dmc export --model " << m.name << ".json --config " << h.p << ".config.json --prefix " << h.p
      << " -o " << h.p << ".h\n"
      << " * where " << h.p << ".config.json holds\n"
      << " *   " << config_to_json(h.cm.config) << "\n"
      << " */\n";
}

// ---- declarations ----

void write_declarations(std::ostringstream &o, const Header &h) {
    const std::string &p = h.p, &P = h.P;
    o << "#ifndef " << P << "_H\n#define " << P << "_H\n\n"
      << "#include <stddef.h>\n#include <stdint.h>\n\n"
      << "#define " << P << "_INPUT_SIZE " << h.input_size << "\n"
      << "#define " << P << "_OUTPUT_SIZE " << h.output_size << "\n"
      << "#define " << P << "_FLASH_BYTES " << h.report.flash_bytes << "\n"
      << "#define " << P << "_ARENA_BYTES " << h.cm.plan.arena_bytes << "\n"
      << "#define " << P << "_MACS " << h.report.macs << "\n\n"
      << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
      << "void " << p << "_quantize_input(const float *x, int8_t *q);\n";
    if (h.image) o << "void " << p << "_quantize_input_u8(const uint8_t *pixels, int8_t *q);\n";
    o << "void " << p << "_infer(const int8_t *q_in, int8_t *q_out);\n"
      << "void " << p << "_infer_arena(const int8_t *q_in, int8_t *q_out, void *arena);\n"
      << "float " << p << "_dequantize_output(int8_t q, int index);\n";
    if (h.classifier) o << "int " << p << "_predict(const float *x);\n";
    o << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << P << "_H */\n\n";
}

// ---- implementation: one step's constants, and its call in <p>_run() ----

// Weights, bias, requantization constants and the parameter struct of an
// integer conv2d or linear step.
void write_weight_layer(std::ostringstream &o, const Header &h, const Step &s, const std::string &id) {
    const QuantizedWeights &w = s.weights;
    o << "/* " << s.name << ": " << op_name(s) << " " << s.input.str() << " -> " << s.output.str() << ", "
      << w.bits << "-bit weights" << (s.fused_relu ? ", ReLU fused" : "")
      << (s.fused_relu && std::isfinite(s.relu_max) ? " (max " + float_literal(s.relu_max) + ")" : "") << " */\n"
      << "static const uint8_t " << id << "_weights[" << w.bytes() << "] " << h.P << "_ALIGNED = {";
    write_values(o, w.packed.data(), size_t(w.bytes()), true, 16);
    o << "};\nstatic const int32_t " << id << "_bias[" << s.bias.size() << "] = {";
    write_values(o, s.bias.data(), s.bias.size(), false, 8);
    o << "};\nstatic const int32_t " << id << "_multiplier[" << s.multiplier.size() << "] = {";
    write_values(o, s.multiplier.data(), s.multiplier.size(), false, 6);
    o << "};\nstatic const int8_t " << id << "_shift[" << s.shift.size() << "] = {";
    write_values(o, s.shift.data(), s.shift.size(), false, 16);
    o << "};\n";
    const std::string constants =
        id + "_weights, " + id + "_bias, " + id + "_multiplier, " + id + "_shift,\n    ";
    if (s.runs(LayerType::Conv2d)) {
        o << "static const dmc_conv2d_s8 " << id << " = {\n    " << s.input.height << ", " << s.input.width << ", "
          << s.input.channels << ", /* in h, w, c */\n    " << s.output.height << ", " << s.output.width << ", "
          << s.output.channels << ", /* out h, w, c */\n    " << s.source.kernel << ", " << s.source.stride << ", "
          << s.source.padding << ", /* kernel, stride, padding */\n    " << w.bits << ", /* bits */\n    "
          << constants << s.in_q.zero_point << ", " << s.out_q.zero_point << ", /* input, output zero point */\n    "
          << s.act_min << ", " << s.act_max << " /* activation min, max */\n};\n\n";
    } else if (s.runs(LayerType::DepthwiseConv2d)) {
        o << "static const dmc_depthwise_conv2d_s8 " << id << " = {\n    " << s.input.height << ", "
          << s.input.width << ", " << s.input.channels << ", /* in h, w, channels */\n    " << s.output.height
          << ", " << s.output.width << ", /* out h, w */\n    " << s.source.kernel << ", " << s.source.stride
          << ", " << s.source.padding << ", /* kernel, stride, padding */\n    " << w.bits << ", /* bits */\n    "
          << constants << s.in_q.zero_point << ", " << s.out_q.zero_point << ", /* input, output zero point */\n    "
          << s.act_min << ", " << s.act_max << " /* activation min, max */\n};\n\n";
    } else {
        o << "static const dmc_linear_s8 " << id << " = {\n    " << s.input.channels << ", " << s.output.channels
          << ", /* in, out features */\n    " << w.bits << ", /* bits */\n    " << constants << s.out_q.zero_point
          << ", /* output zero point */\n    " << s.act_min << ", " << s.act_max
          << " /* activation min, max */\n};\n\n";
    }
}

void write_pool_layer(std::ostringstream &o, const Step &s, const std::string &id) {
    o << "static const dmc_pool2d_s8 " << id << " = {\n    " << s.input.height << ", " << s.input.width << ", "
      << s.input.channels << ", /* in h, w, channels */\n    " << s.output.height << ", " << s.output.width
      << ", /* out h, w */\n    " << s.source.kernel << ", " << s.source.stride << ", " << s.source.padding
      << ", /* window, stride, padding */\n    " << s.in_q.zero_point << ", " << s.pool_divisor.multiplier << ", "
      << s.pool_divisor.shift << " /* zero point; average: 1 / window^2 */\n};\n\n";
}

void write_global_pool_layer(std::ostringstream &o, const Step &s, const std::string &id) {
    o << "static const dmc_global_avgpool2d_s8 " << id << " = {\n    " << s.input.height << ", " << s.input.width
      << ", " << s.input.channels << ", /* in h, w, channels */\n    " << s.in_q.zero_point << ", "
      << s.pool_divisor.multiplier << ", " << s.pool_divisor.shift << " /* zero point; 1 / (h * w) */\n};\n\n";
}

// Step k's constants into o; returns its line in <p>_run(), which gets the
// arena as `arena`.
std::string write_step(std::ostringstream &o, const Header &h, size_t k) {
    const Step &s = h.cm.steps[k];
    const BufferPlan::Entry &e = h.cm.plan.steps[k];
    const std::string id = step_id(h, s);
    const std::string in = "arena + " + std::to_string(e.input_offset);
    const std::string out = "arena + " + std::to_string(e.output_offset);
    const std::string scratch = "arena + " + std::to_string(e.scratch_offset);
    if (s.conversion != Conversion::None) throw Error("export: unexpected float step '" + s.name + "'");
    switch (s.type) {
    case LayerType::Conv2d:
        write_weight_layer(o, h, s, id);
        return "    dmc_conv2d_s8_run(&" + id + ", " + in + ", " + out + ", " + scratch + ");\n";
    case LayerType::Linear:
        write_weight_layer(o, h, s, id);
        return "    dmc_linear_s8_run(&" + id + ", " + in + ", " + out + ");\n";
    case LayerType::MaxPool2d:
    case LayerType::AvgPool2d:
        write_pool_layer(o, s, id);
        return std::string("    dmc_") + (s.type == LayerType::MaxPool2d ? "max" : "avg") + "pool2d_s8_run(&" + id + ", " + in +
               ", " + out + ");\n";
    case LayerType::DepthwiseConv2d:
        write_weight_layer(o, h, s, id);
        return "    dmc_depthwise_conv2d_s8_run(&" + id + ", " + in + ", " + out + ");\n";
    case LayerType::GlobalAvgPool2d:
        write_global_pool_layer(o, s, id);
        return "    dmc_global_avgpool2d_s8_run(&" + id + ", " + in + ", " + out + ");\n";
    case LayerType::ReLU:
        if (s.act_max != DMC_ACT_MAX) // a ReLU6: the clamp (a plain ReLU's header stays as it was)
            return "    dmc_clamp_s8_run(" + in + ", " + out + ", " + std::to_string(s.input.size()) + ", " +
                   std::to_string(s.in_q.zero_point) + ", " + std::to_string(s.act_max) + ");\n";
        return "    dmc_relu_s8_run(" + in + ", " + out + ", " + std::to_string(s.input.size()) + ", " +
               std::to_string(s.in_q.zero_point) + ");\n";
    case LayerType::Flatten: return "    /* " + s.name + ": flatten, nothing to move (HWC is flat) */\n";
    }
    throw Error("export: unexpected float step '" + s.name + "'");
}

// The kernels, every step's constants, the input table, the static arena
// and <p>_run().
void write_model(std::ostringstream &o, const Header &h) {
    const std::string &p = h.p, &P = h.P;
    o << "#if defined(" << P << "_IMPLEMENTATION) && !defined(" << P << "_IMPLEMENTED)\n"
      << "#define " << P << "_IMPLEMENTED\n\n#include <string.h>\n\n"
      << "/* ===== The engine's integer kernels (engine/kernels/), verbatim ===== */\n\n"
      << kernels_for(h.cm) << "/* ===== " << p << ": parameters (const: they stay in flash) ===== */\n\n"
      << "#if defined(__GNUC__)\n#define " << P << "_ALIGNED __attribute__((aligned(4)))\n#else\n#define " << P
      << "_ALIGNED\n#endif\n\n";
    std::string run;
    for (size_t k = 1; k < h.cm.steps.size(); ++k) run += write_step(o, h, k);
    if (h.image) {
        o << "/* raw input pixel / 255 -> int8, for every pixel value */\nstatic const int8_t " << p
          << "_input_lut[256] = {";
        write_values(o, h.cm.input_lut, 256, false, 16);
        o << "};\n\n";
    }
    o << "/* The static activation arena (" << p << "_infer, " << p << "_predict): each step\n"
      << " * reads the tensor the previous one wrote and writes its own at the other\n"
      << " * end, with its scratch between (engine buffer plan). */\n"
      << "static int8_t " << p << "_arena[" << P << "_ARENA_BYTES] " << P << "_ALIGNED;\n\n"
      << "static void " << p << "_run(int8_t *arena)\n{\n" << run << "}\n\n";
}

// The public functions.
void write_functions(std::ostringstream &o, const Header &h) {
    const std::string &p = h.p, &P = h.P;
    const Step &quantize = h.cm.steps[0];
    const std::string mean = finite_literal(h, quantize.input_mean, "the input mean");
    const std::string inv_scale =
        finite_literal(h, quantize.input_inv_scale, "the input's quantization factor 1 / (std * scale)");
    o << "void " << p << "_quantize_input(const float *x, int8_t *q)\n{\n    int i;\n"
      << "    for (i = 0; i < " << P << "_INPUT_SIZE; ++i)\n"
      << "        q[i] = dmc_quantize_input(x[i], " << mean << ", " << inv_scale << ", "
      << quantize.out_q.zero_point << ");\n}\n\n";
    if (h.image)
        o << "void " << p << "_quantize_input_u8(const uint8_t *pixels, int8_t *q)\n{\n    int i;\n"
          << "    for (i = 0; i < " << P << "_INPUT_SIZE; ++i) q[i] = " << p << "_input_lut[pixels[i]];\n}\n\n";
    o << "void " << p << "_infer_arena(const int8_t *q_in, int8_t *q_out, void *arena)\n{\n"
      << "    int8_t *a = (int8_t *)arena;\n"
      << "    memmove(a + " << h.input_offset << ", q_in, " << P << "_INPUT_SIZE);\n"
      << "    " << p << "_run(a);\n"
      << "    memcpy(q_out, a + " << h.output_offset << ", " << P << "_OUTPUT_SIZE);\n}\n\n"
      << "void " << p << "_infer(const int8_t *q_in, int8_t *q_out)\n{\n"
      << "    " << p << "_infer_arena(q_in, q_out, " << p << "_arena);\n}\n\n";
    const QuantParams oq = h.cm.output_q();
    const std::string scale = finite_literal(h, float(oq.scale), "the output scale");
    o << "float " << p << "_dequantize_output(int8_t q, int index)\n{\n    (void)index; /* one scale for all outputs */\n"
      << "    return dmc_dequantize(q, " << scale << ", " << oq.zero_point << ");\n}\n\n";
    if (h.classifier)
        o << "int " << p << "_predict(const float *x)\n{\n"
          << "    /* quantize straight into the arena's input slot: no extra buffer */\n"
          << "    " << p << "_quantize_input(x, " << p << "_arena + " << h.input_offset << ");\n"
          << "    " << p << "_run(" << p << "_arena);\n"
          << "    return (int)dmc_argmax_s8(" << p << "_arena + " << h.output_offset << ", " << P
          << "_OUTPUT_SIZE);\n}\n\n";
    o << "#endif /* " << P << "_IMPLEMENTATION */\n";
}

} // namespace

std::string default_prefix(const Model &model) {
    std::string p = model.name;
    for (char &c : p) c = char(std::tolower(static_cast<unsigned char>(c)));
    return p;
}

std::string export_header(const CompressedModel &cm, const Report &report, const std::string &prefix_in) {
    const std::string p = prefix_in.empty() ? default_prefix(cm.model) : prefix_in;
    if (!is_c_identifier(p))
        throw Error("export: prefix '" + p + "' is not a C identifier (letters, digits, '_')");
    try {
        require_integer_only(cm.config, cm.model);
    } catch (const Error &e) {
        throw Error(std::string("export: ") + e.what());
    }
    const Header h{cm,
                   report,
                   p,
                   upper(p),
                   cm.model.task == Task::Classification,
                   cm.model.dataset == "mnist",
                   cm.model.input.shape.size(),
                   cm.output_shape().size(),
                   cm.plan.steps[0].output_offset,
                   cm.plan.steps.back().output_offset};
    check_names(h, prefix_in.empty());
    std::ostringstream o;
    write_usage(o, h);
    write_figures(o, h);
    write_declarations(o, h);
    write_model(o, h);
    write_functions(o, h);
    return o.str();
}

std::map<std::string, std::string> export_library(const CompressedModel &cm, const Report &report, const TestSet &test,
                                                  const std::string &prefix_in) {
    const std::string p = prefix_in.empty() ? default_prefix(cm.model) : prefix_in;
    std::map<std::string, std::string> files;
    files["src/" + p + ".h"] = export_header(cm, report, p);
    files["src/" + p + ".c"] = "/* The one translation unit that holds " + p + "'s implementation. */\n#define " +
                               upper(p) + "_IMPLEMENTATION\n#include \"" + p + ".h\"\n";

    // The example classifies (or predicts) test input 0, embedded.
    std::ostringstream ex;
    const bool image = !test.pixels.empty();
    const size_t n = size_t(test.shape.size());
    ex << "/* Runs " << p << " on one embedded test input and prints the result. */\n"
       << "#include <stdio.h>\n\n#include \"" << p << ".h\"\n\n";
    if (image) {
        ex << "/* " << test.name << " test image 0 (label " << int(test.labels[0]) << ") */\n"
           << "static const uint8_t image[" << upper(p) << "_INPUT_SIZE] = {";
        std::ostringstream values;
        write_values(values, test.pixels.data(), n, false, 28);
        ex << values.str() << "};\n\n";
    } else {
        ex << "/* " << test.name << " test input 0 */\nstatic const float x[" << n << "] = {";
        for (size_t i = 0; i < n; ++i) ex << (i ? ", " : " ") << test.raw[i] << "f";
        ex << " };\n\n";
    }
    ex << "int main(void)\n{\n    int8_t q[" << upper(p) << "_INPUT_SIZE], out[" << upper(p) << "_OUTPUT_SIZE];\n    int i;\n";
    if (image) {
        ex << "    " << p << "_quantize_input_u8(image, q);\n";
    } else {
        ex << "    " << p << "_quantize_input(x, q);\n";
    }
    ex << "    " << p << "_infer(q, out);\n";
    if (cm.model.task == Task::Classification) {
        ex << "    {\n        int best = 0;\n        for (i = 1; i < " << upper(p) << "_OUTPUT_SIZE; ++i)\n"
           << "            if (out[i] > out[best]) best = i;\n"
           << "        printf(\"class %d (expected " << int(test.labels[0]) << ")\\n\", best);\n"
           << "        return best == " << int(test.labels[0]) << " ? 0 : 1;\n    }\n";
    } else {
        ex << "    for (i = 0; i < " << upper(p) << "_OUTPUT_SIZE; ++i)\n"
           << "        printf(\"output %d: %f (target %f)\\n\", i, (double)" << p
           << "_dequantize_output(out[i], i), (double)" << test.targets[0] << ");\n    return 0;\n";
    }
    ex << "}\n";
    files["examples/main.c"] = ex.str();

    files["CMakeLists.txt"] =
        "# " + p + ": the compressed model as a static library, and an example.\n"
        "cmake_minimum_required(VERSION 3.10)\nproject(" + p + " C)\n\n"
        "add_library(" + p + " STATIC src/" + p + ".c)\n"
        "target_include_directories(" + p + " PUBLIC src)\n\n"
        "add_executable(" + p + "_example examples/main.c)\n"
        "target_link_libraries(" + p + "_example PRIVATE " + p + ")\n";
    files["library.properties"] = "name=" + p + "\nversion=1.0.0\nauthor=Deep MicroCompression (generated)\n"
                                  "maintainer=you\nsentence=The model '" + cm.model.name +
                                  "', compressed: integer-only inference from flash.\n"
                                  "paragraph=Generated by dmc export; see src/" + p + ".h.\n"
                                  "category=Data Processing\nurl=https://example.invalid\narchitectures=*\n"
                                  "includes=" + p + ".h\n";
    return files;
}

} // namespace dmc
