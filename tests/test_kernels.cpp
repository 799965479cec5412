// The integer kernels against a plain, obviously correct integer reference
// written here from the contract's definitions: weights unpacked into ints
// up front, padding by explicit bounds checks, the rescale by floor
// division. Tolerance 0, on odd shapes.
//
// Every variant in each op's kernel table (src/kernel_table.h) is tested:
// the plain C kernels of engine/kernels/ (..._ref, what exported headers
// run), the engine's 128-bit SIMD ones (..._simd128: SSE4.2 here, SIMD128
// in the browser), its AVX2 ones (..._avx2) and its VNNI ones
// (..._avxvnni, ..._avx512vnni), each reported skipped on a CPU without
// its instruction set. Each runs with the least scratch it asks for, in
// buffers of exactly the tensors' sizes (AddressSanitizer builds catch a
// byte read or written outside), and again with more room, which some
// variants use.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "dmc/quantize.h"
#include "kernel_table.h"
#include "simd/conv_gather.h"
#include "vnni_standin.h"

using namespace dmc;

namespace dmc {
// A variant prints as its name (test listings, failure messages).
template <typename Params> void PrintTo(const Kernel<Params> &k, std::ostream *os) { *os << k.name; }
} // namespace dmc

// A variant this build or CPU cannot run: AVX2 or VNNI on a CPU without it
// is skipped (the engine never picks it there); a build without 128-bit SIMD
// is a failure, as every target the engine is built for has it.
#define SKIP_UNLESS_AVAILABLE(kernel)                                                                    \
    do {                                                                                                 \
        if (isa_available((kernel).isa)) break;                                                          \
        if ((kernel).isa == Isa::Avx2) GTEST_SKIP() << "this CPU or build has no AVX2";                  \
        if ((kernel).isa == Isa::AvxVnni) GTEST_SKIP() << "this CPU or build has no AVX-VNNI";           \
        if ((kernel).isa == Isa::Avx512Vnni) GTEST_SKIP() << "this CPU or build has no AVX-512 VNNI";    \
        GTEST_FAIL() << "this build has no 128-bit SIMD (SSE4.2 or wasm SIMD128)";                       \
    } while (0)

namespace {

// floor(a / 2^s) without relying on >> of a negative number.
int64_t floor_div_pow2(int64_t a, int s) {
    const int64_t d = int64_t(1) << s;
    int64_t q = a / d;
    if (a % d != 0 && a < 0) --q;
    return q;
}

int8_t reference_requantize(int64_t acc, int32_t m, int32_t shift, int32_t zp, int32_t lo, int32_t hi) {
    int64_t v = floor_div_pow2(acc * m + (int64_t(1) << (shift - 1)), shift) + zp;
    return int8_t(std::max<int64_t>(lo, std::min<int64_t>(hi, v)));
}

struct RandomLayer {
    int bits;
    int rows;
    int64_t row_length;
    std::vector<int8_t> q; // unpacked weights, rows x row_length
    std::vector<uint8_t> packed;
    std::vector<int32_t> bias, multiplier;
    std::vector<int8_t> shift;
    int32_t zp_in, zp_out, act_min, act_max;
};

RandomLayer random_layer(std::mt19937 &rng, int bits, int rows, int64_t row_length, bool relu) {
    RandomLayer l;
    l.bits = bits;
    l.rows = rows;
    l.row_length = row_length;
    const int qmax = weight_qmax(bits);
    std::uniform_int_distribution<int> w(-qmax, qmax), zp(-128, 127), b(-20000, 20000);
    std::uniform_int_distribution<int32_t> mult(1 << 30, INT32_MAX);
    std::uniform_int_distribution<int> sh(12, 22);
    l.q.resize(size_t(rows * row_length));
    for (auto &v : l.q) v = int8_t(w(rng));
    const int64_t row_bytes = dmc_row_bytes(int32_t(row_length), bits);
    l.packed.assign(size_t(rows * row_bytes + kWeightSlackBytes), 0xAB); // slack: anything readable
    for (int r = 0; r < rows; ++r)
        pack_row(l.q.data() + r * row_length, row_length, bits, l.packed.data() + r * row_bytes);
    for (int r = 0; r < rows; ++r) {
        l.bias.push_back(b(rng));
        l.multiplier.push_back(mult(rng));
        l.shift.push_back(int8_t(sh(rng)));
    }
    l.zp_in = zp(rng);
    l.zp_out = zp(rng);
    l.act_min = relu ? l.zp_out : -128;
    l.act_max = 127;
    return l;
}

std::vector<int8_t> random_tensor(std::mt19937 &rng, size_t n) {
    std::uniform_int_distribution<int> d(-128, 127);
    std::vector<int8_t> v(n);
    for (auto &x : v) x = int8_t(d(rng));
    return v;
}

std::string first_mismatch(const std::vector<int8_t> &got, const std::vector<int8_t> &want) {
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i]) {
            std::ostringstream s;
            s << "first mismatch at " << i << ": kernel " << int(got[i]) << ", reference " << int(want[i]);
            return s.str();
        }
    return "";
}

