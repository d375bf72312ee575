/*
 * A qemu TCG plugin that counts the guest instructions a program executes, over all its threads, and prints
 * "instructions N" to stderr when it exits. Counts are deterministic for a deterministic program, unlike time
 * under emulation. Scripts/cross/count-instructions builds and loads it (qemu-user -plugin FILE).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t executed;

/* Atomic: the Swift runtime runs the program on several threads, which are several vCPUs to qemu. */
static void on_block(unsigned int vcpu, void *instructions) {
    (void)vcpu;
    __atomic_fetch_add(&executed, (uint64_t)(uintptr_t)instructions, __ATOMIC_RELAXED);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *block) {
    (void)id;
    uintptr_t instructions = qemu_plugin_tb_n_insns(block);
    qemu_plugin_register_vcpu_tb_exec_cb(block, on_block, QEMU_PLUGIN_CB_NO_REGS, (void *)instructions);
}

static void on_exit(qemu_plugin_id_t id, void *unused) {
    (void)id;
    (void)unused;
    char line[64];
    snprintf(line, sizeof line, "instructions %" PRIu64 "\n", __atomic_load_n(&executed, __ATOMIC_RELAXED));
    qemu_plugin_outs(line);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    (void)argc;
    (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
