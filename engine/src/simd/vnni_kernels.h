// vnni_kernels.h - the VNNI variants' bodies (vnni.h), for avxvnni.cpp and
// avx512vnni.cpp, each of which compiles them with its own encoding of
// VPDPBUSD (Dot: acc += four unsigned-by-signed byte products per int32
// lane, none saturating). Every width takes conv_u8s8.h's path, 8 bits
// included, 32 products per instruction; a convolution with one input
// channel runs avx2.cpp's kernel (its int16 pairs suit 25 taps better than
// 32-byte steps would).
#pragma once

#include "avx2.h"
#include "conv_u8s8.h"
#include "one_channel.h"

namespace dmc {
namespace {

template <typename Dot>
void vnni_conv2d(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *out, int8_t *scratch, int64_t room) {
    if (one_channel_applies(p)) conv2d_s8_avx2(p, in, out, scratch, room);
    else if (p->bits == 8) conv2d_tiles_u8s8<Dot, 8, RequantizedOut>(p, in, scratch, room, out);
    else if (p->bits == 4) conv2d_tiles_u8s8<Dot, 4, RequantizedOut>(p, in, scratch, room, out);
    else conv2d_tiles_u8s8<Dot, 2, RequantizedOut>(p, in, scratch, room, out);
}

template <typename Dot>
void vnni_conv2d_accumulators(const dmc_conv2d_s8 *p, const int8_t *in, int32_t *acc, int8_t *scratch,
                              int64_t room) {
    if (one_channel_applies(p)) conv2d_s8_accumulators_avx2(p, in, acc, scratch, room);
    else if (p->bits == 8) conv2d_tiles_u8s8<Dot, 8, AccumulatorOut>(p, in, scratch, room, acc);
    else if (p->bits == 4) conv2d_tiles_u8s8<Dot, 4, AccumulatorOut>(p, in, scratch, room, acc);
    else conv2d_tiles_u8s8<Dot, 2, AccumulatorOut>(p, in, scratch, room, acc);
}

template <typename Dot> void vnni_linear(const dmc_linear_s8 *p, const int8_t *in, int8_t *out) {
    if (p->bits == 8) linear_run_u8s8<Dot, 8>(p, in, out);
    else if (p->bits == 4) linear_run_u8s8<Dot, 4>(p, in, out);
    else linear_run_u8s8<Dot, 2>(p, in, out);
}

} // namespace
} // namespace dmc
