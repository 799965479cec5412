/*
 * dmc_depthwise.h - integer depthwise 2-D convolution: one k x k filter per
 * channel, NHWC activations, weights [channels][kernel][kernel] packed at
 * 8, 4 or 2 bits, one row per channel (see dmc_arith.h for the arithmetic;
 * rule 7 for this op).
 */
#ifndef DMC_DEPTHWISE_H
#define DMC_DEPTHWISE_H

#include "dmc_dot.h" /* dmc_arith.h, and DMC_ARM_DSP with its helpers */

typedef struct dmc_depthwise_conv2d_s8 {
    int32_t in_h, in_w, channels; /* the output has the same channels */
    int32_t out_h, out_w;
    int32_t kernel, stride, padding; /* square kernel; 0 <= padding < kernel */
    int32_t bits;                    /* 8, 4 or 2 */
    const uint8_t *weights;          /* channels rows of dmc_row_bytes(kernel*kernel, bits) */
    const int32_t *bias;             /* channels, input zero point folded in */
    const int32_t *multiplier;       /* channels, in [2^30, 2^31) */
    const int8_t *shift;             /* channels, in [1, 62] */
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t act_min, act_max; /* a fused ReLU / ReLU6: act_min = output_zero_point, act_max its max */
} dmc_depthwise_conv2d_s8;

/* The int32 accumulator of channel c at output pixel (oy, ox), bias
 * included. A padded position reads the input zero point, which the folded
 * bias cancels (dmc_arith.h rule 4), exactly as in dmc_conv2d.h. The
 * window holds kernel * kernel (usually 9) weights, so each is unpacked
 * where it is used; the bits test does not change inside a layer. */
static inline int32_t dmc_depthwise_conv2d_s8_accumulator(const dmc_depthwise_conv2d_s8 *p,
                                                          const int8_t *in, int32_t oy, int32_t ox,
                                                          int32_t c)
{
    const int32_t k = p->kernel, c_n = p->channels;
    const uint8_t *w = p->weights + (size_t)c * (size_t)dmc_row_bytes(k * k, p->bits);
    const int32_t y0 = oy * p->stride - p->padding, x0 = ox * p->stride - p->padding;
    int32_t acc = p->bias[c], ky, kx;
    for (ky = 0; ky < k; ++ky) {
        const int32_t iy = y0 + ky;
        for (kx = 0; kx < k; ++kx) {
            const int32_t ix = x0 + kx;
            const int32_t inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            const int32_t v = inside ? in[((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)c_n + (size_t)c]
                                     : p->input_zero_point;
            acc += dmc_packed_get(w, ky * k + kx, p->bits) * v;
        }
    }
    return acc;
}

#if DMC_ARM_DSP
/* The Cortex-M DSP depthwise convolution: the same integers as the plain
 * loops below, four channels per pass. The four adjacent NHWC channels of
 * a tap are one word x; SXTAB16 widens it to the int16 pairs
 * (x_0 - z_in, x_2 - z_in) and (x_1 - z_in, x_3 - z_in) (with ROR #8), and
 * SMLABB / SMLATT add each channel's product to its own accumulator. The
 * four channels' weights are unpacked once per layer to one word per tap on
 * the stack, (w_0, w_1, w_2, w_3) as bytes, so the pixel loop does no
 * sub-byte unpacking and is one copy for every width. Subtracting z_in
 * moves the padding out of the loop:
 *     bias + sum_all w * v = (bias + z_in * sum_all w) + sum_inside w * (x - z_in)
 * since a padded tap reads v = z_in. So a border pixel's window is clipped
 * to the image once and runs only its inside taps, with no bounds test per
 * tap; a 3 x 3 window inside the image runs unrolled. Every value is exact:
 * |w (x - z_in)| <= 127 * 255, at most DMC_DW_DSP_TAPS of them. */
#define DMC_DW_DSP_TAPS 25 /* kernels up to 5 x 5 (100 bytes of stack); larger ones run the plain loops */

static inline uint32_t dmc_sxtab16(uint32_t add, uint32_t x) /* add + bytes 0 and 2 of x, by halfword */
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(add), "r"(x));
    return r;
}

static inline uint32_t dmc_sxtab16_ror8(uint32_t add, uint32_t x) /* add + bytes 1 and 3 of x */
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(add), "r"(x));
    return r;
}

