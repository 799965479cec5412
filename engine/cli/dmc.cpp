// dmc - the engine's command-line tool. Each command is a function; the
// options of each are listed in its help text, and anything else is an error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cli.h"
#include "dmc/dmc.h"
#include "dmc/export.h"

namespace {

using namespace dmc;
using namespace dmc::cli;

const char *kUsage =
    "dmc - Deep MicroCompression: prune, quantize and run small neural networks\n"
    "      with integer-only kernels, as a microcontroller would.\n"
    "\n"
    "usage: dmc <command> [options]      (dmc <command> --help for its options)\n"
    "\n"
    "commands:\n"
    "  info    layers, shapes and parameters of a model file\n"
    "  eval    compress a model with a config and report accuracy on MNIST, size,\n"
    "          memory and per-layer errors\n"
    "  sweep   accuracy of one layer compressed alone, against bits and keep ratio\n"
    "  search  the most accurate config within a flash / RAM / MAC budget, and\n"
    "          the front of accuracy against it\n"
    "  bench   inference speed: float reference and integer models at 8, 4, 2 bits\n"
    "  infer   write the compressed model's raw outputs (and parameters) to files\n"
    "  export  write the microcontroller library: one C/C++ header, or a folder\n"
    "  data    write the MNIST files the browser workbench loads (uncompressed)\n"
    "  import  convert an ONNX model (torch.onnx.export) into a model file\n"
    "\n"
    "MNIST is read from --mnist DIR or the MNIST_DIR environment variable (the\n"
    "folder with the four IDX files, .gz or decompressed).\n"
    "\n"
    "--model takes a model file or an ONNX file; for ONNX, --mean M --std S\n"
    "--range MIN,MAX --task T --dataset D say what the file does not (dmc import --help).\n";

const char *kInfoHelp =
    "usage: dmc info --model FILE\n"
    "\n"
    "Prints each layer with its input and output shape, parameters and MACs.\n";

const char *kEvalHelp =
    "usage: dmc eval --model FILE [--config FILE] [--mnist DIR] [--limit N] [--json]\n"
    "\n"
    "Compresses the model as the config says (without one: every layer 8-bit,\n"
    "nothing pruned), calibrates on 1,000 training images, and evaluates the\n"
    "float and the compressed model on the 10,000 test images.\n"
    "\n"
    "  --model FILE   model file (engine/MODEL_FORMAT.md)\n"
    "  --config FILE  compression config (JSON: default, layers, prune_norm)\n"
    "  --mnist DIR    MNIST folder (default: $MNIST_DIR)\n"
    "  --limit N      evaluate the first N test images only\n"
    "  --json         print one JSON object instead of the table\n";

const char *kSweepHelp =
    "usage: dmc sweep --model FILE --layer NAME [--bits LIST] [--keep LIST]\n"
    "                 [--mnist DIR] [--limit N] [--json]\n"
    "\n"
    "Compresses one layer alone (all others stay float) and measures test\n"
    "accuracy against its bit width (keep 1) and against its keep ratio\n"
    "(float weights): which layers can take more compression.\n"
    "\n"
    "  --layer NAME   a conv2d or linear layer of the model\n"
    "  --bits LIST    comma-separated bit widths (default 8,4,2)\n"
    "  --keep LIST    comma-separated keep ratios (default 1,0.75,0.5,0.25,0.1)\n"
    "  --limit N      evaluate the first N test images only\n"
    "  --json         print one JSON object instead of the table\n";

const char *kBenchHelp =
    "usage: dmc bench --model FILE [--mnist DIR] [--limit N] [--repeat R] [--batch B] [--json]\n"
    "\n"
    "Times inference over the MNIST test images on one thread: the float\n"
    "reference one image at a time, then the model with every layer at 8, 4\n"
    "and 2 bits (nothing pruned), one image at a time and in batches of B\n"
    "images (each step over the whole batch before the next: what the\n"
    "workbench does to evaluate a test set). Prints microseconds per image\n"
    "(best of R runs), images per second, the speed-up over the float\n"
    "reference, and accuracy (a batched run's must equal the one-at-a-time\n"
    "run's), with the kernel variants this CPU runs (DMC_NO_VNNI=1 or\n"
    "DMC_NO_AVX2=1 in the environment times the slower ones). (engine/bench/\n"
    "bench.sh also times ONNX Runtime on the same model.)\n"
    "\n"
    "  --limit N      time the first N test images only (default all)\n"
    "  --repeat R     runs per model, the fastest counts (default 3)\n"
    "  --batch B      images per batch, 1 to 4096 (default 64)\n"
    "  --json         print one JSON object instead of the table\n";

const char *kInferHelp =
    "usage: dmc infer --model FILE [--config FILE] [--mnist DIR] [--limit N] -o FILE\n"
    "                 [--params FILE]\n"
    "\n"
    "Compresses the model as dmc eval does and runs it on the test inputs,\n"
    "writing its raw outputs to -o: count x outputs values, int8 when the\n"
    "output layer is integer, else float32 little-endian. Prints one JSON line\n"
    "describing the file (count, outputs, dtype, scale, zero_point). Used by\n"
    "python/'s parity check.\n"
    "\n"
    "  -o FILE         where to write the outputs\n"
    "  --params FILE   also write every step's integer parameters as JSON\n";

const char *kExportHelp =
    "usage: dmc export --model FILE [--config FILE] [--prefix P] [--mnist DIR]\n"
    "                  (-o OUT.h | --lib DIR)\n"
    "\n"
    "Compresses the model as dmc eval does, evaluates it, and writes the\n"
    "microcontroller library for exactly that configuration: one self-contained\n"
    "C99/C++ header with the packed weights (const, in flash), the engine's own\n"
    "integer kernels, a static activation arena and P_infer(). Every conv2d and\n"
    "linear layer must be integer (bits 2, 4 or 8).\n"
    "\n"
    "  --prefix P   identifier prefix (default: the model name in lower case)\n"
    "  -o OUT.h     write the header\n"
    "  --lib DIR    write a library folder: src/P.h, src/P.c, examples/main.c\n"
    "               (classifies one embedded test input), CMakeLists.txt and an\n"
    "               Arduino library.properties\n";

const char *kDataHelp =
    "usage: dmc data [--mnist DIR] --out DIR\n"
    "\n"
    "Writes, uncompressed, what the browser workbench needs of MNIST: the test\n"
    "set (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) and the 1,000\n"
    "calibration images the engine draws from the training set, in the order\n"
    "it draws them (calibration-images-idx3-ubyte, calibration-labels-idx1-ubyte).\n";

bool wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; ++i)
        if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") return true;
    return false;
}

