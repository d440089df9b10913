// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio-balloon, driven through its ops table by a fake
 * transport defined here (these definitions win over the library's), with
 * rings built in guest memory as a driver would. Guest RAM is real anonymous
 * memory, so inflating is checked where it matters: the process's resident
 * set (/proc/self/statm) shrinks and the pages read back as zero. Also:
 * invalid and hostile PFN arrays, deflate, statistics (parsing, the request
 * protocol, hostile lengths, the polling timer), free page reporting of
 * exactly the reported range, queue numbering by features, the target and
 * its config interrupt, reset.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/evloop.h"
#include "core/guest_mem.h"
#include "virtio/balloon.h"
#include "virtio/virtqueue.h"

#define B(n) (1ull << (n))
#define NQ 4

/* --- the fake transport ------------------------------------------------ */

struct virtio_device {
    struct guest_mem gm;
    struct virtq q[NQ];
    bool enabled[NQ];
    uint64_t features;
    unsigned irq[NQ];
    unsigned config_irq;
    unsigned needs_reset;
    struct evloop loop;
};

struct virtq *virtio_queue(struct virtio_device *v, unsigned queue)
{
    return queue < NQ && v->enabled[queue] ? &v->q[queue] : NULL;
}

uint64_t virtio_features(const struct virtio_device *v)
{
    return v->features;
}

void virtio_queue_interrupt(struct virtio_device *v, unsigned queue)
{
    assert_true(queue < NQ);
    __atomic_fetch_add(&v->irq[queue], 1, __ATOMIC_RELAXED);
}

void virtio_config_interrupt(struct virtio_device *v)
{
    v->config_irq++;
}

void virtio_set_needs_reset(struct virtio_device *v, const char *reason)
{
    (void)reason;
    v->needs_reset++;
}

const struct guest_mem *virtio_guest_mem(const struct virtio_device *v)
{
    return &v->gm;
}

struct evloop *virtio_io_loop(struct virtio_device *v)
{
    return &v->loop;
}

/* --- guest memory and the driver side ------------------------------------ */

/*
 * RAM: [0, 16 MiB) for rings and buffers, then a hole, then 144 MiB at 4 GiB
 * for the pages the balloon takes.
 */
#define LOW_END   (16 * MiB)
#define HIGH_GPA  (4 * GiB)
#define HIGH_SIZE (144 * MiB)
#define RAM_SIZE  (LOW_END + HIGH_SIZE)
#define QSIZE     16
#define BUF_GPA   0x100000ull

#define F_ALL (B(VIRTIO_F_VERSION_1) | B(VIRTIO_BALLOON_F_STATS_VQ) | \
               B(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) | B(VIRTIO_BALLOON_F_PAGE_REPORTING))

struct drv {
    uint64_t desc, avail, used;
    uint16_t avail_idx, used_seen, next_desc;
};

struct t {
    struct virtio_device v;
    struct drv q[NQ];
    struct balloon *b;
    uint64_t next_buf;
};

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

static uint16_t r16(struct t *t, uint64_t gpa)
{
    uint16_t x;
    assert_int_equal(guest_mem_read(&t->v.gm, gpa, &x, 2), 0);
    return x;
}

static uint32_t r32(struct t *t, uint64_t gpa)
{
    uint32_t x;
    assert_int_equal(guest_mem_read(&t->v.gm, gpa, &x, 4), 0);
    return x;
}

static void w16(struct t *t, uint64_t gpa, uint16_t x)
{
    assert_int_equal(guest_mem_write(&t->v.gm, gpa, &x, 2), 0);
}

static uint8_t *hva(struct t *t, uint64_t gpa, uint64_t len)
{
    uint8_t *p = guest_mem_ptr(&t->v.gm, gpa, len);
    assert_non_null(p);
    return p;
}

static uint64_t alloc_buf(struct t *t, uint64_t len)
{
    uint64_t g = t->next_buf;
    t->next_buf = (g + len + 63) & ~63ull;
    assert_true(t->next_buf <= LOW_END);
    return g;
}

