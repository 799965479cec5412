// kernel_sources.h - the C99 kernel headers (engine/kernels/*.h) as text,
// embedded at build time (engine/cmake/embed_kernels.cmake) (internal).
#pragma once

#include <string>
#include <vector>

namespace dmc {

struct KernelSource {
    const char *name; // "dmc_arith.h", ...
    const char *text; // the file, verbatim
};

const std::vector<KernelSource> &kernel_sources();

} // namespace dmc
