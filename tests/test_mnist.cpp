// The IDX reader on small synthetic files: good ones (raw and gzip), and
// every kind of bad one gets a clear error. The real MNIST files are
// checked in test_mnist_data.cpp.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "dmc/error.h"
#include "dmc/mnist.h"

using namespace dmc;

namespace {

std::string put_u32(uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

std::string images_file(uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, size_t pixel_bytes) {
    std::string s = put_u32(magic) + put_u32(n) + put_u32(rows) + put_u32(cols);
    for (size_t i = 0; i < pixel_bytes; ++i) s += char(i * 7 % 256);
    return s;
}

std::string labels_file(uint32_t magic, uint32_t n, const std::string &labels) {
    return put_u32(magic) + put_u32(n) + labels;
}

class IdxTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/dmc_idx_XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

    std::string write(const std::string &name, const std::string &bytes) {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path, std::ios::binary) << bytes;
        return path;
    }
    std::string write_gz(const std::string &name, const std::string &bytes) {
        const std::string path = dir_ + "/" + name;
        gzFile f = gzopen(path.c_str(), "wb");
        gzwrite(f, bytes.data(), unsigned(bytes.size()));
        gzclose(f);
        return path;
    }
    void expect_error(const std::function<void()> &f, const std::string &needle) {
        try {
            f();
            FAIL() << "no error; expected one mentioning '" << needle << "'";
        } catch (const Error &e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    }
    std::string dir_;
};

} // namespace

TEST_F(IdxTest, ReadsRawAndGzipFiles) {
    write("train-images-idx3-ubyte", images_file(2051, 3, 4, 5, 60));
    write_gz("train-labels-idx1-ubyte.gz", labels_file(2049, 3, std::string{0, 9, 4}));
    const ImageSet set = load_mnist(dir_, "train");
    EXPECT_EQ(set.count, 3);
    EXPECT_EQ(set.rows, 4);
    EXPECT_EQ(set.cols, 5);
    EXPECT_EQ(set.image(2)[0], uint8_t(40 * 7 % 256));
    EXPECT_EQ(set.labels, (std::vector<uint8_t>{0, 9, 4}));
}

TEST_F(IdxTest, RefusesBadFiles) {
    int n, r, c;
    const std::string wrong_magic = write("a", images_file(2049, 1, 2, 2, 4));
    expect_error([&] { read_idx_images(wrong_magic, &n, &r, &c); }, "magic number 2049");

    const std::string truncated = write("b", images_file(2051, 10, 28, 28, 5000));
    expect_error([&] { read_idx_images(truncated, &n, &r, &c); }, "is truncated: 10 images of 28x28 needs 7856 bytes");

    const std::string trailing = write("c", images_file(2051, 1, 2, 2, 6));
    expect_error([&] { read_idx_images(trailing, &n, &r, &c); }, "2 bytes after");

    const std::string absurd = write("d", images_file(2051, 1, 100000, 100000, 0));
    expect_error([&] { read_idx_images(absurd, &n, &r, &c); }, "out of range");

    const std::string short_header = write("e", put_u32(2051) + put_u32(1));
    expect_error([&] { read_idx_images(short_header, &n, &r, &c); }, "no complete header");

    const std::string bad_label = write("f", labels_file(2049, 3, std::string{1, 12, 3}));
    expect_error([&] { read_idx_labels(bad_label, &n); }, "label 1 is 12");

    const std::string full = images_file(2051, 50, 28, 28, 50 * 784);
    const std::string gz_path = write_gz("g.gz", full);
    std::string gz_bytes;
    {
        std::ifstream in(gz_path, std::ios::binary);
        gz_bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    write("h.gz", gz_bytes.substr(0, gz_bytes.size() / 2));
    expect_error([&] { read_idx_images(dir_ + "/h", &n, &r, &c); }, "truncated or corrupt gzip");

    expect_error([&] { read_idx_images(dir_ + "/missing", &n, &r, &c); }, "not found");
}

TEST_F(IdxTest, WrittenSubsetReadsBackInOrder) {
    write("train-images-idx3-ubyte", images_file(2051, 5, 2, 3, 30));
    write("train-labels-idx1-ubyte", labels_file(2049, 5, std::string{5, 6, 7, 8, 9}));
    const ImageSet all = load_mnist(dir_, "train");
    write_idx(subset(all, {3, 0, 4}), dir_ + "/calibration");
    const ImageSet back = load_mnist(dir_, "calibration");
    ASSERT_EQ(back.count, 3);
    EXPECT_EQ(back.labels, (std::vector<uint8_t>{8, 5, 9}));
    EXPECT_TRUE(std::equal(back.image(0), back.image(0) + 6, all.image(3)));
    EXPECT_EQ(raw_inputs(back).raw, calibration_set(all, {3, 0, 4}).raw);
}

TEST_F(IdxTest, ImagesAndLabelsMustAgree) {
    write("t10k-images-idx3-ubyte", images_file(2051, 3, 2, 2, 12));
    write("t10k-labels-idx1-ubyte", labels_file(2049, 2, std::string{1, 2}));
    expect_error([&] { load_mnist(dir_, "t10k"); }, "3 images but 2 labels");
    expect_error([&] { load_mnist(dir_ + "/nope", "t10k"); }, "pass --mnist DIR or set MNIST_DIR");
}

TEST(Mnist, MnistDirPrefersTheOption) {
    EXPECT_EQ(mnist_dir("/some/dir"), "/some/dir");
    const char *saved = std::getenv("MNIST_DIR");
    const std::string saved_value = saved ? saved : "";
    unsetenv("MNIST_DIR");
    EXPECT_THROW(mnist_dir(""), Error);
    setenv("MNIST_DIR", "/env/dir", 1);
    EXPECT_EQ(mnist_dir(""), "/env/dir");
    if (saved) setenv("MNIST_DIR", saved_value.c_str(), 1);
    else unsetenv("MNIST_DIR");
}

TEST(Mnist, CalibrationIndicesAreDistinctAndPinned) {
    const std::vector<int> a = calibration_indices(60000, 1000);
    EXPECT_EQ(a, calibration_indices(60000, 1000));
    std::vector<int> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
    EXPECT_GE(sorted.front(), 0);
    EXPECT_LT(sorted.back(), 60000);
    // Pinned: python/ draws the same slice; a change here must change both.
    EXPECT_EQ(std::vector<int>(a.begin(), a.begin() + 5), (std::vector<int>{7953, 45504, 15548, 38828, 58306}));
    EXPECT_EQ(calibration_indices(3, 10).size(), size_t(3));
}
