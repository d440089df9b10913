// SPDX-License-Identifier: Apache-2.0
/*
 * The RTC/CMOS device on ports 0x70/0x71: the MC146818 model with the VM's
 * memory size written into CMOS. IRQ 8 is not wired (no periodic, alarm or
 * update interrupts).
 */
#include <errno.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "core/vm.h"
#include "devices/device.h"
#include "devices/platform_devices.h"
#include "devices/rtc.h"
#include "snapshot/format.h"
#include "util/log.h"

static void rtc_dev_fill_memory(struct vm *vm, struct rtc *rtc)
{
    uint64_t high = 0;
    for (unsigned i = 0; i < vm->mem.nr_regions; i++)
        if (vm->mem.regions[i].gpa >= X86_HIGH_RAM_GPA)
            high += vm->mem.regions[i].size;
    rtc_set_memory(rtc, guest_mem_low_end(&vm->mem), high);
}

static int rtc_dev_init(struct vm *vm, void **state)
{
    struct rtc *rtc = calloc(1, sizeof(*rtc));
    if (!rtc)
        return -ENOMEM;
    int err = rtc_init(rtc, NULL, NULL);
    if (err) {
        free(rtc);
        return err;
    }
    rtc_dev_fill_memory(vm, rtc);
    err = bus_register(&vm->pio, X86_RTC_PORT, RTC_NR_PORTS, &rtc_bus_ops, rtc, "rtc");
    if (err) {
        log_error("rtc", "cannot register ports 0x%x-0x%x: %d", X86_RTC_PORT, X86_RTC_PORT + 1,
                  err);
        rtc_destroy(rtc);
        free(rtc);
        return err;
    }
    *state = rtc;
    return 0;
}

static void rtc_dev_exit(struct vm *vm, void *state)
{
    struct rtc *rtc = state;
    if (!rtc)
        return;
    bus_unregister(&vm->pio, X86_RTC_PORT);
    rtc_destroy(rtc);
    free(rtc);
}

static void rtc_dev_reset(void *state)
{
    rtc_reset(state);
}

static int rtc_dev_save(void *state, struct snap_writer *w)
{
    struct rtc_snap snap;
    rtc_save(state, &snap);
    return snap_write_device(w, "rtc", RTC_SNAP_VERSION, &snap, sizeof(snap));
}

static int rtc_dev_load(void *state, const struct snap_record *rec)
{
    struct rtc_snap snap;
    int err = snap_record_copy(rec, RTC_SNAP_VERSION, &snap, sizeof(snap));
    return err ? err : rtc_load(state, &snap);
}

const struct device_ops rtc_device = {
    .name = "rtc",
    .init = rtc_dev_init,
    .exit = rtc_dev_exit,
    .reset = rtc_dev_reset,
    .save = rtc_dev_save,
    .load = rtc_dev_load,
};
