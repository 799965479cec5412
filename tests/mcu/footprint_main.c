/*
 * footprint_main.c - the smallest useful program around an exported model
 * (prefix "model"): one embedded digit (images.S, one image), quantized, one
 * inference between the instruction-count markers of icount.h, then the
 * outputs, the class and the stack high-water mark printed through
 * semihosting:
 *     out <2 hex digits per output byte>
 *     class <argmax>
 *     stack <bytes of stack used, whole run so far>
 * Built with -DWITH_MODEL it includes the model; without, the model's two
 * functions are stand-ins of a few instructions and there are no weights,
 * so that footprint.sh measures what the model itself adds to a firmware:
 * (flash, RAM) with the model minus (flash, RAM) of this baseline.
 */
#include <stdint.h>

#include "icount.h"
#include "mcu_io.h"

#ifdef WITH_MODEL
#define MODEL_IMPLEMENTATION
#include "model.h"
#else
#define MODEL_INPUT_SIZE 784
#define MODEL_OUTPUT_SIZE 10
__attribute__((noinline)) static void model_quantize_input_u8(const uint8_t *pixels, int8_t *q)
{
    int i;
    for (i = 0; i < MODEL_INPUT_SIZE; ++i) q[i] = (int8_t)(pixels[i] ^ 0x80u);
}
__attribute__((noinline)) static void model_infer(const int8_t *q_in, int8_t *q_out)
{
    int i;
    for (i = 0; i < MODEL_OUTPUT_SIZE; ++i) q_out[i] = q_in[i];
}
#endif

typedef char digit_size_matches_model[MODEL_INPUT_SIZE == 784 ? 1 : -1];

extern const uint8_t mcu_images[]; /* images.S: the digit, 784 pixels */
uint32_t mcu_stack_peak(void); /* startup.c */

static int8_t input[MODEL_INPUT_SIZE];
static int8_t output[MODEL_OUTPUT_SIZE];

int main(void)
{
    char line[2 * MODEL_OUTPUT_SIZE + 16], *s;
    int k, best = 0;
    io_open();
    /* an empty region first: the plugin must report 0 for it */
    ICOUNT_BEGIN();
    ICOUNT_END();
    model_quantize_input_u8(mcu_images, input);
    ICOUNT_BEGIN();
    model_infer(input, output);
    ICOUNT_END();

    s = fmt_str(line, "out ");
    for (k = 0; k < MODEL_OUTPUT_SIZE; ++k) {
        s = fmt_hex8(s, (uint8_t)output[k]);
        if (output[k] > output[best]) best = k;
    }
    *s++ = '\n';
    io_write(line, (size_t)(s - line));
    s = fmt_str(line, "class ");
    s = fmt_u32(s, (uint32_t)best);
    *s++ = '\n';
    io_write(line, (size_t)(s - line));
    s = fmt_str(line, "stack ");
    s = fmt_u32(s, mcu_stack_peak());
    *s++ = '\n';
    io_write(line, (size_t)(s - line));
    return 0;
}
