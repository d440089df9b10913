// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-pci common configuration structure (virtio 1.2, 4.1.4.3) and
 * the device status machine. vCPU threads read and write the structure;
 * the two status changes that touch the queues (reset and DRIVER_OK) are
 * only recorded here and carried out on the I/O thread, so they never race
 * with queue processing. Until the I/O thread has finished a reset,
 * device_status keeps reading its old value, which the spec allows (the
 * driver polls it until it reads 0).
 *
 * Every access must hit a field at its own width (64-bit queue addresses
 * also as two 32-bit halves); anything else reads 0 and is dropped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio_pci_internal.h"

void vpci_common_reset_locked(struct virtio_device *vdev)
{
    vdev->dev_feature_select = 0;
    vdev->drv_feature_select = 0;
    vdev->driver_features = 0;
    __atomic_store_n(&vdev->features, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&vdev->config_vector, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
    vdev->queue_select = 0;
    vdev->status = 0;
    vdev->pending = VPCI_PENDING_NONE;
    vdev->needs_reset_logged = false;
    for (unsigned i = 0; i < vdev->nr_queues; i++) {
        struct vpci_queue *q = &vdev->queues[i];
        q->size = q->max_size;
        __atomic_store_n(&q->msix_vector, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
        q->enabled = false;
        q->desc = q->avail = q->used = 0;
    }
}

static uint16_t checked_vector(const struct virtio_device *vdev, uint64_t v)
{
    /* A vector the table does not have reads back as NO_VECTOR: the driver's cue. */
    return v < vdev->nr_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static struct vpci_queue *selected_queue(struct virtio_device *vdev)
{
    return vdev->queue_select < vdev->nr_queues ? &vdev->queues[vdev->queue_select] : NULL;
}

/* The 64-bit queue address an access at `off` names, and whether it is the high half. */
static uint64_t *queue_addr(struct vpci_queue *q, uint64_t off)
{
    switch ((off - VIRTIO_PCI_COMMON_Q_DESC) / 8) {
    case 0: return &q->desc;
    case 1: return &q->avail;
    default: return &q->used;
    }
}

static bool is_queue_addr(uint64_t off, unsigned size)
{
    return off >= VIRTIO_PCI_COMMON_Q_DESC && off < VIRTIO_PCI_COMMON_CFG_LEN &&
           ((size == 4 && off % 4 == 0) || (size == 8 && off % 8 == 0));
}

static uint64_t common_read_locked(struct virtio_device *vdev, uint64_t off, unsigned size)
{
    struct vpci_queue *q = selected_queue(vdev);
    if (is_queue_addr(off, size)) {
        if (!q)
            return 0;
        uint64_t v = *queue_addr(q, off);
        return size == 8 ? v : (uint32_t)(v >> (off % 8 ? 32 : 0));
    }
#define FIELD(o, s) (off == (o) && size == (s))
    if (FIELD(VIRTIO_PCI_COMMON_DFSELECT, 4))
        return vdev->dev_feature_select;
    if (FIELD(VIRTIO_PCI_COMMON_DF, 4))
        return vdev->dev_feature_select < 2 ? (uint32_t)(vdev->offered >> (32 * vdev->dev_feature_select)) : 0;
    if (FIELD(VIRTIO_PCI_COMMON_GFSELECT, 4))
        return vdev->drv_feature_select;
    if (FIELD(VIRTIO_PCI_COMMON_GF, 4))
        return vdev->drv_feature_select < 2 ? (uint32_t)(vdev->driver_features >> (32 * vdev->drv_feature_select)) : 0;
    if (FIELD(VIRTIO_PCI_COMMON_MSIX, 2))
        return __atomic_load_n(&vdev->config_vector, __ATOMIC_RELAXED);
    if (FIELD(VIRTIO_PCI_COMMON_NUMQ, 2))
        return vdev->nr_queues;
    if (FIELD(VIRTIO_PCI_COMMON_STATUS, 1))
        return vdev->status;
    if (FIELD(VIRTIO_PCI_COMMON_CFGGEN, 1))
        return __atomic_load_n(&vdev->config_generation, __ATOMIC_ACQUIRE);
    if (FIELD(VIRTIO_PCI_COMMON_Q_SELECT, 2))
        return vdev->queue_select;
    if (!q)
        return 0;       /* queue_size 0: no such queue */
    if (FIELD(VIRTIO_PCI_COMMON_Q_SIZE, 2))
        return q->size;
    if (FIELD(VIRTIO_PCI_COMMON_Q_MSIX, 2))
        return __atomic_load_n(&q->msix_vector, __ATOMIC_RELAXED);
    if (FIELD(VIRTIO_PCI_COMMON_Q_ENABLE, 2))
        return q->enabled;
    if (FIELD(VIRTIO_PCI_COMMON_Q_NOFF, 2))
        return q->index;    /* notify address = notify base + index * multiplier */
    return 0;
}

static void common_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct virtio_device *vdev = opaque;
    pthread_mutex_lock(&vdev->lock);
    uint64_t v = common_read_locked(vdev, off, size);
    pthread_mutex_unlock(&vdev->lock);
    memcpy(data, &v, size);
}

/* What a write asks for once the lock is dropped. */
struct violation {
    char reason[96];            /* a guest violation: NEEDS_RESET */
    bool post;                  /* wake the I/O thread */
    bool clear_isr;             /* an immediate reset */
};

static void violate(struct violation *v, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void violate(struct violation *v, const char *fmt, ...)
{
    if (v->reason[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
    va_end(ap);
}

static void status_write_locked(struct virtio_device *vdev, uint8_t val, struct violation *bad)
{
    if (vdev->pending == VPCI_PENDING_RESET)
        return;     /* the driver must wait for the reset to read back 0 */
    if (val == 0) {
        if (!(vdev->status & VIRTIO_STATUS_DRIVER_OK) && vdev->pending == VPCI_PENDING_NONE) {
            /*
             * Never activated since the last reset: the device and its
             * queues are already in reset state and the I/O thread has
             * nothing of ours. Done now, so a status that already read 0
             * (first probe) does not make the driver race a pending reset.
             */
            vpci_common_reset_locked(vdev);
            bad->clear_isr = true;
            return;
        }
        vdev->pending = VPCI_PENDING_RESET;
        bad->post = true;
        return;
    }
    uint8_t keep = vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    uint8_t old = vdev->status & (uint8_t)~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    val &= (uint8_t)~VIRTIO_STATUS_DEVICE_NEEDS_RESET;     /* the device's bit */
    if ((val & old) != old)
        return;     /* bits are only ever added; clearing them takes a reset */
    uint8_t added = val & (uint8_t)~old;

    if (added & VIRTIO_STATUS_FEATURES_OK) {
        uint64_t want = vdev->driver_features;
        /* Refused by leaving the bit clear: the driver reads it back. */
        if ((want & ~vdev->offered) || !(want >> VIRTIO_F_VERSION_1 & 1))
            val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
        else
            __atomic_store_n(&vdev->features, want, __ATOMIC_RELEASE);
    }
    if (added & VIRTIO_STATUS_DRIVER_OK) {
        if (!(val & VIRTIO_STATUS_FEATURES_OK)) {
            val &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
            violate(bad, "DRIVER_OK without FEATURES_OK (status 0x%x)", val);
        } else {
            vdev->pending = VPCI_PENDING_DRIVER_OK;
            bad->post = true;
        }
    }
    vdev->status = val | keep;
}

static void queue_write_locked(struct virtio_device *vdev, struct vpci_queue *q, uint64_t off,
                               unsigned size, uint64_t val, struct violation *bad)
{
    /* Once DRIVER_OK is set (or on its way) the queue layout is fixed. */
    if (vdev->status & VIRTIO_STATUS_DRIVER_OK || vdev->pending != VPCI_PENDING_NONE)
        return;
    if (off == VIRTIO_PCI_COMMON_Q_MSIX && size == 2) {
        __atomic_store_n(&q->msix_vector, checked_vector(vdev, val), __ATOMIC_RELAXED);
        return;
    }
    if (q->enabled)
        return;     /* an enabled queue's size and rings stay as they were */
    if (off == VIRTIO_PCI_COMMON_Q_SIZE && size == 2) {
        q->size = (uint16_t)val;
    } else if (off == VIRTIO_PCI_COMMON_Q_ENABLE && size == 2) {
        if (val != 1)
            return;     /* writing 0 is not allowed; ignore it */
        if (q->size == 0 || (q->size & (q->size - 1)) || q->size > q->max_size) {
            violate(bad, "queue %u size %u is not a power of two up to the maximum",
                    q->index, q->size);
            return;
        }
        q->enabled = true;
    } else if (is_queue_addr(off, size)) {
        uint64_t *a = queue_addr(q, off);
        if (size == 8)
            *a = val;
        else if (off % 8)
            *a = (*a & 0xffffffffULL) | val << 32;
        else
            *a = (*a & ~0xffffffffULL) | (uint32_t)val;
    }
}

static void common_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct virtio_device *vdev = opaque;
    uint64_t val = 0;
    memcpy(&val, data, size);
    struct violation bad = { .reason = { 0 } };

    pthread_mutex_lock(&vdev->lock);
    if (FIELD(VIRTIO_PCI_COMMON_DFSELECT, 4)) {
        vdev->dev_feature_select = (uint32_t)val;
    } else if (FIELD(VIRTIO_PCI_COMMON_GFSELECT, 4)) {
        vdev->drv_feature_select = (uint32_t)val;
    } else if (FIELD(VIRTIO_PCI_COMMON_GF, 4)) {
        /* Features are frozen once FEATURES_OK is accepted. */
        unsigned sel = vdev->drv_feature_select;
        if (sel < 2 && !(vdev->status & VIRTIO_STATUS_FEATURES_OK) &&
            vdev->pending == VPCI_PENDING_NONE) {
            uint64_t mask = 0xffffffffULL << (32 * sel);
            vdev->driver_features = (vdev->driver_features & ~mask) | (val << (32 * sel) & mask);
        }
    } else if (FIELD(VIRTIO_PCI_COMMON_MSIX, 2)) {
        __atomic_store_n(&vdev->config_vector, checked_vector(vdev, val), __ATOMIC_RELAXED);
    } else if (FIELD(VIRTIO_PCI_COMMON_STATUS, 1)) {
        status_write_locked(vdev, (uint8_t)val, &bad);
    } else if (FIELD(VIRTIO_PCI_COMMON_Q_SELECT, 2)) {
        vdev->queue_select = (uint16_t)val;
    } else if (off >= VIRTIO_PCI_COMMON_Q_SIZE && off < VIRTIO_PCI_COMMON_CFG_LEN) {
        struct vpci_queue *q = selected_queue(vdev);
        if (q)
            queue_write_locked(vdev, q, off, size, val, &bad);
    }
#undef FIELD
    pthread_mutex_unlock(&vdev->lock);

    if (bad.clear_isr)
        vpci_clear_isr(vdev);
    if (bad.post)
        vpci_post(vdev);
    if (bad.reason[0])
        virtio_set_needs_reset(vdev, bad.reason);
}

const struct bus_ops vpci_common_ops = { common_read, common_write };

/* --- the I/O thread's half --- */

static void drain(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));
    (void)r;
}

static void notify_device(struct virtio_device *vdev, struct vpci_queue *q)
{
    vdev->ops->queue_notify(vdev->dev, q->index);
    /* The queue already logged the details; the device as a whole now needs a reset. */
    if (virtq_is_broken(&q->vq))
        virtio_set_needs_reset(vdev, virtq_broken_reason(&q->vq));
}

void vpci_kick_event(void *opaque, uint32_t events)
{
    struct vpci_queue *q = opaque;
    struct virtio_device *vdev = q->vdev;
    (void)events;   /* edge-triggered (register_fds): nothing to drain */
    if (vdev->quiesced) {
        /* A snapshot is being taken: the queue must not move until resume. */
        q->held_kick = true;
        return;
    }
    if (!vdev->live) {
        /*
         * A kick right after DRIVER_OK can overtake the ctl event in the same
         * epoll batch: keep it for after activation. Any other early kick
         * is the driver's mistake and is dropped.
         */
        pthread_mutex_lock(&vdev->lock);
        if (vdev->pending == VPCI_PENDING_DRIVER_OK)
            q->deferred_kick = true;
        pthread_mutex_unlock(&vdev->lock);
        return;
    }
    if (q->live)
        notify_device(vdev, q);
}

static void do_reset(struct virtio_device *vdev)
{
    vdev->live = false;
    vdev->ops->reset(vdev->dev);
    for (unsigned i = 0; i < vdev->nr_queues; i++) {
        struct vpci_queue *q = &vdev->queues[i];
        virtq_reset(&q->vq);
        q->live = false;
        q->deferred_kick = false;
    }
    vpci_clear_isr(vdev);
    /* Last: only now may the driver read 0 and start again. */
    pthread_mutex_lock(&vdev->lock);
    vpci_common_reset_locked(vdev);
    pthread_mutex_unlock(&vdev->lock);
}

static void do_driver_ok(struct virtio_device *vdev)
{
    char why[VIRTQ_REASON_MAX + 16] = "";

    pthread_mutex_lock(&vdev->lock);
    if (vdev->pending != VPCI_PENDING_DRIVER_OK) {
        /* A reset overtook it; that request has its own wake-up. */
        pthread_mutex_unlock(&vdev->lock);
        return;
    }
    vdev->pending = VPCI_PENDING_NONE;
    uint64_t features = vdev->features;
    for (unsigned i = 0; i < vdev->nr_queues && !why[0]; i++) {
        struct vpci_queue *q = &vdev->queues[i];
        if (!q->enabled)
            continue;
        const struct virtq_config cfg = {
            .size = q->size, .desc_gpa = q->desc, .avail_gpa = q->avail, .used_gpa = q->used,
            .event_idx = features >> VIRTIO_F_EVENT_IDX & 1,
            .indirect = features >> VIRTIO_F_INDIRECT_DESC & 1, .name = q->name,
        };
        /* Checks size, alignment and that every ring lies in guest RAM. */
        if (virtq_enable(&q->vq, vdev->mem, &cfg) != 0)
            snprintf(why, sizeof(why), "%s", virtq_broken_reason(&q->vq));
        else
            q->live = true;
    }
    pthread_mutex_unlock(&vdev->lock);
    if (why[0]) {
        virtio_set_needs_reset(vdev, why);
        return;
    }

    vdev->live = true;
    int err = vdev->ops->activate(vdev->dev, vdev);
    if (err) {
        vdev->live = false;
        snprintf(why, sizeof(why), "activation failed: %s", strerror(-err));
        virtio_set_needs_reset(vdev, why);
        return;
    }
    /*
     * Every live queue gets one look now, kicked or not: a driver may make
     * buffers available before DRIVER_OK (Linux's balloon posts its
     * statistics buffer, and kicks, while probing, and that early kick was
     * dropped). Devices pop until empty, so a queue with nothing is a no-op.
     */
    for (unsigned i = 0; i < vdev->nr_queues; i++) {
        struct vpci_queue *q = &vdev->queues[i];
        q->deferred_kick = false;
        if (q->live)
            notify_device(vdev, q);
    }
}

/* Stops queue processing for a snapshot, after the device finished its in-flight work. */
static void do_quiesce(struct virtio_device *vdev)
{
    if (!vdev->quiesced) {
        vdev->quiesced = true;
        if (vdev->live && vdev->ops->quiesce)
            vdev->ops->quiesce(vdev->dev);
    }
    pthread_mutex_lock(&vdev->lock);
    vdev->quiesce_ack = true;
    pthread_cond_broadcast(&vdev->quiesce_cond);
    pthread_mutex_unlock(&vdev->lock);
}

static void do_unquiesce(struct virtio_device *vdev)
{
    if (!vdev->quiesced)
        return;
    vdev->quiesced = false;
    if (vdev->live && vdev->ops->resume)
        vdev->ops->resume(vdev->dev);
    for (unsigned i = 0; i < vdev->nr_queues; i++) {
        struct vpci_queue *q = &vdev->queues[i];
        bool kicked = q->held_kick;
        q->held_kick = false;
        if (kicked && vdev->live && q->live)
            notify_device(vdev, q);
    }
}

void vpci_ctl_event(void *opaque, uint32_t events)
{
    struct virtio_device *vdev = opaque;
    drain(vdev->ctl_fd);
    pthread_mutex_lock(&vdev->lock);
    enum vpci_pending p = vdev->pending;
    enum vpci_quiesce_req qr = vdev->quiesce_req;
    vdev->quiesce_req = VPCI_QUIESCE_NONE;
    pthread_mutex_unlock(&vdev->lock);
    if (qr == VPCI_QUIESCE_OFF)
        do_unquiesce(vdev);
    /*
     * Only this thread clears `pending`; a reset may still replace a
     * DRIVER_OK. A status change that was on its way when a snapshot began
     * is carried out first, so the snapshot never holds a pending one.
     */
    if (!vdev->quiesced) {
        if (p == VPCI_PENDING_RESET)
            do_reset(vdev);
        else if (p == VPCI_PENDING_DRIVER_OK)
            do_driver_ok(vdev);
    }
    if (qr == VPCI_QUIESCE_ON)
        do_quiesce(vdev);
}
