/* semihost.c - ARM semihosting for the test firmware, and mcu_io.h on top
 * of it. See semihost.h. */
#include "semihost.h"
#include "mcu_io.h"

enum {
    SH_SYS_OPEN = 0x01,
    SH_SYS_WRITE = 0x05,
    SH_SYS_EXIT = 0x18,
    SH_SYS_EXIT_EXTENDED = 0x20,
    SH_APPLICATION_EXIT = 0x20026 /* ADP_Stopped_ApplicationExit */
};

static int32_t sh_call(int32_t op, const void *args)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = args;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int32_t sh_open_console(int to_stderr)
{
    /* ":tt" opened with mode 4 ("w") is stdout, with mode 8 ("a") stderr */
    static const char name[] = ":tt";
    uint32_t args[3];
    args[0] = (uint32_t)(uintptr_t)name;
    args[1] = to_stderr ? 8u : 4u;
    args[2] = sizeof name - 1u;
    return sh_call(SH_SYS_OPEN, args);
}

int32_t sh_write(int32_t handle, const void *data, size_t n)
{
    uint32_t args[3];
    args[0] = (uint32_t)handle;
    args[1] = (uint32_t)(uintptr_t)data;
    args[2] = (uint32_t)n;
    return sh_call(SH_SYS_WRITE, args);
}

void sh_exit(int status)
{
    uint32_t args[2];
    args[0] = SH_APPLICATION_EXIT;
    args[1] = (uint32_t)status & 0xFFu;
    sh_call(SH_SYS_EXIT_EXTENDED, args);
    /* a host without the extended call: plain exit (status 0 or 1) */
    sh_call(SH_SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? SH_APPLICATION_EXIT : 0x20023));
    for (;;) {
    }
}

static int32_t out_handle = -1;

void io_open(void)
{
    out_handle = sh_open_console(0);
    if (out_handle < 0) io_fail("semihost: cannot open the console");
}

void io_write(const char *text, size_t n)
{
    if (sh_write(out_handle, text, n) != 0) io_fail("semihost: short write");
}

void io_fail(const char *message)
{
    int32_t err = sh_open_console(1);
    size_t n = 0;
    while (message[n] != '\0') ++n;
    if (err >= 0) {
        sh_write(err, message, n);
        sh_write(err, "\n", 1);
    }
    sh_exit(1);
}
