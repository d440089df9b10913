// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for virtio/virtqueue. The input is a hostile driver: a
 * 4-byte header picks the queue size, the negotiated features, how the
 * device behaves and (optionally) where the rings are; the rest becomes the
 * contents of a small guest memory holding the rings, descriptor tables and
 * buffers, around a fake MMIO hole. The device then pops and pushes until
 * the ring is empty or the queue broke, writing into the chains it gets (so
 * it may overwrite the rings under itself, as a confused driver allows).
 * Whatever the input, nothing may crash or hang, every accepted buffer must
 * lie inside guest RAM, and a broken queue must stay broken.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/guest_mem.h"
#include "util/log.h"
#include "virtio/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RAM at [0, 64 KiB) and [80 KiB, 112 KiB); [64 KiB, 80 KiB) is the "hole". */
#define FUZZ_RAM       (96 * KiB)
#define FUZZ_HOLE      (64 * KiB)
#define FUZZ_HIGH      (80 * KiB)
#define FUZZ_HDR       4

/* header[0] */
#define HDR_SIZE_MASK  0x07    /* queue size 1 << n: 1..128 */
#define HDR_EVENT_IDX  0x08
#define HDR_INDIRECT   0x10
#define HDR_SUPPRESS   0x20    /* run with kicks disabled, re-enable when empty */
#define HDR_RING_ADDRS 0x40    /* ring addresses from header[1..3] instead of fixed */

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static void check_chain(const struct guest_mem *gm, const struct virtq *vq,
                        const struct virtq_chain *c)
{
    const uint8_t *lo = gm->mapping, *hi = lo + gm->mapping_size;
    uint64_t readable = 0, writable = 0;
    fuzz_check(c->head < vq->size);
    fuzz_check(c->nr <= VIRTQ_MAX_CHAIN && c->nr <= vq->size && c->nr_readable <= c->nr);
    for (unsigned i = 0; i < c->nr; i++) {
        const struct virtq_buf *b = &c->bufs[i];
        fuzz_check(b->len > 0 && b->hva >= lo && b->hva < hi);
        fuzz_check((uint64_t)(hi - b->hva) >= b->len);
        fuzz_check(b->device_writable == (i >= c->nr_readable));
        if (b->device_writable)
            writable += b->len;
        else
            readable += b->len;
    }
    fuzz_check(readable == c->readable_bytes && writable == c->writable_bytes);
    fuzz_check(readable + writable <= UINT32_MAX);
}

/* Does to a chain what a device would: parse from it, answer into it. */
static uint32_t use_chain(const struct virtq_chain *c, uint8_t pattern)
{
    uint8_t scratch[512];
    uint64_t skip = pattern % 7;
    uint64_t left = c->readable_bytes > skip ? c->readable_bytes - skip : 0;
    fuzz_check(virtq_chain_read(c, skip, scratch, sizeof(scratch)) ==
               MIN((uint64_t)sizeof(scratch), left));
    memset(scratch, pattern, sizeof(scratch));
    size_t want = MIN(sizeof(scratch), (size_t)pattern * 3);
    size_t n = virtq_chain_write(c, pattern % 5, scratch, want);
    fuzz_check(n <= want && n <= c->writable_bytes);
    return (uint32_t)n;
}

static void run_queue(const struct guest_mem *gm, const uint8_t *hdr)
{
    struct virtq_config cfg = {
        .size = 1u << (hdr[0] & HDR_SIZE_MASK),
        .desc_gpa = 0x0, .avail_gpa = 0x800, .used_gpa = 0xa00,
        .event_idx = hdr[0] & HDR_EVENT_IDX, .indirect = hdr[0] & HDR_INDIRECT,
        .name = "fuzz",
    };
    if (hdr[0] & HDR_RING_ADDRS) {
        /* Steps of 2 (not the 16/2/4 alignments) and reaching into the hole. */
        cfg.desc_gpa = (uint64_t)hdr[1] * 2 * 142;
        cfg.avail_gpa = (uint64_t)hdr[2] * 2 * 142 + 1;
        cfg.used_gpa = (uint64_t)hdr[3] * 2 * 142 + (hdr[2] & 1) * 2u;
        if (hdr[1] & 1)
            cfg.avail_gpa--;
    }
    struct virtq vq;
    if (virtq_enable(&vq, gm, &cfg) < 0) {
        struct virtq_chain c;
        fuzz_check(virtq_is_broken(&vq) && virtq_broken_reason(&vq)[0]);
        fuzz_check(virtq_pop(&vq, &c) < 0);
        return;
    }

    struct virtq_chain c;
    bool suppress = hdr[0] & HDR_SUPPRESS;
    if (suppress)
        virtq_disable_notify(&vq);
    /* The device's own writes can feed the ring, so bound the rounds. */
    unsigned rounds = 4 * cfg.size + 16;
    for (unsigned i = 0; i < rounds; i++) {
        int r = virtq_pop(&vq, &c);
        if (r < 0) {
            fuzz_check(virtq_is_broken(&vq) && virtq_broken_reason(&vq)[0]);
            fuzz_check(virtq_pop(&vq, &c) == r);
            fuzz_check(!virtq_needs_notify(&vq));
            return;
        }
        if (r == 0) {
            if (suppress && virtq_enable_notify(&vq)) {
                suppress = false;
                continue;
            }
            break;
        }
        check_chain(gm, &vq, &c);
        virtq_push(&vq, c.head, use_chain(&c, (uint8_t)(hdr[1] + i)));
        fuzz_check(!virtq_is_broken(&vq));
        if (i % 3 == 0)
            (void)virtq_needs_notify(&vq);
    }
    (void)virtq_needs_notify(&vq);

    struct virtq_state st;
    virtq_get_state(&vq, &st);
    fuzz_check(st.last_avail_idx == st.used_idx);   /* everything popped was pushed */
    fuzz_check(virtq_set_state(&vq, &st) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_HDR)
        return 0;
    log_set_level(LOG_ERROR);   /* one warning per broken queue is the common case */
    struct guest_mem gm;
    if (guest_mem_init(&gm, FUZZ_RAM, FUZZ_HOLE, FUZZ_HIGH) < 0)
        return 0;
    size_t len = MIN(size - FUZZ_HDR, (size_t)FUZZ_RAM);
    memcpy(gm.mapping, data + FUZZ_HDR, len);
    run_queue(&gm, data);
    guest_mem_destroy(&gm);
    return 0;
}
