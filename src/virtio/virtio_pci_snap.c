// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot and restore of one virtio-pci function: the "pci.<slot>" record
 * (config space and MSI-X, pci/pci_snap.h) and the "virtio.<slot>" record
 * (features, status, vectors, every queue's layout and indices, then the
 * device's own state). A snapshot is taken with the device quiesced, so no
 * request is in flight and the rings in the saved RAM match the indices;
 * restore re-enables the queues at those indices and activates the device
 * as DRIVER_OK would, without the guest noticing. Layout:
 * docs/snapshot-format.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pci/pci_host.h"
#include "pci/pci_snap.h"
#include "snapshot/format.h"
#include "virtio_pci_internal.h"

struct vpci_snap_hdr {
    uint16_t device_id;
    uint16_t nr_queues;
    uint32_t dev_state_len;
    uint64_t offered, driver_features, features;
    uint32_t dev_feature_select, drv_feature_select;
    uint16_t config_vector, queue_select;
    uint8_t status, config_generation, isr, live;
} __attribute__((packed));

struct vpci_snap_queue {
    uint64_t desc, avail, used;
    uint16_t size, msix_vector;
    uint16_t last_avail_idx, used_idx;
    uint8_t enabled, live;
    uint8_t reserved[2];
} __attribute__((packed));

static const char *id_name(uint16_t id)
{
    switch (id) {
    case VIRTIO_ID_NET: return "virtio-net";
    case VIRTIO_ID_BLOCK: return "virtio-blk";
    case VIRTIO_ID_RNG: return "virtio-rng";
    case VIRTIO_ID_BALLOON: return "virtio-balloon";
    default: return "another virtio device";
    }
}

/* --- quiesce --- */

static int wait_ack(struct virtio_device *vdev)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += VIRTIO_PCI_QUIESCE_TIMEOUT_S;
    int ret = 0;
    pthread_mutex_lock(&vdev->lock);
    while (!vdev->quiesce_ack && ret == 0)
        ret = pthread_cond_timedwait(&vdev->quiesce_cond, &vdev->lock, &deadline);
    bool ok = vdev->quiesce_ack;
    pthread_mutex_unlock(&vdev->lock);
    return ok ? 0 : -ETIMEDOUT;
}

int virtio_pci_quiesce(struct virtio_device *vdev)
{
    pthread_mutex_lock(&vdev->lock);
    vdev->quiesce_ack = false;
    vdev->quiesce_req = VPCI_QUIESCE_ON;
    pthread_mutex_unlock(&vdev->lock);
    vpci_post(vdev);
    return wait_ack(vdev);
}

void virtio_pci_resume(struct virtio_device *vdev)
{
    pthread_mutex_lock(&vdev->lock);
    vdev->quiesce_ack = false;
    vdev->quiesce_req = VPCI_QUIESCE_OFF;
    pthread_mutex_unlock(&vdev->lock);
    vpci_post(vdev);
}

void virtio_pci_record_names(const struct virtio_device *vdev, char pci[32], char virtio[32])
{
    snprintf(pci, 32, "pci.%u", vdev->pci.slot);
    snprintf(virtio, 32, "virtio.%u", vdev->pci.slot);
}

/* --- save --- */

static size_t dev_state_size(struct virtio_device *vdev)
{
    return vdev->ops->state_size && vdev->ops->save_state ? vdev->ops->state_size(vdev->dev) : 0;
}

int virtio_pci_save(struct virtio_device *vdev, struct snap_writer *w)
{
    char pname[32], vname[32];
    virtio_pci_record_names(vdev, pname, vname);
    size_t plen = pci_snap_size(vdev->nr_vectors);
    size_t dlen = dev_state_size(vdev);
    size_t vlen = sizeof(struct vpci_snap_hdr) + vdev->nr_queues * sizeof(struct vpci_snap_queue) + dlen;
    uint8_t *pbuf = malloc(plen), *vbuf = calloc(1, vlen);
    int ret = -ENOMEM;
    if (!pbuf || !vbuf)
        goto out;
    pci_snap_save(&vdev->pci, &vdev->msix, pbuf);

    struct vpci_snap_hdr h = {
        .device_id = vdev->ops->device_id, .nr_queues = (uint16_t)vdev->nr_queues,
        .dev_state_len = (uint32_t)dlen, .offered = vdev->offered,
    };
    pthread_mutex_lock(&vdev->host->lock);
    h.isr = vdev->isr;
    pthread_mutex_unlock(&vdev->host->lock);
    pthread_mutex_lock(&vdev->lock);
    h.driver_features = vdev->driver_features;
    h.features = vdev->features;
    h.dev_feature_select = vdev->dev_feature_select;
    h.drv_feature_select = vdev->drv_feature_select;
    h.config_vector = vdev->config_vector;
    h.queue_select = vdev->queue_select;
    h.status = vdev->status;
    h.config_generation = vdev->config_generation;
    h.live = vdev->live;
    uint8_t *p = vbuf + sizeof(h);
    for (unsigned i = 0; i < vdev->nr_queues; i++, p += sizeof(struct vpci_snap_queue)) {
        const struct vpci_queue *q = &vdev->queues[i];
        struct vpci_snap_queue sq = {
            .desc = q->desc, .avail = q->avail, .used = q->used, .size = q->size,
            .msix_vector = q->msix_vector, .enabled = q->enabled,
            /* A broken queue is not restored live; the status carries NEEDS_RESET. */
            .live = q->live && !virtq_is_broken(&q->vq),
        };
        struct virtq_state st = { 0 };
        if (q->live)
            virtq_get_state(&q->vq, &st);
        /*
         * Quiesced, a device holds only chains it will use in the order it
         * popped them (net's RX stash, a TX chain waiting for room, the
         * balloon's stats buffer): exactly the ring entries between the
         * used and the last available index. Saving the queue rewound to
         * its used index hands them back; the restored device pops them
         * again, and the saved VM itself keeps them.
         */
        sq.last_avail_idx = st.used_idx;
        sq.used_idx = st.used_idx;
        memcpy(p, &sq, sizeof(sq));
    }
    pthread_mutex_unlock(&vdev->lock);
    memcpy(vbuf, &h, sizeof(h));
    if (dlen)
        vdev->ops->save_state(vdev->dev, p);

    ret = snap_write_record(w, pname, PCI_SNAP_VERSION, pbuf, plen);
    if (!ret)
        ret = snap_write_record(w, vname, VIRTIO_PCI_SNAP_VERSION, vbuf, vlen);
out:
    free(pbuf);
    free(vbuf);
    return ret;
}