/* Builds a chain from `segs` on queue `qi` and makes it available. Returns the head. */
static uint16_t drv_add(struct t *t, unsigned qi, const struct seg *segs, unsigned n)
{
    struct drv *d = &t->q[qi];
    uint16_t head = d->next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % QSIZE);
        uint16_t flags = (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        uint16_t next = (uint16_t)((idx + 1) % QSIZE);
        uint8_t raw[16];
        memcpy(raw, &segs[i].gpa, 8);
        memcpy(raw + 8, &segs[i].len, 4);
        memcpy(raw + 12, &flags, 2);
        memcpy(raw + 14, &next, 2);
        assert_int_equal(guest_mem_write(&t->v.gm, d->desc + 16ull * idx, raw, 16), 0);
    }
    d->next_desc = (uint16_t)((head + n) % QSIZE);
    w16(t, d->avail + 4 + 2ull * (d->avail_idx % QSIZE), head);
    d->avail_idx++;
    w16(t, d->avail + 2, d->avail_idx);
    return head;
}

static unsigned used_count(struct t *t, unsigned qi)
{
    return (uint16_t)(r16(t, t->q[qi].used + 2) - t->q[qi].used_seen);
}

static void used_next(struct t *t, unsigned qi, uint32_t *id, uint32_t *len)
{
    struct drv *d = &t->q[qi];
    assert_true(used_count(t, qi) > 0);
    uint64_t e = d->used + 4 + 8ull * (d->used_seen % QSIZE);
    *id = r32(t, e);
    *len = r32(t, e + 4);
    d->used_seen++;
}

static void enable_queues(struct t *t, unsigned n)
{
    for (unsigned i = 0; i < NQ; i++) {
        virtq_reset(&t->v.q[i]);
        t->v.enabled[i] = false;
        t->q[i] = (struct drv){ .desc = 0x1000 + 0x3000ull * i, .avail = 0x2000 + 0x3000ull * i,
                                .used = 0x3000 + 0x3000ull * i };
        memset(hva(t, t->q[i].desc, 0x3000), 0, 0x3000);    /* a driver's fresh rings */
        if (i >= n)
            continue;
        struct virtq_config cfg = { .size = QSIZE, .desc_gpa = t->q[i].desc, .avail_gpa = t->q[i].avail,
                                    .used_gpa = t->q[i].used, .name = "balloon/q" };
        assert_int_equal(virtq_enable(&t->v.q[i], &t->v.gm, &cfg), 0);
        t->v.enabled[i] = true;
    }
}

/* The device with `features` negotiated and `nq` queues enabled; activated when `activate`. */
static struct t *setup_n(uint64_t features, unsigned nq, bool activate)
{
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(guest_mem_init(&t->v.gm, RAM_SIZE, LOW_END, HIGH_GPA), 0);
    assert_int_equal(t->v.gm.nr_regions, 2);
    assert_int_equal(evloop_init(&t->v.loop), 0);
    t->next_buf = BUF_GPA;
    enable_queues(t, nq);
    assert_int_equal(balloon_create(&t->b), 0);
    t->v.features = features;
    if (activate)
        assert_int_equal(balloon_ops.activate(t->b, &t->v), 0);
    return t;
}

static struct t *setup(uint64_t features, bool activate)
{
    return setup_n(features, NQ, activate);
}

static void teardown(struct t *t)
{
    balloon_ops.reset(t->b);
    balloon_ops.destroy(t->b);
    evloop_destroy(&t->v.loop);
    guest_mem_destroy(&t->v.gm);
    free(t);
}

static struct balloon_info info(struct t *t)
{
    struct balloon_info i;
    balloon_get_info(t->b, &i);
    return i;
}

/* Posts a PFN array as one readable buffer on `qi` and kicks. */
static void post_pfns(struct t *t, unsigned qi, const uint32_t *pfns, unsigned n)
{
    uint64_t g = alloc_buf(t, 4ull * n);
    memcpy(hva(t, g, 4ull * n), pfns, 4ull * n);
    struct seg s = { g, 4 * n, false };
    drv_add(t, qi, &s, 1);
    balloon_ops.queue_notify(t->b, qi);
}

static uint32_t pfn_of(uint64_t gpa)
{
    return (uint32_t)(gpa >> 12);
}

/* Resident set of this process, from /proc/self/statm. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long size = 0, resident = 0;
    assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* --- features, config, target ------------------------------------------ */

