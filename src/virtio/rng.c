// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-rng: the device side of the entropy queue (see rng.h). Each chain's
 * writable buffers are filled straight from getrandom(2) into guest memory,
 * up to VIRTIO_RNG_MAX_REQUEST bytes per chain; readable buffers are ignored.
 */
#include "virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "virtio/virtqueue.h"

struct virtio_rng {
    struct virtio_device *vdev;
    virtio_rng_fill_fn fill;
    void *fill_opaque;
    struct virtq_chain chain;       /* 16 KiB: kept here, not on the I/O thread's stack */
    struct virtio_rng_stats stats;  /* written on the I/O thread only, read anywhere */
};

static ssize_t host_getrandom(void *opaque, void *buf, size_t len)
{
    return getrandom(buf, len, 0);
}

int virtio_rng_new(virtio_rng_fill_fn fill, void *opaque, struct virtio_rng **out)
{
    struct virtio_rng *rng = calloc(1, sizeof(*rng));
    if (!rng)
        return -ENOMEM;
    rng->fill = fill ? fill : host_getrandom;
    rng->fill_opaque = opaque;
    *out = rng;
    return 0;
}

static uint64_t rng_features(void *dev) { return 0; }
static unsigned rng_num_queues(void *dev) { return 1; }
static uint16_t rng_queue_max_size(void *dev, unsigned queue) { return VIRTIO_RNG_QUEUE_SIZE; }
static uint32_t rng_config_size(void *dev) { return 0; }

static void rng_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
    /* No config space: the transport never calls this. */
}

static int rng_activate(void *dev, struct virtio_device *vdev)
{
    struct virtio_rng *rng = dev;
    rng->vdev = vdev;
    return 0;
}

static void rng_reset(void *dev)
{
    struct virtio_rng *rng = dev;
    rng->vdev = NULL;
}

void virtio_rng_get_stats(struct virtio_rng *rng, struct virtio_rng_stats *out)
{
    *out = (struct virtio_rng_stats){
        .requests = __atomic_load_n(&rng->stats.requests, __ATOMIC_RELAXED),
        .bytes = __atomic_load_n(&rng->stats.bytes, __ATOMIC_RELAXED),
        .short_fills = __atomic_load_n(&rng->stats.short_fills, __ATOMIC_RELAXED),
    };
}

/* Bytes the chain's writable part asks for, up to what one request gets. */
static uint32_t chain_wants(const struct virtq_chain *chain)
{
    uint64_t want = 0;
    for (unsigned i = chain->nr_readable; i < chain->nr; i++)
        want += chain->bufs[i].len;
    return (uint32_t)MIN(want, (uint64_t)VIRTIO_RNG_MAX_REQUEST);
}

/* Fills the chain's writable part; returns the bytes written. */
static uint32_t fill_chain(struct virtio_rng *rng, const struct virtq_chain *chain)
{
    uint32_t done = 0;
    for (unsigned i = chain->nr_readable; i < chain->nr && done < VIRTIO_RNG_MAX_REQUEST; i++) {
        const struct virtq_buf *b = &chain->bufs[i];
        uint32_t want = MIN(b->len, VIRTIO_RNG_MAX_REQUEST - done), got = 0;
        while (got < want) {
            ssize_t n = rng->fill(rng->fill_opaque, b->hva + got, want - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return done + got;  /* give the driver what we have */
            got += (uint32_t)n;
        }
        done += got;
    }
    return done;
}

static void rng_queue_notify(void *dev, unsigned queue)
{
    struct virtio_rng *rng = dev;
    if (!rng->vdev || queue != 0)
        return;
    struct virtq *vq = virtio_queue(rng->vdev, 0);
    if (!vq)
        return;
    for (;;) {
        int r = virtq_pop(vq, &rng->chain);
        if (r <= 0)
            break;      /* empty, or broken: the transport sees the latter */
        uint32_t got = fill_chain(rng, &rng->chain);
        __atomic_fetch_add(&rng->stats.requests, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&rng->stats.bytes, got, __ATOMIC_RELAXED);
        if (got < chain_wants(&rng->chain))
            __atomic_fetch_add(&rng->stats.short_fills, 1, __ATOMIC_RELAXED);
        virtq_push(vq, rng->chain.head, got);
    }
    virtio_queue_interrupt(rng->vdev, 0);
}

static void rng_destroy(void *dev)
{
    free(dev);
}

const struct virtio_device_ops virtio_rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .pci_class = 0xff00,        /* unclassified device, like other virtio-rng implementations */
    .features = rng_features,
    .num_queues = rng_num_queues,
    .queue_max_size = rng_queue_max_size,
    .config_size = rng_config_size,
    .config_read = rng_config_read,
    .config_write = NULL,
    .activate = rng_activate,
    .reset = rng_reset,
    .queue_notify = rng_queue_notify,
    .destroy = rng_destroy,
};