/* --- restore --- */

static bool vector_ok(const struct virtio_device *vdev, uint16_t v)
{
    return v == VIRTIO_MSI_NO_VECTOR || v < vdev->nr_vectors;
}

static int check_transport(struct virtio_device *vdev, const struct snap_record *r, char *why,
                           size_t len)
{
    struct vpci_snap_hdr h;
    if (r->version != VIRTIO_PCI_SNAP_VERSION) {
        snprintf(why, len, "record version %u is not supported", r->version);
        return -EPROTONOSUPPORT;
    }
    if (r->length < sizeof(h)) {
        snprintf(why, len, "record is truncated");
        return -EBADMSG;
    }
    memcpy(&h, r->payload, sizeof(h));
    if (h.device_id != vdev->ops->device_id) {
        snprintf(why, len, "snapshot has %s there but this VM has %s", id_name(h.device_id),
                 vdev->ops->name);
        return -EINVAL;
    }
    if (h.nr_queues != vdev->nr_queues || h.offered != vdev->offered) {
        snprintf(why, len, "the %s there was configured differently (queues or features)",
                 vdev->ops->name);
        return -EINVAL;
    }
    uint64_t want = sizeof(h) + (uint64_t)h.nr_queues * sizeof(struct vpci_snap_queue) +
                    h.dev_state_len;
    if (r->length != want || h.dev_state_len != dev_state_size(vdev)) {
        snprintf(why, len, "record has the wrong length");
        return -EBADMSG;
    }
    bool driver_ok = h.status & VIRTIO_STATUS_DRIVER_OK;
    if ((h.features & ~h.offered) || h.isr > 3 || h.live > 1 || !vector_ok(vdev, h.config_vector) ||
        (h.live && !driver_ok) || (driver_ok && !(h.status & VIRTIO_STATUS_FEATURES_OK))) {
        snprintf(why, len, "transport state is inconsistent");
        return -EBADMSG;
    }
    const uint8_t *p = r->payload + sizeof(h);
    for (unsigned i = 0; i < h.nr_queues; i++, p += sizeof(struct vpci_snap_queue)) {
        struct vpci_snap_queue sq;
        memcpy(&sq, p, sizeof(sq));
        const struct vpci_queue *q = &vdev->queues[i];
        bool size_ok = sq.size && !(sq.size & (sq.size - 1)) && sq.size <= q->max_size;
        if (sq.enabled > 1 || sq.live > 1 || !vector_ok(vdev, sq.msix_vector) ||
            (sq.enabled && !size_ok) || (sq.live && (!sq.enabled || !h.live))) {
            snprintf(why, len, "queue %u state is inconsistent", i);
            return -EBADMSG;
        }
        if (!sq.live)
            continue;
        /* Rings inside RAM and indices the ring can hold: tried on a scratch queue. */
        struct virtq scratch;
        virtq_reset(&scratch);
        const struct virtq_config cfg = {
            .size = sq.size, .desc_gpa = sq.desc, .avail_gpa = sq.avail, .used_gpa = sq.used,
            .name = q->name,
        };
        struct virtq_state st = { sq.last_avail_idx, sq.used_idx };
        if (virtq_enable(&scratch, vdev->mem, &cfg) || virtq_set_state(&scratch, &st)) {
            snprintf(why, len, "queue %u has rings outside RAM or impossible indices", i);
            return -EBADMSG;
        }
    }
    return 0;
}