struct ConvCase {
    int in_c, out_c, h, w, kernel, stride, padding;
    int out_h() const { return (h + 2 * padding - kernel) / stride + 1; }
    int out_w() const { return (w + 2 * padding - kernel) / stride + 1; }
};

// The convolution's int32 accumulators (bias included), HWC, by the
// definition: padded positions hold the input zero point.
std::vector<int64_t> reference_conv_accumulators(const ConvCase &c, const RandomLayer &l, const std::vector<int8_t> &in) {
    const int oh = c.out_h(), ow = c.out_w();
    const int64_t depth = int64_t(c.kernel) * c.kernel * c.in_c;
    std::vector<int64_t> acc(size_t(oh * ow * c.out_c));
    for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox)
            for (int oc = 0; oc < c.out_c; ++oc) {
                int64_t a = l.bias[size_t(oc)];
                for (int ky = 0; ky < c.kernel; ++ky)
                    for (int kx = 0; kx < c.kernel; ++kx)
                        for (int ic = 0; ic < c.in_c; ++ic) {
                            const int iy = oy * c.stride - c.padding + ky;
                            const int ix = ox * c.stride - c.padding + kx;
                            const bool inside = iy >= 0 && iy < c.h && ix >= 0 && ix < c.w;
                            const int x = inside ? in[size_t((iy * c.w + ix) * c.in_c + ic)] : l.zp_in;
                            a += int64_t(x) * l.q[size_t(oc * depth + (ky * c.kernel + kx) * c.in_c + ic)];
                        }
                acc[size_t((oy * ow + ox) * c.out_c + oc)] = a;
            }
    return acc;
}

// The kernel's parameters for case c with layer l (which must outlive them).
dmc_conv2d_s8 conv_params(const ConvCase &c, const RandomLayer &l) {
    dmc_conv2d_s8 p;
    p.in_h = c.h; p.in_w = c.w; p.in_c = c.in_c;
    p.out_h = c.out_h(); p.out_w = c.out_w(); p.out_c = c.out_c;
    p.kernel = c.kernel; p.stride = c.stride; p.padding = c.padding;
    p.bits = l.bits;
    p.weights = l.packed.data();
    p.bias = l.bias.data();
    p.multiplier = l.multiplier.data();
    p.shift = l.shift.data();
    p.input_zero_point = l.zp_in;
    p.output_zero_point = l.zp_out;
    p.act_min = l.act_min;
    p.act_max = l.act_max;
    return p;
}

const ConvCase kConvCases[] = {
    {1, 1, 5, 5, 3, 1, 0},  {1, 3, 7, 9, 5, 1, 2},  {3, 7, 9, 7, 3, 2, 1},
    {7, 3, 11, 5, 3, 2, 0}, {3, 1, 6, 6, 1, 1, 0},  {7, 7, 13, 11, 5, 2, 2},
    {1, 6, 28, 28, 5, 1, 2}, {6, 16, 14, 14, 5, 1, 0}, {3, 3, 4, 4, 4, 3, 3},
    {2, 5, 17, 19, 3, 1, 1}, // 323 pixels: more than one batch of gathered fields, a partial last block
    // One input channel at stride 1 (conv_one_channel.h): groups of 8 and a
    // last group of any size (each tile computes its live channels rounded
    // up to even), kernels 1 to 7, rows narrower than 4 pixels.
    {1, 20, 28, 28, 5, 1, 0}, {1, 9, 13, 11, 7, 1, 3}, {1, 4, 3, 3, 3, 1, 1}, {1, 2, 6, 1, 1, 1, 0},
    {1, 7, 10, 12, 3, 1, 1}, {1, 13, 9, 10, 5, 1, 2},
    {1, 3, 8, 10, 4, 1, 1},  // an even kernel: its last pair is whole
    {1, 5, 9, 9, 3, 2, 1}, // stride 2: the gathering path
    {300, 3, 5, 4, 4, 1, 0}, // fields of 4,800 values: too deep to unpack a channel pair's weights beforehand
};

template <typename K> std::string variant_name(const testing::TestParamInfo<K> &info) { return info.param.name; }

// The rooms a kernel is run with: the least it asks for, and more.
std::vector<int64_t> rooms(int64_t least, int64_t more) { return {least, least + more}; }

