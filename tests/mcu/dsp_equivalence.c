/*
 * dsp_equivalence.c - the kernels' Cortex-M DSP dot products (SXTB16 +
 * SMLAD, dmc_dot_dsp / dmc_dot4_dsp in engine/kernels/dmc_dot.h) against
 * the plain C loops that define them: every length 1..70, 8, 4 and 2 bits,
 * random activations and random packed bytes (so every nibble and crumb
 * value, -8 and -2 included), 20 draws each. Built for the cores with the
 * DSP extension (mcu_test.sh runs it on M4 and M7); prints the number of
 * checks and fails with the first mismatch.
 */
#include "dmc_dot.h"
#include "mcu_io.h"

#if !DMC_ARM_DSP
#error "build for a core with the DSP extension (Cortex-M4/M7)"
#endif

static uint32_t state = 12345u;
static uint32_t next_random(void)
{
    state = state * 1664525u + 1013904223u; /* a plain LCG: reproducible everywhere */
    return state >> 8;
}

#define STRIDE 80

static int8_t x[4 * STRIDE];
static uint8_t w[STRIDE];

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

int main(void)
{
    uint32_t checks = 0;
    int32_t bits, n, trial, p, i;
    char line[48], *s = line;
    io_open();
    for (bits = 2; bits <= 8; bits *= 2)
        for (n = 1; n <= 70; ++n)
            for (trial = 0; trial < 20; ++trial) {
                int32_t dsp[4], plain[4];
                for (i = 0; i < 4 * STRIDE; ++i) x[i] = (int8_t)(next_random() & 255u);
                for (i = 0; i < STRIDE; ++i) w[i] = (uint8_t)(next_random() & 255u);
                dmc_dot4_dsp(x, STRIDE, w, n, bits, dsp);
                if (bits == 8) dmc_dot4_w8(x, STRIDE, w, n, plain);
                else if (bits == 4) dmc_dot4_w4(x, STRIDE, w, n, plain);
                else dmc_dot4_w2(x, STRIDE, w, n, plain);
                for (p = 0; p < 4; ++p) {
                    const int32_t single = dmc_dot_dsp(x + STRIDE * p, w, n, bits);
                    if (dsp[p] != plain[p]) mismatch(bits, n, dsp[p], plain[p]);
                    if (single != plain[p]) mismatch(bits, n, single, plain[p]);
                    checks += 2;
                }
            }
    s = fmt_str(s, "dsp == plain in ");
    s = fmt_u32(s, checks);
    s = fmt_str(s, " dot products\n");
    io_write(line, (size_t)(s - line));
    return 0;
}
