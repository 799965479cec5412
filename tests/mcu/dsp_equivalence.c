/*
 * dsp_equivalence.c - the kernels' Cortex-M DSP dot products (SXTB16 +
 * SMLAD, dmc_dot_dsp / dmc_dot4_dsp / dmc_dot2_dsp in engine/kernels/dmc_dot.h)
 * against the plain C loops that define them: every length 1..70, 8, 4 and 2 bits,
 * random activations and random packed bytes (so every nibble and crumb
 * value, -8 and -2 included), 20 draws each; then the layers built on them
 * (dmc_conv2d_s8_run's DSP path: int16 fields, two channels by two pixels;
 * dmc_linear_s8_run's two rows per pass) against the same layers computed
 * with the plain loops, on random odd shapes (one input channel included),
 * with the scratch at an odd address and guarded; and the depthwise
 * convolution's DSP path (dmc_depthwise_conv2d_s8_run: four channels per
 * pass, windows clipped to the image) against its plain loops
 * (dmc_depthwise_conv2d_s8_run_plain): every combination of 1, 3, 4, 6 and
 * 13 channels, kernels 1, 3, 5 and 7, strides 1 and 2, padding 0, 1 and 2,
 * 8, 4 and 2 bits, with and without a fused clamp, the input at an odd
 * address, the output guarded; then 1,000 random shapes. (Fewer than 4
 * channels, and kernels over 5 x 5, run the plain loops on this path too.)
 * Built for the cores with the
 * DSP extension (mcu_test.sh runs it on M4 and M7); prints the number of
 * checks and fails with the first mismatch.
 */
#include "dmc_conv2d.h"
#include "dmc_depthwise.h"
#include "dmc_linear.h"
#include "mcu_io.h"
#define MCU_RANDOM_SEED 12345u
#include "mcu_random.h"

#if !DMC_ARM_DSP
#error "build for a core with the DSP extension (Cortex-M4/M7)"
#endif

#define STRIDE 80

static int8_t x[4 * STRIDE];
static uint8_t w[STRIDE], w_b[STRIDE];

static void mismatch(int32_t bits, int32_t n, int32_t dsp, int32_t plain)
{
    char line[96], *s = line;
    s = fmt_str(s, "mismatch: bits ");
    s = fmt_u32(s, (uint32_t)bits);
    s = fmt_str(s, " n ");
    s = fmt_u32(s, (uint32_t)n);
    s = fmt_str(s, (dsp < plain) ? " dsp below plain" : " dsp above plain");
    *s = '\0';
    io_fail(line);
}

static int32_t plain_dot(const int8_t *xs, const uint8_t *row, int32_t n, int32_t bits)
{
    if (bits == 8) return dmc_dot_w8(xs, row, n);
    if (bits == 4) return dmc_dot_w4(xs, row, n);
    return dmc_dot_w2(xs, row, n);
}

#define LAYER_MAX 1600
static int8_t layer_in[LAYER_MAX], layer_out[LAYER_MAX], layer_ref[LAYER_MAX], field[LAYER_MAX];
static uint8_t layer_w[LAYER_MAX];
static int32_t layer_bias[64], layer_mult[64];
static int8_t layer_shift[64];
static int8_t scratch_space[LAYER_MAX + 16];

static void layer_fail(const char *what, int32_t trial)
{
    char line[64], *s = line;
    s = fmt_str(s, what);
    s = fmt_str(s, " mismatch in trial ");
    s = fmt_u32(s, (uint32_t)trial);
    *s = '\0';
    io_fail(line);
}

/* random requantization for n channels whose accumulators reach about 2^log_acc */
static void random_requant(int32_t n, int32_t log_acc)
{
    int32_t c;
    for (c = 0; c < n; ++c) {
        layer_bias[c] = rand_in(-5000, 5000);
        layer_mult[c] = (int32_t)(0x40000000u + (next_random() & 0x3FFFFFu) * 255u);
        /* mostly >= 33 (dmc_requantize_dsp's fast case), sometimes below */
        layer_shift[c] = (int8_t)rand_in(c % 3 == 2 ? 24 : 31 + log_acc - 8, 31 + log_acc - 5);
    }
}

