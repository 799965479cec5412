/*
 * semihost.h - the three ARM semihosting calls the firmware uses. The
 * guest executes BKPT 0xAB with an operation number in r0 and a pointer to
 * its arguments in r1; QEMU (-semihosting-config enable=on,target=native)
 * performs the call on the host.
 */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Opens the host's console (":tt"): for writing (stdout) or, with
 * to_stderr, for appending (stderr). Returns a handle, or -1. */
int32_t sh_open_console(int to_stderr);

/* Writes n bytes to an open handle; returns the bytes NOT written. */
int32_t sh_write(int32_t handle, const void *data, size_t n);

/* Stops the emulator; qemu-system-arm exits with `status` (0..255). */
void sh_exit(int status);

#endif /* SEMIHOST_H */
