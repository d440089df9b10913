// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the PCI core: decodes the input into a sequence of
 * 0xCF8/0xCFC, ECAM, BAR (MSI-X table/PBA) accesses and device-side events
 * against a host bridge with one fake device, and checks invariants after
 * each step: absent functions read all ones, read-only IDs never change, a
 * mapped BAR is where config space says it is and reaches the device, and
 * nothing is ever pending for a vector outside the table.
 *
 * Each op is 8 bytes: kind, size selector, then a 16-bit offset and a 32-bit
 * value (little endian).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "pci/msix.h"
#include "pci/pci_host.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NVEC 8

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

struct fake {
    uint8_t regs[0x100];
    unsigned deliveries;
};

static void fake_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct fake *f = opaque;
    fuzz_check(off < sizeof(f->regs) && size <= sizeof(f->regs) - off);
    memcpy(data, f->regs + off, size);
}

static void fake_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct fake *f = opaque;
    fuzz_check(off < sizeof(f->regs) && size <= sizeof(f->regs) - off);
    memcpy(f->regs + off, data, size);
}

static const struct bus_ops fake_ops = { fake_read, fake_write };

static void deliver(void *opaque, unsigned vector, struct pci_msi_msg msg)
{
    struct fake *f = opaque;
    fuzz_check(vector < NVEC);
    f->deliveries++;
}

static void route(void *opaque, unsigned vector, struct pci_msi_msg msg, bool masked)
{
    fuzz_check(vector < NVEC);
}

static const struct pci_msix_ops msix_ops = { deliver, route };

static void set_level(void *opaque, unsigned gsi, int level)
{
    fuzz_check(gsi >= PCI_INTX_GSI_BASE && gsi < PCI_INTX_GSI_BASE + PCI_INTX_GSI_COUNT);
}

static bool ram_overlaps(void *opaque, uint64_t gpa, uint64_t len)
{
    return gpa < 2 * GiB;
}

struct world {
    struct bus pio, mmio;
    struct pci_host host;
    struct pci_device dev;
    struct pci_msix msix;
    struct fake fake;
};

static int world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    if (bus_init(&w->pio, "pio") || bus_init(&w->mmio, "mmio"))
        return -1;
    struct pci_host_config cfg = {
        .pio = &w->pio, .mmio = &w->mmio, .ecam_base = X86_PCI_ECAM_GPA,
        .mmio32 = { X86_PCI_MMIO32_GPA, X86_PCI_MMIO32_END },
        .mmio64 = pci_host_mmio64_window(2 * GiB),
        .io = { PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_END },
        .intx = { set_level, NULL, 0 },
        .overlaps_ram = ram_overlaps,
    };
    if (pci_host_init(&w->host, &cfg))
        return -1;
    const struct pci_device_id id = { .vendor = 0x1af4, .device = 0x1041, .class_code = 0x020000 };
    pci_device_init(&w->dev, "fuzz-dev", &id);
    uint8_t vndr[16] = { 0 }, vmask[16] = { 0 };
    memset(vmask + 4, 0xff, 4);
    if (pci_device_add_bar(&w->dev, 0, 0x1000, PCI_BAR_MEM32) ||
        pci_device_add_bar(&w->dev, 2, 0x4000, PCI_BAR_MEM64 | PCI_BAR_PREFETCH) ||
        pci_device_add_bar(&w->dev, 5, 0x20, PCI_BAR_IO) ||
        pci_bar_add_region(&w->dev, 0, 0, 0x100, &fake_ops, &w->fake) ||
        pci_bar_add_region(&w->dev, 5, 0, 0x20, &fake_ops, &w->fake) ||
        pci_device_add_cap(&w->dev, PCI_CAP_ID_VNDR, vndr, sizeof(vndr), vmask, NULL, NULL, NULL) ||
        pci_msix_init(&w->msix, &w->dev, NVEC, 2, 0x1000, 0x2000, &msix_ops, &w->fake) ||
        pci_host_add_device(&w->host, &w->dev))
        return -1;
    return 0;
}

static void world_destroy(struct world *w)
{
    pci_host_destroy(&w->host);
    pci_msix_destroy(&w->msix);
    bus_destroy(&w->mmio);
    bus_destroy(&w->pio);
}

static unsigned pick_size(uint8_t sel)
{
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    return sizes[sel & 3];
}