static uint32_t check_layers(void)
{
    uint32_t checks = 0;
    int32_t trial, i;
    for (trial = 0; trial < 300; ++trial) {
        dmc_conv2d_s8 p;
        int32_t depth, row_bytes, pixels, o, c, oy, ox, guard;
        int8_t *scratch;
        const int32_t bits = trial % 3 == 0 ? 8 : (trial % 3 == 1 ? 4 : 2);
        p.in_c = trial % 4 == 0 ? 1 : rand_in(1, 7);
        p.kernel = rand_in(1, 5);
        p.stride = rand_in(1, 2);
        p.padding = rand_in(0, p.kernel - 1);
        p.in_h = rand_in(p.kernel, 9);
        p.in_w = rand_in(p.kernel, 9);
        p.out_h = (p.in_h + 2 * p.padding - p.kernel) / p.stride + 1;
        p.out_w = (p.in_w + 2 * p.padding - p.kernel) / p.stride + 1;
        p.out_c = rand_in(1, 7);
        p.bits = bits;
        depth = p.kernel * p.kernel * p.in_c;
        row_bytes = dmc_row_bytes(depth, bits);
        pixels = p.out_h * p.out_w;
        if (p.in_h * p.in_w * p.in_c > LAYER_MAX || pixels * p.out_c > LAYER_MAX ||
            row_bytes * p.out_c > LAYER_MAX || dmc_conv2d_s8_scratch_bytes(&p) > LAYER_MAX)
            continue;
        for (i = 0; i < p.in_h * p.in_w * p.in_c; ++i) layer_in[i] = (int8_t)(next_random() & 255u);
        for (i = 0; i < row_bytes * p.out_c; ++i) layer_w[i] = (uint8_t)(next_random() & 255u);
        random_requant(p.out_c, 10 + (depth > 16 ? 4 : 0));
        p.weights = layer_w;
        p.bias = layer_bias;
        p.multiplier = layer_mult;
        p.shift = layer_shift;
        p.input_zero_point = rand_in(-128, 127);
        p.output_zero_point = rand_in(-128, 127);
        p.act_min = trial % 2 ? p.output_zero_point : -128;
        p.act_max = 127;
        /* the reference: the definition, one field and one plain dot product at a time */
        for (oy = 0; oy < p.out_h; ++oy)
            for (ox = 0; ox < p.out_w; ++ox) {
                dmc_conv2d_s8_gather(&p, layer_in, oy, ox, field);
                for (o = 0; o < p.out_c; ++o)
                    layer_ref[(oy * p.out_w + ox) * p.out_c + o] = dmc_requantize(
                        layer_bias[o] + plain_dot(field, layer_w + o * row_bytes, depth, bits),
                        layer_mult[o], layer_shift[o], p.output_zero_point, p.act_min, p.act_max);
            }
        scratch = scratch_space + 1 + (trial & 2); /* odd or unaligned */
        guard = dmc_conv2d_s8_scratch_bytes(&p);
        for (i = 0; i < 8; ++i) scratch[guard + i] = 0x5A;
        dmc_conv2d_s8_run(&p, layer_in, layer_out, scratch);
        for (i = 0; i < 8; ++i)
            if (scratch[guard + i] != 0x5A) layer_fail("conv2d scratch overrun", trial);
        for (i = 0; i < pixels * p.out_c; ++i)
            if (layer_out[i] != layer_ref[i]) layer_fail("conv2d", trial);
        ++checks;
        { /* a linear layer: in_features = depth, the same weights */
            dmc_linear_s8 l;
            l.in_features = depth;
            l.out_features = p.out_c;
            l.bits = bits;
            l.weights = layer_w;
            l.bias = layer_bias;
            l.multiplier = layer_mult;
            l.shift = layer_shift;
            l.output_zero_point = p.output_zero_point;
            l.act_min = p.act_min;
            l.act_max = p.act_max;
            dmc_linear_s8_run(&l, layer_in, layer_out);
            for (c = 0; c < p.out_c; ++c)
                if (layer_out[c] != dmc_requantize(layer_bias[c] + plain_dot(layer_in, layer_w + c * row_bytes, depth, bits),
                                                   layer_mult[c], layer_shift[c], l.output_zero_point,
                                                   l.act_min, l.act_max))
                    layer_fail("linear", trial);
            ++checks;
        }
    }
    return checks;
}

/* One random depthwise layer against the plain loops; 0 when the shape
 * does not fit the buffers (not counted). */