static void features_and_config(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, false);
    uint64_t f = balloon_ops.features(t->b);
    assert_int_equal(f, B(VIRTIO_BALLOON_F_STATS_VQ) | B(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
                        B(VIRTIO_BALLOON_F_PAGE_REPORTING));
    assert_int_equal(balloon_ops.device_id, VIRTIO_ID_BALLOON);
    assert_int_equal(balloon_ops.num_queues(t->b), 4);
    for (unsigned q = 0; q < 4; q++)
        assert_int_equal(balloon_ops.queue_max_size(t->b, q), BALLOON_QUEUE_SIZE);
    assert_int_equal(balloon_ops.config_size(t->b), 16);

    assert_int_equal(balloon_set_target(t->b, 64 * MiB + 123), 0);
    uint8_t cfg[16];
    memset(cfg, 0xaa, sizeof(cfg));
    balloon_ops.config_read(t->b, 0, cfg, 16);
    uint32_t num, act, rest[2];
    memcpy(&num, cfg, 4);
    memcpy(&act, cfg + 4, 4);
    memcpy(rest, cfg + 8, 8);
    assert_int_equal(num, 64 * MiB / 4096);
    assert_int_equal(act, 0);
    assert_int_equal(rest[0] | rest[1], 0);
    /* Not active: nobody to interrupt. */
    assert_int_equal(t->v.config_irq, 0);

    /* The driver writes actual, whole or byte by byte; num_pages is the host's. */
    uint32_t v = 1000;
    balloon_ops.config_write(t->b, 4, &v, 4);
    assert_int_equal(info(t).actual_bytes, 1000ull * 4096);
    uint8_t hi = 0x01;
    balloon_ops.config_write(t->b, 6, &hi, 1);
    assert_int_equal(info(t).actual_bytes, (1000ull + 0x10000) * 4096);
    v = 7;
    balloon_ops.config_write(t->b, 0, &v, 4);
    balloon_ops.config_write(t->b, 8, &v, 4);
    balloon_ops.config_read(t->b, 0, &num, 4);
    assert_int_equal(num, 64 * MiB / 4096);
    uint16_t half;
    balloon_ops.config_read(t->b, 4, &half, 2);
    assert_int_equal(half, 1000);
    balloon_ops.config_read(t->b, 8, &v, 4);
    assert_int_equal(v, 0);
    teardown(t);
}

static void target_interrupts(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    assert_int_equal(balloon_set_target(t->b, 128 * MiB), 0);
    assert_int_equal(t->v.config_irq, 1);
    uint32_t num;
    balloon_ops.config_read(t->b, 0, &num, 4);
    assert_int_equal(num, 32768);
    assert_int_equal(info(t).target_bytes, 128 * MiB);
    /* Same target: no new interrupt. */
    assert_int_equal(balloon_set_target(t->b, 128 * MiB), 0);
    assert_int_equal(t->v.config_irq, 1);
    assert_int_equal(balloon_set_target(t->b, 0), 0);
    assert_int_equal(t->v.config_irq, 2);
    /* More pages than num_pages can hold. */
    assert_int_equal(balloon_set_target(t->b, (1ull << 44)), -ERANGE);
    assert_int_equal(balloon_set_target(t->b, (1ull << 44) - 4096), 0);
    balloon_ops.config_read(t->b, 0, &num, 4);
    assert_int_equal(num, UINT32_MAX);
    assert_int_equal(t->v.config_irq, 3);
    struct balloon_info i = info(t);
    assert_true(i.active && i.stats_enabled && i.reporting_enabled && i.deflate_on_oom);
    teardown(t);
}

/* --- inflate / deflate ---------------------------------------------------- */

