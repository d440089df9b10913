/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delivering MSIs through KVM. Each MSI-X vector that a device uses gets a
 * GSI with a KVM_IRQ_ROUTING_MSI entry and an irqfd on an eventfd, so firing
 * it is one write() with no ioctl. The route table is rewritten
 * (KVM_SET_GSI_ROUTING) only when the guest reprograms a vector. A vector
 * whose route cannot be installed falls back to KVM_SIGNAL_MSI.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so the table always starts
 * with KVM's default irqchip routes (GSI 0-15 to the PICs and the IOAPIC,
 * 16-23 to the IOAPIC) for KVM_IRQ_LINE to keep working.
 *
 * This is the only PCI file that knows about KVM. The ioctl function is a
 * member so unit tests can stand in for KVM.
 */
#ifndef CASULO_PCI_MSI_KVM_H
#define CASULO_PCI_MSI_KVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci/msix.h"
#include "util/compiler.h"

#define MSI_KVM_FIRST_GSI    24      /* after the IOAPIC's 24 pins */
#define MSI_KVM_MAX_VECTORS  1024

struct msi_kvm_vector {
    unsigned gsi;
    int eventfd;                     /* -1 when no irqfd could be set up */
    struct pci_msi_msg msg;
    bool routed;                     /* the route table holds msg for gsi */
    bool masked;
};

struct msi_kvm {
    int vm_fd;
    int (*ioctl_fn)(void *opaque, int fd, unsigned long req, void *arg);
    void *ioctl_opaque;
    pthread_mutex_t lock;
    struct msi_kvm_vector *vectors;
    unsigned nr_vectors, cap_vectors;
    bool routing_broken;             /* KVM refused a table: use KVM_SIGNAL_MSI */
};

int msi_kvm_init(struct msi_kvm *k, int vm_fd) MUST_CHECK;
/* Deassigns the irqfds and closes the eventfds. */
void msi_kvm_destroy(struct msi_kvm *k);

/* Allocates a GSI and an irqfd for one vector; *handle names it afterwards. */
int msi_kvm_add_vector(struct msi_kvm *k, unsigned *handle) MUST_CHECK;

/* New message or mask for a vector: rewrites the route table if it changed. */
int msi_kvm_update(struct msi_kvm *k, unsigned handle, struct pci_msi_msg msg, bool masked);

/* Sends the vector's message: eventfd write when routed, else KVM_SIGNAL_MSI. */
int msi_kvm_deliver(struct msi_kvm *k, unsigned handle, struct pci_msi_msg msg);

/*
 * Glue for pci_msix: `msix_ops` with opaque = a struct msi_kvm_device, whose
 * handles[] map the device's vectors to msi_kvm vectors (allocated by
 * msi_kvm_device_init()).
 */
struct msi_kvm_device {
    struct msi_kvm *k;
    unsigned nr;
    unsigned *handles;
};

int msi_kvm_device_init(struct msi_kvm_device *d, struct msi_kvm *k, unsigned nr_vectors) MUST_CHECK;
void msi_kvm_device_destroy(struct msi_kvm_device *d);
extern const struct pci_msix_ops msi_kvm_msix_ops;

#endif
