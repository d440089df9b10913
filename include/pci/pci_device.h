/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One PCI function as the guest sees it: a 256-byte type-0 configuration
 * space with per-byte write masks (read-only, read-write, write-1-to-clear),
 * up to six BARs, a capability list and an INTx pin.
 *
 * The config space behaves like hardware by construction: a BAR's write mask
 * covers only its address bits, so the sizing protocol (write all ones, read
 * back the size mask) needs no special case. After each config write the
 * device recomputes where its BARs decode and moves their bus ranges to
 * match, synchronously (the bus allows a handler to re-register ranges).
 *
 * A BAR is split into regions, each with its own bus_ops (virtio puts its
 * common, notify, ISR and device-config structures in one BAR; MSI-X puts its
 * table and PBA in one). Accesses that hit no region read as all ones.
 *
 * Config accesses are serialised by the host bridge's lock; BAR accesses go
 * straight to the region's ops, which do their own locking.
 */
#ifndef CASULO_PCI_PCI_DEVICE_H
#define CASULO_PCI_PCI_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/irq.h"
#include "pci/pci_regs.h"
#include "util/compiler.h"

struct pci_host;
struct pci_device;

#define PCI_BAR_MEM32      0x0
#define PCI_BAR_MEM64      0x1
#define PCI_BAR_IO         0x2
#define PCI_BAR_PREFETCH   0x4

#define PCI_BAR_UNMAPPED   UINT64_MAX
#define PCI_BAR_REGIONS_MAX 8
#define PCI_CAPS_MAX       16

struct pci_device_id {
    uint16_t vendor, device;
    uint16_t subsystem_vendor, subsystem;
    uint32_t class_code;        /* base << 16 | sub << 8 | prog-if */
    uint8_t revision;
};

struct pci_bar_region {
    uint64_t offset, len;
    const struct bus_ops *ops;
    void *opaque;
};

struct pci_bar {
    struct pci_device *dev;     /* back pointer: the bus opaque is the BAR */
    unsigned index;
    uint64_t size;              /* 0: no BAR here (or the high half of a 64-bit one) */
    unsigned flags;             /* PCI_BAR_* */
    uint64_t mapped_at;         /* address registered on the bus, or PCI_BAR_UNMAPPED */
    bool refused_logged;        /* a refused address was already logged */
    struct pci_bar_region regions[PCI_BAR_REGIONS_MAX];
    unsigned nr_regions;
};

/*
 * Hooks for a capability whose registers have side effects. `before_read`
 * may refresh dev->cfg bytes of the capability; `after_write` sees the bytes
 * already updated through the write mask. Offsets are config-space offsets.
 */
struct pci_cap_ops {
    void (*before_read)(void *opaque, struct pci_device *dev, unsigned off, unsigned size);
    void (*after_write)(void *opaque, struct pci_device *dev, unsigned off, unsigned size);
};

struct pci_cap {
    uint8_t offset, len;
    const struct pci_cap_ops *ops;
    void *opaque;
};

struct pci_device {
    const char *name;
    struct pci_host *host;      /* set by pci_host_add_device() */
    unsigned slot;              /* bus 0 device number, 0 when not on a host */

    uint8_t cfg[PCI_CFG_SPACE_SIZE];
    uint8_t wmask[PCI_CFG_SPACE_SIZE];   /* bits the guest may write */
    uint8_t w1cmask[PCI_CFG_SPACE_SIZE]; /* bits a written 1 clears */

    struct pci_bar bars[PCI_NUM_BARS];

    struct pci_cap caps[PCI_CAPS_MAX];
    unsigned nr_caps;
    unsigned cap_next_free;     /* next free config offset for a capability */

    /* INTx: the device's requested level and the line it drives. */
    struct irq_line intx;
    bool intx_level;
    bool intx_asserted;         /* what the line was last set to */
    bool msix_enabled;          /* MSI-X enabled: INTx must stay quiet */

    /* Optional: told when a BAR starts or stops decoding (for ioeventfds). */
    void (*bar_mapped)(void *opaque, unsigned bar, uint64_t addr);
    void *bar_mapped_opaque;
};

/* Fills in the header for a single-function type-0 device with pin INTA. */
void pci_device_init(struct pci_device *dev, const char *name, const struct pci_device_id *id);

/*
 * Declares BAR `index`: `size` a power of two (memory: >= 16 bytes, IO: 4..256
 * bytes); a 64-bit BAR also takes index + 1. -EINVAL on a bad index, size or
 * flag combination, -EEXIST when the slot is taken. Call before the device is
 * added to a host.
 */
int pci_device_add_bar(struct pci_device *dev, unsigned index, uint64_t size,
                       unsigned flags) MUST_CHECK;

/* Routes [offset, offset+len) of BAR `index` to `ops`; refuses overlaps. */
int pci_bar_add_region(struct pci_device *dev, unsigned index, uint64_t offset, uint64_t len,
                       const struct bus_ops *ops, void *opaque) MUST_CHECK;

/*
 * Appends a capability: `body` is the whole capability (len bytes, the first
 * two are the ID and next pointer and are filled in here), `wmask` its
 * guest-writable bits (NULL: read-only). Placed at the next free dword; the
 * list stays linked from PCI_CAPABILITY_LIST. Stores the offset in *offset.
 */
int pci_device_add_cap(struct pci_device *dev, uint8_t id, const void *body, unsigned len,
                       const uint8_t *wmask, const struct pci_cap_ops *ops, void *opaque,
                       unsigned *offset) MUST_CHECK;

/*
 * Config space access at `off` (< 4096, 1/2/4 bytes, inside one dword).
 * Offsets beyond 256 read as zero (no extended capabilities). Anything
 * malformed reads all ones / is dropped. Callers hold the host's lock.
 */
uint32_t pci_device_config_read(struct pci_device *dev, unsigned off, unsigned size);
void pci_device_config_write(struct pci_device *dev, unsigned off, unsigned size, uint32_t val);

/* The address a BAR holds in config space (whether or not it decodes). */
uint64_t pci_device_bar_address(const struct pci_device *dev, unsigned index);
/* Writes a BAR's address as firmware would (used for initial assignment). */
void pci_device_set_bar_address(struct pci_device *dev, unsigned index, uint64_t addr);

/* Re-registers BAR ranges to match the command register and BAR values. */
void pci_device_update_mappings(struct pci_device *dev);
/* Unregisters every BAR range (device removal, host teardown). */
void pci_device_unmap_all(struct pci_device *dev);

/*
 * Device side of INTx: the level the device wants (e.g. its ISR is non-zero).
 * Any thread; takes the host's (recursive) lock.
 */
void pci_device_set_intx(struct pci_device *dev, bool level);
/*
 * MSI-X sets this: while MSI-X is enabled the function must not assert INTx.
 * Caller holds the host's lock (it runs from a config write).
 */
void pci_device_set_msix_enabled(struct pci_device *dev, bool enabled);

static inline uint16_t pci_device_command(const struct pci_device *dev)
{
    return (uint16_t)(dev->cfg[PCI_COMMAND] | dev->cfg[PCI_COMMAND + 1] << 8);
}

/* Little-endian helpers for the config arrays. */
static inline void pci_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void pci_put32(uint8_t *p, uint32_t v)
{
    pci_put16(p, (uint16_t)v);
    pci_put16(p + 2, (uint16_t)(v >> 16));
}
static inline uint16_t pci_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t pci_get32(const uint8_t *p) { return pci_get16(p) | (uint32_t)pci_get16(p + 2) << 16; }

#endif
