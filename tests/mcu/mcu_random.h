/*
 * mcu_random.h - reproducible random numbers for the equivalence tests
 * (dsp_equivalence.c, conv1_equivalence.c): a plain LCG, the same sequence
 * on every core and on the host. Define MCU_RANDOM_SEED before including
 * it: each test keeps its own sequence.
 */
#ifndef MCU_RANDOM_H
#define MCU_RANDOM_H

#include <stdint.h>

#ifndef MCU_RANDOM_SEED
#error "define MCU_RANDOM_SEED before including mcu_random.h"
#endif

static uint32_t mcu_random_state = MCU_RANDOM_SEED;

static inline uint32_t next_random(void)
{
    mcu_random_state = mcu_random_state * 1664525u + 1013904223u;
    return mcu_random_state >> 8; /* the low bits of an LCG cycle quickly */
}

static inline int32_t rand_in(int32_t lo, int32_t hi) /* uniform in [lo, hi] */
{
    return lo + (int32_t)(next_random() % (uint32_t)(hi - lo + 1));
}

#endif /* MCU_RANDOM_H */
