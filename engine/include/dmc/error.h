// dmc/error.h - the one exception type the engine throws for bad input.
#pragma once

#include <stdexcept>
#include <string>

namespace dmc {

// Thrown for anything wrong with what the user gave us (a model file, a
// config, an IDX file, an option). The message names the problem and where
// it is, ready to print as is.
class Error : public std::runtime_error {
  public:
    explicit Error(const std::string &message) : std::runtime_error(message) {}
};

} // namespace dmc
