// fuzz_model.cpp - libFuzzer target: bytes as a model file (parse_model),
// then what fuzz_common.h does with an accepted model, at 8 and 4 bits.
#include <string>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dmc::Model model;
    try {
        model = dmc::parse_model(std::string(reinterpret_cast<const char *>(data), size), "fuzz model");
    } catch (const dmc::Error &) {
        return 0;
    }
    fuzz::exercise(model, dmc::CompressionConfig{});
    dmc::CompressionConfig four_bits;
    four_bits.defaults.bits = 4;
    four_bits.defaults.keep = 0.5;
    fuzz::exercise(model, four_bits);
    return 0;
}
