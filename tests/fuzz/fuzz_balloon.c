// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for virtio/balloon: a hostile driver. A small header picks
 * the negotiated features and a sequence of operations (kicks on any queue
 * index, stats requests, target changes); the rest of the input becomes the
 * guest memory that holds the four queues' rings and whatever the
 * descriptors point at (PFN arrays, stats entries, reported ranges), around a
 * fake MMIO hole. A fake transport stands in for virtio-pci.
 *
 * Whatever the input, nothing may crash, and after every operation each
 * 4 KiB page of guest RAM, outside the used rings (the only bytes the device
 * writes), must either be unchanged or read as all zero (a page the balloon
 * or free page reporting gave back to the host).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/guest_mem.h"
#include "util/log.h"
#include "virtio/balloon.h"
#include "virtio/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RAM at [0, 64 KiB) and [80 KiB, 112 KiB); [64 KiB, 80 KiB) is the "hole". */
#define FUZZ_RAM   (96 * KiB)
#define FUZZ_HOLE  (64 * KiB)
#define FUZZ_HIGH  (80 * KiB)
#define FUZZ_OPS   8
#define FUZZ_HDR   (1 + FUZZ_OPS)
#define NQ         4
#define QSIZE      8
#define Q_BASE(i)  (0x400ull * (i))
#define USED_OFF   0x200
#define USED_LEN   (6 + 8 * QSIZE + 2)

/* header[0] */
#define HDR_STATS     0x01
#define HDR_REPORTING 0x02
#define HDR_EVENT_IDX 0x04
#define HDR_INDIRECT  0x08
#define HDR_DEFLATE   0x10

struct virtio_device {
    struct guest_mem gm;
    struct virtq q[NQ];
    uint64_t features;
    unsigned irqs, config_irqs, needs_reset;
};

struct virtq *virtio_queue(struct virtio_device *v, unsigned queue)
{
    return queue < NQ ? &v->q[queue] : NULL;
}

uint64_t virtio_features(const struct virtio_device *v) { return v->features; }

void virtio_queue_interrupt(struct virtio_device *v, unsigned queue)
{
    if (queue < NQ && virtq_needs_notify(&v->q[queue]))
        v->irqs++;
}

void virtio_config_interrupt(struct virtio_device *v) { v->config_irqs++; }

void virtio_set_needs_reset(struct virtio_device *v, const char *reason)
{
    (void)reason;
    v->needs_reset++;
}

const struct guest_mem *virtio_guest_mem(const struct virtio_device *v) { return &v->gm; }

struct evloop *virtio_io_loop(struct virtio_device *v) { return NULL; }

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

/* Guest RAM before the operation (static like other targets' arenas: 96 KiB). */
static uint8_t before[FUZZ_RAM];

static bool in_used_ring(uint64_t off)
{
    for (unsigned i = 0; i < NQ; i++)
        if (off >= Q_BASE(i) + USED_OFF && off < Q_BASE(i) + USED_OFF + USED_LEN)
            return true;
    return false;
}

static void check_pages(const struct guest_mem *gm)
{
    const uint8_t *now = gm->mapping;
    for (uint64_t page = 0; page < FUZZ_RAM; page += 4096) {
        if (memcmp(now + page, before + page, 4096) == 0)
            continue;
        /* Outside the used rings a page is as it was, or zero (freed, then maybe a push). */
        bool zero = true, same = true;
        for (uint64_t i = page; i < page + 4096; i++) {
            if (in_used_ring(i))
                continue;
            if (now[i])
                zero = false;
            if (now[i] != before[i])
                same = false;
        }
        fuzz_check(zero || same);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_HDR)
        return 0;
    log_set_level(LOG_ERROR);
    struct virtio_device v;
    memset(&v, 0, sizeof(v));
    if (guest_mem_init(&v.gm, FUZZ_RAM, FUZZ_HOLE, FUZZ_HIGH) < 0)
        return 0;
    memcpy(v.gm.mapping, data + FUZZ_HDR, MIN(size - FUZZ_HDR, (size_t)FUZZ_RAM));

    uint8_t h = data[0];
    v.features = 1ull << VIRTIO_F_VERSION_1;
    if (h & HDR_STATS)
        v.features |= 1ull << VIRTIO_BALLOON_F_STATS_VQ;
    if (h & HDR_REPORTING)
        v.features |= 1ull << VIRTIO_BALLOON_F_PAGE_REPORTING;
    if (h & HDR_DEFLATE)
        v.features |= 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    for (unsigned i = 0; i < NQ; i++) {
        struct virtq_config cfg = {
            .size = QSIZE, .desc_gpa = Q_BASE(i), .avail_gpa = Q_BASE(i) + 0x100,
            .used_gpa = Q_BASE(i) + USED_OFF, .event_idx = h & HDR_EVENT_IDX,
            .indirect = h & HDR_INDIRECT, .name = "fuzz-balloon",
        };
        virtq_reset(&v.q[i]);
        fuzz_check(virtq_enable(&v.q[i], &v.gm, &cfg) == 0);
    }

    struct balloon *b;
    if (balloon_create(&b) < 0)
        goto out;
    fuzz_check(balloon_ops.activate(b, &v) == 0);
    for (unsigned op = 0; op < FUZZ_OPS; op++) {
        uint8_t o = data[1 + op];
        memcpy(before, v.gm.mapping, FUZZ_RAM);
        switch (o >> 5) {
        case 0:
        case 1:
        case 2:
        case 3:
            balloon_ops.queue_notify(b, o & 7);   /* 4..7 are not queues */
            break;
        case 4: {
            int r = balloon_request_stats(b);
            fuzz_check(r == 0 || r == -EAGAIN || r == -EOPNOTSUPP);
            if (!(h & HDR_STATS))
                fuzz_check(r == -EOPNOTSUPP);
            break;
        }
        case 5:
            fuzz_check(balloon_set_target(b, (uint64_t)(o & 31) << 20) == 0);
            break;
        case 6: {
            /* What the transport lets through: 1, 2, 4 or 8 bytes inside the 16. */
            uint64_t actual = o * 0x0101010101010101ull;
            unsigned len = 1u << (o & 3), off = (o >> 2) & 7;
            if (off + len > 16)
                off = 16 - len;
            balloon_ops.config_write(b, off, &actual, len);
            uint8_t cfg[16];
            balloon_ops.config_read(b, 0, cfg, 16);
            break;
        }
        default:
            balloon_ops.reset(b);
            fuzz_check(balloon_ops.activate(b, &v) == 0);
            break;
        }
        check_pages(&v.gm);
        struct balloon_info info;
        balloon_get_info(b, &info);
        fuzz_check(info.stats_valid < (1u << BALLOON_NR_STATS));
        fuzz_check(info.reported_bytes % 4096 == 0);
        fuzz_check(info.madvise_errors == 0);
    }
    balloon_ops.reset(b);
    balloon_ops.destroy(b);
out:
    guest_mem_destroy(&v.gm);
    return 0;
}
