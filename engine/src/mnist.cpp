// mnist.cpp - IDX reader. All header fields are 32-bit big-endian; sizes
// are checked against the header before anything is trusted.
#include "dmc/mnist.h"

#include <sys/stat.h>

#include <cstdlib>
#include <numeric>

#include "dmc/error.h"
#include "io_util.h"
#include "splitmix.h"

#if DMC_WITH_ZLIB
#include <zlib.h>
#endif

namespace dmc {

namespace {

constexpr int64_t kMaxIdxBytes = int64_t(256) << 20; // MNIST's largest file is 47 MB
constexpr uint32_t kImagesMagic = 0x00000803, kLabelsMagic = 0x00000801;
constexpr int kMaxSide = 4096, kMaxCount = 10000000;

bool file_exists(const std::string &path) {
    struct stat info {};
    return stat(path.c_str(), &info) == 0 && !S_ISDIR(info.st_mode);
}

#if DMC_WITH_ZLIB
std::string read_gzip(const std::string &path) {
    // Decompress in chunks up to the limit, so a gzip bomb stops there.
    gzFile file = gzopen(path.c_str(), "rb");
    if (!file) throw Error("IDX file '" + path + "': cannot open");
    std::string out;
    char chunk[1 << 16];
    for (;;) {
        const int n = gzread(file, chunk, sizeof chunk);
        if (n < 0) {
            int code = 0;
            const std::string message = gzerror(file, &code);
            gzclose(file);
            throw Error("IDX file '" + path + "': corrupt gzip data (" + message + ")");
        }
        if (n == 0) break;
        out.append(chunk, size_t(n));
        if (int64_t(out.size()) > kMaxIdxBytes) {
            gzclose(file);
            throw Error("IDX file '" + path + "': decompresses to more than " +
                        std::to_string(kMaxIdxBytes) + " bytes");
        }
    }
    // gzread stops quietly at a truncated stream; gzclose reports it.
    const int status = gzclose(file);
    if (status != Z_OK)
        throw Error("IDX file '" + path + "': truncated or corrupt gzip data");
    return out;
}
#endif

// The file's bytes and the name it was read from: `path` itself, else
// `path` + ".gz".
std::string read_idx(const std::string &path, std::string *used) {
    if (file_exists(path)) {
        *used = path;
        return read_file(path, kMaxIdxBytes, "IDX file");
    }
    const std::string gz = path + ".gz";
    if (file_exists(gz)) {
        *used = gz;
#if DMC_WITH_ZLIB
        return read_gzip(gz);
#else
        throw Error("IDX file '" + gz + "': this build reads only uncompressed IDX files; "
                    "decompress it with 'gzip -dk " + gz + "'");
#endif
    }
    throw Error("IDX file '" + path + "' not found (nor '" + gz + "')");
}

uint32_t big_endian_u32(const std::string &data, size_t offset) {
    const auto *b = reinterpret_cast<const unsigned char *>(data.data()) + offset;
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

void check_size(const std::string &data, int64_t expected, const std::string &name,
                const std::string &shape) {
    const int64_t actual = int64_t(data.size());
    if (actual < expected)
        throw Error("IDX file '" + name + "' is truncated: " + shape + " needs " +
                    std::to_string(expected) + " bytes, the file has " + std::to_string(actual));
    if (actual > expected)
        throw Error("IDX file '" + name + "' has " + std::to_string(actual - expected) +
                    " bytes after the " + shape + " its header announces");
}

} // namespace

std::vector<uint8_t> read_idx_images(const std::string &path, int *count, int *rows, int *cols) {
    std::string name;
    const std::string data = read_idx(path, &name);
    if (data.size() < 16) throw Error("IDX file '" + name + "' is truncated: no complete header");
    const uint32_t magic = big_endian_u32(data, 0);
    if (magic != kImagesMagic)
        throw Error("IDX file '" + name + "': magic number " + std::to_string(magic) +
                    " is not that of an image file (2051)");
    const uint32_t n = big_endian_u32(data, 4), r = big_endian_u32(data, 8), c = big_endian_u32(data, 12);
    if (n > uint32_t(kMaxCount) || r < 1 || r > uint32_t(kMaxSide) || c < 1 || c > uint32_t(kMaxSide))
        throw Error("IDX file '" + name + "': dimensions " + std::to_string(n) + " x " +
                    std::to_string(r) + " x " + std::to_string(c) + " are out of range");
    check_size(data, 16 + int64_t(n) * r * c, name,
               std::to_string(n) + " images of " + std::to_string(r) + "x" + std::to_string(c));
    *count = int(n);
    *rows = int(r);
    *cols = int(c);
    return std::vector<uint8_t>(data.begin() + 16, data.end());
}

std::vector<uint8_t> read_idx_labels(const std::string &path, int *count) {
    std::string name;
    const std::string data = read_idx(path, &name);
    if (data.size() < 8) throw Error("IDX file '" + name + "' is truncated: no complete header");
    const uint32_t magic = big_endian_u32(data, 0);
    if (magic != kLabelsMagic)
        throw Error("IDX file '" + name + "': magic number " + std::to_string(magic) +
                    " is not that of a label file (2049)");
    const uint32_t n = big_endian_u32(data, 4);
    if (n > uint32_t(kMaxCount))
        throw Error("IDX file '" + name + "': " + std::to_string(n) + " labels is out of range");
    check_size(data, 8 + int64_t(n), name, std::to_string(n) + " labels");
    std::vector<uint8_t> labels(data.begin() + 8, data.end());
    for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i] > 9)
            throw Error("IDX file '" + name + "': label " + std::to_string(i) + " is " +
                        std::to_string(labels[i]) + ", not a digit 0-9");
    *count = int(n);
    return labels;
}

