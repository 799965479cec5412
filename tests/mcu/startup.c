/*
 * startup.c - reset and fault handling for the test firmware (C99).
 *
 * One file for ARMv6-M (Cortex-M0/M0+) and ARMv7-M/ARMv7E-M (M3, M4F, M7):
 * the vector table, a reset handler that enables the FPU where there is
 * one, copies .data, clears .bss, paints the free stack with a pattern
 * (so mcu_stack_peak() can tell how deep the stack went), runs main() and
 * leaves QEMU with main's return value as exit status; and a fault handler
 * that prints the faulting PC and leaves with status 99.
 * Symbols come from link.ld. No C library start-up code is linked
 * (-nostartfiles): the firmware is plain C without constructors.
 */
#include <stdint.h>

#include "mcu_io.h"
#include "semihost.h"

extern uint32_t _data_load[], _data_start[], _data_end[];
extern uint32_t _bss_start[], _bss_end[], _stack_top[];

int main(void);
void mcu_reset(void);
void mcu_fault(void);
void mcu_fault_report(const uint32_t *frame, uint32_t exception);
uint32_t mcu_stack_peak(void);

/* Not a byte repeated four times, so that the compiler cannot turn the
 * painting loop into a call to memset (which would then paint over its
 * own stack frame). */
#define STACK_PAINT 0x5EEDC0DEu

static uint32_t current_sp(void)
{
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

void mcu_reset(void)
{
    volatile uint32_t *p;
    const uint32_t *src;
    uint32_t *dst, paint_end;
#if defined(__ARM_FP)
    /* CPACR: full access to coprocessors 10 and 11 (the FPU), before any
     * floating-point instruction can run */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    for (src = _data_load, dst = _data_start; dst < _data_end;) *dst++ = *src++;
    for (dst = _bss_start; dst < _bss_end;) *dst++ = 0u;
    /* paint from the end of .bss up to 64 bytes below the current stack
     * pointer (this function's frame stays untouched) */
    paint_end = current_sp() - 64u;
    for (p = _bss_end; (uint32_t)(uintptr_t)p < paint_end; ++p) *p = STACK_PAINT;
    sh_exit(main());
}

/* Bytes of stack used so far: from the top of RAM down to the lowest word
 * that no longer holds the paint. */
uint32_t mcu_stack_peak(void)
{
    const volatile uint32_t *p = _bss_end;
    while (p < _stack_top && *p == STACK_PAINT) ++p;
    return (uint32_t)((uintptr_t)_stack_top - (uintptr_t)p);
}

/* Every exception lands here: HardFault (all faults escalate to it on
 * ARMv6-M), and anything unexpected. r0 = the stacked frame (main stack),
 * whose word 6 is the PC of the faulting instruction. */
__attribute__((naked)) void mcu_fault(void)
{
    __asm__ volatile("mrs r0, msp\n\t"
                     "mrs r1, ipsr\n\t"
                     "bl mcu_fault_report\n\t");
}

void mcu_fault_report(const uint32_t *frame, uint32_t exception)
{
    char text[64], *s = text;
    int i;
    s = fmt_str(s, "MCU fault: exception ");
    s = fmt_u32(s, exception & 0x1FFu);
    s = fmt_str(s, " at pc 0x");
    for (i = 3; i >= 0; --i) s = fmt_hex8(s, (uint8_t)(frame[6] >> (8 * i)));
    *s = '\0';
    {
        int32_t err = sh_open_console(1);
        if (err >= 0) {
            sh_write(err, text, (size_t)(s - text));
            sh_write(err, "\n", 1);
        }
    }
    sh_exit(99);
}

typedef void (*mcu_vector)(void);

/* The 16 system vectors of the M profile. The boards' external interrupts
 * are never enabled, so none is listed. */
__attribute__((section(".vectors"), used)) const mcu_vector mcu_vectors[16] = {
    (mcu_vector)(uintptr_t)_stack_top, /* initial main stack pointer */
    mcu_reset,                         /* reset */
    mcu_fault,                         /* NMI */
    mcu_fault,                         /* HardFault */
    mcu_fault,                         /* MemManage (ARMv7-M) */
    mcu_fault,                         /* BusFault (ARMv7-M) */
    mcu_fault,                         /* UsageFault (ARMv7-M) */
    0, 0, 0, 0,                        /* reserved */
    mcu_fault,                         /* SVCall */
    mcu_fault,                         /* DebugMonitor (ARMv7-M) */
    0,                                 /* reserved */
    mcu_fault,                         /* PendSV */
    mcu_fault,                         /* SysTick */
};
