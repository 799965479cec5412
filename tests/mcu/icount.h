/*
 * icount.h - marks the region whose instructions icount_plugin.c counts.
 *
 *     ICOUNT_BEGIN();
 *     model_infer(q, out);
 *     ICOUNT_END();
 *
 * Each marker is a move of a high register onto itself, a 16-bit Thumb
 * instruction that exists on every M-profile core (ARMv6-M included) and
 * that compilers do not emit: "mov r9, r9" (0x46c9) opens a region and
 * "mov r10, r10" (0x46d2) closes it. On a real core each costs one cycle
 * and changes nothing. The plugin does not count the markers themselves.
 * The memory clobber keeps the compiler from moving loads and stores of the
 * measured code across a marker.
 */
#ifndef ICOUNT_H
#define ICOUNT_H

#define ICOUNT_BEGIN() __asm__ volatile("mov r9, r9" ::: "memory")
#define ICOUNT_END() __asm__ volatile("mov r10, r10" ::: "memory")

#endif /* ICOUNT_H */