/* The check: a 128 MiB inflation lowers the VMM's RSS by >= 100 MiB. */
static void inflate_frees_host_memory(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    assert_int_equal(balloon_set_target(t->b, 128 * MiB), 0);
    const uint64_t base = HIGH_GPA + 8 * MiB;
    uint8_t *p = hva(t, base, 128 * MiB);
    memset(p, 0x5a, 128 * MiB);
    uint8_t *after = hva(t, base + 128 * MiB, 4096);   /* the page after the balloon */
    memset(after, 0x77, 4096);
    uint64_t resident_before = guest_mem_resident_bytes(&t->v.gm);
    uint64_t rss_before = rss_bytes();

    /* Linux's way: 256 PFNs per request, kicked one by one. */
    const unsigned per_chain = 256, chains = (unsigned)(128 * MiB / 4096 / per_chain);
    uint64_t pfn_buf = alloc_buf(t, 4ull * per_chain * QSIZE);
    for (unsigned c = 0; c < chains; c++) {
        uint64_t g = pfn_buf + 4ull * per_chain * (c % QSIZE);
        uint32_t *pfns = (uint32_t *)hva(t, g, 4ull * per_chain);
        for (unsigned i = 0; i < per_chain; i++)
            pfns[i] = pfn_of(base) + c * per_chain + i;
        struct seg s = { g, 4 * per_chain, false };
        uint16_t head = drv_add(t, 0, &s, 1);
        balloon_ops.queue_notify(t->b, 0);
        uint32_t id, len;
        used_next(t, 0, &id, &len);
        assert_int_equal(id, head);
        assert_int_equal(len, 0);
    }
    uint64_t rss_after = rss_bytes();
    uint64_t resident_after = guest_mem_resident_bytes(&t->v.gm);
    print_message("RSS %llu MiB -> %llu MiB; guest RAM resident %llu MiB -> %llu MiB\n",
                  (unsigned long long)(rss_before / MiB), (unsigned long long)(rss_after / MiB),
                  (unsigned long long)(resident_before / MiB), (unsigned long long)(resident_after / MiB));
    assert_true(rss_before > rss_after);
    assert_true(rss_before - rss_after >= 100 * MiB);
    /* The PFN arrays the driver wrote meanwhile are resident now: allow for them. */
    assert_true(resident_before - resident_after >= 126 * MiB);

    struct balloon_info i = info(t);
    assert_int_equal(i.inflated_pages, 32768);
    assert_int_equal(i.invalid_pfns, 0);
    assert_int_equal(i.madvise_errors, 0);
    assert_int_equal(t->v.needs_reset, 0);
    assert_int_equal(t->v.irq[0], chains);
    /* The balloon's pages read as zero; the page after it kept its data. */
    for (uint64_t off = 0; off < 128 * MiB; off += 4096)
        assert_true(p[off] == 0 && p[off + 4095] == 0);
    assert_true(all_bytes(p, 1 * MiB, 0));
    assert_true(all_bytes(after, 4096, 0x77));
    /* The driver reports its balloon; the host reads it back. */
    uint32_t actual = 32768;
    balloon_ops.config_write(t->b, 4, &actual, 4);
    assert_int_equal(info(t).actual_bytes, 128 * MiB);
    teardown(t);
}

static void inflate_skips_invalid_pfns(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    const uint64_t a = HIGH_GPA + 4 * MiB;
    memset(hva(t, a, 3 * 4096), 0x11, 3 * 4096);
    uint8_t *last = hva(t, HIGH_GPA + HIGH_SIZE - 4096, 4096);   /* the last page of RAM */
    memset(last, 0x22, 4096);
    uint32_t pfns[] = {
        pfn_of(LOW_END),                    /* first page of the hole */
        pfn_of(a),
        pfn_of(3 * GiB),                    /* deep in the hole */
        pfn_of(HIGH_GPA + HIGH_SIZE),       /* just past the end of RAM */
        UINT32_MAX,                         /* 16 TiB */
        pfn_of(a + 2 * 4096),
        pfn_of(HIGH_GPA + HIGH_SIZE - 4096),
    };
    post_pfns(t, 0, pfns, 7);
    assert_int_equal(used_count(t, 0), 1);
    struct balloon_info i = info(t);
    assert_int_equal(i.inflated_pages, 3);
    assert_int_equal(i.invalid_pfns, 4);
    assert_int_equal(t->v.needs_reset, 0);
    uint8_t *pa = hva(t, a, 3 * 4096);
    assert_true(all_bytes(pa, 4096, 0));
    assert_true(all_bytes(pa + 4096, 4096, 0x11));      /* not in the list */
    assert_true(all_bytes(pa + 8192, 4096, 0));
    assert_true(all_bytes(last, 4096, 0));
    teardown(t);
}

/* A PFN array split across descriptors at odd offsets is still read whole. */
static void inflate_split_pfn_array(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    const uint64_t a = HIGH_GPA + 20 * MiB;
    memset(hva(t, a, 4 * 4096), 0x33, 4 * 4096);
    uint32_t pfns[4] = { pfn_of(a), pfn_of(a + 4096), pfn_of(a + 3 * 4096), pfn_of(LOW_END + 4096) };
    uint64_t g = alloc_buf(t, 16);
    memcpy(hva(t, g, 16), pfns, 16);
    struct seg s[3] = { { g, 3, false }, { g + 3, 6, false }, { g + 9, 7, false } };
    drv_add(t, 0, s, 3);
    balloon_ops.queue_notify(t->b, 0);
    assert_int_equal(used_count(t, 0), 1);
    assert_int_equal(info(t).inflated_pages, 3);
    assert_int_equal(info(t).invalid_pfns, 1);
    uint8_t *p = hva(t, a, 4 * 4096);
    assert_true(all_bytes(p, 8192, 0));
    assert_true(all_bytes(p + 8192, 4096, 0x33));
    assert_true(all_bytes(p + 12288, 4096, 0));
    teardown(t);
}

