/*
 * icount_plugin.c - a QEMU TCG plugin that counts the guest instructions
 * executed between the markers of icount.h, exactly.
 *
 * Every translated instruction gets an inline 64-bit add of 1 to a counter
 * (no helper call, so counting barely slows QEMU down); the two marker
 * instructions instead get a callback that reads the counter. The markers
 * are not counted, so a region's count is the instructions strictly
 * between its BEGIN and its END, whatever order QEMU runs the inline add
 * and the callback of one instruction in. QEMU has no timing model: these
 * are instructions, not cycles.
 *
 * Output, one line per END and one at exit, to stderr or to out=FILE:
 *     region <k> <instructions>
 *     total <instructions>
 * With profile=FILE it also writes, at exit, how often each instruction
 * address executed inside the regions (all regions together), one line
 * per address: "<hex address> <count>" (a callback per instruction: slower,
 * for looking at one inference, not for long runs).
 *
 * Build (host compiler, no QEMU headers needed):
 *     gcc -shared -fPIC -O2 -o libicount.so icount_plugin.c
 * Use:
 *     qemu-system-arm ... -plugin ./libicount.so,out=counts.txt[,profile=pcs.txt]
 *
 * Debian 12's qemu-system-arm (7.2) is built with plugin support but ships
 * no <qemu-plugin.h>, so the few declarations of plugin API version 1 that
 * this file uses are written out below. (Later QEMU versions changed the
 * API; port this file to their header before using it with them.)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- plugin API version 1 (QEMU 7.x), the subset used here ---- */
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
/* ---------------------------------------------------------------- */

#define EXPORT __attribute__((visibility("default")))

EXPORT int qemu_plugin_version = 1;

enum { OPCODE_BEGIN = 0x46c9, OPCODE_END = 0x46d2 }; /* mov r9,r9 / mov r10,r10 */

static uint64_t executed;      /* instructions executed so far, markers excluded */
static uint64_t region_start;  /* `executed` at the last BEGIN */
static bool region_open;
static unsigned regions;
static FILE *report;

/* profile=FILE: executions per instruction address inside the regions, in
 * an open-addressing table (the firmware has far fewer instructions) */
#define PROFILE_SLOTS (1u << 18)
static struct profile_slot {
    uint64_t address, count;
    bool used;
} *profile;
static FILE *profile_out;
static bool profile_full;

static void at_insn(unsigned int vcpu, void *address)
{
    uint64_t a = (uint64_t)(uintptr_t)address;
    uint32_t i = (uint32_t)((a >> 1) * 2654435761u) & (PROFILE_SLOTS - 1u), probes;
    (void)vcpu;
    if (!region_open) return;
    for (probes = 0; probes < PROFILE_SLOTS; ++probes, i = (i + 1u) & (PROFILE_SLOTS - 1u)) {
        if (!profile[i].used) {
            profile[i].used = true;
            profile[i].address = a;
        }
        if (profile[i].address == a) {
            ++profile[i].count;
            return;
        }
    }
    profile_full = true;
}

static void at_begin(unsigned int vcpu, void *unused)
{
    (void)vcpu;
    (void)unused;
    region_start = executed;
    region_open = true;
}

static void at_end(unsigned int vcpu, void *unused)
{
    (void)vcpu;
    (void)unused;
    if (!region_open) {
        fprintf(report, "icount: END without BEGIN\n");
        return;
    }
    fprintf(report, "region %u %llu\n", regions++, (unsigned long long)(executed - region_start));
    fflush(report);
    region_open = false;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t i, n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    for (i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint16_t opcode = 0;
        /* The markers are 16-bit, but a marker 4 bytes before a page end is
         * reported with the next halfword too (QEMU 7.2's Thumb translator),
         * so its size reads 4: take the first halfword whatever the size. No
         * 32-bit Thumb instruction starts with a marker's halfword. */
        if (qemu_plugin_insn_size(insn) >= 2) memcpy(&opcode, qemu_plugin_insn_data(insn), 2);
        if (opcode == OPCODE_BEGIN)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, at_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
        else if (opcode == OPCODE_END)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, at_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        else {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &executed, 1);
            if (profile != NULL)
                qemu_plugin_register_vcpu_insn_exec_cb(
                    insn, at_insn, QEMU_PLUGIN_CB_NO_REGS,
                    (void *)(uintptr_t)qemu_plugin_insn_vaddr(insn));
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *unused)
{
    (void)id;
    (void)unused;
    uint32_t i;
    fprintf(report, "total %llu\n", (unsigned long long)executed);
    if (profile_full) fprintf(report, "icount: the profile table overflowed; the profile is incomplete\n");
    if (report != stderr) fclose(report);
    if (profile != NULL) {
        for (i = 0; i < PROFILE_SLOTS; ++i)
            if (profile[i].used)
                fprintf(profile_out, "%llx %llu\n", (unsigned long long)profile[i].address,
                        (unsigned long long)profile[i].count);
        fclose(profile_out);
        free(profile);
    }
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
    int i;
    (void)info;
    report = stderr;
    for (i = 0; i < argc; ++i) {
        if (strncmp(argv[i], "out=", 4) == 0 && argv[i][4] != '\0') {
            report = fopen(argv[i] + 4, "w");
            if (report == NULL) {
                perror(argv[i] + 4);
                return -1;
            }
        } else if (strncmp(argv[i], "profile=", 8) == 0 && argv[i][8] != '\0') {
            profile_out = fopen(argv[i] + 8, "w");
            profile = calloc(PROFILE_SLOTS, sizeof *profile);
            if (profile_out == NULL || profile == NULL) {
                perror(argv[i] + 8);
                return -1;
            }
        } else {
            fprintf(stderr, "icount_plugin: unknown argument '%s' (takes out=FILE, profile=FILE)\n",
                    argv[i]);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
