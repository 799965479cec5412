// dmc/mnist.h - the MNIST IDX files (as distributed: gzip-compressed, or
// already decompressed), and the calibration slice of the training set.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dmc/compressed_model.h"

namespace dmc {

struct ImageSet {
    int count = 0, rows = 0, cols = 0;
    std::vector<uint8_t> pixels; // count * rows * cols, row by row
    std::vector<uint8_t> labels; // count, 0..9

    const uint8_t *image(int i) const { return pixels.data() + size_t(i) * size_t(rows * cols); }
    int image_size() const { return rows * cols; }
};

// Reads one IDX file: `path`, or `path` + ".gz" when only that exists.
// Throws dmc::Error for a wrong magic number, absurd dimensions, a
// truncated file or trailing bytes, naming the file.
std::vector<uint8_t> read_idx_images(const std::string &path, int *count, int *rows, int *cols);
std::vector<uint8_t> read_idx_labels(const std::string &path, int *count);

// Reads "<dir>/<split>-images-idx3-ubyte[.gz]" and its labels; split is
// "train" or "t10k". Checks that images and labels agree.
ImageSet load_mnist(const std::string &dir, const std::string &split);

// The MNIST folder: `option` if not empty, else $MNIST_DIR; throws
// dmc::Error saying how to give it when neither is set.
std::string mnist_dir(const std::string &option);

// The calibration slice: `count` distinct indices in [0, total), drawn by a
// partial Fisher-Yates shuffle driven by splitmix64(seed) (python/ draws the
// same ones). j = i + next() % (total - i), swap(index[i], index[j]).
constexpr int kCalibrationImages = 1000;
constexpr uint64_t kCalibrationSeed = 20241126;
std::vector<int> calibration_indices(int total, int count, uint64_t seed = kCalibrationSeed);

// Raw inputs (pixel / 255.0f) of the chosen images.
CalibrationSet calibration_set(const ImageSet &images, const std::vector<int> &indices);

// All of `images` as raw inputs, in order.
CalibrationSet raw_inputs(const ImageSet &images);

// The images (and their labels) at `indices`, in that order.
ImageSet subset(const ImageSet &images, const std::vector<int> &indices);

// Writes uncompressed IDX files: "<path_prefix>-images-idx3-ubyte" and
// "<path_prefix>-labels-idx1-ubyte" (what load_mnist reads back, with
// split = the prefix's file name). For builds without zlib, such as the
// browser's, which load a folder prepared by `dmc data`.
void write_idx(const ImageSet &images, const std::string &path_prefix);

} // namespace dmc