class Conv2dKernels : public testing::TestWithParam<Conv2dKernel> {};
class LinearKernels : public testing::TestWithParam<LinearKernel> {};
class MaxPoolKernels : public testing::TestWithParam<PoolKernel> {};
class AvgPoolKernels : public testing::TestWithParam<PoolKernel> {};
class ReluKernels : public testing::TestWithParam<ReluKernel> {};
class DepthwiseKernels : public testing::TestWithParam<DepthwiseKernel> {};
class GlobalPoolKernels : public testing::TestWithParam<GlobalPoolKernel> {};

TEST_P(Conv2dKernels, MatchReferenceExactly) {
    const Conv2dKernel &kernel = GetParam();
    SKIP_UNLESS_AVAILABLE(kernel);
    std::mt19937 rng(11);
    for (int bits : {8, 4, 2}) {
        for (const ConvCase &c : kConvCases) {
            for (bool relu : {false, true}) {
                const int64_t depth = int64_t(c.kernel) * c.kernel * c.in_c;
                const RandomLayer l = random_layer(rng, bits, c.out_c, depth, relu);
                const std::vector<int8_t> in = random_tensor(rng, size_t(c.h * c.w * c.in_c));
                const std::vector<int64_t> acc = reference_conv_accumulators(c, l, in);
                std::vector<int8_t> want(acc.size());
                for (size_t e = 0; e < acc.size(); ++e) {
                    const size_t oc = e % size_t(c.out_c);
                    want[e] = reference_requantize(acc[e], l.multiplier[oc], l.shift[oc], l.zp_out, l.act_min, l.act_max);
                }
                const dmc_conv2d_s8 p = conv_params(c, l);
                ASSERT_GE(kernel.scratch_bytes(&p), dmc_conv2d_s8_scratch_bytes(&p));
                for (int64_t room : rooms(kernel.scratch_bytes(&p), 100000)) {
                    // 16 guard bytes after the output: a kernel's wide stores must stop at its end.
                    std::vector<int8_t> got(want.size() + 16, int8_t(0x5A)), scratch(static_cast<size_t>(room));
                    kernel.run(&p, in.data(), got.data(), scratch.data(), room);
                    ASSERT_EQ(std::vector<int8_t>(got.begin() + int64_t(want.size()), got.end()),
                              std::vector<int8_t>(16, int8_t(0x5A)))
                        << "conv wrote past its output: " << c.in_c << "->" << c.out_c << " " << c.h << "x" << c.w;
                    got.resize(want.size());
                    ASSERT_EQ(got, want) << "conv " << c.in_c << "->" << c.out_c << " " << c.h << "x" << c.w
                                         << " k" << c.kernel << " s" << c.stride << " p" << c.padding << " bits "
                                         << bits << (relu ? " relu" : "") << " room " << room << ": "
                                         << first_mismatch(got, want);
                }
            }
        }
    }
}

// What calibration measures: every int32 accumulator, bias included. The
// last case is a linear layer as calibration runs it: a 1x1 convolution
// over one row of inputs, one pixel per input.
TEST_P(Conv2dKernels, AccumulatorsEqualTheReference) {
    const Conv2dKernel &kernel = GetParam();
    SKIP_UNLESS_AVAILABLE(kernel);
    ASSERT_NE(kernel.accumulators, nullptr);
    std::mt19937 rng(97);
    const ConvCase cases[] = {{1, 6, 28, 28, 5, 1, 2}, {6, 16, 14, 14, 5, 1, 0}, {3, 7, 9, 7, 3, 2, 1},
                              {2, 5, 17, 19, 3, 1, 1}, {7, 3, 11, 5, 3, 2, 0},   {401, 7, 1, 37, 1, 1, 0},
                              {1, 20, 28, 28, 5, 1, 0}, {1, 9, 13, 11, 7, 1, 3}};
    for (int bits : {8, 4, 2})
        for (const ConvCase &c : cases) {
            const int64_t depth = int64_t(c.kernel) * c.kernel * c.in_c;
            const RandomLayer l = random_layer(rng, bits, c.out_c, depth, false);
            const std::vector<int8_t> in = random_tensor(rng, size_t(c.h * c.w * c.in_c));
            const std::vector<int64_t> reference = reference_conv_accumulators(c, l, in);
            const std::vector<int32_t> want(reference.begin(), reference.end());
            const dmc_conv2d_s8 p = conv_params(c, l);
            for (int64_t room : rooms(kernel.scratch_bytes(&p), 100000)) {
                std::vector<int32_t> got(want.size(), 12345);
                std::vector<int8_t> scratch(static_cast<size_t>(room));
                kernel.accumulators(&p, in.data(), got.data(), scratch.data(), room);
                ASSERT_EQ(got, want) << "conv " << c.in_c << "->" << c.out_c << " " << c.h << "x" << c.w << " bits "
                                     << bits << " room " << room;
            }
        }
}