static void inflate_bad_length_needs_reset(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    const uint64_t a = HIGH_GPA + 30 * MiB;
    memset(hva(t, a, 4096), 0x44, 4096);
    /* 6 bytes: one PFN and half of another. Nothing is freed. */
    uint64_t g = alloc_buf(t, 8);
    uint32_t pfns[2] = { pfn_of(a), pfn_of(a) };
    memcpy(hva(t, g, 8), pfns, 8);
    struct seg s = { g, 6, false };
    drv_add(t, 0, &s, 1);
    balloon_ops.queue_notify(t->b, 0);
    assert_int_equal(t->v.needs_reset, 1);
    assert_int_equal(info(t).inflated_pages, 0);
    assert_true(all_bytes(hva(t, a, 4096), 4096, 0x44));
    /* The chain was still returned, so the driver is not left waiting. */
    assert_int_equal(used_count(t, 0), 1);

    /* On the deflateq too. */
    drv_add(t, 1, &s, 1);
    balloon_ops.queue_notify(t->b, 1);
    assert_int_equal(t->v.needs_reset, 2);

    /* More PFNs than a chain may carry (one 4 MiB + 4 byte buffer, zeroed: PFN 0 is valid). */
    uint64_t big = 4 * MiB + 4;
    uint64_t gb = alloc_buf(t, big);
    memset(hva(t, gb, big), 0, big);
    struct seg sb = { gb, (uint32_t)big, false };
    drv_add(t, 0, &sb, 1);
    balloon_ops.queue_notify(t->b, 0);
    assert_int_equal(t->v.needs_reset, 3);
    assert_int_equal(info(t).inflated_pages, 0);

    /* Device-writable buffers carry no PFNs: an empty request, acknowledged. */
    struct seg w = { g, 8, true };
    drv_add(t, 0, &w, 1);
    balloon_ops.queue_notify(t->b, 0);
    assert_int_equal(t->v.needs_reset, 3);
    assert_int_equal(info(t).inflated_pages, 0);
    teardown(t);
}

static void deflate_acknowledges(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    const uint64_t a = HIGH_GPA + 40 * MiB;
    uint32_t pfns[3] = { pfn_of(a), pfn_of(a + 4096), pfn_of(3 * GiB) };
    post_pfns(t, 0, pfns, 2);
    assert_int_equal(info(t).inflated_pages, 2);
    /* The guest deflates, then uses the pages again: they keep what it writes. */
    post_pfns(t, 1, pfns, 3);
    uint32_t id, len;
    used_next(t, 1, &id, &len);
    assert_int_equal(len, 0);
    assert_int_equal(t->v.irq[1], 1);
    struct balloon_info i = info(t);
    assert_int_equal(i.deflated_pages, 2);
    assert_int_equal(i.invalid_pfns, 1);
    uint8_t *p = hva(t, a, 8192);
    memset(p, 0x55, 8192);
    assert_true(all_bytes(p, 8192, 0x55));
    /* Deflating frees nothing: data written after the deflate stays. */
    post_pfns(t, 1, pfns, 2);
    assert_true(all_bytes(p, 8192, 0x55));
    assert_int_equal(t->v.needs_reset, 0);
    teardown(t);
}

/* --- statistics ----------------------------------------------------------- */

static uint64_t put_stats(struct t *t, const uint16_t *tags, const uint64_t *vals, unsigned n)
{
    uint64_t g = alloc_buf(t, 10ull * n + 10);
    uint8_t *p = hva(t, g, 10ull * n + 10);
    for (unsigned i = 0; i < n; i++) {
        memcpy(p + 10 * i, &tags[i], 2);
        memcpy(p + 10 * i + 2, &vals[i], 8);
    }
    return g;
}

