// cli.h - what every dmc command shares: option parsing with range checks,
// file writing and the progress line. Each command is one function,
// `int cmd_NAME(int argc, char **argv)`, with its help text beside it; main()
// in dmc.cpp lists them.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "dmc/dmc.h"

namespace dmc::cli {

// Options of one command: "--name value" pairs and "--flag"s. Anything not
// declared is an error, and so is a value out of its range: numbers are
// checked before they are converted (1e10 or nan never reaches an int).
class Options {
  public:
    Options(int argc, char **argv, const std::set<std::string> &valued, const std::set<std::string> &flags);

    bool has(const std::string &name) const { return values_.count(name) != 0; }
    std::string get(const std::string &name, const std::string &fallback = "") const;
    std::string required(const std::string &name) const;
    // An integer in [lo, hi], or `fallback` when the option is absent.
    int integer(const std::string &name, int fallback, int lo, int hi) const;
    // A finite number in [lo, hi], or `fallback` when the option is absent.
    double number(const std::string &name, double fallback, double lo, double hi) const;

  private:
    std::map<std::string, std::string> values_;
};

// "8,4,2" -> {8, 4, 2}: finite numbers, each in [lo, hi].
std::vector<double> number_list(const std::string &text, const std::string &option, double lo, double hi);
// The same, each an integer in [lo, hi].
std::vector<int> integer_list(const std::string &text, const std::string &option, int lo, int hi);

// mkdir -p of the folders above `path`.
void make_parent_directories(const std::string &path);
// Writes a whole file or throws, naming `what` it was.
void write_file(const std::string &path, const std::string &text, const std::string &what);

// One command: its --help text and its body (argv holds the options only).
struct Command {
    const char *help;
    int (*run)(int argc, char **argv);
};

// A progress line on stderr, only when stderr is a terminal (so logs and
// pipes stay clean); nullptr otherwise.
Progress terminal_progress(const std::string &what);

// Commands with files of their own.
extern const Command search_command;
extern const Command import_command;

// --model FILE: a model file or an ONNX file (by content). For ONNX the
// options --mean --std --range --task --dataset describe what the file does
// not say; with_model_options() adds them to a command's valued options.
std::set<std::string> with_model_options(std::set<std::string> valued);
ImportOptions import_options(const Options &o);
// Loads --model; an import's notes go to stderr. Refuses the ONNX options
// for a model file, whose input spec is inside it.
Model load_model_option(const Options &o);

} // namespace dmc::cli
