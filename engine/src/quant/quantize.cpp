// quantize.cpp - the engine's number formats: int8 activations with a zero
// point, symmetric per-row weights packed to 8, 4 or 2 bits, and the int32
// fixed-point multipliers the kernels requantize with. The packed layout is
// the one the kernels read (engine/kernels/dmc_arith.h, which unpack_row
// uses), so what is packed here is what the microcontroller header runs.
#include "dmc/quantize.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "dmc/error.h"
#include "dmc_arith.h"

namespace dmc {

double round_half_up(double x) { return std::floor(x + 0.5); }

QuantParams activation_params(double lo, double hi) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
    QuantParams p;
    if (!(hi > lo)) { // an all-zero tensor: any scale represents it exactly
        p.scale = 1.0;
        p.zero_point = -128;
        return p;
    }
    p.scale = (hi - lo) / 255.0;
    const double zp = -128.0 - round_half_up(lo / p.scale);
    p.zero_point = int32_t(std::max(-128.0, std::min(127.0, zp)));
    return p;
}

int32_t weight_qmax(int bits) { return (int32_t(1) << (bits - 1)) - 1; }

// The kernels index packed rows with int32: a longer row cannot run.
static int64_t packed_row_bytes(int64_t n, int bits) {
    if (n < 0 || n > (INT32_MAX - 7) / 8)
        throw Error("weight row of " + std::to_string(n) + " values is too long to pack");
    return dmc_row_bytes(int32_t(n), bits);
}

void pack_row(const int8_t *values, int64_t n, int bits, uint8_t *packed) {
    const int64_t bytes = packed_row_bytes(n, bits);
    for (int64_t i = 0; i < bytes; ++i) packed[i] = 0;
    const int per_byte = 8 / bits;
    const uint32_t mask = (1u << bits) - 1u;
    for (int64_t i = 0; i < n; ++i) {
        const uint32_t field = uint32_t(int32_t(values[i])) & mask;
        packed[i / per_byte] = uint8_t(packed[i / per_byte] | (field << (bits * (i % per_byte))));
    }
}

void unpack_row(const uint8_t *packed, int64_t n, int bits, int8_t *values) {
    for (int64_t i = 0; i < n; ++i) values[i] = int8_t(dmc_packed_get(packed, int32_t(i), bits));
}

double layer_weight_scale(const std::vector<float> &weights, int bits) {
    double layer_max = 0.0;
    for (float w : weights) layer_max = std::max(layer_max, std::fabs(double(w)));
    return layer_max > 0.0 ? layer_max / weight_qmax(bits) : 1.0;
}

QuantizedWeights quantize_weights(const std::vector<float> &weights, int rows, int64_t row_length, int bits) {
    // An all-zero row has no scale of its own; it borrows the layer's largest
    // so that its bias is still represented finely enough.
    const double fallback_scale = layer_weight_scale(weights, bits);
    const double qmax = weight_qmax(bits);
    std::vector<double> scales(size_t(rows), fallback_scale);
    for (int r = 0; r < rows; ++r) {
        const float *w = weights.data() + size_t(r) * size_t(row_length);
        double max_abs = 0.0;
        for (int64_t i = 0; i < row_length; ++i) max_abs = std::max(max_abs, std::fabs(double(w[i])));
        if (max_abs > 0.0) scales[size_t(r)] = max_abs / qmax;
    }
    return quantize_weights(weights, rows, row_length, bits, scales);
}

QuantizedWeights quantize_weights(const std::vector<float> &weights, int rows, int64_t row_length, int bits,
                                  const std::vector<double> &scales) {
    QuantizedWeights q;
    q.bits = bits;
    q.rows = rows;
    q.row_length = row_length;
    q.row_bytes = packed_row_bytes(row_length, bits);
    q.packed.assign(size_t(rows * q.row_bytes + kWeightSlackBytes), 0);
    q.scales = scales;
    q.row_sums.assign(size_t(rows), 0);
    const double qmax = weight_qmax(bits);
    std::vector<int8_t> row_q(static_cast<size_t>(row_length));
    for (int r = 0; r < rows; ++r) {
        const float *w = weights.data() + size_t(r) * size_t(row_length);
        int32_t sum = 0;
        for (int64_t i = 0; i < row_length; ++i) {
            const double v = std::max(-qmax, std::min(qmax, round_half_up(double(w[i]) / scales[size_t(r)])));
            row_q[size_t(i)] = int8_t(v);
            sum += int32_t(v);
        }
        q.row_sums[size_t(r)] = sum;
        pack_row(row_q.data(), row_length, bits, q.packed.data() + size_t(r) * size_t(q.row_bytes));
    }
    return q;
}

std::vector<float> dequantize_weights(const QuantizedWeights &q) {
    std::vector<float> out(size_t(q.rows) * size_t(q.row_length));
    std::vector<int8_t> row(static_cast<size_t>(q.row_length));
    for (int r = 0; r < q.rows; ++r) {
        unpack_row(q.packed.data() + size_t(r) * size_t(q.row_bytes), q.row_length, q.bits, row.data());
        for (int64_t i = 0; i < q.row_length; ++i)
            out[size_t(r) * size_t(q.row_length) + size_t(i)] = float(q.scales[size_t(r)] * row[size_t(i)]);
    }
    return out;
}

FixedPointMultiplier quantize_multiplier(double real) {
    FixedPointMultiplier m;
    if (!(real >= 0.0) || !std::isfinite(real))
        throw Error("rescale factor " + std::to_string(real) + " is not a finite non-negative number");
    if (real == 0.0) return m; // multiplier 0: the output is the zero point
    int exponent = 0;
    const double fraction = std::frexp(real, &exponent); // real = fraction * 2^exponent, fraction in [0.5, 1)
    int64_t q = int64_t(round_half_up(std::ldexp(fraction, 31)));
    if (q == (int64_t(1) << 31)) { // rounding reached 1.0
        q >>= 1;
        ++exponent;
    }
    int shift = 31 - exponent;
    if (shift < 1)
        throw Error("rescale factor " + std::to_string(real) +
                    " is too large for the int32 multiplier (must be below 2^30)");
    if (shift > 62) { // below 2^-31: keep shift at 62 and let the multiplier shrink
        q = int64_t(round_half_up(std::ldexp(double(q), 62 - shift)));
        shift = 62;
    }
    m.multiplier = int32_t(q);
    m.shift = shift;
    return m;
}

} // namespace dmc