static void stats_protocol(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    assert_int_equal(info(t).stats_updated_at, 0);
    /* Nothing posted yet: nothing to return. */
    assert_int_equal(balloon_request_stats(t->b), -EAGAIN);

    uint16_t tags[4] = { BALLOON_S_MEMFREE, BALLOON_S_MEMTOT, 999, BALLOON_S_HTLB_PGFAIL };
    uint64_t vals[4] = { 100 * MiB, 512 * MiB, 42, 7 };
    uint64_t g = put_stats(t, tags, vals, 4);
    struct seg s = { g, 40, false };
    uint16_t head = drv_add(t, 2, &s, 1);
    balloon_ops.queue_notify(t->b, 2);
    /* Held, not returned. */
    assert_int_equal(used_count(t, 2), 0);
    struct balloon_info i = info(t);
    assert_int_equal(i.stats[BALLOON_S_MEMFREE], 100 * MiB);
    assert_int_equal(i.stats[BALLOON_S_MEMTOT], 512 * MiB);
    assert_int_equal(i.stats[BALLOON_S_HTLB_PGFAIL], 7);
    assert_int_equal(i.stats_valid, (1u << BALLOON_S_MEMFREE) | (1u << BALLOON_S_MEMTOT) |
                                    (1u << BALLOON_S_HTLB_PGFAIL));
    assert_true(i.stats_updated_at > 0);
    assert_int_equal(i.bad_stats_buffers, 0);

    /* The host asks: the buffer comes back empty, with an interrupt. */
    unsigned irqs = t->v.irq[2];
    assert_int_equal(balloon_request_stats(t->b), 0);
    uint32_t id, len;
    used_next(t, 2, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 0);
    assert_int_equal(t->v.irq[2], irqs + 1);
    assert_int_equal(balloon_request_stats(t->b), -EAGAIN);

    /* The driver refills it: new values replace the old set. */
    uint16_t tags2[2] = { BALLOON_S_MEMFREE, BALLOON_S_AVAIL };
    uint64_t vals2[2] = { 50 * MiB, 60 * MiB };
    s.gpa = put_stats(t, tags2, vals2, 2);
    s.len = 20;
    drv_add(t, 2, &s, 1);
    balloon_ops.queue_notify(t->b, 2);
    i = info(t);
    assert_int_equal(i.stats[BALLOON_S_MEMFREE], 50 * MiB);
    assert_int_equal(i.stats[BALLOON_S_AVAIL], 60 * MiB);
    assert_int_equal(i.stats_valid, (1u << BALLOON_S_MEMFREE) | (1u << BALLOON_S_AVAIL));
    assert_int_equal(balloon_request_stats(t->b), 0);
    teardown(t);
}

static void stats_hostile(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    /* Two entries and 5 stray bytes: the entries count, the buffer is noted as bad. */
    uint16_t tags[3] = { BALLOON_S_SWAP_IN, BALLOON_S_SWAP_OUT, BALLOON_S_CACHES };
    uint64_t vals[3] = { 1, 2, 3 };
    struct seg s = { put_stats(t, tags, vals, 3), 25, false };
    uint16_t first = drv_add(t, 2, &s, 1);
    balloon_ops.queue_notify(t->b, 2);
    struct balloon_info i = info(t);
    assert_int_equal(i.stats_valid, (1u << BALLOON_S_SWAP_IN) | (1u << BALLOON_S_SWAP_OUT));
    assert_int_equal(i.stats[BALLOON_S_SWAP_OUT], 2);
    assert_int_equal(i.bad_stats_buffers, 1);
    assert_int_equal(t->v.needs_reset, 0);

    /*
     * A second buffer while one is held (the driver must not): the first goes
     * back. This one has 1000 entries, of which only the first 64 are read.
     */
    const unsigned n = 1000;
    uint16_t *tg = calloc(n, sizeof(*tg));
    uint64_t *vl = calloc(n, sizeof(*vl));
    assert_true(tg && vl);
    for (unsigned k = 0; k < n; k++) {
        tg[k] = (uint16_t)(k < 64 ? BALLOON_S_MINFLT : BALLOON_S_MAJFLT);
        vl[k] = k;
    }
    /* Split in two descriptors, one entry straddling them. */
    uint64_t g = put_stats(t, tg, vl, n);
    struct seg two[2] = { { g, 15, false }, { g + 15, 10 * n - 15, false } };
    drv_add(t, 2, two, 2);
    balloon_ops.queue_notify(t->b, 2);
    uint32_t id, len;
    used_next(t, 2, &id, &len);
    assert_int_equal(id, first);
    i = info(t);
    assert_int_equal(i.stats_valid, 1u << BALLOON_S_MINFLT);
    assert_int_equal(i.stats[BALLOON_S_MINFLT], 63);
    free(tg);
    free(vl);

    /* Writable-only and empty buffers: no entries at all. */
    assert_int_equal(balloon_request_stats(t->b), 0);
    used_next(t, 2, &id, &len);
    struct seg w = { g, 100, true };
    drv_add(t, 2, &w, 1);
    balloon_ops.queue_notify(t->b, 2);
    i = info(t);
    assert_int_equal(i.stats_valid, 0);
    assert_int_equal(used_count(t, 2), 0);
    assert_int_equal(t->v.needs_reset, 0);
    teardown(t);
}

