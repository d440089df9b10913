// SPDX-License-Identifier: Apache-2.0
/*
 * The ACPI PM device: the fixed-hardware register model on the ports the
 * FADT names, SCI on GSI 9, S5 and the reset register turned into VM stops.
 * Its state pointer is the struct acpi_pm itself, so the API can pass it to
 * acpi_pm_press_power_button().
 */
#include <errno.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "core/vm.h"
#include "devices/acpi_pm.h"
#include "devices/device.h"
#include "devices/platform_devices.h"
#include "snapshot/format.h"
#include "util/log.h"

static void acpi_pm_dev_poweroff(void *opaque)
{
    vm_request_stop(opaque, VM_EXIT_POWEROFF, "guest powered off");
}

static void acpi_pm_dev_reboot(void *opaque)
{
    vm_request_stop(opaque, VM_EXIT_REBOOT, "guest requested reboot (ACPI reset register)");
}

static int acpi_pm_dev_init(struct vm *vm, void **state)
{
    static const struct acpi_pm_callbacks cb = {
        .poweroff = acpi_pm_dev_poweroff,
        .reboot = acpi_pm_dev_reboot,
    };
    struct acpi_pm *pm = calloc(1, sizeof(*pm));
    if (!pm)
        return -ENOMEM;
    int err = acpi_pm_init(pm, &cb, vm, vm_irq_line(vm, X86_ACPI_SCI_IRQ));
    if (err) {
        free(pm);
        return err;
    }
    err = acpi_pm_register(pm, &vm->pio);
    if (err) {
        log_error("acpi-pm", "cannot register the ACPI PM ports: %d", err);
        acpi_pm_destroy(pm);
        free(pm);
        return err;
    }
    *state = pm;
    return 0;
}

static void acpi_pm_dev_exit(struct vm *vm, void *state)
{
    struct acpi_pm *pm = state;
    if (!pm)
        return;
    acpi_pm_unregister(&vm->pio);
    acpi_pm_destroy(pm);
    free(pm);
}

static void acpi_pm_dev_reset(void *state)
{
    acpi_pm_reset(state);
}

static int acpi_pm_dev_save(void *state, struct snap_writer *w)
{
    struct acpi_pm_snap snap;
    acpi_pm_save(state, &snap);
    return snap_write_device(w, "acpi-pm", ACPI_PM_SNAP_VERSION, &snap, sizeof(snap));
}

static int acpi_pm_dev_load(void *state, const struct snap_record *rec)
{
    struct acpi_pm_snap snap;
    int err = snap_record_copy(rec, ACPI_PM_SNAP_VERSION, &snap, sizeof(snap));
    return err ? err : acpi_pm_load(state, &snap);
}

const struct device_ops acpi_pm_device = {
    .name = "acpi-pm",
    .init = acpi_pm_dev_init,
    .exit = acpi_pm_dev_exit,
    .reset = acpi_pm_dev_reset,
    .save = acpi_pm_dev_save,
    .load = acpi_pm_dev_load,
};
