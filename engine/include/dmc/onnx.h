// dmc/onnx.h - importing an ONNX model (engine/ONNX.md): the graph a
// framework exports (torch.onnx.export, tf2onnx) becomes the engine's float
// Model, or a dmc::Error names the node the engine cannot run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dmc/model.h"

namespace dmc {

// What an ONNX file does not say and the model file needs.
struct ImportOptions {
    std::string name;                // empty: the graph's name, made a C identifier
    std::optional<float> mean, std;  // the graph's input is (raw - mean) / std (default 0, 1)
    std::optional<float> min, max;   // range of raw input values (default [0, 1])
    Task task = Task::Classification;
    std::string dataset;             // empty: mnist for classification, sine for regression
};

// Converts a serialised ONNX ModelProto; `notes` (if given) receives one
// line per change the import made that a user should know of (a softmax
// removed, a batch norm folded, the input normalisation found).
Model import_onnx(const std::string &bytes, const ImportOptions &options,
                  std::vector<std::string> *notes = nullptr);

// True when the bytes read as an ONNX ModelProto (by content: protobuf
// fields of a ModelProto with a graph), false for JSON or anything else.
bool looks_like_onnx(const std::string &bytes);

// Reads a model file or an ONNX file, told apart by content (a file named
// .onnx is always read as ONNX). `options` apply to ONNX only; an empty
// name becomes the file's name as a C identifier.
// `was_onnx` (if given) says which it was.
Model load_model_file(const std::string &path, const ImportOptions &options = {},
                      std::vector<std::string> *notes = nullptr, bool *was_onnx = nullptr);

// `text` as a C identifier: letters, digits and '_', starting with a
// letter, at most 64 characters ("lenet-5 v2" -> "lenet_5_v2").
std::string c_identifier(const std::string &text);

} // namespace dmc