int cmd_info(int argc, char **argv) {
    const Options o(argc, argv, with_model_options({"--model"}), {});
    const Model m = load_model_option(o);
    std::printf("model %s: input %s (raw in [%g, %g], normalised (x - %g) / %g)\n", m.name.c_str(),
                m.input.shape.str().c_str(), double(m.input.min), double(m.input.max),
                double(m.input.mean), double(m.input.std));
    std::printf("\n%-12s %-10s %-10s %-10s %10s %10s\n", "layer", "type", "input", "output",
                "params", "MACs");
    int64_t macs = 0;
    for (const Layer &l : m.layers) {
        const int64_t params = int64_t(l.weight.size() + l.bias.size());
        std::printf("%-12s %-10s %-10s %-10s %10lld %10lld\n", l.name.c_str(), layer_type_name(l.type),
                    l.input.str().c_str(), l.output.str().c_str(), (long long)params,
                    (long long)l.macs());
        macs += l.macs();
    }
    std::printf("\ntotal: %lld parameters (%lld bytes as float32), %lld MACs per inference\n",
                (long long)m.parameters(), (long long)(4 * m.parameters()), (long long)macs);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const Options o(argc, argv, with_model_options({"--model", "--config", "--mnist", "--limit"}), {"--json"});
    const Model model = load_model_option(o);
    const CompressionConfig config =
        o.has("--config") ? load_config(o.get("--config")) : CompressionConfig{};
    validate_config(config, model);
    const int limit = o.integer("--limit", 0, 1, 100000000);
    const TestSet test = load_test_set(model, o.get("--mnist"));
    const CompressedModel cm = compress_model(model, config, load_calibration_set(model, o.get("--mnist")));
    const Report report = evaluate(cm, test, EvalOptions{limit, true, terminal_progress("evaluating")});
    if (o.has("--json")) {
        std::fputs(report_to_json(report).c_str(), stdout);
    } else {
        std::printf("model %s, config %s\n", model.name.c_str(), config_to_json(config).c_str());
        std::fputs(report_to_text(report).c_str(), stdout);
    }
    return 0;
}

