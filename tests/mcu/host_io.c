/* host_io.c - mcu_io.h for the host twin of the test firmware: stdio. */
#include <stdio.h>
#include <stdlib.h>

#include "mcu_io.h"

void io_open(void) {}

void io_write(const char *text, size_t n)
{
    if (fwrite(text, 1, n, stdout) != n) io_fail("host_io: write to stdout failed");
}

void io_fail(const char *message)
{
    fprintf(stderr, "%s\n", message);
    exit(1);
}
