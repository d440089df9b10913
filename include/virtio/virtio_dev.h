/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract between the virtio transport (virtio-pci) and a virtio device
 * (blk, net, rng, ...). A device is one file with a `static const struct
 * virtio_device_ops`; it knows nothing of PCI. The transport owns feature
 * negotiation, the queues (struct virtq), notifications (ioeventfd) and
 * interrupts (MSI-X through irqfd, INTx as a fallback).
 *
 * Threads: queue_notify(), activate() and reset() run on the VM's I/O thread
 * (the event loop that watches the queues' ioeventfds), never at the same
 * time; a reset before DRIVER_OK, when nothing is active yet, may run on the
 * vCPU thread. config_read/write run on the vCPU thread that made the access.
 */
#ifndef CASULO_VIRTIO_VIRTIO_DEV_H
#define CASULO_VIRTIO_VIRTIO_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct virtq;
struct evloop;
struct guest_mem;
struct virtio_device;

/* Feature bits the transport handles itself (virtio 1.2, section 6). */
#define VIRTIO_F_INDIRECT_DESC   28
#define VIRTIO_F_EVENT_IDX       29
#define VIRTIO_F_VERSION_1       32
#define VIRTIO_F_ACCESS_PLATFORM 33

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED             128

/* Virtio device ids. */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK   19

struct virtio_device_ops {
    const char *name;               /* "virtio-blk", for logs */
    uint16_t device_id;             /* VIRTIO_ID_* */
    uint16_t pci_class;             /* PCI class code (base<<8 | sub), e.g. 0x0100 storage */
    /* Device-specific feature bits (the transport adds VERSION_1, EVENT_IDX, INDIRECT_DESC). */
    uint64_t (*features)(void *dev);
    unsigned (*num_queues)(void *dev);
    uint16_t (*queue_max_size)(void *dev, unsigned queue);   /* power of 2, <= 1024 */
    /* Device config space (virtio 1.2 section 5.x): `size` bytes at `offset`, already bounds-checked. */
    uint32_t (*config_size)(void *dev);
    void (*config_read)(void *dev, uint32_t offset, void *data, unsigned size);
    void (*config_write)(void *dev, uint32_t offset, const void *data, unsigned size);
    /*
     * DRIVER_OK: features are final and the enabled queues are ready. Returns
     * 0, or -errno to refuse (the transport then sets DEVICE_NEEDS_RESET).
     */
    int (*activate)(void *dev, struct virtio_device *vdev);
    /* Driver wrote 0 to status, or the VM resets: drop in-flight work, forget queues. */
    void (*reset)(void *dev);
    /* The driver kicked `queue` (ioeventfd fired). Pop until virtq_pop() returns 0. */
    void (*queue_notify)(void *dev, unsigned queue);
    /* Tear down back-ends; called once at VM destruction after reset. */
    void (*destroy)(void *dev);
    /*
     * Snapshots (all optional, I/O thread, device active). quiesce: finish
     * every request in flight, make the data durable (disks: fdatasync),
     * and touch neither the queues nor guest RAM until resume. Kicks are
     * held by the transport meanwhile and delivered after resume.
     */
    void (*quiesce)(void *dev);
    void (*resume)(void *dev);
    /*
     * Device state beyond the queues and config the transport saves
     * (balloon target, ...): state_size bytes, saved while quiesced and
     * loaded after activate() on restore (the VM not running yet).
     * load_state returns 0 or -EBADMSG for a payload it cannot accept.
     */
    size_t (*state_size)(void *dev);
    void (*save_state)(void *dev, void *buf);
    int (*load_state)(void *dev, const void *buf, size_t len);
};

/* --- services the transport gives a device --- */

/* The queue, or NULL if the driver did not enable it. */
struct virtq *virtio_queue(struct virtio_device *vdev, unsigned queue);
/* Negotiated features (device and transport bits). */
uint64_t virtio_features(const struct virtio_device *vdev);
static inline bool virtio_has_feature(const struct virtio_device *vdev, unsigned bit)
{
    return (virtio_features(vdev) >> bit) & 1;
}
/* Interrupts the driver for `queue` if virtq_needs_notify() says so. Any thread. */
void virtio_queue_interrupt(struct virtio_device *vdev, unsigned queue);
/* Device config changed (e.g. link status): config-change interrupt. */
void virtio_config_interrupt(struct virtio_device *vdev);
/* The device (or its queue) saw a guest violation: NEEDS_RESET + config interrupt. Logs once. */
void virtio_set_needs_reset(struct virtio_device *vdev, const char *reason);
/* Guest memory and the I/O thread's event loop (for back-end fds: io_uring eventfd, tap). */
const struct guest_mem *virtio_guest_mem(const struct virtio_device *vdev);
struct evloop *virtio_io_loop(struct virtio_device *vdev);

#endif
