// cmd_import.cpp - dmc import: an ONNX file as the engine's model file.
#include <cstdio>
#include <cstring>

#include "cli.h"

namespace dmc::cli {
namespace {

const char *kImportHelp =
    "usage: dmc import MODEL.onnx -o MODEL.json [--name NAME] [--mean M --std S]\n"
    "                  [--range MIN,MAX] [--task classification|regression]\n"
    "                  [--dataset mnist|sine]\n"
    "\n"
    "Converts an ONNX model (torch.onnx.export, opsets 11 to 17) into the engine's\n"
    "model file (engine/ONNX.md lists what is imported and what is refused), prints\n"
    "what the import changed (a batch norm folded, a final softmax removed, ...) and\n"
    "the layers. Every command that takes --model also reads an ONNX file directly,\n"
    "with the same options.\n"
    "\n"
    "  -o FILE          where to write the model file\n"
    "  --name NAME      the model's name (default: the file's name as a C identifier)\n"
    "  --mean M --std S the graph's input is (raw - M) / S (default 0 and 1: raw values\n"
    "                   go in as they are; MNIST trained on normalised pixels:\n"
    "                   --mean 0.1307 --std 0.3081). A normalisation the graph itself\n"
    "                   starts with (Sub/Div or Mul/Add by numbers) is folded in too.\n"
    "  --range MIN,MAX  range of raw input values (default 0,1: MNIST's pixel / 255)\n"
    "  --task T         classification (default) or regression\n"
    "  --dataset D      mnist (default for classification) or sine (regression)\n";

// "conv1 -> relu1 -> ... -> fc2"
std::string layer_chain(const Model &m) {
    std::string s;
    for (const Layer &l : m.layers) s += (s.empty() ? "" : " -> ") + l.name;
    return s;
}

int cmd_import(int argc, char **argv) {
    // The ONNX file comes first, without an option name.
    if (argc < 1 || argv[0][0] == '-') throw Error("give the ONNX file first: dmc import MODEL.onnx -o MODEL.json");
    const std::string path = argv[0];
    std::set<std::string> valued = with_model_options({"-o", "--name"});
    const Options o(argc - 1, argv + 1, valued, {});
    const std::string out = o.required("-o");
    ImportOptions options = import_options(o);
    options.name = o.get("--name");
    std::vector<std::string> notes;
    bool was_onnx = false;
    const Model model = load_model_file(path, options, &notes, &was_onnx);
    if (!was_onnx) throw Error("'" + path + "' is not an ONNX file (it reads as a model file already)");
    save_model(model, out);
    for (const std::string &line : notes) std::printf("note: %s\n", line.c_str());
    int64_t macs = 0;
    for (const Layer &l : model.layers) macs += l.macs();
    std::printf("imported model %s: input %s, %zu layers (%s), output %s, %s parameters, %s MACs -> %s\n",
                model.name.c_str(), model.input.shape.str().c_str(), model.layers.size(), layer_chain(model).c_str(),
                model.output_shape().str().c_str(), with_commas(model.parameters()).c_str(),
                with_commas(macs).c_str(), out.c_str());
    return 0;
}

} // namespace

const Command import_command = {kImportHelp, cmd_import};

} // namespace dmc::cli