// The largest products the packing allows, all of one sign, on deep
// fields: a weight of b bits at -2^(b-1) or 2^(b-1) - 1 (the quantizer
// never writes -2^(b-1), a malformed model may), activations at -128 or
// 127. Variants that add products in narrow lanes (the AVX2 4- and 2-bit
// path adds pairs of products in int16) must not saturate or wrap here.
TEST_P(Conv2dKernels, ExtremeValuesGiveTheReferenceAccumulators) {
    const Conv2dKernel &kernel = GetParam();
    SKIP_UNLESS_AVAILABLE(kernel);
    std::mt19937 rng(5);
    const ConvCase cases[] = {{20, 4, 7, 7, 5, 1, 0}, {33, 3, 5, 5, 3, 1, 1}, {401, 5, 1, 9, 1, 1, 0}};
    for (int bits : {8, 4, 2})
        for (const ConvCase &c : cases)
            for (int pattern = 0; pattern < 5; ++pattern) {
                const int64_t depth = int64_t(c.kernel) * c.kernel * c.in_c;
                RandomLayer l = random_layer(rng, bits, c.out_c, depth, false);
                const int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
                std::vector<int8_t> in(size_t(c.h * c.w * c.in_c));
                std::bernoulli_distribution coin;
                for (size_t i = 0; i < l.q.size(); ++i)
                    l.q[i] = int8_t(pattern == 4 ? (coin(rng) ? lo : hi) : pattern % 2 ? lo : hi);
                for (auto &x : in) x = int8_t(pattern == 4 ? (coin(rng) ? -128 : 127) : pattern < 2 ? -128 : 127);
                l.zp_in = in[0];
                const int64_t row_bytes = dmc_row_bytes(int32_t(depth), bits);
                for (int r = 0; r < l.rows; ++r)
                    pack_row(l.q.data() + r * depth, depth, bits, l.packed.data() + r * row_bytes);
                const std::vector<int64_t> reference = reference_conv_accumulators(c, l, in);
                const std::vector<int32_t> want(reference.begin(), reference.end());
                const dmc_conv2d_s8 p = conv_params(c, l);
                std::vector<int32_t> got(want.size(), 12345);
                std::vector<int8_t> scratch(static_cast<size_t>(kernel.scratch_bytes(&p)));
                kernel.accumulators(&p, in.data(), got.data(), scratch.data(), int64_t(scratch.size()));
                ASSERT_EQ(got, want) << "conv " << c.in_c << "->" << c.out_c << " bits " << bits << " pattern "
                                     << pattern;
            }
}

TEST_P(LinearKernels, MatchReferenceExactly) {
    const LinearKernel &kernel = GetParam();
    SKIP_UNLESS_AVAILABLE(kernel);
    std::mt19937 rng(12);
    for (int bits : {8, 4, 2}) {
        for (int in_f : {1, 3, 7, 25, 31, 400, 401}) {
            for (int out_f : {1, 3, 7, 10, 16}) {
                const RandomLayer l = random_layer(rng, bits, out_f, in_f, out_f % 2 == 1);
                const std::vector<int8_t> in = random_tensor(rng, size_t(in_f));
                std::vector<int8_t> want(static_cast<size_t>(out_f)), got(static_cast<size_t>(out_f));
                for (int o = 0; o < out_f; ++o) {
                    int64_t acc = l.bias[size_t(o)];
                    for (int i = 0; i < in_f; ++i) acc += int64_t(in[size_t(i)]) * l.q[size_t(o * in_f + i)];
                    want[size_t(o)] = reference_requantize(acc, l.multiplier[size_t(o)], l.shift[size_t(o)],
                                                           l.zp_out, l.act_min, l.act_max);
                }
                dmc_linear_s8 p;
                p.in_features = in_f;
                p.out_features = out_f;
                p.bits = bits;
                p.weights = l.packed.data();
                p.bias = l.bias.data();
                p.multiplier = l.multiplier.data();
                p.shift = l.shift.data();
                p.output_zero_point = l.zp_out;
                p.act_min = l.act_min;
                p.act_max = l.act_max;
                std::vector<int8_t> scratch(static_cast<size_t>(kernel.scratch_bytes(&p)));
                kernel.run(&p, in.data(), got.data(), scratch.data(), int64_t(scratch.size()));
                ASSERT_EQ(got, want) << "linear " << in_f << "->" << out_f << " bits " << bits << ": "
                                     << first_mismatch(got, want);
            }
        }
    }
}

struct PoolCase {
    int c, h, w, kernel, stride, padding;
    int out_h() const { return (h + 2 * padding - kernel) / stride + 1; }
    int out_w() const { return (w + 2 * padding - kernel) / stride + 1; }
};

