// dmc/quantize.h - the parameter side of the arithmetic contract
// (engine/kernels/dmc_arith.h): how scales, zero points, quantized weights,
// biases and fixed-point multipliers are derived from float values. Paired
// functions: pack/unpack, quantize/dequantize.
//
// Every computation here is a short fixed sequence of IEEE double
// operations, so python/ reproduces the same integers exactly.
#pragma once

#include <cstdint>
#include <vector>

namespace dmc {

// floor(x + 0.5): the one rounding rule for parameters (round half up).
double round_half_up(double x);

// Scale and zero point of an int8 tensor: real = scale * (q - zero_point).
struct QuantParams {
    double scale = 1.0;
    int32_t zero_point = 0;
};

// Params covering [lo, hi], widened to include 0 so that 0 is exact:
// scale = (hi - lo) / 255, zero_point = -128 - round(lo / scale).
QuantParams activation_params(double lo, double hi);

// Largest weight magnitude at `bits`: 2^(bits-1) - 1 (narrow range).
int32_t weight_qmax(int bits);

// Per-output-channel symmetric quantization of a [rows][n] weight matrix,
// packed row by row (each row starts on a byte boundary).
struct QuantizedWeights {
    int bits = 8;
    int rows = 0;
    int64_t row_length = 0; // weights per row
    int64_t row_bytes = 0;
    // rows * row_bytes, then kWeightSlackBytes zeros that SIMD dot products
    // may read past the last row (they multiply zero activations).
    std::vector<uint8_t> packed;
    std::vector<double> scales;    // per row: max|w| / qmax
    std::vector<int32_t> row_sums; // per row: sum of the quantized weights

    int64_t bytes() const { return int64_t(rows) * row_bytes; } // what flash holds
};
constexpr int64_t kWeightSlackBytes = 16;
QuantizedWeights quantize_weights(const std::vector<float> &weights, int rows, int64_t row_length,
                                  int bits);
// The same with one given scale per row (values beyond +-qmax clamp).
QuantizedWeights quantize_weights(const std::vector<float> &weights, int rows, int64_t row_length, int bits,
                                  const std::vector<double> &scales);
// max|w| / qmax over the whole matrix (1 when it is all zero): the scale of
// an all-zero row, and of a row too small to carry its bias (compress.cpp).
double layer_weight_scale(const std::vector<float> &weights, int bits);
// The real value of weight i of row r: scales[r] * q.
std::vector<float> dequantize_weights(const QuantizedWeights &q);

// Packing of one row of n quantized values (each within +-(2^(bits-1) - 1)).
void pack_row(const int8_t *values, int64_t n, int bits, uint8_t *packed);
void unpack_row(const uint8_t *packed, int64_t n, int bits, int8_t *values);

// real = multiplier * 2^-shift with multiplier in [2^30, 2^31) and shift in
// [1, 62]. Throws dmc::Error if real >= 2^30 or is negative.
struct FixedPointMultiplier {
    int32_t multiplier = 0;
    int32_t shift = 1;
};
FixedPointMultiplier quantize_multiplier(double real);

} // namespace dmc