int cmd_sweep(int argc, char **argv) {
    const Options o(argc, argv, with_model_options({"--model", "--layer", "--bits", "--keep", "--mnist", "--limit"}),
                    {"--json"});
    const Model model = load_model_option(o);
    const std::string layer = o.required("--layer");
    const std::vector<int> bits = integer_list(o.get("--bits", "8,4,2"), "--bits", 2, 32);
    for (int b : bits)
        if (!is_supported_bits(b)) throw Error("option --bits: " + std::to_string(b) + " is not one of 2, 4, 8, 32");
    const std::vector<double> keeps = number_list(o.get("--keep", "1,0.75,0.5,0.25,0.1"), "--keep", 0.0, 1.0);
    for (double k : keeps)
        if (k == 0.0) throw Error("option --keep: 0 is outside (0, 1]");
    if (model.find_layer(layer) == model.output_layer())
        for (double k : keeps)
            if (k < 1.0) throw Error("layer '" + layer + "' is the output layer; it cannot be pruned");
    const int limit = o.integer("--limit", 0, 1, 100000000);
    const Sweep s = sweep_layer(model, layer, bits, keeps, load_calibration_set(model, o.get("--mnist")),
                                load_test_set(model, o.get("--mnist")), limit, terminal_progress("configurations"));
    std::fputs((o.has("--json") ? sweep_to_json(s) : sweep_to_text(s)).c_str(), stdout);
    return 0;
}

namespace {

// The best of `repeat` timings of run(), in microseconds per image.
template <typename Run> double best_us(int repeat, int n, Run run) {
    double best = 1e300;
    for (int r = 0; r < repeat; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        run();
        const auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double, std::micro>(t1 - t0).count() / n);
    }
    return best;
}

// The score (dmc::score's) of the first n test inputs (index: 0 .. n - 1)
// from the batched path's outputs.
double batched_score(const CompressedModel &cm, const TestSet &test, const std::vector<int> &index,
                     BatchExecutor &run) {
    const int n = int(index.size());
    double total = 0.0;
    for (int first = 0; first < n; first += run.capacity()) {
        const int count = std::min(run.capacity(), n - first);
        test.run(run, index.data() + first, count);
        for (int i = 0; i < count; ++i)
            total += cm.model.task == Task::Classification
                         ? double(predicted_class(cm, run.output(i)) == test.labels[size_t(first + i)])
                         : squared_error(cm, run.output(i), test, first + i);
    }
    return cm.model.task == Task::Classification ? total / n : total / (double(n) * double(cm.output_shape().size()));
}

} // namespace