static void stats_not_negotiated(void **state)
{
    (void)state;
    /* Without STATS_VQ, reporting_vq is queue 2 and there is no statsq. */
    struct t *t = setup_n(B(VIRTIO_F_VERSION_1) | B(VIRTIO_BALLOON_F_PAGE_REPORTING), 3, true);
    assert_int_equal(balloon_request_stats(t->b), -EOPNOTSUPP);
    struct balloon_info i = info(t);
    assert_false(i.stats_enabled);
    assert_true(i.reporting_enabled);
    const uint64_t a = HIGH_GPA + 50 * MiB;
    memset(hva(t, a, 8192), 0x66, 8192);
    struct seg s = { a, 4096, true };
    drv_add(t, 2, &s, 1);
    balloon_ops.queue_notify(t->b, 2);
    assert_int_equal(used_count(t, 2), 1);
    assert_true(all_bytes(hva(t, a, 4096), 4096, 0));
    assert_true(all_bytes(hva(t, a + 4096, 4096), 4096, 0x66));
    assert_int_equal(info(t).reported_bytes, 4096);
    assert_int_equal(info(t).stats_valid, 0);
    /* Queue 3 does not exist for this driver: a kick there does nothing. */
    balloon_ops.queue_notify(t->b, 3);
    balloon_ops.queue_notify(t->b, 99);
    teardown(t);
}

static void *loop_thread(void *arg)
{
    struct evloop *loop = arg;
    (void)evloop_run(loop);
    return NULL;
}

/* The polling timer, run by a real I/O loop: it returns the held buffer by itself. */
static void stats_interval(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    uint16_t tag = BALLOON_S_MEMTOT;
    uint64_t val = 1;
    struct seg s = { put_stats(t, &tag, &val, 1), 10, false };
    drv_add(t, 2, &s, 1);
    balloon_ops.queue_notify(t->b, 2);
    assert_int_equal(used_count(t, 2), 0);
    assert_int_equal(balloon_set_stats_interval(t->b, 1), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, loop_thread, &t->v.loop), 0);
    /* Wait (up to 10 s, no timing assertion) for the device to return the buffer. */
    for (int k = 0; k < 1000; k++) {
        uint16_t idx = __atomic_load_n((uint16_t *)hva(t, t->q[2].used + 2, 2), __ATOMIC_ACQUIRE);
        if (idx != 0)
            break;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    evloop_stop(&t->v.loop);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(used_count(t, 2), 1);
    assert_int_equal(balloon_set_stats_interval(t->b, 0), 0);
    teardown(t);
}

/* --- free page reporting ------------------------------------------------- */

