/* Runs an exported header (prefix "model", see export_test.sh) over the
 * images of an uncompressed IDX file and writes the raw int8 outputs to
 * stdout, image after image: what `dmc infer` writes for the same model.
 * Built as C99 and as C++11, warnings as errors. */
#include <stdio.h>
#include <stdlib.h>

#define MODEL_IMPLEMENTATION
#include "model.h"

static unsigned long read_u32(FILE *f)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) return 0;
    return ((unsigned long)b[0] << 24) | ((unsigned long)b[1] << 16) | ((unsigned long)b[2] << 8) | b[3];
}

int main(int argc, char **argv)
{
    FILE *f;
    unsigned long count, rows, cols, i;
    static uint8_t pixels[MODEL_INPUT_SIZE];
    int8_t q[MODEL_INPUT_SIZE], out[MODEL_OUTPUT_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: run_header IMAGES.idx3-ubyte > outputs.bin\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (!f || read_u32(f) != 2051) {
        fprintf(stderr, "run_header: %s is not an IDX image file\n", argv[1]);
        return 2;
    }
    count = read_u32(f);
    rows = read_u32(f);
    cols = read_u32(f);
    if (rows * cols != MODEL_INPUT_SIZE) {
        fprintf(stderr, "run_header: images are %lux%lu, the model takes %d values\n", rows, cols, MODEL_INPUT_SIZE);
        return 2;
    }
    for (i = 0; i < count; ++i) {
        if (fread(pixels, 1, MODEL_INPUT_SIZE, f) != MODEL_INPUT_SIZE) {
            fprintf(stderr, "run_header: %s is truncated\n", argv[1]);
            return 2;
        }
        model_quantize_input_u8(pixels, q);
        model_infer(q, out);
        fwrite(out, 1, MODEL_OUTPUT_SIZE, stdout);
    }
    fclose(f);
    return 0;
}
