/*
 * conv1_equivalence.c - convolutions with one input channel (a model's
 * first layer on an image), whose DSP path has its own copy
 * (dmc_conv2d_s8_run_dsp_c1_w8/w4/w2 in engine/kernels/dmc_conv2d.h),
 * against the definition: each field gathered by dmc_conv2d_s8_gather,
 * the plain C dot product, dmc_requantize. Random layers: odd and even
 * image sizes up to 29 x 29 (LeNet's 28 x 28 included), kernels 1 to 7
 * (3 and 5 most often), stride 1 and 2, padding 0 to kernel - 1 (at most
 * 2 beyond kernel 3), 1 to 7 output channels, 8, 4 and 2 bits, with and
 * without a fused ReLU, some channels with a shift below 33 (the
 * requantization's slow case), random bytes for the weights (every nibble
 * and crumb value), the scratch at an odd or unaligned address and guarded
 * on both sides. Built for the cores with the DSP extension (mcu_test.sh
 * runs it on M4 and M7); prints the number of layers checked and fails
 * with the first mismatch.
 */
#include "dmc_conv2d.h"
#include "mcu_io.h"
#define MCU_RANDOM_SEED 2024u
#include "mcu_random.h"

#if !DMC_ARM_DSP
#error "build for a core with the DSP extension (Cortex-M4/M7)"
#endif

#define IN_MAX (29 * 29)
#define OUT_MAX (29 * 29 * 7)
#define W_MAX (7 * 49)
#define GUARD 8

static int8_t in_buf[IN_MAX], out_buf[OUT_MAX + 1], ref_buf[OUT_MAX], field[64];
static uint8_t weights[W_MAX];
static int32_t bias[7], multiplier[7];
static int8_t shift[7];
static int8_t scratch_space[4 * 64 + 2 * GUARD + 4];

static void fail(const char *what, int32_t trial, int32_t index)
{
    char line[80], *s = line;
    s = fmt_str(s, what);
    s = fmt_str(s, " in trial ");
    s = fmt_u32(s, (uint32_t)trial);
    s = fmt_str(s, " at ");
    s = fmt_u32(s, (uint32_t)index);
    *s = '\0';
    io_fail(line);
}

static int32_t plain_dot(const int8_t *xs, const uint8_t *row, int32_t n, int32_t bits)
{
    if (bits == 8) return dmc_dot_w8(xs, row, n);
    if (bits == 4) return dmc_dot_w4(xs, row, n);
    return dmc_dot_w2(xs, row, n);
}

/* A random one-channel layer for trial t; 0 when it does not fit the buffers. */
static int32_t random_layer(dmc_conv2d_s8 *p, int32_t t)
{
    static const int32_t kernels[8] = {3, 5, 3, 5, 1, 2, 4, 7};
    int32_t c, log_acc;
    p->in_c = 1;
    p->kernel = kernels[t % 8];
    p->stride = rand_in(1, 2);
    p->padding = rand_in(0, p->kernel - 1 < 2 ? p->kernel - 1 : 2);
    if (p->kernel == 7 && t % 16 == 7) p->padding = rand_in(0, 6);
    p->in_h = rand_in(p->kernel, 29);
    p->in_w = t % 5 == 0 ? 28 : rand_in(p->kernel, 29);
    p->out_h = (p->in_h + 2 * p->padding - p->kernel) / p->stride + 1;
    p->out_w = (p->in_w + 2 * p->padding - p->kernel) / p->stride + 1;
    p->out_c = rand_in(1, 7);
    p->bits = (t / 8) % 3 == 0 ? 8 : ((t / 8) % 3 == 1 ? 4 : 2);
    if (p->out_h * p->out_w * p->out_c > OUT_MAX) return 0;
    /* accumulators reach about 2^log_acc: the shifts keep outputs in range, mostly >= 33 */
    log_acc = 8 + 7 + (p->kernel > 3 ? 4 : 2);
    for (c = 0; c < p->out_c; ++c) {
        bias[c] = rand_in(-20000, 20000);
        multiplier[c] = (int32_t)(0x40000000u + (next_random() & 0x3FFFFFu) * 255u);
        shift[c] = (int8_t)(c % 4 == 3 ? rand_in(20, 32) : rand_in(31 + log_acc - 9, 31 + log_acc - 4));
    }
    p->weights = weights;
    p->bias = bias;
    p->multiplier = multiplier;
    p->shift = shift;
    p->input_zero_point = rand_in(-128, 127);
    p->output_zero_point = rand_in(-128, 127);
    p->act_min = t % 2 ? p->output_zero_point : -128; /* a fused ReLU every other trial */
    p->act_max = t % 7 == 3 ? rand_in(p->act_min, 127) : 127;
    return 1;
}

static void reference(const dmc_conv2d_s8 *p)
{
    const int32_t depth = p->kernel * p->kernel, row_bytes = dmc_row_bytes(depth, p->bits);
    int32_t oy, ox, o;
    for (oy = 0; oy < p->out_h; ++oy)
        for (ox = 0; ox < p->out_w; ++ox) {
            dmc_conv2d_s8_gather(p, in_buf, oy, ox, field);
            for (o = 0; o < p->out_c; ++o)
                ref_buf[(oy * p->out_w + ox) * p->out_c + o] =
                    dmc_requantize(p->bias[o] + plain_dot(field, p->weights + o * row_bytes, depth, p->bits),
                                   p->multiplier[o], p->shift[o], p->output_zero_point, p->act_min, p->act_max);
        }
}

int main(void)
{
    uint32_t checks = 0;
    int32_t trial, i;
    char line[64], *s;
    io_open();
    for (trial = 0; trial < 480; ++trial) {
        dmc_conv2d_s8 p;
        int32_t need, outputs, row_bytes;
        int8_t *scratch;
        if (!random_layer(&p, trial)) continue;
        row_bytes = dmc_row_bytes(p.kernel * p.kernel, p.bits);
        for (i = 0; i < p.in_h * p.in_w; ++i) in_buf[i] = (int8_t)(next_random() & 255u);
        for (i = 0; i < row_bytes * p.out_c; ++i) weights[i] = (uint8_t)(next_random() & 255u);
        if (p.bits < 8) /* the packing's rule: unused high bits of a row's last byte are zero */
            for (i = 0; i < p.out_c; ++i)
                weights[i * row_bytes + row_bytes - 1] &=
                    (uint8_t)(0xFFu >> ((8 * row_bytes - p.kernel * p.kernel * p.bits) & 7));
        reference(&p);
        need = dmc_conv2d_s8_scratch_bytes(&p);
        scratch = scratch_space + GUARD + 1 + (trial & 2); /* odd or unaligned */
        for (i = -GUARD; i < need + GUARD; ++i) scratch[i] = 0x5A;
        outputs = p.out_h * p.out_w * p.out_c;
        out_buf[outputs] = 0x33;
        dmc_conv2d_s8_run(&p, in_buf, out_buf, scratch);
        for (i = 1; i <= GUARD; ++i)
            if (scratch[-i] != 0x5A || scratch[need + i - 1] != 0x5A) fail("scratch overrun", trial, i);
        if (out_buf[outputs] != 0x33) fail("output overrun", trial, outputs);
        for (i = 0; i < outputs; ++i)
            if (out_buf[i] != ref_buf[i]) fail("conv2d (one input channel) mismatch", trial, i);
        ++checks;
    }
    s = fmt_str(line, "one-channel conv2d: dsp == plain in ");
    s = fmt_u32(s, checks);
    s = fmt_str(s, " layers\n");
    io_write(line, (size_t)(s - line));
    return 0;
}