static void reporting_frees_reported_range_only(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    const uint64_t a = HIGH_GPA + 60 * MiB;
    uint8_t *p = hva(t, a - 4096, 4 * MiB + 3 * 4096);
    memset(p, 0x77, 4 * MiB + 3 * 4096);
    /*
     * A 2 MiB block and a 1 MiB block (Linux's scatter-gather list), plus a
     * misaligned range that covers one whole page in its middle.
     */
    struct seg segs[3] = {
        { a, 2 * MiB, true },
        { a + 2 * MiB + 4096, 1 * MiB, true },
        { a + 3 * MiB + 2 * 4096 + 100, 2 * 4096, true },
    };
    uint16_t head = drv_add(t, 3, segs, 3);
    balloon_ops.queue_notify(t->b, 3);
    uint32_t id, len;
    used_next(t, 3, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 0);
    assert_int_equal(t->v.irq[3], 1);
    uint8_t *q = hva(t, a, 4 * MiB);
    assert_true(all_bytes(p, 4096, 0x77));                          /* before */
    assert_true(all_bytes(q, 2 * MiB, 0));
    assert_true(all_bytes(q + 2 * MiB, 4096, 0x77));                /* the gap */
    assert_true(all_bytes(q + 2 * MiB + 4096, 1 * MiB, 0));
    assert_true(all_bytes(q + 3 * MiB + 4096, 4096, 0x77));         /* the gap */
    assert_true(all_bytes(q + 3 * MiB + 2 * 4096, 4096, 0x77));     /* partly reported */
    assert_true(all_bytes(q + 3 * MiB + 3 * 4096, 4096, 0));        /* wholly reported */
    assert_true(all_bytes(q + 3 * MiB + 4 * 4096, 4096, 0x77));     /* partly reported */
    assert_true(all_bytes(q + 3 * MiB + 5 * 4096, 4096, 0x77));     /* after */
    assert_int_equal(info(t).reported_bytes, 3 * MiB + 4096);

    /* A report reaching outside RAM breaks the queue in the transport; nothing is freed. */
    memset(q, 0x77, 4096);
    struct seg bad = { LOW_END - 4096, 8192, true };
    drv_add(t, 3, &bad, 1);
    balloon_ops.queue_notify(t->b, 3);
    assert_true(virtq_is_broken(&t->v.q[3]));
    assert_int_equal(info(t).reported_bytes, 3 * MiB + 4096);
    assert_true(all_bytes(q, 4096, 0x77));
    teardown(t);
}

/* --- reset ----------------------------------------------------------------- */

static void reset_and_reactivate(void **state)
{
    (void)state;
    struct t *t = setup(F_ALL, true);
    assert_int_equal(balloon_set_target(t->b, 16 * MiB), 0);
    uint32_t actual = 4096;
    balloon_ops.config_write(t->b, 4, &actual, 4);
    uint16_t tag = BALLOON_S_MEMTOT;
    uint64_t val = 9;
    struct seg s = { put_stats(t, &tag, &val, 1), 10, false };
    drv_add(t, 2, &s, 1);
    balloon_ops.queue_notify(t->b, 2);

    balloon_ops.reset(t->b);
    struct balloon_info i = info(t);
    assert_false(i.active);
    assert_int_equal(i.actual_bytes, 0);
    assert_int_equal(i.target_bytes, 16 * MiB);          /* the host's wish survives */
    assert_int_equal(i.stats[BALLOON_S_MEMTOT], 9);      /* the last values too */
    assert_int_equal(balloon_request_stats(t->b), -EOPNOTSUPP);
    /* Inactive: a kick is ignored and the target changes without an interrupt. */
    const uint64_t a = HIGH_GPA + 70 * MiB;
    memset(hva(t, a, 4096), 0x12, 4096);
    uint32_t pfn = pfn_of(a);
    post_pfns(t, 0, &pfn, 1);
    assert_int_equal(used_count(t, 0), 0);
    assert_true(all_bytes(hva(t, a, 4096), 4096, 0x12));
    unsigned cirq = t->v.config_irq;
    assert_int_equal(balloon_set_target(t->b, 32 * MiB), 0);
    assert_int_equal(t->v.config_irq, cirq);

    /* The driver comes back with fresh queues. */
    enable_queues(t, NQ);
    assert_int_equal(balloon_ops.activate(t->b, &t->v), 0);
    assert_int_equal(balloon_request_stats(t->b), -EAGAIN);   /* the old buffer is forgotten */
    post_pfns(t, 0, &pfn, 1);
    assert_int_equal(used_count(t, 0), 1);
    assert_true(all_bytes(hva(t, a, 4096), 4096, 0));
    teardown(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(features_and_config),
        cmocka_unit_test(target_interrupts),
        cmocka_unit_test(inflate_frees_host_memory),
        cmocka_unit_test(inflate_skips_invalid_pfns),
        cmocka_unit_test(inflate_split_pfn_array),
        cmocka_unit_test(inflate_bad_length_needs_reset),
        cmocka_unit_test(deflate_acknowledges),
        cmocka_unit_test(stats_protocol),
        cmocka_unit_test(stats_hostile),
        cmocka_unit_test(stats_not_negotiated),
        cmocka_unit_test(stats_interval),
        cmocka_unit_test(reporting_frees_reported_range_only),
        cmocka_unit_test(reset_and_reactivate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