static int find_records(struct virtio_device *vdev, const struct snap_image *img,
                        const struct snap_record **pr, const struct snap_record **vr, char *why,
                        size_t len)
{
    char pname[32], vname[32];
    virtio_pci_record_names(vdev, pname, vname);
    *pr = snap_image_find(img, pname);
    *vr = snap_image_find(img, vname);
    if (!*pr || !*vr) {
        snprintf(why, len, "snapshot has no device there but this VM has %s", vdev->ops->name);
        return -EINVAL;
    }
    return 0;
}

int virtio_pci_check(struct virtio_device *vdev, const struct snap_image *img, char *err,
                     size_t errlen)
{
    const struct snap_record *pr, *vr;
    char why[160];
    int ret = find_records(vdev, img, &pr, &vr, why, sizeof(why));
    if (!ret)
        ret = check_transport(vdev, vr, why, sizeof(why));
    if (!ret && (pr->version != PCI_SNAP_VERSION ||
                 pci_snap_check(&vdev->pci, &vdev->msix, pr->payload, pr->length))) {
        snprintf(why, sizeof(why), "its PCI state does not fit the %s", vdev->ops->name);
        ret = -EBADMSG;
    }
    if (ret)
        snprintf(err, errlen, "PCI slot %u: %s", vdev->pci.slot, why);
    return ret;
}

int virtio_pci_load(struct virtio_device *vdev, const struct snap_image *img, char *err,
                    size_t errlen)
{
    int ret = virtio_pci_check(vdev, img, err, errlen);
    if (ret)
        return ret;
    const struct snap_record *pr, *vr;
    char why[160];
    (void)find_records(vdev, img, &pr, &vr, why, sizeof(why));
    pci_snap_load(&vdev->pci, &vdev->msix, pr->payload);

    struct vpci_snap_hdr h;
    memcpy(&h, vr->payload, sizeof(h));
    const uint8_t *p = vr->payload + sizeof(h);
    pthread_mutex_lock(&vdev->lock);
    vdev->driver_features = h.driver_features;
    __atomic_store_n(&vdev->features, h.features, __ATOMIC_RELEASE);
    vdev->dev_feature_select = h.dev_feature_select;
    vdev->drv_feature_select = h.drv_feature_select;
    vdev->config_vector = h.config_vector;
    vdev->queue_select = h.queue_select;
    vdev->status = h.status;
    vdev->config_generation = h.config_generation;
    vdev->pending = VPCI_PENDING_NONE;
    vdev->needs_reset_logged = h.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    for (unsigned i = 0; i < vdev->nr_queues && !ret; i++, p += sizeof(struct vpci_snap_queue)) {
        struct vpci_snap_queue sq;
        memcpy(&sq, p, sizeof(sq));
        struct vpci_queue *q = &vdev->queues[i];
        q->desc = sq.desc;
        q->avail = sq.avail;
        q->used = sq.used;
        q->size = sq.size;
        q->msix_vector = sq.msix_vector;
        q->enabled = sq.enabled;
        if (!sq.live)
            continue;
        const struct virtq_config cfg = {
            .size = sq.size, .desc_gpa = sq.desc, .avail_gpa = sq.avail, .used_gpa = sq.used,
            .event_idx = h.features >> VIRTIO_F_EVENT_IDX & 1,
            .indirect = h.features >> VIRTIO_F_INDIRECT_DESC & 1, .name = q->name,
        };
        struct virtq_state st = { sq.last_avail_idx, sq.used_idx };
        ret = virtq_enable(&q->vq, vdev->mem, &cfg);
        if (!ret)
            ret = virtq_set_state(&q->vq, &st);
        q->live = !ret;
    }
    pthread_mutex_unlock(&vdev->lock);
    if (ret) {
        snprintf(err, errlen, "PCI slot %u: cannot enable its queues", vdev->pci.slot);
        return ret;
    }
    pthread_mutex_lock(&vdev->host->lock);
    vdev->isr = h.isr;
    pthread_mutex_unlock(&vdev->host->lock);

    if (h.live) {
        /* What DRIVER_OK did in the saved VM: the back-end hooks up to the queues. */
        vdev->live = true;
        ret = vdev->ops->activate(vdev->dev, vdev);
        if (ret) {
            vdev->live = false;
            snprintf(err, errlen, "PCI slot %u: %s cannot be activated: %s", vdev->pci.slot,
                     vdev->ops->name, strerror(-ret));
            return ret;
        }
    }
    if (h.dev_state_len) {
        ret = vdev->ops->load_state ? vdev->ops->load_state(vdev->dev, p, h.dev_state_len)
                                    : -EBADMSG;
        if (ret) {
            snprintf(err, errlen, "PCI slot %u: %s state is malformed", vdev->pci.slot,
                     vdev->ops->name);
            return ret;
        }
    }
    /* Buffers the guest posted after the last look (kicks held while quiesced). */
    for (unsigned i = 0; h.live && i < vdev->nr_queues; i++) {
        if (!vdev->queues[i].live)
            continue;
        uint64_t one = 1;
        ssize_t wr = write(vdev->queues[i].kick_fd, &one, sizeof(one));
        (void)wr;
    }
    return 0;
}
