// SPDX-License-Identifier: Apache-2.0
/*
 * The i8042 device: registers the controller model on ports 0x60, 0x64 and
 * 0x92 and turns a guest-requested CPU reset into a VM reboot stop.
 */
#include <errno.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "core/vm.h"
#include "devices/device.h"
#include "devices/i8042.h"
#include "devices/platform_devices.h"
#include "snapshot/format.h"
#include "util/log.h"

struct i8042_dev {
    struct vm *vm;
    struct i8042 kbc;
};

static void i8042_dev_reset_line(void *opaque)
{
    struct i8042_dev *d = opaque;
    vm_request_stop(d->vm, VM_EXIT_REBOOT, "guest requested reboot (i8042)");
}

static const struct {
    uint16_t port;
    const struct bus_ops *ops;
    const char *name;
} i8042_ports[] = {
    { X86_I8042_DATA_PORT, &i8042_data_ops, "i8042-data" },
    { X86_I8042_CMD_PORT, &i8042_cmd_ops, "i8042-cmd" },
    { I8042_PORT92, &i8042_port92_ops, "port92" },
};

static void i8042_dev_unregister(struct vm *vm, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        bus_unregister(&vm->pio, i8042_ports[i].port);
}

static int i8042_dev_init(struct vm *vm, void **state)
{
    struct i8042_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->vm = vm;
    int err = i8042_init(&d->kbc, i8042_dev_reset_line, d);
    if (err) {
        free(d);
        return err;
    }
    for (unsigned i = 0; i < ARRAY_SIZE(i8042_ports); i++) {
        err = bus_register(&vm->pio, i8042_ports[i].port, 1, i8042_ports[i].ops, &d->kbc,
                           i8042_ports[i].name);
        if (err) {
            log_error("i8042", "cannot register port 0x%x: %d", i8042_ports[i].port, err);
            i8042_dev_unregister(vm, i);
            i8042_destroy(&d->kbc);
            free(d);
            return err;
        }
    }
    *state = d;
    return 0;
}

static void i8042_dev_exit(struct vm *vm, void *state)
{
    struct i8042_dev *d = state;
    if (!d)
        return;
    i8042_dev_unregister(vm, ARRAY_SIZE(i8042_ports));
    i8042_destroy(&d->kbc);
    free(d);
}

static void i8042_dev_reset(void *state)
{
    struct i8042_dev *d = state;
    i8042_reset(&d->kbc);
}

static int i8042_dev_save(void *state, struct snap_writer *w)
{
    struct i8042_dev *d = state;
    struct i8042_snap snap;
    i8042_save(&d->kbc, &snap);
    return snap_write_device(w, "i8042", I8042_SNAP_VERSION, &snap, sizeof(snap));
}

static int i8042_dev_load(void *state, const struct snap_record *rec)
{
    struct i8042_dev *d = state;
    struct i8042_snap snap;
    int err = snap_record_copy(rec, I8042_SNAP_VERSION, &snap, sizeof(snap));
    return err ? err : i8042_load(&d->kbc, &snap);
}

const struct device_ops i8042_device = {
    .name = "i8042",
    .init = i8042_dev_init,
    .exit = i8042_dev_exit,
    .reset = i8042_dev_reset,
    .save = i8042_dev_save,
    .load = i8042_dev_load,
};
