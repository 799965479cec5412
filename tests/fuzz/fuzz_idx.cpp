// fuzz_idx.cpp - libFuzzer target: bytes as an MNIST IDX file, read both as
// images and as labels, plain and (when the first byte is odd) as the
// gzip file the reader falls back to. The reader takes a path, so each
// input is written to a private temporary folder first.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "dmc/dmc.h"

namespace {

std::string temporary_folder() {
    char pattern[] = "/tmp/dmc-fuzz-idx-XXXXXX";
    const char *dir = mkdtemp(pattern);
    if (!dir) std::abort();
    return dir;
}

void write_file(const std::string &path, const uint8_t *data, size_t size) {
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const std::string dir = temporary_folder();
    const std::string plain = dir + "/set", gz = plain + ".gz";
    const bool compressed = size > 0 && (data[0] & 1);
    std::remove(plain.c_str());
    std::remove(gz.c_str());
    write_file(compressed ? gz : plain, data, size);
    int count = 0, rows = 0, cols = 0;
    try {
        dmc::read_idx_images(plain, &count, &rows, &cols);
    } catch (const dmc::Error &) {
    }
    try {
        dmc::read_idx_labels(plain, &count);
    } catch (const dmc::Error &) {
    }
    return 0;
}