int cmd_bench(int argc, char **argv) {
    const Options o(argc, argv, with_model_options({"--model", "--mnist", "--limit", "--repeat", "--batch"}),
                    {"--json"});
    const Model model = load_model_option(o);
    const int limit = o.integer("--limit", 0, 1, 100000000);
    const int repeat = o.integer("--repeat", 3, 1, 1000);
    const int batch = o.integer("--batch", 64, 1, 4096);
    const TestSet test = load_test_set(model, o.get("--mnist"));
    const CalibrationSet calibration = load_calibration_set(model, o.get("--mnist"));
    const int n = limit > 0 && limit < test.count ? limit : test.count;
    const bool classifier = model.task == Task::Classification;
    std::vector<int> index(static_cast<size_t>(n)); // the test inputs in order, for the batched runs
    for (int i = 0; i < n; ++i) index[size_t(i)] = i;

    struct Run {
        std::string name;
        int bits, batch;
        double us_per_image, score;
    };
    std::vector<Run> runs;
    for (int bits : {kFloatBits, 8, 4, 2}) {
        CompressionConfig config;
        config.defaults.bits = bits;
        const CompressedModel cm =
            bits == kFloatBits ? float_reference(model) : compress_model(model, config, calibration);
        const std::string name = bits == kFloatBits ? "float" : "int" + std::to_string(bits);
        Executor run(cm);
        const double one = best_us(repeat, n, [&] {
            for (int i = 0; i < n; ++i) test.run(run, i);
        });
        const double s = score(cm, test, limit);
        runs.push_back({name, bits, 1, one, s});
        if (bits == kFloatBits) continue;
        BatchExecutor batched(cm, std::min(batch, n));
        const double many = best_us(repeat, n, [&] {
            for (int first = 0; first < n; first += batched.capacity())
                test.run(batched, index.data() + first, std::min(batched.capacity(), n - first));
        });
        const double batched_s = batched_score(cm, test, index, batched);
        if (batched_s != s)
            throw Error("bench: " + name + " in batches scores " + std::to_string(batched_s) + ", one at a time " +
                        std::to_string(s) + ": the two paths disagree");
        runs.push_back({name + ", batch " + std::to_string(batched.capacity()), bits, batched.capacity(), many, s});
    }
    const double float_us = runs[0].us_per_image;
    if (o.has("--json")) {
        std::printf("{\"model\": \"%s\", \"images\": %d, \"repeat\": %d, \"threads\": 1, \"kernels\": \"%s\", "
                    "\"runs\": [",
                    model.name.c_str(), n, repeat, kernel_variants().c_str());
        for (size_t i = 0; i < runs.size(); ++i)
            std::printf("%s\n  {\"name\": \"%s\", \"bits\": %d, \"batch\": %d, \"us_per_image\": %.3f, "
                        "\"images_per_second\": %.1f, \"speedup_vs_float\": %.3f, \"%s\": %.6g}",
                        i ? "," : "", runs[i].name.c_str(), runs[i].bits, runs[i].batch, runs[i].us_per_image,
                        1e6 / runs[i].us_per_image, float_us / runs[i].us_per_image,
                        classifier ? "accuracy" : "mse", runs[i].score);
        std::printf("\n]}\n");
        return 0;
    }
    std::printf("%s: %d test inputs, one thread, best of %d runs%s\nkernels: %s\n\n", model.name.c_str(), n, repeat,
                classifier ? " (accuracy in %)" : "", kernel_variants().c_str());
    std::printf("%-16s %12s %14s %12s %10s\n", "model", "us/input", "inputs/s", "vs float",
                classifier ? "accuracy" : "MSE");
    for (const Run &r : runs)
        std::printf("%-16s %12.2f %14.0f %11.2fx %10.6g\n", r.name.c_str(), r.us_per_image, 1e6 / r.us_per_image,
                    float_us / r.us_per_image, classifier ? 100.0 * r.score : r.score);
    return 0;
}

int cmd_infer(int argc, char **argv) {
    const Options o(argc, argv, with_model_options({"--model", "--config", "--mnist", "--limit", "-o", "--params"}), {});
    const Model model = load_model_option(o);
    const CompressionConfig config =
        o.has("--config") ? load_config(o.get("--config")) : CompressionConfig{};
    validate_config(config, model);
    const std::string out_path = o.required("-o");
    const int limit = o.integer("--limit", 0, 1, 100000000);
    const TestSet test = load_test_set(model, o.get("--mnist"));
    const CompressedModel cm = compress_model(model, config, load_calibration_set(model, o.get("--mnist")));
    const int n = limit > 0 && limit < test.count ? limit : test.count;
    const int64_t outputs = cm.output_shape().size();
    const size_t value_bytes = cm.output_integer() ? 1 : 4;
    std::string bytes;
    bytes.reserve(size_t(n * outputs) * value_bytes);
    Executor run(cm);
    for (int i = 0; i < n; ++i) {
        // Float outputs go out little-endian, as the model file's floats.
        const unsigned char *out = static_cast<const unsigned char *>(test.run(run, i));
        for (int64_t k = 0; k < outputs; ++k) {
            if (value_bytes == 1) {
                bytes += char(out[k]);
                continue;
            }
            uint32_t bits;
            std::memcpy(&bits, out + 4 * k, 4);
            for (int b = 0; b < 4; ++b) bytes += char((bits >> (8 * b)) & 255);
        }
    }
    write_file(out_path, bytes, "outputs");
    if (o.has("--params")) write_file(o.get("--params"), compressed_model_to_json(cm), "parameters");
    const QuantParams q = cm.output_integer() ? cm.output_q() : QuantParams{1.0, 0};
    std::printf("{\"count\": %d, \"outputs\": %lld, \"dtype\": \"%s\", \"scale\": %.17g, \"zero_point\": %d}\n", n,
                (long long)outputs, value_bytes == 1 ? "int8" : "float32", q.scale, q.zero_point);
    return 0;
}

