/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private state of the virtio-pci transport, shared by its two source files:
 * virtio_pci.c (the PCI function, capabilities, ioeventfds, interrupts and
 * the services devices call) and virtio_pci_common.c (the common
 * configuration structure and the status changes the I/O thread carries out).
 *
 * Locks and who holds what:
 *  - lock: everything the driver programs through the common structure
 *    (selectors, features, queue fields, status, the pending request).
 *    Never held while calling into the device or raising an interrupt.
 *  - host->lock (recursive): the ISR byte together with the INTx level, so a
 *    raise and an ISR read-and-clear cannot leave the line low with a bit set.
 *  - ioev_lock: the installed ioeventfds (BAR moves run on vCPU threads).
 * Order: host->lock -> lock, host->lock -> ioev_lock, host->lock -> msix.
 * Fields marked "I/O thread" are touched only by the VM's I/O thread.
 */
#ifndef CASULO_VIRTIO_VIRTIO_PCI_INTERNAL_H
#define CASULO_VIRTIO_VIRTIO_PCI_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci/msi_kvm.h"
#include "pci/msix.h"
#include "pci/pci_device.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtqueue.h"

struct vpci_queue {
    struct virtio_device *vdev;     /* evloop handler opaque */
    unsigned index;
    uint16_t max_size;
    int kick_fd;                    /* eventfd: ioeventfd target and MMIO fallback */

    /* Driver-programmed, under vdev->lock. */
    uint16_t size;
    uint16_t msix_vector;           /* also read atomically by the interrupt path */
    bool enabled;
    uint64_t desc, avail, used;

    /* I/O thread. */
    struct virtq vq;
    bool live;                      /* virtq enabled at DRIVER_OK */
    bool deferred_kick;             /* kicked while DRIVER_OK was on its way */
    bool held_kick;                 /* kicked while quiesced: looked at on resume */
    char name[32];

    /* Under ioev_lock. */
    bool ioev_installed;
    uint64_t ioev_addr;
    uint32_t ioev_len;
};

/* A status change the vCPU handed to the I/O thread. */
enum vpci_pending {
    VPCI_PENDING_NONE,
    VPCI_PENDING_RESET,
    VPCI_PENDING_DRIVER_OK,
};

enum vpci_quiesce_req {
    VPCI_QUIESCE_NONE,
    VPCI_QUIESCE_ON,
    VPCI_QUIESCE_OFF,
};

struct virtio_device {
    const struct virtio_device_ops *ops;
    void *dev;
    char name[32];
    const struct guest_mem *mem;
    struct evloop *loop;
    struct pci_host *host;
    struct pci_device pci;

    struct pci_msix msix;
    bool msix_ready;
    struct msi_kvm_device msi_dev;
    bool msi_dev_ready;
    unsigned nr_vectors;

    int vm_fd;
    int (*ioctl_fn)(void *opaque, int fd, unsigned long req, void *arg);
    void *ioctl_opaque;
    pthread_mutex_t ioev_lock;
    bool ioev_failed_logged;

    unsigned nr_queues;
    struct vpci_queue *queues;
    uint64_t offered;               /* device bits + the transport's */
    uint32_t config_size;
    unsigned pcicfg_cap;            /* offset of the PCI_CFG capability */

    int ctl_fd;                     /* eventfd: a pending request for the I/O thread */
    bool fds_registered;

    pthread_mutex_t lock;
    uint32_t dev_feature_select, drv_feature_select;
    uint64_t driver_features;
    uint64_t features;              /* negotiated at FEATURES_OK; atomic reads */
    uint16_t config_vector;         /* atomic reads */
    uint16_t queue_select;
    uint8_t status;
    uint8_t config_generation;      /* atomic */
    enum vpci_pending pending;
    bool needs_reset_logged;

    uint8_t isr;                    /* under host->lock */

    bool live;                      /* I/O thread: activated, kicks go to the device */

    /* Snapshot quiesce: requested under lock, carried out by the I/O thread. */
    enum vpci_quiesce_req quiesce_req;
    bool quiesce_ack;               /* under lock: the I/O thread is quiesced */
    pthread_cond_t quiesce_cond;
    bool quiesced;                  /* I/O thread: kicks are held, the device is idle */
};

/* virtio_pci_common.c */
extern const struct bus_ops vpci_common_ops;
/* I/O thread: the eventfd handlers for ctl_fd and a queue's kick_fd. */
void vpci_ctl_event(void *opaque, uint32_t events);
void vpci_kick_event(void *opaque, uint32_t events);
/* Back to the power-on values of the common structure. Caller holds lock. */
void vpci_common_reset_locked(struct virtio_device *vdev);

/* virtio_pci.c */
/* Raises a queue (ISR bit 0) or config (bit 1) interrupt on `vector`. */
void vpci_raise(struct virtio_device *vdev, uint16_t vector, uint8_t isr_bit);
/* Clears ISR and lowers INTx (device reset). */
void vpci_clear_isr(struct virtio_device *vdev);
/* Wakes the I/O thread to look at vdev->pending. */
void vpci_post(struct virtio_device *vdev);

#endif