const PoolCase kPoolCases[] = {{1, 5, 5, 2, 2, 0},   {3, 7, 9, 3, 2, 1}, {7, 9, 7, 2, 1, 1},
                               {3, 28, 28, 2, 2, 0}, {7, 5, 3, 3, 3, 0}, {1, 6, 6, 4, 2, 2},
                               {16, 10, 10, 2, 2, 0}, {6, 28, 28, 2, 2, 0}, {17, 9, 11, 3, 2, 2},
                               // no padding, kernels of 3 to 7 (max pooling's column passes), strides 1 to 3
                               {4, 7, 8, 3, 1, 0},    {2, 8, 11, 4, 1, 0}, {5, 9, 13, 5, 2, 0},
                               {3, 12, 15, 7, 3, 0},
                               // a pixel's channels copied as two words of 4 or of 8 bytes
                               {4, 9, 9, 3, 3, 0},    {12, 8, 8, 2, 2, 0}, {9, 7, 10, 3, 2, 0}};

dmc_pool2d_s8 pool_params(const PoolCase &c, int32_t zp, const FixedPointMultiplier &div) {
    dmc_pool2d_s8 p;
    p.in_h = c.h; p.in_w = c.w; p.channels = c.c;
    p.out_h = c.out_h(); p.out_w = c.out_w();
    p.kernel = c.kernel; p.stride = c.stride; p.padding = c.padding;
    p.zero_point = zp;
    p.multiplier = div.multiplier;
    p.shift = div.shift;
    return p;
}

// Max and average pooling by the definition (padded positions skipped;
// the average divides by the whole window).
void reference_pooling(const PoolCase &c, const std::vector<int8_t> &in, int32_t zp, const FixedPointMultiplier &div,
                       std::vector<int8_t> *want_max, std::vector<int8_t> *want_avg) {
    const int oh = c.out_h(), ow = c.out_w();
    want_max->resize(size_t(oh * ow * c.c));
    want_avg->resize(want_max->size());
    for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox)
            for (int ch = 0; ch < c.c; ++ch) {
                int best = -128;
                int64_t sum = 0;
                for (int ky = 0; ky < c.kernel; ++ky)
                    for (int kx = 0; kx < c.kernel; ++kx) {
                        const int iy = oy * c.stride - c.padding + ky, ix = ox * c.stride - c.padding + kx;
                        if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                        const int v = in[size_t((iy * c.w + ix) * c.c + ch)];
                        best = std::max(best, v);
                        sum += v - zp;
                    }
                const size_t o = size_t((oy * ow + ox) * c.c + ch);
                (*want_max)[o] = int8_t(best);
                (*want_avg)[o] = reference_requantize(sum, div.multiplier, div.shift, zp, -128, 127);
            }
}

// One pooling variant on every case, with the least room and with a
// whole input row of it (max pooling by rows uses that when it is there).
void check_pooling(const PoolKernel &kernel, bool max) {
    std::mt19937 rng(13);
    for (const PoolCase &c : kPoolCases) {
        const std::vector<int8_t> in = random_tensor(rng, size_t(c.h * c.w * c.c));
        const int32_t zp = std::uniform_int_distribution<int>(-128, 127)(rng);
        const FixedPointMultiplier div = quantize_multiplier(1.0 / (c.kernel * c.kernel));
        std::vector<int8_t> want_max, want_avg;
        reference_pooling(c, in, zp, div, &want_max, &want_avg);
        const std::vector<int8_t> &want = max ? want_max : want_avg;
        const dmc_pool2d_s8 p = pool_params(c, zp, div);
        for (int64_t room : rooms(kernel.scratch_bytes(&p), int64_t(c.w) * c.c)) {
            std::vector<int8_t> got(want.size()), scratch(static_cast<size_t>(room));
            kernel.run(&p, in.data(), got.data(), scratch.data(), room);
            ASSERT_EQ(got, want) << (max ? "maxpool" : "avgpool") << " case c" << c.c << " k" << c.kernel << " s"
                                 << c.stride << " p" << c.padding << " room " << room << ": "
                                 << first_mismatch(got, want);
        }
    }
}

TEST_P(MaxPoolKernels, MatchReferenceExactly) {
    SKIP_UNLESS_AVAILABLE(GetParam());
    check_pooling(GetParam(), true);
}

TEST_P(AvgPoolKernels, MatchReferenceExactly) {
    SKIP_UNLESS_AVAILABLE(GetParam());
    check_pooling(GetParam(), false);
}

TEST_P(ReluKernels, ClampsAtTheZeroPointInPlace) {
    SKIP_UNLESS_AVAILABLE(GetParam());
    std::mt19937 rng(14);
    std::vector<int8_t> v = random_tensor(rng, 257), want(v.size());
    for (size_t i = 0; i < v.size(); ++i) want[i] = std::max<int8_t>(v[i], -7);
    const ReluParams p{int32_t(v.size()), -7, 127};
    GetParam().run(&p, v.data(), v.data(), nullptr, 0);
    EXPECT_EQ(v, want);
}