int cmd_export(int argc, char **argv) {
    const Options o(argc, argv, with_model_options({"--model", "--config", "--mnist", "--prefix", "-o", "--lib"}), {});
    if (!o.has("-o") && !o.has("--lib")) throw Error("give -o OUT.h or --lib DIR (see --help)");
    const Model model = load_model_option(o);
    const CompressionConfig config =
        o.has("--config") ? load_config(o.get("--config")) : CompressionConfig{};
    validate_config(config, model);
    require_integer_only(config, model);
    const TestSet test = load_test_set(model, o.get("--mnist"));
    const CompressedModel cm = compress_model(model, config, load_calibration_set(model, o.get("--mnist")));
    EvalOptions options;
    options.progress = terminal_progress("evaluating");
    const Report report = evaluate(cm, test, options);
    const std::string prefix = o.get("--prefix");
    if (o.has("-o")) write_file(o.get("-o"), export_header(cm, report, prefix), "header");
    if (o.has("--lib")) {
        const std::string dir = o.get("--lib");
        for (const auto &file : export_library(cm, report, test, prefix)) {
            const std::string path = dir + "/" + file.first;
            make_parent_directories(path);
            write_file(path, file.second, "library file");
        }
    }
    return 0;
}

int cmd_data(int argc, char **argv) {
    const Options o(argc, argv, {"--mnist", "--out"}, {});
    const std::string dir = mnist_dir(o.get("--mnist")), out = o.required("--out");
    make_parent_directories(out + "/");
    const ImageSet train = load_mnist(dir, "train");
    write_idx(load_mnist(dir, "t10k"), out + "/t10k");
    write_idx(subset(train, calibration_indices(train.count, kCalibrationImages)), out + "/calibration");
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    // Commands with files of their own are declared in cli.h.
    const std::map<std::string, Command> commands = {
        {"info", {kInfoHelp, cmd_info}},
        {"eval", {kEvalHelp, cmd_eval}},
        {"sweep", {kSweepHelp, cmd_sweep}},
        {"bench", {kBenchHelp, cmd_bench}},
        {"infer", {kInferHelp, cmd_infer}},
        {"export", {kExportHelp, cmd_export}},
        {"data", {kDataHelp, cmd_data}},
        {"search", search_command},
        {"import", import_command},
    };
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
        std::string(argv[1]) == "help") {
        if (argc >= 3 && commands.count(argv[2])) {
            std::fputs(commands.at(argv[2]).help, stdout);
            return 0;
        }
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const auto it = commands.find(argv[1]);
    if (it == commands.end()) {
        std::fprintf(stderr, "dmc: unknown command '%s'\n\n%s", argv[1], kUsage);
        return 2;
    }
    if (wants_help(argc - 2, argv + 2)) {
        std::fputs(it->second.help, stdout);
        return 0;
    }
    try {
        return it->second.run(argc - 2, argv + 2);
    } catch (const dmc::Error &e) {
        std::fprintf(stderr, "dmc %s: error: %s\n", argv[1], e.what());
        return 1;
    } catch (const std::bad_alloc &) {
        std::fprintf(stderr, "dmc %s: error: out of memory\n", argv[1]);
        return 1;
    }
}