static inline int32_t dmc_smlabb(uint32_t a, uint32_t b, int32_t acc) /* acc + a.lo * b.lo */
{
    int32_t r;
    __asm__("smlabb %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

static inline int32_t dmc_smlatt(uint32_t a, uint32_t b, int32_t acc) /* acc + a.hi * b.hi */
{
    int32_t r;
    __asm__("smlatt %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* Channels c .. c + 3: wt[t] = their weights of tap t, one byte each, and
 * acc[j] = bias + z_in * sum w (in uint32: it wraps as the plain sum would).
 * Element t of a row is at bit t * bits (dmc_arith.h rule 3): shifted, masked
 * and sign-extended by xor-subtract, the same for every width. */
static inline void dmc_dw_dsp_unpack(const dmc_depthwise_conv2d_s8 *p, int32_t c, uint32_t *wt, int32_t acc[4])
{
    const int32_t taps = p->kernel * p->kernel, bits = p->bits, row_bytes = dmc_row_bytes(taps, bits);
    const uint32_t mask = (1u << bits) - 1u, half = 1u << (bits - 1);
    int32_t j, t;
    for (t = 0; t < taps; ++t) wt[t] = 0;
    for (j = 0; j < 4; ++j) {
        const uint8_t *row = p->weights + (size_t)(c + j) * (size_t)row_bytes;
        uint32_t sum = 0, pos = 0;
        for (t = 0; t < taps; ++t, pos += (uint32_t)bits) {
            const uint32_t w = ((((uint32_t)row[pos >> 3] >> (pos & 7u)) & mask) ^ half) - half;
            wt[t] |= (w & 0xFFu) << (8 * j);
            sum += w;
        }
        acc[j] = (int32_t)((uint32_t)p->bias[c + j] + (uint32_t)p->input_zero_point * sum);
    }
}

/* One tap of four channels: x's word widened less z_in, wt's word widened,
 * each product into its channel's accumulator a0..a3. */
#define DMC_DW_TAP(q, w)                                                                          \
    do {                                                                                          \
        const uint32_t v_ = dmc_load32(q), w_ = (w);                                              \
        const uint32_t x02_ = dmc_sxtab16(neg_z, v_), x13_ = dmc_sxtab16_ror8(neg_z, v_);         \
        const uint32_t w02_ = dmc_sxtb16(w_), w13_ = dmc_sxtb16_ror8(w_);                         \
        a0 = dmc_smlabb(x02_, w02_, a0);                                                          \
        a2 = dmc_smlatt(x02_, w02_, a2);                                                          \
        a1 = dmc_smlabb(x13_, w13_, a1);                                                          \
        a3 = dmc_smlatt(x13_, w13_, a3);                                                          \
    } while (0)

/* Adds to acc the taps of output pixel (oy, ox) that lie inside the image:
 * the window clipped to the image, any kernel size. Out of line: it serves
 * the border pixels (and every pixel of a kernel other than 3 x 3), and
 * keeps its registers out of the interior loop. */
static __attribute__((noinline, unused)) void dmc_dw_dsp_clipped(const dmc_depthwise_conv2d_s8 *p,
                                                                   const int8_t *in, int32_t c,
                                                                   const uint32_t *wt, uint32_t neg_z,
                                                                   int32_t oy, int32_t ox, int32_t acc[4])
{
    const int32_t k = p->kernel, c_n = p->channels, in_row = p->in_w * c_n;
    const int32_t y0 = oy * p->stride - p->padding, x0 = ox * p->stride - p->padding;
    const int32_t ky_lo = y0 < 0 ? -y0 : 0, ky_hi = y0 + k > p->in_h ? p->in_h - y0 : k;
    const int32_t kx_lo = x0 < 0 ? -x0 : 0, kx_hi = x0 + k > p->in_w ? p->in_w - x0 : k;
    const int8_t *x = in + (ptrdiff_t)(y0 + ky_lo) * in_row + (ptrdiff_t)(x0 + kx_lo) * c_n + c;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], ky, kx;
    for (ky = ky_lo, wt += ky_lo * k; ky < ky_hi; ++ky, x += in_row, wt += k) {
        const int8_t *q = x;
        for (kx = kx_lo; kx < kx_hi; ++kx, q += c_n) DMC_DW_TAP(q, wt[kx]);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#if defined(__OPTIMIZE__) && defined(__GNUC__)
/* One tap in asm (the weight word at byte offset OFF of wt): 11
 * instructions, four temporaries. The C version needs more registers than
 * the core has and spills in the loop (an optimising build only: without
 * one the C version runs). A row of three taps is one asm statement of 12
 * operands, so that it also fits when r7 is kept as the frame pointer. */
#define DMC_DW_TAP_TEXT(OFF)                                                                      \
    "ldr %[v], [%[q]]\n\t"                                                                        \
    "ldr %[w], [%[wt], #" #OFF "]\n\t"                                                            \
    "sxtab16 %[t], %[nz], %[v]\n\t"                                                               \
    "sxtb16 %[u], %[w]\n\t"                                                                       \
    "smlabb %[a0], %[t], %[u], %[a0]\n\t"                                                         \
    "smlatt %[a2], %[t], %[u], %[a2]\n\t"                                                         \
    "sxtab16 %[t], %[nz], %[v], ror #8\n\t"                                                       \
    "sxtb16 %[u], %[w], ror #8\n\t"                                                               \
    "smlabb %[a1], %[t], %[u], %[a1]\n\t"                                                         \
    "smlatt %[a3], %[t], %[u], %[a3]\n\t"                                                         \
    "add %[q], %[q], %[cn]\n\t"
#define DMC_DW_ROW_ASM(O0, O1, O2)                                                                \
    __asm__(DMC_DW_TAP_TEXT(O0) DMC_DW_TAP_TEXT(O1) DMC_DW_TAP_TEXT(O2)                           \
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [q] "+r"(x), [v] "=&r"(v), \
              [w] "=&r"(w), [t] "=&r"(t), [u] "=&r"(u)                                            \
            : [wt] "r"(wt), [nz] "r"(neg_z), [cn] "r"(c_n)                                        \
            : "memory")
#endif

/* Adds to acc a 3 x 3 window inside the image (x at its first tap),
 * unrolled. Out of line, with few values live. */
static __attribute__((noinline, unused)) void dmc_dw_dsp_3x3(const int8_t *x, const uint32_t *wt, int32_t c_n,
                                                               int32_t in_row, uint32_t neg_z, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if defined(__OPTIMIZE__) && defined(__GNUC__)
    const int32_t skip = in_row - 3 * c_n; /* from after a row's third tap to the next row */
    uint32_t v, w, t, u;
    DMC_DW_ROW_ASM(0, 4, 8);
    x += skip;
    DMC_DW_ROW_ASM(12, 16, 20);
    x += skip;
    DMC_DW_ROW_ASM(24, 28, 32);
#else
    int32_t j;
    for (j = 0; j < 9; j += 3, x += in_row) {
        DMC_DW_TAP(x, wt[j]);
        DMC_DW_TAP(x + c_n, wt[j + 1]);
        DMC_DW_TAP(x + 2 * c_n, wt[j + 2]);
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* The first output index whose window starts inside the image (0 <= i *
 * stride - padding), and the end of those whose window ends inside it
 * (i * stride - padding + kernel <= size): stepped, not divided. */
static inline void dmc_dw_dsp_inside(int32_t out, int32_t size, int32_t kernel, int32_t stride,
                                     int32_t padding, int32_t *lo, int32_t *hi)
{
    int32_t i = 0, j;
    while (i < out && i * stride < padding) ++i;
    j = i;
    while (j < out && j * stride - padding + kernel <= size) ++j;
    *lo = i;
    *hi = j;
}

/* The requantization of a group's four accumulators into o[0..3]:
 * dmc_requantize_dsp, with its shift >= 33 case's constants hoisted out
 * of the pixel loop when every shift of the group has it (fast). */
static inline __attribute__((always_inline)) void dmc_dw_dsp_store4(const int32_t acc[4], int32_t fast,
                                                                    const int32_t *multiplier,
                                                                    const int8_t *shift, const int32_t round[4],
                                                                    const int32_t down[4], int32_t zero_point,
                                                                    int32_t act_min, int32_t act_max, int8_t *o)
{
    int32_t j;
    if (fast) {
        for (j = 0; j < 4; ++j) {
            const int32_t h = (int32_t)(((int64_t)acc[j] * (int64_t)multiplier[j]) >> 32);
            const int32_t v = ((h + round[j]) >> down[j]) + zero_point;
            o[j] = (int8_t)(v < act_min ? act_min : (v > act_max ? act_max : v));
        }
        return;
    }
    for (j = 0; j < 4; ++j)
        o[j] = dmc_requantize_dsp(acc[j], multiplier[j], shift[j], zero_point, act_min, act_max);
}

/* Channels c .. c + 3 over every output pixel. (A channel count that is
 * not a multiple of 4 ends with a group that overlaps the one before, so
 * that no load reads beyond the input; it stores the same bytes again.) A
 * 3 x 3 window inside the image runs unrolled (dmc_dw_dsp_3x3), the
 * others take dmc_dw_dsp_clipped. Out of line: one copy serves every
 * layer and width. The layer's fields are copied to locals first: an int8
 * store could alias them, and they would be reloaded after every one. */
static __attribute__((noinline, unused)) void dmc_dw_dsp_group(const dmc_depthwise_conv2d_s8 *p,
                                                                 const int8_t *in, int8_t *out, int32_t c)
{
    const int32_t c_n = p->channels, in_row = p->in_w * c_n, step = p->stride * c_n;
    const int32_t out_w = p->out_w, zero_point = p->output_zero_point;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t *const multiplier = p->multiplier + c;
    const int8_t *const shift = p->shift + c;
    const uint32_t neg_z = ((uint32_t)-p->input_zero_point & 0xFFFFu) * 0x10001u;
    uint32_t wt[DMC_DW_DSP_TAPS];
    int32_t bias[4], round[4], down[4], fast = 1, y_lo, y_hi, x_lo, x_hi, oy, ox, j;
    int8_t *o = out + c;
    dmc_dw_dsp_unpack(p, c, wt, bias);
    for (j = 0; j < 4; ++j) {
        fast &= shift[j] >= 33;
        down[j] = shift[j] - 32;
        round[j] = (int32_t)(1u << ((uint32_t)(shift[j] - 33) & 31u)); /* used only if fast */
    }
    dmc_dw_dsp_inside(p->out_h, p->in_h, p->kernel, p->stride, p->padding, &y_lo, &y_hi);
    dmc_dw_dsp_inside(out_w, p->in_w, p->kernel, p->stride, p->padding, &x_lo, &x_hi);
    if (p->kernel != 3) y_hi = y_lo; /* no unrolled windows */
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t row_inside = oy >= y_lo && oy < y_hi;
        const int8_t *x = row_inside ? in + (ptrdiff_t)(oy * p->stride - p->padding) * in_row +
                                           (ptrdiff_t)(x_lo * p->stride - p->padding) * c_n + c
                                     : in; /* at ox = x_lo, if used */
        for (ox = 0; ox < out_w; ++ox, o += c_n) {
            int32_t acc[4];
            for (j = 0; j < 4; ++j) acc[j] = bias[j];
            if (row_inside && ox >= x_lo && ox < x_hi) {
                dmc_dw_dsp_3x3(x, wt, c_n, in_row, neg_z, acc);
                x += step;
            } else {
                dmc_dw_dsp_clipped(p, in, c, wt, neg_z, oy, ox, acc);
            }
            dmc_dw_dsp_store4(acc, fast, multiplier, shift, round, down, zero_point, act_min, act_max, o);
        }
    }
}
#endif

/* The plain loops: the definition, on every target. */
static inline void dmc_depthwise_conv2d_s8_run_plain(const dmc_depthwise_conv2d_s8 *p, const int8_t *in,
                                                     int8_t *out)
{
    int32_t oy, ox, c;
    for (oy = 0; oy < p->out_h; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            int8_t *o = out + ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)p->channels;
            for (c = 0; c < p->channels; ++c)
                o[c] = dmc_requantize(dmc_depthwise_conv2d_s8_accumulator(p, in, oy, ox, c),
                                      p->multiplier[c], p->shift[c], p->output_zero_point,
                                      p->act_min, p->act_max);
        }
    }
}

/* out (out_h x out_w x channels) = depthwise conv(in (in_h x in_w x channels)).
 * No scratch; in and out must not overlap. On the DSP path it only
 * dispatches, always inlined: for a constant layer (an exported header's)
 * the compiler then drops the plain loops when no layer needs them. */
static inline DMC_DSP_DISPATCH void dmc_depthwise_conv2d_s8_run(const dmc_depthwise_conv2d_s8 *p, const int8_t *in,
                                               int8_t *out)
{
#if DMC_ARM_DSP
    if (p->kernel * p->kernel <= DMC_DW_DSP_TAPS && p->channels >= 4) {
        int32_t c;
        for (c = 0; c + 4 <= p->channels; c += 4) dmc_dw_dsp_group(p, in, out, c);
        if (c < p->channels) dmc_dw_dsp_group(p, in, out, p->channels - 4);
        return;
    }
#endif
    dmc_depthwise_conv2d_s8_run_plain(p, in, out);
}

#endif /* DMC_DEPTHWISE_H */