static void check_invariants(struct world *w)
{
    uint32_t v = 0;
    /* Absent slot through ECAM. */
    bus_read(&w->mmio, X86_PCI_ECAM_GPA + (7u << 15), &v, 4);
    fuzz_check(v == 0xffffffff);
    fuzz_check(pci_device_config_read(&w->dev, 0, 4) == 0x10411af4);
    fuzz_check(pci_device_config_read(&w->host.bridge, 0, 2) == PCI_HOST_BRIDGE_VENDOR);
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        const struct pci_bar *bar = &w->dev.bars[i];
        if (bar->mapped_at == PCI_BAR_UNMAPPED)
            continue;
        fuzz_check(bar->mapped_at == pci_device_bar_address(&w->dev, i));
        fuzz_check(bar->mapped_at % bar->size == 0);
        uint16_t cmd = pci_device_command(&w->dev);
        fuzz_check(cmd & ((bar->flags & PCI_BAR_IO) ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY));
        fuzz_check((bar->flags & PCI_BAR_IO) || bar->mapped_at >= 2 * GiB);
    }
    if (w->dev.bars[0].mapped_at != PCI_BAR_UNMAPPED) {
        uint8_t b = 0;
        w->fake.regs[0x10] = 0x77;
        fuzz_check(bus_read(&w->mmio, w->dev.bars[0].mapped_at + 0x10, &b, 1));
        fuzz_check(b == 0x77);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_ERROR);
    struct world w;
    if (world_init(&w)) {
        __builtin_trap();
    }
    for (size_t pos = 0; pos + 8 <= size; pos += 8) {
        const uint8_t *op = data + pos;
        unsigned sz = pick_size(op[1]);
        uint32_t off = (uint32_t)op[2] | (uint32_t)op[3] << 8;
        uint64_t val = (uint64_t)op[4] | (uint64_t)op[5] << 8 | (uint64_t)op[6] << 16 |
                       (uint64_t)op[7] << 24;
        uint64_t buf = 0;
        switch (op[0] % 10) {
        case 0:   /* config address latch (any size, any of the 4 ports) */
            bus_write(&w.pio, 0xcf8 + (op[1] >> 2 & 3), &val, sz);
            break;
        case 1:
            bus_write(&w.pio, 0xcfc + (op[1] >> 2 & 3), &val, sz);
            break;
        case 2:
            bus_read(&w.pio, 0xcf8 + (op[1] >> 4 & 7), &buf, sz);
            break;
        case 3:   /* ECAM: off picks slot 0..1 mostly, register anywhere */
            bus_write(&w.mmio, X86_PCI_ECAM_GPA + ((uint64_t)(op[1] >> 2) << 12 & 0xff000) +
                                   (off & 0xfff), &val, sz);
            break;
        case 4:
            bus_read(&w.mmio, X86_PCI_ECAM_GPA + ((uint64_t)(op[1] >> 2) << 12 & 0xff000) +
                                  (off & 0xfff), &buf, sz);
            break;
        case 5:   /* the device's own config view, with a convenient slot 1 */
            pci_host_config_write(&w.host, 0, 8, off & 0x1ff, sz, (uint32_t)val);
            break;
        case 6: { /* BAR space at wherever BAR2 (MSI-X) or BAR0 decodes now */
            unsigned b = (op[1] & 4) ? 2 : 0;
            uint64_t base = pci_device_bar_address(&w.dev, b);
            uint64_t a = base + (off & 0x3fff);
            uint64_t v64 = val | val << 32;
            if (op[1] & 8)
                bus_write(&w.mmio, a, &v64, sz);
            else
                bus_read(&w.mmio, a, &buf, sz);
            break;
        }
        case 7: {
            int r = pci_msix_notify(&w.msix, op[1] % (NVEC + 2));
            fuzz_check(op[1] % (NVEC + 2) < NVEC ? r >= -ENODEV : r == -EINVAL);
            break;
        }
        case 8:
            pci_device_set_intx(&w.dev, op[1] & 1);
            break;
        case 9:   /* IO BAR through the pio bus */
            if (op[1] & 8)
                bus_write(&w.pio, PCI_IO_WINDOW_BASE + (off & 0xff), &val, sz);
            else
                bus_read(&w.pio, PCI_IO_WINDOW_BASE + (off & 0xff), &buf, sz);
            break;
        }
        check_invariants(&w);
    }
    world_destroy(&w);
    return 0;
}
