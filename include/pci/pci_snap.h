/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot state of one PCI function and of its MSI-X: the configuration
 * space bytes, the INTx level, and the vector table, PBA and control bits.
 * Only what the guest programmed is saved; what the host decided at build
 * time (BAR sizes, capabilities, write masks) comes from building the same
 * device again, and loading re-derives the BAR mappings and MSI routes from
 * the saved bytes, so a restored function decodes at the addresses the
 * guest gave it. Layouts are fixed and little-endian (docs/snapshot-format.md).
 */
#ifndef CASULO_PCI_PCI_SNAP_H
#define CASULO_PCI_PCI_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "pci/msix.h"
#include "pci/pci_device.h"
#include "util/compiler.h"

#define PCI_SNAP_VERSION 1

/* Header of a "pci.<slot>" record; the MSI-X table and PBA follow it. */
struct pci_snap {
    uint8_t cfg[PCI_CFG_SPACE_SIZE];
    uint16_t vendor, device;        /* must match the rebuilt function */
    uint8_t intx_level;
    uint8_t msix_enabled, msix_function_masked;
    uint8_t reserved;
    uint32_t msix_vectors;          /* 0: no MSI-X */
} __attribute__((packed));

/* Bytes a record takes for a function with `nr_vectors` MSI-X vectors. */
size_t pci_snap_size(unsigned nr_vectors);
/* Fills buf (pci_snap_size bytes). msix may be NULL. */
void pci_snap_save(const struct pci_device *dev, struct pci_msix *msix, uint8_t *buf);
/* Validates a record against the rebuilt function without changing it: 0 or -EBADMSG. */
int pci_snap_check(const struct pci_device *dev, const struct pci_msix *msix, const uint8_t *buf,
                   size_t len) MUST_CHECK;
/*
 * Applies a checked record: config bytes, BAR mappings (the bar_mapped hook
 * runs), INTx, then MSI-X table, PBA and enable bits, with every vector
 * handed to the router so GSI routes and irqfds match the guest's table.
 * The VM is not running.
 */
void pci_snap_load(struct pci_device *dev, struct pci_msix *msix, const uint8_t *buf);

#endif
