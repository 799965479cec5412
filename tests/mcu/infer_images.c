/*
 * infer_images.c - runs an exported model header (prefix "model") over the
 * test images embedded in images.h and prints its int8 outputs, one line
 * per image, each output as two lowercase hex digits (its byte):
 *     2bd1d3...   (MODEL_OUTPUT_SIZE bytes -> 2 * MODEL_OUTPUT_SIZE digits)
 * The same file is built for the emulated microcontrollers (with
 * startup.c and semihost.c) and for the host (with host_io.c), as C99 and
 * as C++11; mcu_test.sh compares the lines with each other and with
 * `dmc infer`.
 */
#define MODEL_IMPLEMENTATION
#include "model.h"

#include "mcu_io.h"

#ifdef __cplusplus
extern "C" {
#endif
extern const uint8_t mcu_images[]; /* images.S: MCU_IMAGE_COUNT x 784 pixels */
#ifdef __cplusplus
}
#endif

typedef char image_size_matches_model[MODEL_INPUT_SIZE == 784 ? 1 : -1];

static int8_t input[MODEL_INPUT_SIZE];
static int8_t output[MODEL_OUTPUT_SIZE];

int main(void)
{
    char line[2 * MODEL_OUTPUT_SIZE + 1];
    long i;
    int k;
    io_open();
    for (i = 0; i < MCU_IMAGE_COUNT; ++i) {
        char *s = line;
        model_quantize_input_u8(mcu_images + i * MODEL_INPUT_SIZE, input);
        model_infer(input, output);
        for (k = 0; k < MODEL_OUTPUT_SIZE; ++k) s = fmt_hex8(s, (uint8_t)output[k]);
        *s++ = '\n';
        io_write(line, (size_t)(s - line));
    }
    return 0;
}
