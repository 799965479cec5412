/* Runs an exported header (prefix "model", see export_test.sh) over the
 * images of an uncompressed IDX file and writes the raw int8 outputs to
 * stdout, image after image: what `dmc infer` writes for the same model.
 * The images take turns: model_infer (the static arena), then
 * model_infer_arena with one caller arena, then with another (at an odd
 * address: any alignment must do); an inference in one arena must leave
 * the other as it was. Built as C99 and as C++11, warnings as errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_IMPLEMENTATION
#include "model.h"

static unsigned long read_u32(FILE *f)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) return 0;
    return ((unsigned long)b[0] << 24) | ((unsigned long)b[1] << 16) | ((unsigned long)b[2] << 8) | b[3];
}

/* Two caller arenas, the second at an odd address. */
static unsigned char arena_storage[2 * MODEL_ARENA_BYTES + 1];
static unsigned char before[MODEL_ARENA_BYTES];

/* Image i through the static arena or caller arena (i % 3) - 1; 0 if the
 * other caller arena stayed as it was. */
static int infer_in_turn(unsigned long i, const int8_t *q, int8_t *out)
{
    unsigned char *arenas[2];
    int mine;
    arenas[0] = arena_storage;
    arenas[1] = arena_storage + MODEL_ARENA_BYTES + 1;
    if (i % 3 == 0) {
        model_infer(q, out);
        return 0;
    }
    mine = (int)(i % 3) - 1;
    memcpy(before, arenas[1 - mine], MODEL_ARENA_BYTES);
    model_infer_arena(q, out, arenas[mine]);
    return memcmp(before, arenas[1 - mine], MODEL_ARENA_BYTES) != 0;
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
        if (infer_in_turn(i, q, out)) {
            fprintf(stderr, "run_header: an inference in one caller arena changed the other\n");
            return 1;
        }
        fwrite(out, 1, MODEL_OUTPUT_SIZE, stdout);
    }
    fclose(f);
    return 0;
}
