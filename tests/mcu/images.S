/*
 * images.S - test images embedded in the firmware as one const byte array,
 * taken at build time straight from an uncompressed MNIST IDX file:
 *
 *     extern const uint8_t mcu_images[MCU_IMAGE_COUNT * 784];
 *
 * images FIRST .. FIRST + COUNT - 1, 784 pixels each, row by row. Built
 * with -DMCU_IDX_FILE='"path"' -DMCU_IMAGE_FIRST=F -DMCU_IMAGE_COUNT=N;
 * the same file assembles for the ARM targets and for the host twin.
 * (.incbin instead of a generated C initializer: no compiler has to
 * parse 400,000 numbers for every build.)
 */
#ifndef MCU_IMAGE_FIRST
#define MCU_IMAGE_FIRST 0
#endif

    .section .rodata.mcu_images, "a"
    .global mcu_images
    .type mcu_images, %object
    .balign 4
mcu_images:
    /* the IDX image file has a 16-byte header */
    .incbin MCU_IDX_FILE, 16 + MCU_IMAGE_FIRST * 784, MCU_IMAGE_COUNT * 784
    .size mcu_images, . - mcu_images

#if defined(__linux__) && defined(__ELF__)
    .section .note.GNU-stack, "", %progbits /* no executable stack on the host */
#endif
