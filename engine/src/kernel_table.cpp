// kernel_table.cpp - the tables of kernel_table.h: the plain C kernels in
// the table's signature, the engine's SIMD variants (simd/), and the
// choice.
#include "kernel_table.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "dmc/compressed_model.h"

#include "simd/avx2.h"
#include "simd/conv_simd.h"
#include "simd/depthwise_simd.h"
#include "simd/maxpool_rows.h"
#include "simd/vnni.h"

namespace dmc {

#if !DMC_SIMD128
// A build without 128-bit SIMD still lists the variants (the plan counts
// their scratch); isa_available() keeps them from ever running.
inline void conv2d_s8_simd128(const dmc_conv2d_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
inline void conv2d_s8_accumulators_simd128(const dmc_conv2d_s8 *, const int8_t *, int32_t *, int8_t *, int64_t) {
    std::abort();
}
inline void linear_s8_simd128(const dmc_linear_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) { std::abort(); }
inline void depthwise_conv2d_s8_simd128(const dmc_depthwise_conv2d_s8 *, const int8_t *, int8_t *, int8_t *, int64_t) {
    std::abort();
}
inline void depthwise_conv2d_s8_accumulators_simd128(const dmc_depthwise_conv2d_s8 *, const int8_t *, int32_t *,
                                                     int8_t *, int64_t) {
    std::abort();
}
#endif

namespace {

template <typename Params> int64_t no_scratch(const Params *) { return 0; }

int64_t conv2d_s8_scratch_ref(const dmc_conv2d_s8 *p) { return dmc_conv2d_s8_scratch_bytes(p); }

void conv2d_s8_ref(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t /*room*/) {
    dmc_conv2d_s8_run(p, in, out, scratch);
}

// dmc_conv2d_s8_run's blocks of four gathered fields, the sums kept
// instead of requantized.
void conv2d_s8_accumulators_ref(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                                int64_t /*room*/) {
    const int32_t depth = p->kernel * p->kernel * p->in_c, stride = dmc_padded_length(depth);
    const int32_t row_bytes = dmc_row_bytes(depth, p->bits), pixels = p->out_h * p->out_w;
    const size_t out_c = size_t(p->out_c);
    for (int32_t k = 0; k < DMC_CONV_BLOCK; ++k) std::memset(scratch + k * stride + depth, 0, size_t(stride - depth));
    int32_t oy = 0, ox = 0;
    for (int32_t first = 0; first < pixels; first += DMC_CONV_BLOCK) {
        const int32_t count = pixels - first < DMC_CONV_BLOCK ? pixels - first : DMC_CONV_BLOCK;
        for (int32_t k = 0; k < count; ++k) {
            dmc_conv2d_s8_gather(p, in, oy, ox, scratch + k * stride);
            if (++ox == p->out_w) {
                ox = 0;
                ++oy;
            }
        }
        for (int32_t oc = 0; oc < p->out_c; ++oc) {
            const uint8_t *w = p->weights + size_t(oc) * size_t(row_bytes);
            int32_t sums[DMC_CONV_BLOCK];
            if (count == DMC_CONV_BLOCK) {
                dmc_dot4(scratch, stride, w, depth, p->bits, sums);
            } else {
                for (int32_t k = 0; k < count; ++k) sums[k] = dmc_dot(scratch + k * stride, w, depth, p->bits);
            }
            for (int32_t k = 0; k < count; ++k) acc[size_t(first + k) * out_c + size_t(oc)] = p->bias[oc] + sums[k];
        }
    }
}

void linear_s8_ref(const dmc_linear_s8 *p, const int8_t *in, int8_t *out, int8_t *, int64_t) {
    dmc_linear_s8_run(p, in, out);
}

void maxpool2d_s8_ref(const dmc_pool2d_s8 *p, const int8_t *in, int8_t *out, int8_t *, int64_t) {
    dmc_maxpool2d_s8_run(p, in, out);
}

void avgpool2d_s8_ref(const dmc_pool2d_s8 *p, const int8_t *in, int8_t *out, int8_t *, int64_t) {
    dmc_avgpool2d_s8_run(p, in, out);
}

void relu_s8_ref(const ReluParams *p, const int8_t *in, int8_t *out, int8_t *, int64_t) {
    dmc_clamp_s8_run(in, out, p->size, p->zero_point, p->act_max);
}

void depthwise_conv2d_s8_ref(const dmc_depthwise_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *, int64_t) {
    dmc_depthwise_conv2d_s8_run(p, in, out);
}

void depthwise_conv2d_s8_accumulators_ref(const dmc_depthwise_conv2d_s8 *p, const int8_t *in, int32_t *acc,
                                          int8_t *, int64_t) {
    for (int32_t oy = 0; oy < p->out_h; ++oy)
        for (int32_t ox = 0; ox < p->out_w; ++ox)
            for (int32_t c = 0; c < p->channels; ++c, ++acc)
                *acc = dmc_depthwise_conv2d_s8_accumulator(p, in, oy, ox, c);
}

void global_avgpool2d_s8_ref(const dmc_global_avgpool2d_s8 *p, const int8_t *in, int8_t *out, int8_t *, int64_t) {
    dmc_global_avgpool2d_s8_run(p, in, out);
}

// Per op, the last entry this machine runs (kernel_table.h).
template <typename K> const K *choose(const std::vector<K> &table) {
    const K *chosen = &table.front();
    for (const K &k : table)
        if (isa_enabled(k.isa)) chosen = &k;
    return chosen;
}

} // namespace

bool isa_available(Isa isa) {
    switch (isa) {
    case Isa::Plain: return true;
    case Isa::Simd128: return DMC_SIMD128 != 0;
    case Isa::Avx2: return avx2_available();
    case Isa::AvxVnni: return avxvnni_available();
    case Isa::Avx512Vnni: return avx512vnni_available();
    }
    return false;
}

bool isa_enabled(Isa isa) {
    if (!isa_available(isa)) return false;
    const bool vnni = isa == Isa::AvxVnni || isa == Isa::Avx512Vnni;
    if ((isa == Isa::Avx2 || vnni) && std::getenv("DMC_NO_AVX2") != nullptr) return false;
    return !(vnni && std::getenv("DMC_NO_VNNI") != nullptr);
}

const std::vector<Conv2dKernel> &conv2d_kernels() {
    static const std::vector<Conv2dKernel> table = {
        {"conv2d_s8_ref", Isa::Plain, conv2d_s8_scratch_ref, conv2d_s8_ref, conv2d_s8_accumulators_ref},
        {"conv2d_s8_simd128", Isa::Simd128, simd_conv2d_scratch_bytes, conv2d_s8_simd128,
         conv2d_s8_accumulators_simd128},
        {"conv2d_s8_avx2", Isa::Avx2, simd_conv2d_scratch_bytes, conv2d_s8_avx2, conv2d_s8_accumulators_avx2},
        {"conv2d_s8_avxvnni", Isa::AvxVnni, simd_conv2d_scratch_bytes, conv2d_s8_avxvnni,
         conv2d_s8_accumulators_avxvnni},
        {"conv2d_s8_avx512vnni", Isa::Avx512Vnni, simd_conv2d_scratch_bytes, conv2d_s8_avx512vnni,
         conv2d_s8_accumulators_avx512vnni},
    };
    return table;
}

const std::vector<LinearKernel> &linear_kernels() {
    static const std::vector<LinearKernel> table = {
        {"linear_s8_ref", Isa::Plain, no_scratch<dmc_linear_s8>, linear_s8_ref, nullptr},
        {"linear_s8_simd128", Isa::Simd128, no_scratch<dmc_linear_s8>, linear_s8_simd128, nullptr},
        {"linear_s8_avx2", Isa::Avx2, no_scratch<dmc_linear_s8>, linear_s8_avx2, nullptr},
        {"linear_s8_avxvnni", Isa::AvxVnni, no_scratch<dmc_linear_s8>, linear_s8_avxvnni, nullptr},
        {"linear_s8_avx512vnni", Isa::Avx512Vnni, no_scratch<dmc_linear_s8>, linear_s8_avx512vnni, nullptr},
    };
    return table;
}

const std::vector<PoolKernel> &maxpool2d_kernels() {
    static const std::vector<PoolKernel> table = {
        {"maxpool2d_s8_ref", Isa::Plain, no_scratch<dmc_pool2d_s8>, maxpool2d_s8_ref, nullptr},
        {"maxpool2d_s8_simd128", Isa::Simd128, no_scratch<dmc_pool2d_s8>, maxpool2d_s8_simd128, nullptr},
    };
    return table;
}

const std::vector<PoolKernel> &avgpool2d_kernels() {
    static const std::vector<PoolKernel> table = {
        {"avgpool2d_s8_ref", Isa::Plain, no_scratch<dmc_pool2d_s8>, avgpool2d_s8_ref, nullptr},
    };
    return table;
}

const std::vector<ReluKernel> &relu_kernels() {
    static const std::vector<ReluKernel> table = {
        {"relu_s8_ref", Isa::Plain, no_scratch<ReluParams>, relu_s8_ref, nullptr},
    };
    return table;
}

const std::vector<DepthwiseKernel> &depthwise_conv2d_kernels() {
    static const std::vector<DepthwiseKernel> table = {
        {"depthwise_conv2d_s8_ref", Isa::Plain, no_scratch<dmc_depthwise_conv2d_s8>, depthwise_conv2d_s8_ref,
         depthwise_conv2d_s8_accumulators_ref},
        {"depthwise_conv2d_s8_simd128", Isa::Simd128, no_scratch<dmc_depthwise_conv2d_s8>,
         depthwise_conv2d_s8_simd128, depthwise_conv2d_s8_accumulators_simd128},
    };
    return table;
}

const std::vector<GlobalPoolKernel> &global_avgpool2d_kernels() {
    static const std::vector<GlobalPoolKernel> table = {
        {"global_avgpool2d_s8_ref", Isa::Plain, no_scratch<dmc_global_avgpool2d_s8>, global_avgpool2d_s8_ref,
         nullptr},
    };
    return table;
}

const KernelChoice &chosen_kernels() {
    static const KernelChoice choice = {choose(conv2d_kernels()),
                                        choose(linear_kernels()),
                                        choose(maxpool2d_kernels()),
                                        choose(avgpool2d_kernels()),
                                        choose(relu_kernels()),
                                        choose(depthwise_conv2d_kernels()),
                                        choose(global_avgpool2d_kernels())};
    return choice;
}

std::string kernel_variants() {
    const KernelChoice &k = chosen_kernels();
    return std::string(k.conv2d->name) + " " + k.linear->name + " " + k.maxpool2d->name + " " +
           k.depthwise_conv2d->name;
}

} // namespace dmc
