#include "cli.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "dmc/text.h"

namespace dmc::cli {
namespace {

// A message quotes at most this much of what the user typed.
std::string quoted(const std::string &text) { return in_quotes(text, 40); }

std::string range_text(double lo, double hi) {
    std::ostringstream s;
    s << "[" << lo << ", " << hi << "]";
    return s.str();
}

// Parses all of `text` as a finite number in [lo, hi] or throws.
double parse_number(const std::string &text, const std::string &option, double lo, double hi) {
    char *end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v))
        throw Error("option " + option + ": " + quoted(text) + " is not a number");
    if (v < lo || v > hi)
        throw Error("option " + option + ": " + quoted(text) + " is outside " + range_text(lo, hi));
    return v;
}

int parse_integer(const std::string &text, const std::string &option, int lo, int hi) {
    char *end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        throw Error("option " + option + ": " + quoted(text) + " is not an integer in [" + std::to_string(lo) +
                    ", " + std::to_string(hi) + "]");
    return int(v);
}

std::vector<std::string> split_commas(const std::string &text, const std::string &option) {
    std::vector<std::string> items;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) items.push_back(item);
    if (items.empty()) throw Error("option " + option + " is empty");
    return items;
}

} // namespace

Options::Options(int argc, char **argv, const std::set<std::string> &valued, const std::set<std::string> &flags) {
    for (int i = 0; i < argc; ++i) {
        const std::string arg = argv[i];
        if (valued.count(arg)) {
            if (i + 1 >= argc) throw Error("option " + arg + " needs a value");
            values_[arg] = argv[++i];
        } else if (flags.count(arg)) {
            values_[arg] = "1";
        } else {
            throw Error("unknown option " + quoted(arg) + " (see --help)");
        }
    }
}

std::string Options::get(const std::string &name, const std::string &fallback) const {
    const auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

std::string Options::required(const std::string &name) const {
    if (!has(name)) throw Error("missing required option " + name + " (see --help)");
    return get(name);
}

int Options::integer(const std::string &name, int fallback, int lo, int hi) const {
    return has(name) ? parse_integer(get(name), name, lo, hi) : fallback;
}

double Options::number(const std::string &name, double fallback, double lo, double hi) const {
    return has(name) ? parse_number(get(name), name, lo, hi) : fallback;
}

std::vector<double> number_list(const std::string &text, const std::string &option, double lo, double hi) {
    std::vector<double> out;
    for (const std::string &item : split_commas(text, option)) out.push_back(parse_number(item, option, lo, hi));
    return out;
}

std::vector<int> integer_list(const std::string &text, const std::string &option, int lo, int hi) {
    std::vector<int> out;
    for (const std::string &item : split_commas(text, option)) out.push_back(parse_integer(item, option, lo, hi));
    return out;
}

void make_parent_directories(const std::string &path) {
    for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
        const std::string dir = path.substr(0, at);
        if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw Error("cannot create folder '" + dir + "'");
    }
}

void write_file(const std::string &path, const std::string &text, const std::string &what) {
    std::unique_ptr<FILE, int (*)(FILE *)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!file || std::fwrite(text.data(), 1, text.size(), file.get()) != text.size())
        throw Error("cannot write " + what + " '" + path + "'");
}

Progress terminal_progress(const std::string &what) {
    if (!isatty(2)) return nullptr;
    return [what](int done, int total) {
        std::fprintf(stderr, "\r%s %d/%d%s", what.c_str(), done, total, done == total ? "\r\033[K" : "");
        std::fflush(stderr);
    };
}

std::set<std::string> with_model_options(std::set<std::string> valued) {
    valued.insert({"--mean", "--std", "--range", "--task", "--dataset"});
    return valued;
}

ImportOptions import_options(const Options &o) {
    ImportOptions options;
    if (o.has("--mean")) options.mean = float(o.number("--mean", 0.0, -1e6, 1e6));
    if (o.has("--std")) options.std = float(o.number("--std", 1.0, 1e-12, 1e6));
    if (o.has("--range")) {
        const std::vector<double> range = number_list(o.get("--range"), "--range", -1e6, 1e6);
        if (range.size() != 2 || !(range[0] < range[1]))
            throw Error("option --range: give MIN,MAX with MIN < MAX, such as 0,1");
        options.min = float(range[0]);
        options.max = float(range[1]);
    }
    const std::string task = o.get("--task", "classification");
    if (task != "classification" && task != "regression")
        throw Error("option --task: " + quoted(task) + " is not classification or regression");
    options.task = task == "classification" ? Task::Classification : Task::Regression;
    options.dataset = o.get("--dataset");
    if (!options.dataset.empty() && options.dataset != "mnist" && options.dataset != "sine")
        throw Error("option --dataset: " + quoted(options.dataset) + " is not mnist or sine");
    return options;
}

Model load_model_option(const Options &o) {
    const std::string path = o.required("--model");
    std::vector<std::string> notes;
    bool was_onnx = false;
    Model model = load_model_file(path, import_options(o), &notes, &was_onnx);
    if (!was_onnx)
        for (const char *name : {"--mean", "--std", "--range", "--task", "--dataset"})
            if (o.has(name))
                throw Error("option " + std::string(name) + " is for ONNX files; model file '" + path +
                            "' has its input spec and task inside");
    for (const std::string &line : notes) std::fprintf(stderr, "dmc: import: %s\n", line.c_str());
    return model;
}

} // namespace dmc::cli
