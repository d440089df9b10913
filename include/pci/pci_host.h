/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PCI host bridge: one bus (bus 0), the bridge itself at device 0 and up
 * to 31 single-function devices in slots 1..31. Configuration space is
 * reachable through mechanism #1 (0xCF8 address, 0xCFC..0xCFF data) and
 * through ECAM (MMIO, bus 0 only: 1 MiB). Absent functions read all ones and
 * ignore writes.
 *
 * The host also plays firmware: when a device is added it gets a slot, its
 * INTx GSI and naturally aligned BAR addresses from the windows, so a Linux
 * guest with default `pci=` settings finds a valid assignment and keeps it.
 *
 * It knows nothing of struct vm: it works on the two buses it is given, so
 * unit tests drive it exactly as vCPUs do.
 */
#ifndef CASULO_PCI_PCI_HOST_H
#define CASULO_PCI_PCI_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/irq.h"
#include "pci/pci_device.h"
#include "util/compiler.h"

/* Default x86 layout. The 32-bit window and ECAM come from arch/x86/layout.h. */
#define PCI_HOST_BRIDGE_VENDOR   0x1b36   /* Red Hat, Inc. */
#define PCI_HOST_BRIDGE_DEVICE   0x0008   /* "QEMU PCIe Host bridge": no Linux quirks */
#define PCI_ECAM_SIZE_BUS0       0x100000ULL
#define PCI_IO_WINDOW_BASE       0x1000ULL
#define PCI_IO_WINDOW_END        0x10000ULL
#define PCI_MMIO64_MIN_BASE      0x1000000000ULL  /* 64 GiB */
#define PCI_MMIO64_SIZE          0x1000000000ULL  /* 64 GiB */
#define PCI_INTX_GSI_BASE        16
#define PCI_INTX_GSI_COUNT       8

/* [base, end); an empty window (base == end) is not used. */
struct pci_window {
    uint64_t base, end;
};

struct pci_host_config {
    struct bus *pio, *mmio;
    uint64_t ecam_base;             /* 0: no ECAM */
    struct pci_window mmio32, mmio64, io;
    /*
     * Template for the INTx lines: set_level/opaque are copied, the gsi is
     * chosen per slot (see pci_host_intx_gsi()).
     */
    struct irq_line intx;
    /* Optional: whether [gpa, gpa+len) overlaps guest RAM; such BARs are refused. */
    bool (*overlaps_ram)(void *opaque, uint64_t gpa, uint64_t len);
    void *ram_opaque;
};

struct pci_host {
    struct pci_host_config cfg;
    pthread_mutex_t lock;           /* recursive: config accesses, the latch, INTx state */
    uint32_t config_address;        /* the 0xCF8 latch */
    struct pci_device bridge;
    struct pci_device *slots[PCI_SLOTS];
    uint64_t next_mmio32, next_mmio64, next_io;
    bool pio_registered, ecam_registered;
};

/*
 * Registers 0xCF8 (4 bytes), 0xCFC (4 bytes) and the ECAM range. -EINVAL for
 * bad windows, or the bus's error when a range is taken.
 */
int pci_host_init(struct pci_host *host, const struct pci_host_config *cfg) MUST_CHECK;
/* Unmaps every BAR and unregisters the host's ranges. Devices stay the caller's. */
void pci_host_destroy(struct pci_host *host);

/*
 * Puts `dev` in the first free slot (1..31), wires its INTx line and assigns
 * every BAR an aligned address: 64-bit BARs from the 64-bit window when there
 * is one, otherwise (and 32-bit BARs) from the 32-bit window, IO BARs from the
 * IO window. -ENOSPC when slots or a window run out (nothing is changed).
 */
int pci_host_add_device(struct pci_host *host, struct pci_device *dev) MUST_CHECK;

/* The GSI a slot's INTA# reaches: 16 + (slot - 1) % 8 (the _PRT publishes it). */
unsigned pci_host_intx_gsi(unsigned slot, unsigned pin);

/* The 64-bit window for a guest whose RAM ends at `ram_end` (exclusive). */
struct pci_window pci_host_mmio64_window(uint64_t ram_end);

/* Config access by bus/device/function, as both mechanisms use it. */
uint32_t pci_host_config_read(struct pci_host *host, unsigned bus, unsigned devfn,
                              unsigned off, unsigned size);
void pci_host_config_write(struct pci_host *host, unsigned bus, unsigned devfn,
                           unsigned off, unsigned size, uint32_t val);

#endif
