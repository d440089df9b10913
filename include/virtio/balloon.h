/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-balloon (virtio 1.2, 5.5), transport-independent: plug it into
 * virtio-pci with virtio_pci_create(env, &balloon_ops, b, &vdev); the
 * transport then owns it and frees it through ops->destroy.
 *
 * The host sets a target (balloon_set_target); the guest driver inflates the
 * balloon by handing over page frame numbers, and the device returns those
 * pages to the host with madvise(MADV_DONTNEED): guest RAM is private
 * anonymous memory, so the host frees them and a later guest access faults in
 * a zero page. Deflating needs nothing on the host. The device also keeps the
 * guest's memory statistics (statsq) and frees the ranges the guest reports
 * as free (free page reporting). See docs/balloon.md.
 *
 * Threads: queue work runs on the VM's I/O thread; balloon_set_target,
 * balloon_get_info, balloon_request_stats and balloon_set_stats_interval may
 * be called from any thread (the API thread).
 */
#ifndef CASULO_VIRTIO_BALLOON_H
#define CASULO_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"
#include "virtio/virtio_dev.h"

/* Feature bits (5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST  0
#define VIRTIO_BALLOON_F_STATS_VQ        1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM  2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT  3
#define VIRTIO_BALLOON_F_PAGE_POISON     4
#define VIRTIO_BALLOON_F_PAGE_REPORTING  5

/* The balloon's page: 4 KiB whatever the guest's page size (5.5.6). */
#define BALLOON_PAGE_SHIFT 12
#define BALLOON_PAGE_SIZE  (1u << BALLOON_PAGE_SHIFT)

#define BALLOON_QUEUE_SIZE 128
/* inflateq, deflateq, statsq, reporting_vq: what the device offers. */
#define BALLOON_MAX_QUEUES 4
/*
 * The most PFNs one inflate/deflate chain may carry (4 GiB of guest memory;
 * Linux sends 256). A longer chain is a protocol violation: it would keep
 * the shared I/O thread busy for no reason a driver could have.
 */
#define BALLOON_MAX_PFNS_PER_CHAIN (1u << 20)

/* Memory statistics tags (5.5.6.4; 10-15 were added after virtio 1.2). */
enum balloon_stat_tag {
    BALLOON_S_SWAP_IN = 0,
    BALLOON_S_SWAP_OUT = 1,
    BALLOON_S_MAJFLT = 2,
    BALLOON_S_MINFLT = 3,
    BALLOON_S_MEMFREE = 4,
    BALLOON_S_MEMTOT = 5,
    BALLOON_S_AVAIL = 6,
    BALLOON_S_CACHES = 7,
    BALLOON_S_HTLB_PGALLOC = 8,
    BALLOON_S_HTLB_PGFAIL = 9,
    BALLOON_S_OOM_KILL = 10,
    BALLOON_S_ALLOC_STALL = 11,
    BALLOON_S_ASYNC_SCAN = 12,
    BALLOON_S_DIRECT_SCAN = 13,
    BALLOON_S_ASYNC_RECLAIM = 14,
    BALLOON_S_DIRECT_RECLAIM = 15,
    BALLOON_NR_STATS = 16,
};
/* Entries parsed from one stats buffer at most; the rest is ignored. */
#define BALLOON_MAX_STAT_ENTRIES 64u

struct balloon_info {
    uint64_t target_bytes;      /* num_pages, as the host set it */
    uint64_t actual_bytes;      /* actual, as the driver last wrote it */
    bool active;                /* the driver set DRIVER_OK */
    bool stats_enabled;         /* VIRTIO_BALLOON_F_STATS_VQ negotiated */
    bool reporting_enabled;     /* VIRTIO_BALLOON_F_PAGE_REPORTING negotiated */
    bool deflate_on_oom;        /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM negotiated */
    /* The driver's last statistics, indexed by tag; bit `tag` of stats_valid says it sent it. */
    uint64_t stats[BALLOON_NR_STATS];
    uint32_t stats_valid;
    uint64_t stats_updated_at;  /* CLOCK_REALTIME ns of the last stats buffer; 0: never */
    /* Counters since the device was created. */
    uint64_t inflated_pages;    /* valid PFNs received on inflateq (freed on the host) */
    uint64_t deflated_pages;    /* valid PFNs received on deflateq */
    uint64_t invalid_pfns;      /* PFNs outside guest RAM, skipped */
    uint64_t reported_bytes;    /* freed through free page reporting */
    uint64_t madvise_errors;    /* madvise() calls the host refused */
    uint64_t bad_stats_buffers; /* stats buffers that were not a whole number of entries */
};

struct balloon;

extern const struct virtio_device_ops balloon_ops;

/* Offers STATS_VQ, DEFLATE_ON_OOM and PAGE_REPORTING; target 0. */
int balloon_create(struct balloon **out) MUST_CHECK;

/*
 * Sets the target balloon size (num_pages = bytes / 4 KiB, rounded down) and
 * raises a configuration-change interrupt when the driver is active. Before
 * that the driver reads the target when it probes. -ERANGE when the page
 * count does not fit in 32 bits. The caller checks it against guest RAM.
 */
int balloon_set_target(struct balloon *b, uint64_t bytes) MUST_CHECK;

void balloon_get_info(struct balloon *b, struct balloon_info *out);

/*
 * Asks the driver for fresh statistics by returning the buffer it posted on
 * the statsq; the new values arrive when it posts the buffer again.
 * -EOPNOTSUPP: inactive or STATS_VQ not negotiated; -EAGAIN: the device
 * holds no buffer (a request is already outstanding).
 */
int balloon_request_stats(struct balloon *b) MUST_CHECK;

/*
 * Requests statistics every `seconds` on the I/O thread (0 turns it off).
 * Takes effect once the I/O loop runs the device (after the first DRIVER_OK).
 */
int balloon_set_stats_interval(struct balloon *b, unsigned seconds) MUST_CHECK;

#endif
