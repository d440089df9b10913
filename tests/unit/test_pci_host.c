// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the PCI host bridge and config space, driven through the pio
 * and mmio buses exactly as vCPU exits would: mechanism #1 and ECAM
 * enumeration, absent functions, BAR sizing, BAR mapping and moves, the
 * capability list, INTx gating and malformed accesses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "pci/pci_host.h"

#define ECAM X86_PCI_ECAM_GPA

struct region_rec {
    unsigned reads, writes;
    uint64_t last_off;
    uint32_t last_val;
};

static void region_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct region_rec *r = opaque;
    r->reads++;
    r->last_off = off;
    uint64_t v = 0x5a5a0000u + off;
    memcpy(data, &v, size);
}

static void region_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct region_rec *r = opaque;
    r->writes++;
    r->last_off = off;
    r->last_val = 0;
    memcpy(&r->last_val, data, size > 4 ? 4 : size);
}

static const struct bus_ops region_ops = { region_read, region_write };

struct irq_rec {
    unsigned gsi;
    int level;
    unsigned changes;
};

static void irq_set(void *opaque, unsigned gsi, int level)
{
    struct irq_rec *r = opaque;
    r->gsi = gsi;
    r->level = level;
    r->changes++;
}

struct fixture {
    struct bus pio, mmio;
    struct pci_host host;
    struct pci_device dev;
    struct region_rec rec32, rec64;
    struct irq_rec irq;
    struct region_rec other;    /* a non-PCI device on the mmio bus */
};