static uint32_t check_depthwise(int32_t channels, int32_t kernel, int32_t stride, int32_t padding, int32_t bits,
                                int32_t clamp, int32_t trial)
{
    dmc_depthwise_conv2d_s8 p;
    int32_t i, size, out_size, row_bytes;
    int8_t *in = layer_in + 1; /* odd: the DSP path's word loads are unaligned */
    p.channels = channels;
    p.kernel = kernel;
    p.stride = stride;
    p.padding = padding;
    p.in_h = rand_in(kernel, kernel + 6);
    p.in_w = rand_in(kernel, kernel + 6);
    p.out_h = (p.in_h + 2 * padding - kernel) / stride + 1;
    p.out_w = (p.in_w + 2 * padding - kernel) / stride + 1;
    p.bits = bits;
    size = p.in_h * p.in_w * channels;
    out_size = p.out_h * p.out_w * channels;
    row_bytes = dmc_row_bytes(kernel * kernel, bits);
    if (size + 1 > LAYER_MAX || out_size + 8 > LAYER_MAX || row_bytes * channels > LAYER_MAX || channels > 64)
        return 0;
    for (i = 0; i < size; ++i) in[i] = (int8_t)(next_random() & 255u);
    for (i = 0; i < row_bytes * channels; ++i) layer_w[i] = (uint8_t)(next_random() & 255u);
    random_requant(channels, bits == 8 ? 14 + (kernel > 3) : 12); /* about |acc|: outputs mostly in range */
    p.weights = layer_w;
    p.bias = layer_bias;
    p.multiplier = layer_mult;
    p.shift = layer_shift;
    p.input_zero_point = rand_in(-128, 127);
    p.output_zero_point = rand_in(-128, 127);
    /* a fused ReLU6-like clamp: [z_out, z_out + something], or none */
    p.act_min = clamp ? p.output_zero_point : -128;
    p.act_max = clamp ? (int32_t)dmc_min_i32(127, p.output_zero_point + rand_in(0, 60)) : 127;
    dmc_depthwise_conv2d_s8_run_plain(&p, in, layer_ref);
    for (i = 0; i < out_size + 8; ++i) layer_out[i] = 0x5A;
    dmc_depthwise_conv2d_s8_run(&p, in, layer_out);
    for (i = 0; i < out_size; ++i)
        if (layer_out[i] != layer_ref[i]) layer_fail("depthwise", trial);
    for (i = out_size; i < out_size + 8; ++i)
        if (layer_out[i] != 0x5A) layer_fail("depthwise output overrun", trial);
    return 1;
}

static uint32_t check_depthwise_layers(void)
{
    static const int32_t channel_counts[5] = {1, 3, 4, 6, 13}, kernels[4] = {1, 3, 5, 7};
    uint32_t checks = 0;
    int32_t trial = 0, ci, ki, stride, padding, bits, clamp;
    for (ci = 0; ci < 5; ++ci)
        for (ki = 0; ki < 4; ++ki)
            for (stride = 1; stride <= 2; ++stride)
                for (padding = 0; padding <= 2 && padding < kernels[ki]; ++padding)
                    for (bits = 2; bits <= 8; bits *= 2)
                        for (clamp = 0; clamp <= 1; ++clamp)
                            checks += check_depthwise(channel_counts[ci], kernels[ki], stride, padding, bits,
                                                      clamp, trial++);
    for (ci = 0; ci < 1000; ++ci, ++trial) { /* random shapes */
        const int32_t k = rand_in(1, 5);
        checks += check_depthwise(rand_in(1, 24), k, rand_in(1, 3), rand_in(0, k - 1), 2 << rand_in(0, 2),
                                  rand_in(0, 1), trial);
    }
    return checks;
}

int main(void)
{
    uint32_t checks = 0;
    int32_t bits, n, trial, p, i;
    char line[128], *s = line;
    io_open();
    for (bits = 2; bits <= 8; bits *= 2)
        for (n = 1; n <= 70; ++n)
            for (trial = 0; trial < 20; ++trial) {
                int32_t dsp[4], plain[4];
                for (i = 0; i < 4 * STRIDE; ++i) x[i] = (int8_t)(next_random() & 255u);
                for (i = 0; i < STRIDE; ++i) w[i] = (uint8_t)(next_random() & 255u);
                for (i = 0; i < STRIDE; ++i) w_b[i] = (uint8_t)(next_random() & 255u);
                dmc_dot4_dsp(x, STRIDE, w, n, bits, dsp);
                if (bits == 8) dmc_dot4_w8(x, STRIDE, w, n, plain);
                else if (bits == 4) dmc_dot4_w4(x, STRIDE, w, n, plain);
                else dmc_dot4_w2(x, STRIDE, w, n, plain);
                {   /* two rows, one input (the fully connected layers) */
                    int32_t two[2], plain_b;
                    dmc_dot2_dsp(x, w, w_b, n, bits, two);
                    if (bits == 8) plain_b = dmc_dot_w8(x, w_b, n);
                    else if (bits == 4) plain_b = dmc_dot_w4(x, w_b, n);
                    else plain_b = dmc_dot_w2(x, w_b, n);
                    if (two[0] != plain[0]) mismatch(bits, n, two[0], plain[0]);
                    if (two[1] != plain_b) mismatch(bits, n, two[1], plain_b);
                    checks += 2;
                }
                for (p = 0; p < 4; ++p) {
                    const int32_t single = dmc_dot_dsp(x + STRIDE * p, w, n, bits);
                    if (dsp[p] != plain[p]) mismatch(bits, n, dsp[p], plain[p]);
                    if (single != plain[p]) mismatch(bits, n, single, plain[p]);
                    checks += 2;
                }
            }
    s = fmt_str(s, "dsp == plain in ");
    s = fmt_u32(s, checks);
    s = fmt_str(s, " dot products, ");
    s = fmt_u32(s, check_layers());
    s = fmt_str(s, " conv2d/linear layers, ");
    s = fmt_u32(s, check_depthwise_layers());
    s = fmt_str(s, " depthwise layers\n");
    io_write(line, (size_t)(s - line));
    return 0;
}
