/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver half of a split virtqueue, for the virtqueue unit tests: builds
 * descriptor tables and rings in a small guest memory exactly as a guest
 * driver would (or, for the hostile tests, exactly as it must not), and reads
 * back what the device put in the used ring. Include after <cmocka.h>.
 *
 * Guest memory is 1 MiB laid out around a fake MMIO hole: RAM at
 * [0, 512 KiB) and [1 MiB, 1.5 MiB), so a buffer can straddle into the hole.
 */
#ifndef CASULO_TEST_VIRTQUEUE_DRIVER_H
#define CASULO_TEST_VIRTQUEUE_DRIVER_H

#include <string.h>

#include "core/guest_mem.h"
#include "virtio/virtqueue.h"

#define TD_RAM        (1 * MiB)
#define TD_HOLE       (512 * KiB)
#define TD_HIGH       (1 * MiB)
#define TD_DESC_GPA   0x1000ull
#define TD_AVAIL_GPA  0x9000ull
#define TD_USED_GPA   0xb000ull
#define TD_BUF_GPA    0x20000ull    /* free space for buffers and indirect tables */

struct td {
    struct guest_mem gm;
    struct virtq vq;
    struct virtq_config cfg;
    uint16_t avail_idx;     /* the driver's next avail slot */
};

static inline void td_w16(struct td *t, uint64_t gpa, uint16_t v)
{
    assert_int_equal(guest_mem_write(&t->gm, gpa, &v, sizeof(v)), 0);
}

static inline void td_w32(struct td *t, uint64_t gpa, uint32_t v)
{
    assert_int_equal(guest_mem_write(&t->gm, gpa, &v, sizeof(v)), 0);
}

static inline uint16_t td_r16(struct td *t, uint64_t gpa)
{
    uint16_t v = 0;
    assert_int_equal(guest_mem_read(&t->gm, gpa, &v, sizeof(v)), 0);
    return v;
}

static inline uint32_t td_r32(struct td *t, uint64_t gpa)
{
    uint32_t v = 0;
    assert_int_equal(guest_mem_read(&t->gm, gpa, &v, sizeof(v)), 0);
    return v;
}

/* Memory only; the queue is left reset so a test can enable it as it likes. */
static inline void td_mem(struct td *t)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(guest_mem_init(&t->gm, TD_RAM, TD_HOLE, TD_HIGH), 0);
    assert_int_equal(t->gm.nr_regions, 2);
    virtq_reset(&t->vq);
}

static inline void td_init(struct td *t, uint32_t size, bool event_idx, bool indirect)
{
    td_mem(t);
    t->cfg = (struct virtq_config){
        .size = size, .desc_gpa = TD_DESC_GPA, .avail_gpa = TD_AVAIL_GPA,
        .used_gpa = TD_USED_GPA, .event_idx = event_idx, .indirect = indirect,
        .name = "test/q0",
    };
    assert_int_equal(virtq_enable(&t->vq, &t->gm, &t->cfg), 0);
    assert_false(virtq_is_broken(&t->vq));
}

static inline void td_fini(struct td *t)
{
    guest_mem_destroy(&t->gm);
}

/* Writes descriptor `i` of the table at `table` (the queue's or an indirect one). */
static inline void td_desc_at(struct td *t, uint64_t table, uint32_t i, uint64_t addr,
                              uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t d[16];
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    assert_int_equal(guest_mem_write(&t->gm, table + 16ull * i, d, sizeof(d)), 0);
}

static inline void td_desc(struct td *t, uint32_t i, uint64_t addr, uint32_t len,
                           uint16_t flags, uint16_t next)
{
    td_desc_at(t, TD_DESC_GPA, i, addr, len, flags, next);
}

static inline void td_set_avail_idx(struct td *t, uint16_t idx)
{
    t->avail_idx = idx;
    td_w16(t, TD_AVAIL_GPA + 2, idx);
}

/* Makes the chain at `head` available. */
static inline void td_avail(struct td *t, uint16_t head)
{
    td_w16(t, TD_AVAIL_GPA + 4 + 2ull * (t->avail_idx % t->cfg.size), head);
    td_set_avail_idx(t, (uint16_t)(t->avail_idx + 1));
}

static inline void td_avail_flags(struct td *t, uint16_t flags) { td_w16(t, TD_AVAIL_GPA, flags); }
static inline void td_used_event(struct td *t, uint16_t v)
{
    td_w16(t, TD_AVAIL_GPA + 4 + 2ull * t->cfg.size, v);
}
static inline uint16_t td_avail_event(struct td *t)
{
    return td_r16(t, TD_USED_GPA + 4 + 8ull * t->cfg.size);
}
static inline uint16_t td_used_flags(struct td *t) { return td_r16(t, TD_USED_GPA); }
static inline uint16_t td_used_idx(struct td *t) { return td_r16(t, TD_USED_GPA + 2); }

static inline void td_used_elem(struct td *t, uint16_t idx, uint32_t *id, uint32_t *len)
{
    uint64_t e = TD_USED_GPA + 4 + 8ull * (idx % t->cfg.size);
    *id = td_r32(t, e);
    *len = td_r32(t, e + 4);
}

static inline uint8_t *td_hva(struct td *t, uint64_t gpa)
{
    uint8_t *p = guest_mem_ptr(&t->gm, gpa, 1);
    assert_non_null(p);
    return p;
}

#endif
