// kernel_table.h - the integer kernels as one table of variants per op,
// and the variant the engine runs (internal).
//
// Each op (conv2d, linear, max pooling, depthwise conv2d; average and
// global average pooling and ReLU have one entry) lists its variants,
// always the same ones in the same order:
//   ..._ref      the plain C99 kernels of engine/kernels/, the definition,
//                which the exported header compiles too;
//   ..._simd128  128-bit SIMD: SSE4.2 natively, SIMD128 in the browser;
//   ..._avx2     256-bit AVX2 (x86-64 only);
//   ..._avxvnni, ..._avx512vnni
//                VPDPBUSD on 256-bit registers, VEX or EVEX encoded
//                (x86-64 CPUs with AVX-VNNI, or AVX-512 VNNI and VL).
// All give the same integers (the kernel tests run every entry against a
// plain reference, tolerance 0), so the choice changes speed, never a
// result. It is made once, on first use, for the executor and calibration
// alike: per op the last entry whose instruction set this build has and
// this CPU runs, except that DMC_NO_AVX2 in the environment switches off
// the 256-bit variants (to time or test the 128-bit path on an AVX2
// machine) and DMC_NO_VNNI the VNNI ones. A run-time choice for AVX2 and
// VNNI, not a build flag, because one native binary meets CPUs with and
// without them; the 128-bit set is a build flag (SSE4.2 is in every x86-64
// CPU since 2008, and a browser without SIMD128 cannot load the module).
//
// Scratch belongs to the caller. Each entry says the least it needs
// (scratch_bytes, like CMSIS-NN's *_get_buffer_size); the buffer plan
// counts the largest least need over an op's variants, unavailable ones
// included, so that the plan, and the RAM an exported header reports, is
// the same on every machine. run() is then given `room` bytes of scratch
// (at least scratch_bytes): everything the plan leaves free between the
// step's input and output. A variant that goes faster with more (the SIMD
// convolution gathers more receptive fields per batch) uses as much as it
// is given; none keeps a buffer of its own.
#pragma once

#include <cstdint>
#include <vector>

#include "dmc_activation.h"
#include "dmc_conv2d.h"
#include "dmc_depthwise.h"
#include "dmc_linear.h"
#include "dmc_pool.h"

namespace dmc {

enum class Isa { Plain, Simd128, Avx2, AvxVnni, Avx512Vnni };
// This build has the variant's code and this CPU runs it.
bool isa_available(Isa isa);
// Available and not switched off (DMC_NO_AVX2, DMC_NO_VNNI): what the
// choice takes.
bool isa_enabled(Isa isa);

// The stand-alone ReLU's parameters (dmc_clamp_s8_run takes them as
// arguments): it clamps to [zero_point, act_max]; act_max is 127 unless
// the ReLU has a max (ReLU6).
struct ReluParams {
    int32_t size;
    int32_t zero_point;
    int32_t act_max;
};

template <typename Params> struct Kernel {
    const char *name; // "conv2d_s8_avx2": op, tensor type, variant
    Isa isa;
    // The least scratch run() and accumulators() need, in bytes.
    int64_t (*scratch_bytes)(const Params *p);
    // out = op(in); scratch holds room >= scratch_bytes(p) bytes; in, out
    // and scratch do not overlap (ReLU excepted: in place).
    void (*run)(const Params *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room);
    // Conv2d and depthwise conv2d only (else null): the int32 accumulators,
    // bias included, that run() would requantize, out_h x out_w x out_c of
    // them into acc: what calibration measures.
    void (*accumulators)(const Params *p, const int8_t *in, int32_t *acc, int8_t *scratch, int64_t room);
};
using Conv2dKernel = Kernel<dmc_conv2d_s8>;
using LinearKernel = Kernel<dmc_linear_s8>;
using PoolKernel = Kernel<dmc_pool2d_s8>;
using DepthwiseKernel = Kernel<dmc_depthwise_conv2d_s8>;
using GlobalPoolKernel = Kernel<dmc_global_avgpool2d_s8>;
using ReluKernel = Kernel<ReluParams>;

// Every variant of each op, the plain C first and the fastest last.
const std::vector<Conv2dKernel> &conv2d_kernels();
const std::vector<LinearKernel> &linear_kernels();
const std::vector<PoolKernel> &maxpool2d_kernels();
const std::vector<PoolKernel> &avgpool2d_kernels();
const std::vector<ReluKernel> &relu_kernels();
const std::vector<DepthwiseKernel> &depthwise_conv2d_kernels();
const std::vector<GlobalPoolKernel> &global_avgpool2d_kernels();

// The variants the engine runs, chosen on first use (see above).
struct KernelChoice {
    const Conv2dKernel *conv2d;
    const LinearKernel *linear;
    const PoolKernel *maxpool2d;
    const PoolKernel *avgpool2d;
    const ReluKernel *relu;
    const DepthwiseKernel *depthwise_conv2d;
    const GlobalPoolKernel *global_avgpool2d;
};
const KernelChoice &chosen_kernels();

// The largest least need over a table's variants: what the plan counts.
template <typename Params> int64_t planned_scratch(const std::vector<Kernel<Params>> &table, const Params &p) {
    int64_t most = 0;
    for (const Kernel<Params> &k : table) {
        const int64_t need = k.scratch_bytes(&p);
        most = need > most ? need : most;
    }
    return most;
}

} // namespace dmc