// ReLU6 after pooling: [zero point, act_max].
TEST_P(ReluKernels, ClampsToTheQuantizedMax) {
    SKIP_UNLESS_AVAILABLE(GetParam());
    std::mt19937 rng(15);
    const std::vector<int8_t> in = random_tensor(rng, 131);
    std::vector<int8_t> got(in.size()), want(in.size());
    for (size_t i = 0; i < in.size(); ++i) want[i] = int8_t(std::min(40, std::max<int>(in[i], -7)));
    const ReluParams p{int32_t(in.size()), -7, 40};
    GetParam().run(&p, in.data(), got.data(), nullptr, 0);
    EXPECT_EQ(got, want) << first_mismatch(got, want);
}

struct DepthwiseCase {
    int c, h, w, kernel, stride, padding;
    int out_h() const { return (h + 2 * padding - kernel) / stride + 1; }
    int out_w() const { return (w + 2 * padding - kernel) / stride + 1; }
};

const DepthwiseCase kDepthwiseCases[] = {{1, 5, 5, 3, 1, 0},  {3, 7, 9, 3, 2, 1},  {7, 9, 7, 3, 1, 1},
                                         {7, 11, 5, 5, 2, 2}, {3, 6, 6, 1, 1, 0},  {1, 13, 11, 5, 2, 0},
                                         {16, 14, 14, 3, 2, 1}, {3, 4, 4, 4, 3, 3}, {5, 1, 1, 1, 1, 0},
                                         // groups of eight channels and a tail; a window past 25 taps
                                         {13, 9, 7, 3, 1, 1}, {24, 6, 6, 2, 2, 1}, {8, 5, 5, 5, 1, 2},
                                         {9, 9, 9, 7, 1, 3}};

// By the definition: channel c's k x k filter on channel c, padded
// positions holding the input zero point, int64 sums.
std::vector<int64_t> reference_depthwise_accumulators(const DepthwiseCase &c, const RandomLayer &l,
                                                      const std::vector<int8_t> &in) {
    const int oh = c.out_h(), ow = c.out_w(), k = c.kernel;
    std::vector<int64_t> acc(size_t(oh * ow * c.c));
    for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox)
            for (int ch = 0; ch < c.c; ++ch) {
                int64_t a = l.bias[size_t(ch)];
                for (int ky = 0; ky < k; ++ky)
                    for (int kx = 0; kx < k; ++kx) {
                        const int iy = oy * c.stride - c.padding + ky, ix = ox * c.stride - c.padding + kx;
                        const bool inside = iy >= 0 && iy < c.h && ix >= 0 && ix < c.w;
                        const int x = inside ? in[size_t((iy * c.w + ix) * c.c + ch)] : l.zp_in;
                        a += int64_t(x) * l.q[size_t(ch * k * k + ky * k + kx)];
                    }
                acc[size_t((oy * ow + ox) * c.c + ch)] = a;
            }
    return acc;
}

dmc_depthwise_conv2d_s8 depthwise_params(const DepthwiseCase &c, const RandomLayer &l) {
    dmc_depthwise_conv2d_s8 p;
    p.in_h = c.h; p.in_w = c.w; p.channels = c.c;
    p.out_h = c.out_h(); p.out_w = c.out_w();
    p.kernel = c.kernel; p.stride = c.stride; p.padding = c.padding;
    p.bits = l.bits;
    p.weights = l.packed.data();
    p.bias = l.bias.data();
    p.multiplier = l.multiplier.data();
    p.shift = l.shift.data();
    p.input_zero_point = l.zp_in;
    p.output_zero_point = l.zp_out;
    p.act_min = l.act_min;
    p.act_max = l.act_max;
    return p;
}

