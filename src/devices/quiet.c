// SPDX-License-Identifier: Apache-2.0
/*
 * Quietly absent hardware: one table of port ranges that read all ones and
 * ignore writes, the same answer the bus gives for unclaimed ports, minus
 * the log line. Only ports a stock Linux kernel touches are listed; anything
 * else a guest pokes is still logged, which is how new ones are found.
 */
#include "devices/quiet.h"

#include <string.h>

#include "arch/x86/layout.h"
#include "core/vm.h"
#include "devices/device.h"
#include "devices/platform_devices.h"
#include "util/log.h"

const struct quiet_range quiet_ranges[] = {
    { X86_POST_PORT, 1, "post" },       /* POST codes; Linux's default io_delay */
    { 0x87, 1, "dma-page" },            /* DMA page register, used as a delay port */
    { 0xed, 1, "io-delay" },            /* io_delay=0xed */
    { 0x170, 8, "ide1" },               /* IDE probes */
    { 0x1f0, 8, "ide0" },
    { 0x278, 3, "lpt3" },               /* parport probes */
    { 0x2e8, 8, "com4" },               /* absent COM ports: 0xff means "no UART" */
    { 0x2f8, 8, "com2" },
    { 0x376, 1, "ide1-ctl" },
    { 0x378, 3, "lpt1" },
    { 0x3bc, 3, "lpt2" },
    { 0x3c0, 0x20, "vga" },             /* VGA registers (vgacon, video probes) */
    { 0x3e8, 8, "com3" },
    { 0x3f6, 1, "ide0-ctl" },
    { 0x510, 12, "fw-cfg" },            /* QEMU fw_cfg (selector, data, DMA) */
};
const unsigned quiet_nr_ranges = ARRAY_SIZE(quiet_ranges);

static void quiet_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
    memset(data, 0xff, size);
}

static void quiet_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
}

static const struct bus_ops quiet_ops = { .read = quiet_read, .write = quiet_write };

int quiet_register(struct bus *pio)
{
    for (unsigned i = 0; i < quiet_nr_ranges; i++) {
        int err = bus_register(pio, quiet_ranges[i].base, quiet_ranges[i].len, &quiet_ops, NULL,
                               quiet_ranges[i].name);
        if (err) {
            log_error("quiet", "cannot claim %s at 0x%x: %d", quiet_ranges[i].name,
                      quiet_ranges[i].base, err);
            while (i--)
                bus_unregister(pio, quiet_ranges[i].base);
            return err;
        }
    }
    return 0;
}

void quiet_unregister(struct bus *pio)
{
    for (unsigned i = 0; i < quiet_nr_ranges; i++)
        bus_unregister(pio, quiet_ranges[i].base);
}

static int quiet_init(struct vm *vm, void **state)
{
    *state = NULL;
    return quiet_register(&vm->pio);
}

static void quiet_exit(struct vm *vm, void *state)
{
    quiet_unregister(&vm->pio);
}

static void quiet_reset(void *state)
{
}

const struct device_ops quiet_device = {
    .name = "quiet",
    .init = quiet_init,
    .exit = quiet_exit,
    .reset = quiet_reset,
};
