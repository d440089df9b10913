/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device side of a virtio 1.x split virtqueue, independent of the transport
 * and of any device. It turns what a driver placed in guest memory into
 * validated chains of host buffers, returns them through the used ring, and
 * decides when the driver wants to be notified (VIRTIO_F_EVENT_IDX or the
 * NO_INTERRUPT/NO_NOTIFY flags). Indirect descriptors are followed when
 * VIRTIO_F_INDIRECT_DESC was negotiated.
 *
 * The driver is hostile: every index, address, length and flag it wrote is
 * checked. The first violation marks the queue broken, logs one warning with
 * the reason, and from then on the queue never touches guest memory again;
 * the transport reacts by setting DEVICE_NEEDS_RESET. See docs/virtqueue.md.
 *
 * One thread at a time may use a queue (the device's I/O thread); the driver
 * runs concurrently on vCPUs and the ring accesses are ordered for that.
 */
#ifndef CASULO_VIRTIO_VIRTQUEUE_H
#define CASULO_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "util/compiler.h"

/* Split-ring layout constants (virtio 1.2, 2.7). */
#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_DESC_F_INDIRECT      4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

#define VIRTQ_MAX_SIZE  32768u   /* the largest queue size the spec allows */
/*
 * The most buffers one chain may hold. The spec bounds a chain by the queue
 * size; this bound keeps struct virtq_chain a fixed, modest size (16 KiB).
 * Devices offer queue sizes <= VIRTQ_MAX_CHAIN, so for them the two agree.
 */
#define VIRTQ_MAX_CHAIN 1024u
#define VIRTQ_REASON_MAX 128

/* Where the driver placed the queue and what was negotiated for it. */
struct virtq_config {
    uint32_t size;        /* queue size; wider than 16 bits so 65536 can be refused */
    uint64_t desc_gpa;    /* descriptor table: 16-byte aligned, 16 * size bytes */
    uint64_t avail_gpa;   /* available ring: 2-byte aligned, 6 + 2 * size bytes */
    uint64_t used_gpa;    /* used ring: 4-byte aligned, 6 + 8 * size bytes */
    bool event_idx;       /* VIRTIO_F_EVENT_IDX negotiated */
    bool indirect;        /* VIRTIO_F_INDIRECT_DESC negotiated */
    const char *name;     /* for the log, e.g. "blk0/q0"; copied */
};

/* One queue. Fields are private to virtqueue.c; use the functions below. */
struct virtq {
    const struct guest_mem *mem;
    char name[32];
    uint16_t size;
    bool ready;                 /* enabled with valid rings */
    bool event_idx, indirect;
    bool notify_disabled;       /* device asked for no kicks */
    bool signalled_valid;       /* signalled_used is meaningful */
    uint16_t last_avail_idx;    /* next avail ring slot to consume */
    uint16_t used_idx;          /* next used ring slot to fill */
    uint16_t signalled_used;    /* used_idx at the last notification decision */
    uint8_t *desc;              /* host views of the rings, resolved at enable */
    uint8_t *avail;
    uint8_t *used;
    bool broken;
    int broken_err;             /* what virtq_pop keeps returning: -EINVAL or -EFAULT */
    char broken_reason[VIRTQ_REASON_MAX];
};

/* One buffer of a chain: a host view of [addr, addr+len) of guest RAM. */
struct virtq_buf {
    uint8_t *hva;
    uint32_t len;
    bool device_writable;
};

/*
 * A validated descriptor chain. Readable buffers come first (bufs[0] to
 * bufs[nr_readable - 1]), then the writable ones. Zero-length descriptors are
 * accepted but not listed. The buffers stay guest memory: the driver can
 * change their contents at any time, so copy a header out (virtq_chain_read)
 * before validating it.
 */
struct virtq_chain {
    uint16_t head;              /* pass to virtq_push */
    unsigned nr;                /* buffers in bufs[] */
    unsigned nr_readable;
    uint64_t readable_bytes;
    uint64_t writable_bytes;
    struct virtq_buf bufs[VIRTQ_MAX_CHAIN];
};

/* Indices to save in a snapshot and restore into a freshly enabled queue. */
struct virtq_state {
    uint16_t last_avail_idx;
    uint16_t used_idx;
};

/* Forgets everything: the queue is not ready, not broken (device reset). */
void virtq_reset(struct virtq *vq);

/*
 * Checks the configuration (size a power of two <= 32768, rings aligned and
 * wholly inside guest RAM) and resolves the rings. Indices start at 0. On
 * failure returns -EINVAL and leaves the queue broken with the reason.
 */
int virtq_enable(struct virtq *vq, const struct guest_mem *mem,
                 const struct virtq_config *cfg) MUST_CHECK;

/*
 * Takes the next available chain. Returns 1 with *chain filled, 0 when the
 * ring is empty (or the queue not enabled), or a negative errno when the
 * driver broke the rules: the queue is then broken and every later call
 * returns the same value without reading guest memory. Before waiting for
 * the next kick a device must pop until 0 (or until virtq_enable_notify()
 * returns false): buffers already in the ring bring no further kick.
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain) MUST_CHECK;

/*
 * Returns a chain to the driver with the number of bytes written into its
 * writable part. The used index is published on each call, so a batch of
 * pushes followed by one virtq_needs_notify() costs one interrupt. Pushing a
 * head that was not popped breaks the queue (a device bug, never silent).
 */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t written_len);

/* After pushes: whether the driver wants a used-buffer notification now. */
bool virtq_needs_notify(struct virtq *vq);

/*
 * Kick suppression for a device that is busy draining the queue anyway.
 * virtq_enable_notify() returns true when buffers arrived while kicks were
 * off: the caller must then keep popping, or it could sleep on a full ring.
 */
void virtq_disable_notify(struct virtq *vq);
bool virtq_enable_notify(struct virtq *vq) MUST_CHECK;

bool virtq_is_broken(const struct virtq *vq);
/* The reason for the first violation; "" when the queue is healthy. */
const char *virtq_broken_reason(const struct virtq *vq);

void virtq_get_state(const struct virtq *vq, struct virtq_state *st);
/* -EINVAL when more chains would be in flight than the queue holds. */
int virtq_set_state(struct virtq *vq, const struct virtq_state *st) MUST_CHECK;

/*
 * Copy to/from a chain as if its readable (resp. writable) buffers were one
 * byte array, starting at `offset` into that array. Return the bytes copied,
 * fewer than `len` when the chain is shorter.
 */
size_t virtq_chain_read(const struct virtq_chain *chain, uint64_t offset,
                        void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *chain, uint64_t offset,
                         const void *src, size_t len);

#endif