// Every bit width, without a ReLU, with one, and with a ReLU6-style upper
// clamp; the outputs and (what calibration reads) the accumulators.
TEST_P(DepthwiseKernels, MatchReferenceExactly) {
    const DepthwiseKernel &kernel = GetParam();
    SKIP_UNLESS_AVAILABLE(kernel);
    ASSERT_NE(kernel.accumulators, nullptr);
    std::mt19937 rng(21);
    for (int bits : {8, 4, 2}) {
        for (const DepthwiseCase &c : kDepthwiseCases) {
            for (int act : {0, 1, 2}) {
                RandomLayer l = random_layer(rng, bits, c.c, int64_t(c.kernel) * c.kernel, act > 0);
                if (act == 2) l.act_max = std::uniform_int_distribution<int>(l.act_min, 127)(rng);
                const std::vector<int8_t> in = random_tensor(rng, size_t(c.h * c.w * c.c));
                const std::vector<int64_t> acc = reference_depthwise_accumulators(c, l, in);
                std::vector<int8_t> want(acc.size());
                for (size_t e = 0; e < acc.size(); ++e) {
                    const size_t ch = e % size_t(c.c);
                    want[e] = reference_requantize(acc[e], l.multiplier[ch], l.shift[ch], l.zp_out, l.act_min, l.act_max);
                }
                const dmc_depthwise_conv2d_s8 p = depthwise_params(c, l);
                const int64_t room = kernel.scratch_bytes(&p);
                std::vector<int8_t> got(want.size()), scratch(static_cast<size_t>(room));
                kernel.run(&p, in.data(), got.data(), scratch.data(), room);
                const std::string what = "depthwise c" + std::to_string(c.c) + " " + std::to_string(c.h) + "x" +
                                         std::to_string(c.w) + " k" + std::to_string(c.kernel) + " s" +
                                         std::to_string(c.stride) + " p" + std::to_string(c.padding) + " bits " +
                                         std::to_string(bits) + " act " + std::to_string(act);
                ASSERT_EQ(got, want) << what << ": " << first_mismatch(got, want);
                std::vector<int32_t> got_acc(acc.size(), 12345);
                kernel.accumulators(&p, in.data(), got_acc.data(), scratch.data(), room);
                ASSERT_EQ(got_acc, std::vector<int32_t>(acc.begin(), acc.end())) << what;
            }
        }
    }
}

// Shapes from 1x1 to 28x28 (odd, non-square), and the extremes: every
// input at the far end from the zero point, where the sum is largest.
TEST_P(GlobalPoolKernels, MatchReferenceExactly) {
    const GlobalPoolKernel &kernel = GetParam();
    SKIP_UNLESS_AVAILABLE(kernel);
    std::mt19937 rng(22);
    struct Case { int c, h, w; };
    const Case cases[] = {{1, 1, 1}, {3, 7, 7}, {7, 5, 3}, {1, 9, 11}, {16, 4, 4}, {3, 28, 28}, {5, 1, 13}, {7, 3, 1}};
    for (const Case &c : cases) {
        for (int fill : {0, 1, 2}) { // random, all 127 over zero point -128, all -128 over zero point 127
            std::vector<int8_t> in = random_tensor(rng, size_t(c.h * c.w * c.c));
            int32_t zp = std::uniform_int_distribution<int>(-128, 127)(rng);
            if (fill > 0) {
                zp = fill == 1 ? -128 : 127;
                std::fill(in.begin(), in.end(), int8_t(fill == 1 ? 127 : -128));
            }
            const FixedPointMultiplier div = quantize_multiplier(1.0 / (c.h * c.w));
            std::vector<int8_t> want(size_t(c.c)), got(size_t(c.c));
            for (int ch = 0; ch < c.c; ++ch) {
                int64_t sum = 0;
                for (int i = 0; i < c.h * c.w; ++i) sum += in[size_t(i * c.c + ch)] - zp;
                want[size_t(ch)] = reference_requantize(sum, div.multiplier, div.shift, zp, -128, 127);
            }
            dmc_global_avgpool2d_s8 p;
            p.in_h = c.h; p.in_w = c.w; p.channels = c.c;
            p.zero_point = zp;
            p.multiplier = div.multiplier;
            p.shift = div.shift;
            std::vector<int8_t> scratch(static_cast<size_t>(kernel.scratch_bytes(&p)));
            kernel.run(&p, in.data(), got.data(), scratch.data(), int64_t(scratch.size()));
            ASSERT_EQ(got, want) << "global avgpool " << c.c << "x" << c.h << "x" << c.w << " fill " << fill << ": "
                                 << first_mismatch(got, want);
            if (fill > 0) {
                EXPECT_EQ(got[0], fill == 1 ? 127 : -128);
            }
        }
    }
}

// The contract's worked example (dmc_arith.h rule 8): 49 positions, sum -100.
TEST(GlobalPoolContract, WorkedExample) {
    const FixedPointMultiplier div = quantize_multiplier(1.0 / 49);
    EXPECT_EQ(div.multiplier, 1402438301);
    EXPECT_EQ(div.shift, 36);
    std::vector<int8_t> in(49, 10);
    in[0] = int8_t(10 - 100); // sum of (q - z) = -100 with z = 10
    const dmc_global_avgpool2d_s8 p{7, 7, 1, 10, div.multiplier, div.shift};
    int8_t out = 0;
    dmc_global_avgpool2d_s8_run(&p, in.data(), &out);
    EXPECT_EQ(out, 10 - 2);
}

