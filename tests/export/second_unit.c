/* A second translation unit that only includes the header (no
 * implementation): checks that the header can be included from several
 * files of one program. */
#include "model.h"

int model_classify_pixels(const uint8_t *pixels, void *arena);

/* arena: MODEL_ARENA_BYTES bytes, or NULL for the header's own */
int model_classify_pixels(const uint8_t *pixels, void *arena)
{
    int8_t q[MODEL_INPUT_SIZE], out[MODEL_OUTPUT_SIZE];
    int i, best = 0;
    model_quantize_input_u8(pixels, q);
    if (arena) model_infer_arena(q, out, arena);
    else model_infer(q, out);
    for (i = 1; i < MODEL_OUTPUT_SIZE; ++i)
        if (out[i] > out[best]) best = i;
    return best;
}