#define DEV_BAR32_SIZE 0x2000ULL
#define DEV_BAR64_SIZE 0x100000ULL

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(bus_init(&f->pio, "pio"), 0);
    assert_int_equal(bus_init(&f->mmio, "mmio"), 0);
    struct pci_host_config cfg = {
        .pio = &f->pio, .mmio = &f->mmio, .ecam_base = ECAM,
        .mmio32 = { X86_PCI_MMIO32_GPA, X86_PCI_MMIO32_END },
        .mmio64 = pci_host_mmio64_window(2 * GiB),
        .io = { PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_END },
        .intx = { irq_set, &f->irq, 0 },
    };
    assert_int_equal(pci_host_init(&f->host, &cfg), 0);

    const struct pci_device_id id = { .vendor = 0x1af4, .device = 0x1042, .subsystem_vendor = 0x1af4,
                                      .subsystem = 0x0040, .class_code = 0x018000, .revision = 1 };
    pci_device_init(&f->dev, "test-dev", &id);
    assert_int_equal(pci_device_add_bar(&f->dev, 0, DEV_BAR32_SIZE, PCI_BAR_MEM32), 0);
    assert_int_equal(pci_device_add_bar(&f->dev, 2, DEV_BAR64_SIZE, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
    assert_int_equal(pci_bar_add_region(&f->dev, 0, 0x100, 0x100, &region_ops, &f->rec32), 0);
    assert_int_equal(pci_bar_add_region(&f->dev, 2, 0, 0x1000, &region_ops, &f->rec64), 0);
    assert_int_equal(pci_host_add_device(&f->host, &f->dev), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pci_host_destroy(&f->host);
    bus_destroy(&f->mmio);
    bus_destroy(&f->pio);
    free(f);
    return 0;
}

static uint32_t cf8_addr(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
    return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
}

static uint32_t io_read(struct fixture *f, unsigned bus, unsigned slot, unsigned fn, unsigned reg,
                        unsigned size)
{
    uint32_t a = cf8_addr(bus, slot, fn, reg), v = 0;
    bus_write(&f->pio, 0xcf8, &a, 4);
    bus_read(&f->pio, 0xcfc + (reg & 3), &v, size);
    return v;
}

static void io_write(struct fixture *f, unsigned slot, unsigned reg, unsigned size, uint32_t v)
{
    uint32_t a = cf8_addr(0, slot, 0, reg);
    bus_write(&f->pio, 0xcf8, &a, 4);
    bus_write(&f->pio, 0xcfc + (reg & 3), &v, size);
}

static uint64_t ecam_addr(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
    return ECAM + ((uint64_t)bus << 20 | slot << 15 | fn << 12 | reg);
}

static uint32_t ecam_read(struct fixture *f, unsigned slot, unsigned fn, unsigned reg, unsigned size)
{
    uint32_t v = 0;
    bus_read(&f->mmio, ecam_addr(0, slot, fn, reg), &v, size);
    return v;
}

static void ecam_write(struct fixture *f, unsigned slot, unsigned reg, unsigned size, uint32_t v)
{
    bus_write(&f->mmio, ecam_addr(0, slot, 0, reg), &v, size);
}

static void enumeration_agrees(void **state)
{
    struct fixture *f = *state;
    unsigned found = 0;
    for (unsigned slot = 0; slot < 32; slot++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            for (unsigned reg = 0; reg < 0x40; reg += 4)
                assert_int_equal(io_read(f, 0, slot, fn, reg, 4), ecam_read(f, slot, fn, reg, 4));
            if (io_read(f, 0, slot, fn, 0, 2) != 0xffff)
                found++;
        }
    }
    assert_int_equal(found, 2);
    /* The host bridge at 00:00.0 and the device in the first free slot. */
    assert_int_equal(io_read(f, 0, 0, 0, PCI_VENDOR_ID, 2), PCI_HOST_BRIDGE_VENDOR);
    assert_int_equal(io_read(f, 0, 0, 0, PCI_DEVICE_ID, 2), PCI_HOST_BRIDGE_DEVICE);
    assert_int_equal(io_read(f, 0, 0, 0, PCI_CLASS_DEVICE, 2), 0x0600);
    assert_int_equal(f->dev.slot, 1);
    assert_int_equal(ecam_read(f, 1, 0, PCI_VENDOR_ID, 4), 0x10421af4);
    assert_int_equal(ecam_read(f, 1, 0, PCI_CLASS_PROG - 1, 4), 0x01800001);
    assert_int_equal(ecam_read(f, 1, 0, PCI_SUBSYSTEM_ID, 2), 0x0040);
    assert_int_equal(ecam_read(f, 1, 0, PCI_HEADER_TYPE, 1), 0);
    /* Byte and word reads at every offset of the data port. */
    assert_int_equal(io_read(f, 0, 1, 0, PCI_DEVICE_ID + 1, 1), 0x10);
    assert_int_equal(io_read(f, 0, 1, 0, PCI_CLASS_DEVICE + 1, 1), 0x01);
    /* Other buses are absent. */
    assert_int_equal(io_read(f, 1, 0, 0, 0, 4), 0xffffffff);
}

static void absent_functions(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(io_read(f, 0, 5, 0, 0, 4), 0xffffffff);
    assert_int_equal(io_read(f, 0, 5, 0, 2, 2), 0xffff);
    assert_int_equal(ecam_read(f, 31, 0, 0x3c, 1), 0xff);
    assert_int_equal(ecam_read(f, 1, 3, 0, 4), 0xffffffff);
    /* Writes there go nowhere and harm nothing. */
    io_write(f, 5, PCI_COMMAND, 2, 0xffff);
    ecam_write(f, 6, PCI_BASE_ADDRESS_0, 4, 0xc0000000);
    assert_int_equal(ecam_read(f, 5, 0, 0, 4), 0xffffffff);
    /* With the enable bit clear, the data port reads all ones. */
    uint32_t a = cf8_addr(0, 1, 0, 0) & ~0x80000000u, v = 0;
    bus_write(&f->pio, 0xcf8, &a, 4);
    bus_read(&f->pio, 0xcfc, &v, 4);
    assert_int_equal(v, 0xffffffff);
    /* The latch reads back what was written, reserved bits clear. */
    a = cf8_addr(0, 1, 0, 0x10) | 3;
    bus_write(&f->pio, 0xcf8, &a, 4);
    bus_read(&f->pio, 0xcf8, &v, 4);
    assert_int_equal(v, a & ~3u);
}

/* The sequence Linux's pci_check_type1() uses to detect mechanism #1. */
static void linux_type1_probe(void **state)
{
    struct fixture *f = *state;
    uint8_t one = 1;
    uint32_t saved = 0, probe = 0x80000000u, v = 0;
    bus_write(&f->pio, 0xcfb, &one, 1);
    bus_read(&f->pio, 0xcf8, &saved, 4);
    bus_write(&f->pio, 0xcf8, &probe, 4);
    bus_read(&f->pio, 0xcf8, &v, 4);
    assert_int_equal(v, 0x80000000u);
    bus_write(&f->pio, 0xcf8, &saved, 4);
    /* Type 2 detection must fail: byte reads of 0xCF8 are not the latch. */
    uint8_t b = 0;
    bus_write(&f->pio, 0xcf8, &b, 1);
    bus_read(&f->pio, 0xcf8, &b, 1);
    assert_int_not_equal(b, 0);
    /* pci_sanity_check(): a host bridge class on bus 0. */
    assert_int_equal(io_read(f, 0, 0, 0, PCI_CLASS_DEVICE, 2), 0x0600);
}

static void read_only_fields(void **state)
{
    struct fixture *f = *state;
    ecam_write(f, 1, PCI_VENDOR_ID, 4, 0);
    ecam_write(f, 1, PCI_CLASS_PROG - 1, 4, 0);
    ecam_write(f, 1, PCI_INTERRUPT_PIN, 1, 4);
    assert_int_equal(ecam_read(f, 1, 0, PCI_VENDOR_ID, 4), 0x10421af4);
    assert_int_equal(ecam_read(f, 1, 0, PCI_CLASS_DEVICE, 2), 0x0180);
    assert_int_equal(ecam_read(f, 1, 0, PCI_INTERRUPT_PIN, 1), 1);
    /* Read-write bytes keep what is written. */
    ecam_write(f, 1, PCI_INTERRUPT_LINE, 1, 0x2b);
    assert_int_equal(ecam_read(f, 1, 0, PCI_INTERRUPT_LINE, 1), 0x2b);
    /* Status: error bits are write-1-to-clear, the rest read-only. */
    f->dev.cfg[PCI_STATUS + 1] = 0x80;  /* pretend a parity error was latched */
    ecam_write(f, 1, PCI_STATUS, 2, 0x0018);
    assert_int_equal(ecam_read(f, 1, 0, PCI_STATUS, 2) & 0x8000, 0x8000);
    ecam_write(f, 1, PCI_STATUS, 2, 0x8000);
    assert_int_equal(ecam_read(f, 1, 0, PCI_STATUS, 2) & 0x8000, 0);
    /* The ROM BAR is not implemented: sizing it reads zero. */
    ecam_write(f, 1, PCI_ROM_ADDRESS, 4, 0xffffffff);
    assert_int_equal(ecam_read(f, 1, 0, PCI_ROM_ADDRESS, 4), 0);
    /* Extended config space of a conventional function reads zero. */
    assert_int_equal(ecam_read(f, 1, 0, 0x100, 4), 0);
}

static void bar_sizing(void **state)
{
    struct fixture *f = *state;
    /* Firmware-like assignment: naturally aligned, inside the windows. */
    uint64_t a32 = pci_device_bar_address(&f->dev, 0), a64 = pci_device_bar_address(&f->dev, 2);
    assert_true(a32 >= X86_PCI_MMIO32_GPA && a32 + DEV_BAR32_SIZE <= X86_PCI_MMIO32_END);
    assert_int_equal(a32 % DEV_BAR32_SIZE, 0);
    struct pci_window w64 = pci_host_mmio64_window(2 * GiB);
    assert_true(a64 >= w64.base && a64 + DEV_BAR64_SIZE <= w64.end);
    assert_int_equal(a64 % DEV_BAR64_SIZE, 0);
    assert_int_equal(ecam_read(f, 1, 0, 0x10, 4), (uint32_t)a32);
    assert_int_equal(ecam_read(f, 1, 0, 0x18, 4), ((uint32_t)a64) | 0xc);
    assert_int_equal(ecam_read(f, 1, 0, 0x1c, 4), (uint32_t)(a64 >> 32));

    /* The sizing protocol: all ones in, size mask out, flags preserved. */
    io_write(f, 1, 0x10, 4, 0xffffffff);
    assert_int_equal(io_read(f, 0, 1, 0, 0x10, 4), (uint32_t)~(DEV_BAR32_SIZE - 1));
    io_write(f, 1, 0x18, 4, 0xffffffff);
    io_write(f, 1, 0x1c, 4, 0xffffffff);
    uint64_t mask = io_read(f, 0, 1, 0, 0x18, 4) | (uint64_t)io_read(f, 0, 1, 0, 0x1c, 4) << 32;
    assert_int_equal(mask & 0xf, 0xc);
    assert_int_equal(~(mask & ~0xfULL) + 1, DEV_BAR64_SIZE);
    /* Unimplemented BARs size to zero. */
    io_write(f, 1, 0x14, 4, 0xffffffff);
    assert_int_equal(io_read(f, 0, 1, 0, 0x14, 4), 0);
    io_write(f, 1, 0x24, 4, 0xffffffff);
    assert_int_equal(io_read(f, 0, 1, 0, 0x24, 4), 0);
}

static uint32_t mmio_read32(struct fixture *f, uint64_t addr, bool *claimed)
{
    uint32_t v = 0;
    bool c = bus_read(&f->mmio, addr, &v, 4);
    if (claimed)
        *claimed = c;
    return v;
}

static void bar_mapping_follows_command_and_moves(void **state)
{
    struct fixture *f = *state;
    uint64_t a32 = pci_device_bar_address(&f->dev, 0), a64 = pci_device_bar_address(&f->dev, 2);
    bool claimed;

    /* Memory decode is off after reset: nothing answers. */
    mmio_read32(f, a32 + 0x100, &claimed);
    assert_false(claimed);

    ecam_write(f, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(mmio_read32(f, a32 + 0x104, &claimed), 0x5a5a0004);
    assert_true(claimed);
    assert_int_equal(f->rec32.reads, 1);
    assert_int_equal(mmio_read32(f, a64 + 0x10, NULL), 0x5a5a0010);
    assert_int_equal(f->rec64.reads, 1);
    /* Inside the BAR but outside any region: all ones, no device call. */
    assert_int_equal(mmio_read32(f, a32 + 0x1000, &claimed), 0xffffffff);
    assert_true(claimed);
    assert_int_equal(f->rec32.reads, 1);
    uint32_t v = 0xabcd;
    bus_write(&f->mmio, a32 + 0x1f0, &v, 4);
    assert_int_equal(f->rec32.writes, 1);
    assert_int_equal(f->rec32.last_off, 0xf0);
    assert_int_equal(f->rec32.last_val, 0xabcd);

    /* Move BAR0: the new address dispatches, the old one is gone. */
    uint64_t moved = X86_PCI_MMIO32_GPA + 0x1000000;
    ecam_write(f, 1, 0x10, 4, (uint32_t)moved);
    assert_int_equal(mmio_read32(f, moved + 0x100, &claimed), 0x5a5a0000);
    assert_true(claimed);
    mmio_read32(f, a32 + 0x100, &claimed);
    assert_false(claimed);

    /* Move the 64-bit BAR below 4 GiB through its two halves. */
    uint64_t low = X86_PCI_MMIO32_GPA + 0x4000000;
    ecam_write(f, 1, 0x1c, 4, 0);
    ecam_write(f, 1, 0x18, 4, (uint32_t)low);
    assert_int_equal(pci_device_bar_address(&f->dev, 2), low);
    assert_int_equal(mmio_read32(f, low + 8, NULL), 0x5a5a0008);
    mmio_read32(f, a64 + 8, &claimed);
    assert_false(claimed);

    /* Clearing MEM enable unmaps every BAR. */
    ecam_write(f, 1, PCI_COMMAND, 2, 0);
    mmio_read32(f, moved + 0x100, &claimed);
    assert_false(claimed);
    mmio_read32(f, low + 8, &claimed);
    assert_false(claimed);
    /* And setting it again maps them where the BARs now point. */
    io_write(f, 1, PCI_COMMAND, 1, PCI_COMMAND_MEMORY);
    mmio_read32(f, low + 8, &claimed);
    assert_true(claimed);
}

static void refuses_overlapping_bar(void **state)
{
    struct fixture *f = *state;
    uint64_t other_base = X86_PCI_MMIO32_GPA + 0x8000000;
    assert_int_equal(bus_register(&f->mmio, other_base, 0x1000, &region_ops, &f->other, "other"), 0);
    ecam_write(f, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);

    /* Onto another device: refused, the other device keeps its range. */
    ecam_write(f, 1, 0x10, 4, (uint32_t)other_base);
    assert_int_equal(mmio_read32(f, other_base + 0x100, NULL), 0x5a5a0100);
    assert_int_equal(f->other.reads, 1);
    assert_int_equal(f->rec32.reads, 0);
    assert_int_equal(f->dev.bars[0].mapped_at, PCI_BAR_UNMAPPED);
    /* Onto the ECAM window: refused too, ECAM still works. */
    ecam_write(f, 1, 0x10, 4, (uint32_t)ECAM);
    assert_int_equal(ecam_read(f, 1, 0, 0, 2), 0x1af4);
    /* Moving it somewhere free maps it again. */
    ecam_write(f, 1, 0x10, 4, (uint32_t)(other_base + 0x10000));
    assert_int_equal(mmio_read32(f, other_base + 0x10100, NULL), 0x5a5a0000);
    assert_int_equal(f->rec32.reads, 1);
    assert_int_equal(bus_unregister(&f->mmio, other_base), 0);
}

static bool ram_below_3g(void *opaque, uint64_t gpa, uint64_t len)
{
    return gpa < 3 * GiB;
}

static void refuses_bar_over_ram(void **state)
{
    struct fixture *f = *state;
    f->host.cfg.overlaps_ram = ram_below_3g;
    ecam_write(f, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    ecam_write(f, 1, 0x10, 4, 0x10000000);
    bool claimed;
    mmio_read32(f, 0x10000100, &claimed);
    assert_false(claimed);
    assert_int_equal(f->dev.bars[0].mapped_at, PCI_BAR_UNMAPPED);
    assert_true(f->dev.bars[0].refused_logged);
}

struct cap_hook_rec {
    unsigned reads, writes, last_off;
};

static void hook_before_read(void *opaque, struct pci_device *dev, unsigned off, unsigned size)
{
    struct cap_hook_rec *r = opaque;
    r->reads++;
}

static void hook_after_write(void *opaque, struct pci_device *dev, unsigned off, unsigned size)
{
    struct cap_hook_rec *r = opaque;
    r->writes++;
    r->last_off = off;
}

static const struct pci_cap_ops hook_ops = { hook_before_read, hook_after_write };

static void capability_list(void **state)
{
    const struct pci_device_id id = { .vendor = 0x1af4, .device = 0x1044 };
    struct pci_device dev;
    pci_device_init(&dev, "caps", &id);
    assert_int_equal(dev.cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST, 0);

    uint8_t vndr[16] = { 0, 0, 16, 0xaa, 0xbb }, vndr_mask[16] = { 0 };
    vndr_mask[8] = 0xff;
    struct cap_hook_rec rec = { 0 };
    unsigned off1, off2, off3;
    assert_int_equal(pci_device_add_cap(&dev, PCI_CAP_ID_VNDR, vndr, 16, vndr_mask, &hook_ops, &rec, &off1), 0);
    assert_int_equal(pci_device_add_cap(&dev, PCI_CAP_ID_VNDR, vndr, 5, NULL, NULL, NULL, &off2), 0);
    assert_int_equal(pci_device_add_cap(&dev, PCI_CAP_ID_MSIX, vndr, 12, NULL, NULL, NULL, &off3), 0);
    assert_int_equal(off1, 0x40);
    assert_int_equal(off2 % 4, 0);
    assert_true(off2 >= off1 + 16 && off3 >= off2 + 5);

    /* Walk the list as a guest would. */
    assert_true(pci_device_config_read(&dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    unsigned ids[8], offs[8], n = 0;
    for (unsigned p = pci_device_config_read(&dev, PCI_CAPABILITY_LIST, 1); p && n < 8;
         p = pci_device_config_read(&dev, p + 1, 1)) {
        offs[n] = p;
        ids[n++] = pci_device_config_read(&dev, p, 1);
    }
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], PCI_CAP_ID_VNDR);
    assert_int_equal(ids[1], PCI_CAP_ID_VNDR);
    assert_int_equal(ids[2], PCI_CAP_ID_MSIX);
    assert_int_equal(offs[0], off1);
    assert_int_equal(offs[1], off2);
    assert_int_equal(offs[2], off3);
    assert_int_equal(pci_device_config_read(&dev, off1 + 2, 2), 0xaa10);

    /* The header bytes are read-only; the mask says which body bytes are writable. */
    pci_device_config_write(&dev, off1, 4, 0xffffffff);
    assert_int_equal(pci_device_config_read(&dev, off1, 2), (unsigned)(off2 << 8 | PCI_CAP_ID_VNDR));
    assert_int_equal(pci_device_config_read(&dev, off1 + 2, 2), 0xaa10);
    pci_device_config_write(&dev, off1 + 8, 4, 0x12345678);
    assert_int_equal(pci_device_config_read(&dev, off1 + 8, 4), 0x78);
    assert_true(rec.writes >= 2);
    assert_int_equal(rec.last_off, off1 + 8);
    assert_true(rec.reads >= 3);

    /* The list cannot run past the 256-byte header. */
    uint8_t big[200] = { 0 };
    assert_int_equal(pci_device_add_cap(&dev, PCI_CAP_ID_VNDR, big, sizeof(big), NULL, NULL, NULL, NULL), -ENOSPC);
}

static void malformed_accesses(void **state)
{
    struct fixture *f = *state;
    uint32_t v = 0;
    /* 0xCF8 takes only 32-bit accesses. */
    uint32_t a = cf8_addr(0, 1, 0, 0);
    bus_write(&f->pio, 0xcf8, &a, 4);
    uint8_t b = 0;
    bus_write(&f->pio, 0xcf9, &b, 1);
    bus_read(&f->pio, 0xcf8, &v, 4);
    assert_int_equal(v, a);
    uint16_t w = 0x1234;
    bus_read(&f->pio, 0xcf8, &w, 2);
    assert_int_equal(w, 0xffff);
    /* Data port accesses that cross the dword are not ours / are dropped. */
    assert_false(bus_read(&f->pio, 0xcfe, &v, 4));
    v = 0;
    bus_read(&f->pio, 0xcfd, &v, 2);
    assert_int_equal(v, 0x421a);   /* bytes 1..2 of f4 1a 42 10 */
    /* ECAM: 8-byte and dword-crossing accesses are ignored. */
    uint64_t q = 0;
    bus_read(&f->mmio, ecam_addr(0, 1, 0, 0), &q, 8);
    assert_int_equal(q, UINT64_MAX);
    v = 0;
    bus_read(&f->mmio, ecam_addr(0, 1, 0, 3), &v, 2);
    assert_int_equal(v, 0xffff);
    q = UINT64_MAX;
    bus_write(&f->mmio, ecam_addr(0, 1, 0, PCI_COMMAND), &q, 8);
    assert_int_equal(ecam_read(f, 1, 0, PCI_COMMAND, 2), 0);
    w = 0xffff;
    bus_write(&f->mmio, ecam_addr(0, 1, 0, PCI_COMMAND + 3), &w, 2);
    assert_int_equal(ecam_read(f, 1, 0, PCI_COMMAND, 4) & 0xffff, 0);
    /* Direct calls with out-of-range offsets. */
    assert_int_equal(pci_device_config_read(&f->dev, 4096, 4), 0xffffffff);
    assert_int_equal(pci_device_config_read(&f->dev, 2, 4), 0xffffffff);
    assert_int_equal(pci_device_config_read(&f->dev, 0, 3), 0xffffffff);
    pci_device_config_write(&f->dev, 0xffffffffu, 4, 0);
    assert_int_equal(pci_host_config_read(&f->host, 0, 8, 0, 8), 0xffffffff);
}

static void intx_gating(void **state)
{
    struct fixture *f = *state;
    unsigned gsi = pci_host_intx_gsi(1, PCI_INTERRUPT_PIN_A);
    assert_int_equal(gsi, 16);
    assert_int_equal(ecam_read(f, 1, 0, PCI_INTERRUPT_LINE, 1), gsi);

    pci_device_set_intx(&f->dev, true);
    assert_int_equal(f->irq.level, 1);
    assert_int_equal(f->irq.gsi, gsi);
    assert_true(ecam_read(f, 1, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);

    /* INTx disable drops the line but the status bit still shows the request. */
    ecam_write(f, 1, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(f->irq.level, 0);
    assert_true(ecam_read(f, 1, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    pci_device_set_intx(&f->dev, false);
    assert_false(ecam_read(f, 1, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    pci_device_set_intx(&f->dev, true);
    assert_int_equal(f->irq.level, 0);
    ecam_write(f, 1, PCI_COMMAND, 2, 0);
    assert_int_equal(f->irq.level, 1);
    unsigned changes = f->irq.changes;
    pci_device_set_intx(&f->dev, true);
    assert_int_equal(f->irq.changes, changes);   /* no edge for an unchanged level */
    pci_device_set_intx(&f->dev, false);
    assert_int_equal(f->irq.level, 0);
}

static void slots_and_windows(void **state)
{
    struct fixture *f = *state;
    /* Fill the bus: slots 2..31 are free, then -ENOSPC. */
    struct pci_device *devs = calloc(31, sizeof(*devs));
    assert_non_null(devs);
    const struct pci_device_id id = { .vendor = 0x1af4, .device = 0x1044 };
    unsigned added = 0;
    for (unsigned i = 0; i < 31; i++) {
        pci_device_init(&devs[i], "filler", &id);
        assert_int_equal(pci_device_add_bar(&devs[i], 0, 0x4000, PCI_BAR_MEM32), 0);
        int err = pci_host_add_device(&f->host, &devs[i]);
        if (err == 0) {
            added++;
            assert_int_equal(devs[i].slot, i + 2);
            assert_int_equal(devs[i].intx.gsi, 16 + (devs[i].slot - 1) % 8);
        } else {
            assert_int_equal(err, -ENOSPC);
        }
    }
    assert_int_equal(added, 30);
    /* No two BARs overlap. */
    for (unsigned i = 0; i < added; i++)
        for (unsigned j = i + 1; j < added; j++) {
            uint64_t a = pci_device_bar_address(&devs[i], 0), b = pci_device_bar_address(&devs[j], 0);
            assert_true(a + 0x4000 <= b || b + 0x4000 <= a);
        }
    pci_host_destroy(&f->host);
    free(devs);
    /* Re-init so teardown has something to destroy. */
    struct pci_host_config cfg = { .pio = &f->pio, .mmio = &f->mmio,
                                   .mmio32 = { 0xc0000000, 0xc0001000 } };
    assert_int_equal(pci_host_init(&f->host, &cfg), 0);
    /* A BAR that does not fit the window is refused and the device is not added. */
    struct pci_device big;
    pci_device_init(&big, "big", &id);
    assert_int_equal(pci_device_add_bar(&big, 0, 0x2000, PCI_BAR_MEM32), 0);
    assert_int_equal(pci_host_add_device(&f->host, &big), -ENOSPC);
    assert_null(big.host);
    /* Without a 64-bit window, 64-bit BARs come from the 32-bit one. */
    struct pci_device d64;
    pci_device_init(&d64, "d64", &id);
    assert_int_equal(pci_device_add_bar(&d64, 4, 0x1000, PCI_BAR_MEM64), 0);
    assert_int_equal(pci_host_add_device(&f->host, &d64), 0);
    assert_int_equal(pci_device_bar_address(&d64, 4), 0xc0000000);
    pci_host_destroy(&f->host);   /* before the stack devices go away */
}

static void bar_declaration_rules(void **state)
{
    const struct pci_device_id id = { .vendor = 1 };
    struct pci_device dev;
    pci_device_init(&dev, "rules", &id);
    assert_int_equal(pci_device_add_bar(&dev, 6, 0x1000, PCI_BAR_MEM32), -EINVAL);
    assert_int_equal(pci_device_add_bar(&dev, 5, 0x1000, PCI_BAR_MEM64), -EINVAL);
    assert_int_equal(pci_device_add_bar(&dev, 0, 0x1800, PCI_BAR_MEM32), -EINVAL);
    assert_int_equal(pci_device_add_bar(&dev, 0, 8, PCI_BAR_MEM32), -EINVAL);
    assert_int_equal(pci_device_add_bar(&dev, 0, 0x10, PCI_BAR_IO | PCI_BAR_PREFETCH), -EINVAL);
    assert_int_equal(pci_device_add_bar(&dev, 0, 0x1000, PCI_BAR_IO), -EINVAL);
    assert_int_equal(pci_device_add_bar(&dev, 0, 0x1000, PCI_BAR_MEM64), 0);
    assert_int_equal(pci_device_add_bar(&dev, 1, 0x1000, PCI_BAR_MEM32), -EEXIST);
    assert_int_equal(pci_device_add_bar(&dev, 0, 0x1000, PCI_BAR_MEM32), -EEXIST);
    assert_int_equal(pci_device_add_bar(&dev, 2, 0x20, PCI_BAR_IO), 0);
    assert_int_equal(pci_bar_add_region(&dev, 0, 0x800, 0x800, &region_ops, NULL), 0);
    assert_int_equal(pci_bar_add_region(&dev, 0, 0xc00, 0x10, &region_ops, NULL), -EEXIST);
    assert_int_equal(pci_bar_add_region(&dev, 0, 0xc00, 0x1000, &region_ops, NULL), -EINVAL);
    assert_int_equal(pci_bar_add_region(&dev, 1, 0, 0x10, &region_ops, NULL), -EINVAL);
    assert_int_equal(pci_bar_add_region(&dev, 0, UINT64_MAX, 2, &region_ops, NULL), -EINVAL);
}

static void io_bar_maps_on_pio(void **state)
{
    struct fixture *f = *state;
    pci_host_destroy(&f->host);
    struct pci_host_config cfg = { .pio = &f->pio, .mmio = &f->mmio, .ecam_base = ECAM,
                                   .io = { PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_END } };
    assert_int_equal(pci_host_init(&f->host, &cfg), 0);
    const struct pci_device_id id = { .vendor = 0x1af4, .device = 0x1000 };
    struct pci_device dev;
    struct region_rec rec = { 0 };
    pci_device_init(&dev, "io", &id);
    assert_int_equal(pci_device_add_bar(&dev, 0, 0x40, PCI_BAR_IO), 0);
    assert_int_equal(pci_bar_add_region(&dev, 0, 0, 0x40, &region_ops, &rec), 0);
    assert_int_equal(pci_host_add_device(&f->host, &dev), 0);
    uint64_t port = pci_device_bar_address(&dev, 0);
    assert_int_equal(port, PCI_IO_WINDOW_BASE);
    assert_int_equal(ecam_read(f, 1, 0, 0x10, 4), (uint32_t)port | 1);
    ecam_write(f, 1, 0x10, 4, 0xffffffff);
    assert_int_equal(ecam_read(f, 1, 0, 0x10, 4), 0x0000ffc1);
    ecam_write(f, 1, 0x10, 4, 0x2000);
    ecam_write(f, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    uint8_t v = 0;
    assert_false(bus_read(&f->pio, 0x2004, &v, 1));
    ecam_write(f, 1, PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_true(bus_read(&f->pio, 0x2004, &v, 1));
    assert_int_equal(v, 0x04);
    assert_int_equal(rec.reads, 1);
    pci_host_destroy(&f->host);
    assert_false(bus_read(&f->pio, 0x2004, &v, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(enumeration_agrees, setup, teardown),
        cmocka_unit_test_setup_teardown(absent_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(linux_type1_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_sizing, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_mapping_follows_command_and_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_overlapping_bar, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_bar_over_ram, setup, teardown),
        cmocka_unit_test(capability_list),
        cmocka_unit_test_setup_teardown(malformed_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(intx_gating, setup, teardown),
        cmocka_unit_test_setup_teardown(slots_and_windows, setup, teardown),
        cmocka_unit_test(bar_declaration_rules),
        cmocka_unit_test_setup_teardown(io_bar_maps_on_pio, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