INSTANTIATE_TEST_SUITE_P(Variants, Conv2dKernels, testing::ValuesIn(conv2d_kernels()), variant_name<Conv2dKernel>);
INSTANTIATE_TEST_SUITE_P(Variants, LinearKernels, testing::ValuesIn(linear_kernels()), variant_name<LinearKernel>);
// Not table entries: the VNNI variants' code with an AVX2 stand-in for
// VPDPBUSD (vnni_standin.cpp), which a CPU without VNNI runs in their place.
INSTANTIATE_TEST_SUITE_P(StandIn, Conv2dKernels,
                         testing::Values(Conv2dKernel{"conv2d_s8_vnni_standin", Isa::Avx2, simd_conv2d_scratch_bytes,
                                                      conv2d_s8_vnni_standin, conv2d_s8_accumulators_vnni_standin}),
                         variant_name<Conv2dKernel>);
INSTANTIATE_TEST_SUITE_P(StandIn, LinearKernels,
                         testing::Values(LinearKernel{"linear_s8_vnni_standin", Isa::Avx2,
                                                      [](const dmc_linear_s8 *) { return int64_t(0); },
                                                      linear_s8_vnni_standin, nullptr}),
                         variant_name<LinearKernel>);
INSTANTIATE_TEST_SUITE_P(Variants, MaxPoolKernels, testing::ValuesIn(maxpool2d_kernels()), variant_name<PoolKernel>);
INSTANTIATE_TEST_SUITE_P(Variants, AvgPoolKernels, testing::ValuesIn(avgpool2d_kernels()), variant_name<PoolKernel>);
INSTANTIATE_TEST_SUITE_P(Variants, ReluKernels, testing::ValuesIn(relu_kernels()), variant_name<ReluKernel>);
INSTANTIATE_TEST_SUITE_P(Variants, DepthwiseKernels, testing::ValuesIn(depthwise_conv2d_kernels()),
                         variant_name<DepthwiseKernel>);
INSTANTIATE_TEST_SUITE_P(Variants, GlobalPoolKernels, testing::ValuesIn(global_avgpool2d_kernels()),
                         variant_name<GlobalPoolKernel>);

} // namespace

// The table itself: one plain C entry first in every op, distinct names
// that say the op and the variant, and the choice among the entries.
TEST(KernelTable, EveryOpStartsWithThePlainKernelAndChoosesAnAvailableOne) {
    auto check = [](const auto &table, const auto *chosen, const std::string &op) {
        ASSERT_FALSE(table.empty());
        EXPECT_EQ(table.front().isa, Isa::Plain);
        EXPECT_EQ(std::string(table.front().name), op + "_s8_ref");
        for (const auto &k : table) EXPECT_EQ(std::string(k.name).rfind(op + "_s8_", 0), 0u) << k.name;
        EXPECT_TRUE(isa_enabled(chosen->isa)) << chosen->name;
        for (const auto &k : table) {
            if (&k > chosen) {
                EXPECT_FALSE(isa_enabled(k.isa)) << k.name << " is enabled but " << chosen->name << " chosen";
            }
        }
    };
    const KernelChoice &c = chosen_kernels();
    check(conv2d_kernels(), c.conv2d, "conv2d");
    check(linear_kernels(), c.linear, "linear");
    check(maxpool2d_kernels(), c.maxpool2d, "maxpool2d");
    check(avgpool2d_kernels(), c.avgpool2d, "avgpool2d");
    check(relu_kernels(), c.relu, "relu");
    check(depthwise_conv2d_kernels(), c.depthwise_conv2d, "depthwise_conv2d");
    check(global_avgpool2d_kernels(), c.global_avgpool2d, "global_avgpool2d");
}

TEST(Kernels, ArgmaxTieGoesToLowestIndex) {
    const int8_t v[5] = {3, 9, -2, 9, 9};
    EXPECT_EQ(dmc_argmax_s8(v, 5), 1);
    const int8_t all_same[4] = {-128, -128, -128, -128};
    EXPECT_EQ(dmc_argmax_s8(all_same, 4), 0);
}

TEST(Kernels, QuantizeInputRoundsHalfUpAndSaturates) {
    // inv_scale 1, mean 0: q = zp + floor(x + 0.5)
    EXPECT_EQ(dmc_quantize_input(2.5f, 0.0f, 1.0f, 0), 3);
    EXPECT_EQ(dmc_quantize_input(-2.5f, 0.0f, 1.0f, 0), -2);
    EXPECT_EQ(dmc_quantize_input(-2.6f, 0.0f, 1.0f, 0), -3);
    EXPECT_EQ(dmc_quantize_input(0.49f, 0.0f, 1.0f, -128), -128);
    EXPECT_EQ(dmc_quantize_input(1e30f, 0.0f, 1.0f, 0), 127);
    EXPECT_EQ(dmc_quantize_input(-1e30f, 0.0f, 1.0f, 0), -128);
    EXPECT_EQ(dmc_quantize_input(std::nanf(""), 0.0f, 1.0f, 0), -128);
}
