/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI-X for one PCI function: the capability (table size, function mask,
 * enable), the vector table (address, data, per-vector mask) and the pending
 * bit array, both living in a region of one of the function's BARs.
 *
 * The device side calls pci_msix_notify(): the message goes out through
 * `deliver` when MSI-X is enabled and the vector and function are unmasked;
 * otherwise the vector's pending bit is set and the message goes out when it
 * is unmasked. The KVM side gets `route` whenever what a vector would deliver
 * (its message, or whether it is masked) changes, so it can keep GSI routing
 * and irqfds in step without the data path doing an ioctl.
 *
 * Every guest value is checked: table/PBA accesses must be 4 or 8 bytes,
 * naturally aligned and inside the structure; others are ignored.
 */
#ifndef CASULO_PCI_MSIX_H
#define CASULO_PCI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci/pci_device.h"
#include "util/compiler.h"

struct pci_msi_msg {
    uint64_t addr;
    uint32_t data;
};

struct pci_msix_ops {
    /* Sends the message now (irqfd write, KVM_SIGNAL_MSI, or a test recorder). */
    void (*deliver)(void *opaque, unsigned vector, struct pci_msi_msg msg);
    /* The vector's message or effective mask changed. May be NULL. */
    void (*route)(void *opaque, unsigned vector, struct pci_msi_msg msg, bool masked);
};

struct pci_msix_entry {
    uint32_t addr_lo, addr_hi, data, ctrl;
};

struct pci_msix {
    struct pci_device *dev;
    unsigned nr_vectors;
    unsigned cap_off;
    unsigned bar;
    uint32_t table_off, pba_off;
    const struct pci_msix_ops *ops;
    void *opaque;

    pthread_mutex_t lock;           /* table, PBA and the cached control bits */
    struct pci_msix_entry *table;
    uint64_t *pba;
    bool enabled, function_masked;
};

/*
 * Adds the MSI-X capability to `dev` and routes the table (at table_off) and
 * PBA (at pba_off) of BAR `bar`, which must already exist and hold both.
 * nr_vectors is 1..2048; offsets are 8-byte aligned; the two may not overlap.
 */
int pci_msix_init(struct pci_msix *msix, struct pci_device *dev, unsigned nr_vectors,
                  unsigned bar, uint32_t table_off, uint32_t pba_off,
                  const struct pci_msix_ops *ops, void *opaque) MUST_CHECK;
void pci_msix_destroy(struct pci_msix *msix);

/* Bytes the table and the PBA take for `nr_vectors`. */
uint32_t pci_msix_table_size(unsigned nr_vectors);
uint32_t pci_msix_pba_size(unsigned nr_vectors);

/*
 * Fires `vector`: 1 when delivered, 0 when left pending (masked), -ENODEV
 * when MSI-X is disabled (the device should use INTx), -EINVAL for a vector
 * out of range.
 */
int pci_msix_notify(struct pci_msix *msix, unsigned vector);

bool pci_msix_is_enabled(struct pci_msix *msix);
bool pci_msix_is_pending(struct pci_msix *msix, unsigned vector);

/* Back to power-on state: disabled, every vector masked, nothing pending. */
void pci_msix_reset(struct pci_msix *msix);

#endif
