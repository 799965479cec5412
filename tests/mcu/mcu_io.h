/*
 * mcu_io.h - the little output the test firmware needs, the same on the
 * emulated microcontroller (semihost.c: ARM semihosting, QEMU's stdout)
 * and on the host (host_io.c: stdio), so both builds print byte-identical
 * text. No printf: newlib-nano's printf has no 64-bit formats and int32_t
 * is `long` on arm-none-eabi, so the firmware formats numbers itself.
 */
#ifndef MCU_IO_H
#define MCU_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void io_open(void);                        /* before the first io_write */
void io_write(const char *text, size_t n); /* to standard output */
void io_fail(const char *message);         /* to standard error, then exit(1) */

#ifdef __cplusplus
}
#endif

/* Appends two lowercase hex digits of the byte v at s; returns s + 2. */
static inline char *fmt_hex8(char *s, uint8_t v)
{
    static const char digits[] = "0123456789abcdef";
    s[0] = digits[v >> 4];
    s[1] = digits[v & 15u];
    return s + 2;
}

/* Appends v in decimal at s; returns the end. */
static inline char *fmt_u32(char *s, uint32_t v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n > 0) *s++ = tmp[--n];
    return s;
}

/* Appends the NUL-terminated text t at s; returns the end. */
static inline char *fmt_str(char *s, const char *t)
{
    while (*t != '\0') *s++ = *t++;
    return s;
}

#endif /* MCU_IO_H */
