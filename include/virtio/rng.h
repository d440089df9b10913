/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng (virtio 1.2, 5.4): one request queue whose device-writable
 * buffers the device fills with bytes from the host's getrandom(2). The
 * `--rng` option adds one. Plug it into a transport with
 * virtio_pci_create(env, &virtio_rng_ops, rng, &vdev); the transport then
 * owns it and frees it through ops->destroy.
 */
#ifndef CASULO_VIRTIO_RNG_H
#define CASULO_VIRTIO_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/compiler.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_RNG_QUEUE_SIZE  256
/* The most bytes one request gets, so one kick cannot make us drain the pool for long. */
#define VIRTIO_RNG_MAX_REQUEST (64 * 1024)

struct virtio_rng;

/*
 * The entropy source: returns bytes written (possibly fewer than len) or -1
 * with errno, like getrandom(buf, len, 0).
 */
typedef ssize_t (*virtio_rng_fill_fn)(void *opaque, void *buf, size_t len);

/* fill NULL: the host's getrandom(2). Tests pass a recognisable source. */
int virtio_rng_new(virtio_rng_fill_fn fill, void *opaque, struct virtio_rng **out) MUST_CHECK;

/*
 * Counters for GET /metrics: requests served, bytes handed to the guest, and
 * requests that got fewer bytes than their buffers asked for (the host's
 * getrandom failed or came up short).
 */
struct virtio_rng_stats {
    uint64_t requests, bytes, short_fills;
};

/* Any thread: a consistent-enough copy (each counter is read atomically). */
void virtio_rng_get_stats(struct virtio_rng *rng, struct virtio_rng_stats *out);

extern const struct virtio_device_ops virtio_rng_ops;

#endif
