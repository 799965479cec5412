// fuzz_onnx.cpp - libFuzzer target: bytes as an ONNX file (import_onnx:
// the protobuf wire reader, the ModelProto decoder and the importer), then
// what fuzz_common.h does with an imported model, at 8 and 4 bits.
#include <string>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string bytes(reinterpret_cast<const char *>(data), size);
    dmc::looks_like_onnx(bytes);
    dmc::Model model;
    try {
        model = dmc::import_onnx(bytes, dmc::ImportOptions{});
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
