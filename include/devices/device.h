/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device model. Each device is one file with a `static const` ops table;
 * the table in devices/table.c lists them in a fixed init order. A device
 * keeps its state in a struct it allocates in init() and hands back through
 * `state`; the VM keeps that pointer and passes it to the other ops.
 */
#ifndef CASULO_DEVICES_DEVICE_H
#define CASULO_DEVICES_DEVICE_H

#include "util/compiler.h"

struct vm;
struct snap_writer;
struct snap_record;

#define DEVICE_MAX 32

struct device_ops {
    const char *name;
    /* Registers on the buses, claims IRQs. Returns 0 or -errno (logs why). */
    int (*init)(struct vm *vm, void **state);
    /* Unregisters and frees. Called in reverse init order; state may be NULL-safe. */
    void (*exit)(struct vm *vm, void *state);
    /* Back to power-on state (guest reboot with --on-reboot restart). */
    void (*reset)(void *state);
    /*
     * Snapshot (both NULL for a device with no state). save appends the
     * device's record "dev.<name>" (snap_write_device); the VM is paused.
     * load gets that record, already checksummed: it checks the version,
     * length and every field before changing anything (-EINVAL,
     * -EPROTONOSUPPORT), then applies it and re-drives its IRQ lines.
     */
    int (*save)(void *state, struct snap_writer *w);
    int (*load)(void *state, const struct snap_record *rec);
};

struct device_instance {
    const struct device_ops *ops;
    void *state;
};

/* The platform's devices in init order, NULL-terminated. */
extern const struct device_ops *const platform_devices[];

#endif