ImageSet load_mnist(const std::string &dir, const std::string &split) {
    struct stat info {};
    if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
        throw Error("MNIST folder '" + dir + "' does not exist; pass --mnist DIR or set MNIST_DIR");
    ImageSet set;
    set.pixels = read_idx_images(dir + "/" + split + "-images-idx3-ubyte", &set.count, &set.rows, &set.cols);
    int label_count = 0;
    set.labels = read_idx_labels(dir + "/" + split + "-labels-idx1-ubyte", &label_count);
    if (label_count != set.count)
        throw Error("MNIST '" + split + "' in '" + dir + "': " + std::to_string(set.count) +
                    " images but " + std::to_string(label_count) + " labels");
    return set;
}

std::string mnist_dir(const std::string &option) {
    if (!option.empty()) return option;
    const char *env = std::getenv("MNIST_DIR");
    if (env && *env) return env;
    throw Error("no MNIST folder given: pass --mnist DIR or set MNIST_DIR (the folder with "
                "train-images-idx3-ubyte.gz and the other three IDX files)");
}

std::vector<int> calibration_indices(int total, int count, uint64_t seed) {
    count = count > total ? total : count;
    std::vector<int> index(static_cast<size_t>(total));
    std::iota(index.begin(), index.end(), 0);
    uint64_t state = seed;
    for (int i = 0; i < count; ++i) {
        const int j = i + int(splitmix64(state) % uint64_t(total - i));
        std::swap(index[size_t(i)], index[size_t(j)]);
    }
    index.resize(size_t(count));
    return index;
}

CalibrationSet calibration_set(const ImageSet &images, const std::vector<int> &indices) {
    CalibrationSet set;
    set.count = int(indices.size());
    const int n = images.image_size();
    set.raw.resize(indices.size() * size_t(n));
    for (size_t k = 0; k < indices.size(); ++k) {
        const uint8_t *p = images.image(indices[k]);
        for (int i = 0; i < n; ++i) set.raw[k * size_t(n) + size_t(i)] = float(p[i]) / 255.0f;
    }
    return set;
}

ImageSet subset(const ImageSet &images, const std::vector<int> &indices) {
    ImageSet s;
    s.count = int(indices.size());
    s.rows = images.rows;
    s.cols = images.cols;
    for (int i : indices) {
        s.pixels.insert(s.pixels.end(), images.image(i), images.image(i) + images.image_size());
        s.labels.push_back(images.labels[size_t(i)]);
    }
    return s;
}

void write_idx(const ImageSet &images, const std::string &path_prefix) {
    auto u32 = [](uint32_t v) {
        return std::string{char(v >> 24), char((v >> 16) & 255), char((v >> 8) & 255), char(v & 255)};
    };
    std::string header = u32(kImagesMagic) + u32(uint32_t(images.count)) + u32(uint32_t(images.rows)) +
                         u32(uint32_t(images.cols));
    write_file(path_prefix + "-images-idx3-ubyte",
               header + std::string(images.pixels.begin(), images.pixels.end()), "IDX file");
    write_file(path_prefix + "-labels-idx1-ubyte",
               u32(kLabelsMagic) + u32(uint32_t(images.count)) + std::string(images.labels.begin(), images.labels.end()),
               "IDX file");
}

CalibrationSet raw_inputs(const ImageSet &images) {
    std::vector<int> all(static_cast<size_t>(images.count));
    std::iota(all.begin(), all.end(), 0);
    return calibration_set(images, all);
}

} // namespace dmc
