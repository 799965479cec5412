// dmc/export.h - the microcontroller library: one self-contained C99/C++
// header holding a compressed model's packed weights, the engine's own
// integer kernels (the same source, embedded at build time), a static
// activation arena sized by the buffer plan, and the inference function.
#pragma once

#include <map>
#include <string>

#include "dmc/compressed_model.h"
#include "dmc/dataset.h"
#include "dmc/evaluate.h"

namespace dmc {

// The identifier prefix of a model's header: its name in lower case.
std::string default_prefix(const Model &model);

// The header's text. Every conv2d/linear layer must be integer (bits 2-8);
// a layer left in float is refused with dmc::Error. `report` (from
// evaluate()) fills the header's opening comment: accuracy, and per layer
// bits, channels kept, flash, errors and MACs. The text depends only on
// the model, the config and the report, never on paths or time, so the
// browser and the CLI produce the same bytes.
std::string export_header(const CompressedModel &model, const Report &report,
                          const std::string &prefix = "");

// A library folder around the header: file name (with sub-folders) to
// contents. src/<prefix>.h, src/<prefix>.c (the one implementation file),
// examples/main.c (classifies test input 0 of `test`, embedded), a
// CMakeLists.txt and an Arduino library.properties.
std::map<std::string, std::string> export_library(const CompressedModel &model, const Report &report,
                                                  const TestSet &test, const std::string &prefix = "");

} // namespace dmc
