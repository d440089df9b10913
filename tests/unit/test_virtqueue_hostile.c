// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio/virtqueue against a hostile driver: every rule of
 * the split ring broken once (bad configurations at enable, loops, indices
 * out of range, buffers outside RAM or into the MMIO hole, bad indirect
 * tables, misordered chains, runaway avail index). Each must break the
 * queue with a reason, and a broken queue must never read guest memory
 * again: the tests make all of guest RAM inaccessible and call it again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "test_virtqueue_driver.h"

/* With guest RAM unreadable, any access the queue made would crash the test. */
static void assert_queue_stays_off(struct td *t, int err, const char *reason)
{
    struct virtq_chain c;
    assert_int_equal(mprotect(t->gm.mapping, t->gm.mapping_size, PROT_NONE), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(virtq_pop(&t->vq, &c), err);
    virtq_push(&t->vq, 0, 0);
    assert_false(virtq_needs_notify(&t->vq));
    virtq_disable_notify(&t->vq);
    assert_false(virtq_enable_notify(&t->vq));
    assert_true(virtq_is_broken(&t->vq));
    assert_string_equal(virtq_broken_reason(&t->vq), reason);
    assert_int_equal(mprotect(t->gm.mapping, t->gm.mapping_size, PROT_READ | PROT_WRITE), 0);
}

/* Pops once, expects the violation `err` with a reason mentioning `what`. */
static void expect_violation(struct td *t, int err, const char *what)
{
    struct virtq_chain c;
    uint16_t used_before = td_used_idx(t);
    assert_int_equal(virtq_pop(&t->vq, &c), err);
    assert_true(virtq_is_broken(&t->vq));
    const char *reason = virtq_broken_reason(&t->vq);
    if (!strstr(reason, what))
        fail_msg("reason \"%s\" does not mention \"%s\"", reason, what);
    char saved[VIRTQ_REASON_MAX];
    snprintf(saved, sizeof(saved), "%s", reason);
    assert_queue_stays_off(t, err, saved);
    /* Repairing the ring does not revive the queue: only a reset does. */
    td_desc(t, 0, TD_BUF_GPA, 8, 0, 0);
    td_w16(t, TD_AVAIL_GPA + 4, 0);
    td_set_avail_idx(t, (uint16_t)(t->vq.last_avail_idx + 1));
    assert_int_equal(virtq_pop(&t->vq, &c), err);
    assert_int_equal(td_used_idx(t), used_before);
}

static void enable_refuses_bad_sizes(void **state)
{
    (void)state;
    static const uint32_t bad[] = { 0, 3, 6, 100, 32769, 65535, 65536, UINT32_MAX };
    struct td t;
    td_mem(&t);
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        struct virtq_config cfg = { .size = bad[i], .desc_gpa = TD_DESC_GPA,
                                    .avail_gpa = TD_AVAIL_GPA, .used_gpa = TD_USED_GPA };
        assert_int_equal(virtq_enable(&t.vq, &t.gm, &cfg), -EINVAL);
        assert_true(virtq_is_broken(&t.vq));
        assert_non_null(strstr(virtq_broken_reason(&t.vq), "queue size"));
        assert_queue_stays_off(&t, -EINVAL, virtq_broken_reason(&t.vq));
    }
    /* The largest legal queue: a 512 KiB table fills the high region exactly. */
    struct virtq_config big = { .size = 32768, .desc_gpa = TD_HIGH, .avail_gpa = 0x1000,
                                .used_gpa = 0x20000, .name = "big" };
    assert_int_equal(virtq_enable(&t.vq, &t.gm, &big), 0);
    big.desc_gpa = TD_HIGH + 16;            /* now it runs 16 bytes past RAM */
    assert_int_equal(virtq_enable(&t.vq, &t.gm, &big), -EINVAL);
    for (uint32_t s = 1; s <= 256; s <<= 1) {
        struct virtq_config cfg = { .size = s, .desc_gpa = TD_DESC_GPA,
                                    .avail_gpa = TD_AVAIL_GPA, .used_gpa = TD_USED_GPA };
        assert_int_equal(virtq_enable(&t.vq, &t.gm, &cfg), 0);
        assert_false(virtq_is_broken(&t.vq));
    }
    td_fini(&t);
}

static void enable_refuses_bad_ring_addresses(void **state)
{
    (void)state;
    struct { uint64_t desc, avail, used; const char *what; } bad[] = {
        { TD_HOLE - 16 * 3, TD_AVAIL_GPA, TD_USED_GPA, "descriptor table" },  /* into hole */
        { TD_DESC_GPA + 8, TD_AVAIL_GPA, TD_USED_GPA, "descriptor table" },   /* misaligned */
        { 2 * GiB, TD_AVAIL_GPA, TD_USED_GPA, "descriptor table" },
        { UINT64_MAX - 15, TD_AVAIL_GPA, TD_USED_GPA, "descriptor table" },
        { TD_DESC_GPA, TD_AVAIL_GPA + 1, TD_USED_GPA, "available ring" },
        { TD_DESC_GPA, TD_HOLE - 8, TD_USED_GPA, "available ring" },
        { TD_DESC_GPA, UINT64_MAX - 1, TD_USED_GPA, "available ring" },
        { TD_DESC_GPA, TD_AVAIL_GPA, TD_USED_GPA + 2, "used ring" },
        { TD_DESC_GPA, TD_AVAIL_GPA, TD_HIGH + TD_RAM - TD_HOLE - 8, "used ring" },
        { TD_DESC_GPA, TD_AVAIL_GPA, UINT64_MAX - 3, "used ring" },
    };
    struct td t;
    td_mem(&t);
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        struct virtq_config cfg = { .size = 4, .desc_gpa = bad[i].desc,
                                    .avail_gpa = bad[i].avail, .used_gpa = bad[i].used };
        assert_int_equal(virtq_enable(&t.vq, &t.gm, &cfg), -EINVAL);
        assert_non_null(strstr(virtq_broken_reason(&t.vq), bad[i].what));
        assert_queue_stays_off(&t, -EINVAL, virtq_broken_reason(&t.vq));
    }
    td_fini(&t);
}

static void descriptor_loop(void **state)
{
    (void)state;
    struct td t;
    td_init(&t, 8, false, false);
    td_desc(&t, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    td_desc(&t, 1, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
    td_desc(&t, 2, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);   /* back to the head */
    td_avail(&t, 0);
    expect_violation(&t, -EINVAL, "loop");
    td_fini(&t);

    td_init(&t, 4, false, false);
    td_desc(&t, 3, TD_BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 3);   /* zero-length self loop */
    td_avail(&t, 3);
    expect_violation(&t, -EINVAL, "loop");
    td_fini(&t);
}

static void descriptor_loop_in_indirect_table(void **state)
{
    (void)state;
    const uint64_t table = TD_BUF_GPA + 0x1000;
    struct td t;
    td_init(&t, 8, false, true);
    td_desc(&t, 0, table, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    td_desc_at(&t, table, 0, TD_BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 1);
    td_desc_at(&t, table, 1, TD_BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 0);
    td_avail(&t, 0);
    expect_violation(&t, -EINVAL, "more than 8 buffers");
    td_fini(&t);
}

static void next_index_out_of_range(void **state)
{
    (void)state;
    struct td t;
    td_init(&t, 8, false, false);
    td_desc(&t, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 8);
    td_avail(&t, 0);
    expect_violation(&t, -EINVAL, "next index 8");
    td_fini(&t);

    /* Inside an indirect table the bound is the table's length, not the queue's. */
    const uint64_t table = TD_BUF_GPA + 0x1000;
    td_init(&t, 8, false, true);
    td_desc(&t, 0, table, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    td_desc_at(&t, table, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
    td_avail(&t, 0);
    expect_violation(&t, -EINVAL, "next index 2");
    td_fini(&t);
}

static void head_out_of_range(void **state)
{
    (void)state;
    struct td t;
    td_init(&t, 8, false, false);
    td_avail(&t, 8);
    expect_violation(&t, -EINVAL, "head 8");
    td_fini(&t);

    td_init(&t, 8, false, false);
    td_avail(&t, 0xffff);
    expect_violation(&t, -EINVAL, "head 65535");
    td_fini(&t);
}

static void avail_index_runs_ahead(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    td_init(&t, 4, false, false);
    for (uint16_t i = 0; i < 4; i++)
        td_desc(&t, i, TD_BUF_GPA, 8, 0, 0);
    td_set_avail_idx(&t, 4);                /* exactly a full ring is fine */
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    td_set_avail_idx(&t, 6);                /* 5 ahead of last_avail_idx 1 */
    expect_violation(&t, -EINVAL, "ahead");
    td_fini(&t);

    td_init(&t, 4, false, false);
    td_set_avail_idx(&t, 0xffff);           /* "decremented": 65535 ahead */
    expect_violation(&t, -EINVAL, "ahead");
    td_fini(&t);
}

static void buffers_outside_ram(void **state)
{
    (void)state;
    static const struct { uint64_t addr; uint32_t len; } bad[] = {
        { TD_HOLE - 8, 16 },                /* straddles into the MMIO hole */
        { TD_HOLE, 1 },                     /* in the hole */
        { TD_HOLE + TD_HIGH - 8, 9 },       /* ...hole-free but past the end of RAM */
        { TD_BUF_GPA, 0x80000000 },         /* huge */
        { UINT64_MAX - 3, 8 },              /* wraps around */
        { 64 * GiB, 4096 },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        for (int writable = 0; writable < 2; writable++) {
            struct td t;
            td_init(&t, 4, false, false);
            td_desc(&t, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
            td_desc(&t, 1, bad[i].addr, bad[i].len, writable ? VIRTQ_DESC_F_WRITE : 0, 0);
            td_avail(&t, 0);
            expect_violation(&t, -EFAULT, "not guest RAM");
            td_fini(&t);
        }
    }
}

static void chain_longer_than_4_gib(void **state)
{
    (void)state;
    /* 3 GiB of address space, never touched beyond the rings (MAP_NORESERVE). */
    struct td t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(guest_mem_init(&t.gm, 3 * GiB, 3 * GiB, 4 * GiB), 0);
    t.cfg = (struct virtq_config){ .size = 4, .desc_gpa = TD_DESC_GPA,
                                   .avail_gpa = TD_AVAIL_GPA, .used_gpa = TD_USED_GPA,
                                   .name = "4g" };
    assert_int_equal(virtq_enable(&t.vq, &t.gm, &t.cfg), 0);
    td_desc(&t, 0, 0, 2 * GiB, VIRTQ_DESC_F_NEXT, 1);
    td_desc(&t, 1, 0, 2 * GiB, 0, 0);         /* 4 GiB in all: one byte too many */
    td_avail(&t, 0);
    expect_violation(&t, -EINVAL, "4 GiB");
    td_fini(&t);
}

static void chain_longer_than_the_limit(void **state)
{
    (void)state;
    /* 2048-entry queue, a 1025-descriptor chain: more than VIRTQ_MAX_CHAIN buffers. */
    struct td t;
    td_mem(&t);
    t.cfg = (struct virtq_config){ .size = 2048, .desc_gpa = TD_HIGH, .avail_gpa = TD_AVAIL_GPA,
                                   .used_gpa = TD_BUF_GPA, .name = "long" };
    assert_int_equal(virtq_enable(&t.vq, &t.gm, &t.cfg), 0);
    for (uint16_t i = 0; i <= VIRTQ_MAX_CHAIN; i++)
        td_desc_at(&t, TD_HIGH, i, TD_BUF_GPA + 0x10000, 1,
                   i < VIRTQ_MAX_CHAIN ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    td_avail(&t, 0);
    struct virtq_chain *c = test_malloc(sizeof(*c));
    assert_int_equal(virtq_pop(&t.vq, c), -EINVAL);
    assert_non_null(strstr(virtq_broken_reason(&t.vq), "more than 1024 buffers"));
    test_free(c);
    struct virtq_config cfg = t.cfg;
    td_fini(&t);

    /* One fewer fits exactly. */
    td_mem(&t);
    t.cfg = cfg;
    assert_int_equal(virtq_enable(&t.vq, &t.gm, &t.cfg), 0);
    for (uint16_t i = 0; i < VIRTQ_MAX_CHAIN; i++)
        td_desc_at(&t, TD_HIGH, i, TD_BUF_GPA + 0x10000, 1,
                   i + 1u < VIRTQ_MAX_CHAIN ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    td_avail(&t, 0);
    c = test_malloc(sizeof(*c));
    assert_int_equal(virtq_pop(&t.vq, c), 1);
    assert_int_equal(c->nr, VIRTQ_MAX_CHAIN);
    assert_int_equal(c->readable_bytes, VIRTQ_MAX_CHAIN);
    test_free(c);
    td_fini(&t);
}

static void indirect_rules(void **state)
{
    (void)state;
    const uint64_t table = TD_BUF_GPA + 0x1000;
    static const struct { bool negotiated; uint64_t addr; uint32_t len; uint16_t flags;
                          int err; const char *what; } bad[] = {
        { false, TD_BUF_GPA + 0x1000, 32, VIRTQ_DESC_F_INDIRECT, -EINVAL, "not negotiated" },
        { true, TD_BUF_GPA + 0x1000, 0, VIRTQ_DESC_F_INDIRECT, -EINVAL, "length 0" },
        { true, TD_BUF_GPA + 0x1000, 17, VIRTQ_DESC_F_INDIRECT, -EINVAL, "length 17" },
        { true, TD_BUF_GPA + 0x1000, 8, VIRTQ_DESC_F_INDIRECT, -EINVAL, "length 8" },
        { true, TD_BUF_GPA + 0x1000, 16 * 9, VIRTQ_DESC_F_INDIRECT, -EINVAL, "length 144" },
        { true, TD_BUF_GPA + 0x1000, 0xfffffff0, VIRTQ_DESC_F_INDIRECT, -EINVAL, "length" },
        { true, TD_BUF_GPA + 0x1000, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, -EINVAL,
          "INDIRECT and NEXT" },
        { true, TD_HOLE - 16, 32, VIRTQ_DESC_F_INDIRECT, -EFAULT, "not guest RAM" },
        { true, 3 * GiB, 32, VIRTQ_DESC_F_INDIRECT, -EFAULT, "not guest RAM" },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        struct td t;
        td_init(&t, 8, false, bad[i].negotiated);
        td_desc(&t, 0, bad[i].addr, bad[i].len, bad[i].flags, 1);
        td_desc(&t, 1, TD_BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
        td_desc_at(&t, table, 0, TD_BUF_GPA, 8, 0, 0);
        td_avail(&t, 0);
        expect_violation(&t, bad[i].err, bad[i].what);
        td_fini(&t);
    }
}

static void indirect_inside_indirect(void **state)
{
    (void)state;
    const uint64_t table = TD_BUF_GPA + 0x1000, inner = TD_BUF_GPA + 0x2000;
    struct td t;
    td_init(&t, 8, false, true);
    td_desc(&t, 0, table, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    td_desc_at(&t, table, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    td_desc_at(&t, table, 1, inner, 16, VIRTQ_DESC_F_INDIRECT, 0);
    td_desc_at(&t, inner, 0, TD_BUF_GPA, 8, 0, 0);
    td_avail(&t, 0);
    expect_violation(&t, -EINVAL, "inside an indirect table");
    td_fini(&t);
}

static void writable_before_readable(void **state)
{
    (void)state;
    struct td t;
    td_init(&t, 8, false, false);
    td_desc(&t, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    td_desc(&t, 1, TD_BUF_GPA + 0x100, 8, 0, 0);
    td_avail(&t, 0);
    expect_violation(&t, -EINVAL, "readable descriptor after a writable");
    td_fini(&t);

    /* A zero-length writable descriptor still counts. */
    td_init(&t, 8, false, false);
    td_desc(&t, 0, TD_BUF_GPA, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    td_desc(&t, 1, TD_BUF_GPA + 0x100, 8, 0, 0);
    td_avail(&t, 0);
    expect_violation(&t, -EINVAL, "readable descriptor after a writable");
    td_fini(&t);

    /* Across a direct descriptor and the indirect table that follows it. */
    const uint64_t table = TD_BUF_GPA + 0x1000;
    td_init(&t, 8, false, true);
    td_desc(&t, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    td_desc(&t, 1, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
    td_desc_at(&t, table, 0, TD_BUF_GPA + 0x100, 8, 0, 0);
    td_avail(&t, 0);
    expect_violation(&t, -EINVAL, "readable descriptor after a writable");
    td_fini(&t);
}

static void violation_after_good_chains_keeps_used_ring(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    td_init(&t, 4, true, false);
    td_desc(&t, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    td_desc(&t, 1, TD_BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    td_avail(&t, 0);
    td_avail(&t, 1);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    virtq_push(&t.vq, c.head, 8);
    expect_violation(&t, -EINVAL, "loop");
    assert_int_equal(td_used_idx(&t), 1);
    /* After a reset and re-enable the queue works again. */
    virtq_reset(&t.vq);
    assert_false(virtq_is_broken(&t.vq));
    assert_int_equal(virtq_enable(&t.vq, &t.gm, &t.cfg), 0);
    td_set_avail_idx(&t, 0);
    td_avail(&t, 0);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    td_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enable_refuses_bad_sizes),
        cmocka_unit_test(enable_refuses_bad_ring_addresses),
        cmocka_unit_test(descriptor_loop),
        cmocka_unit_test(descriptor_loop_in_indirect_table),
        cmocka_unit_test(next_index_out_of_range),
        cmocka_unit_test(head_out_of_range),
        cmocka_unit_test(avail_index_runs_ahead),
        cmocka_unit_test(buffers_outside_ram),
        cmocka_unit_test(chain_longer_than_4_gib),
        cmocka_unit_test(chain_longer_than_the_limit),
        cmocka_unit_test(indirect_rules),
        cmocka_unit_test(indirect_inside_indirect),
        cmocka_unit_test(writable_before_readable),
        cmocka_unit_test(violation_after_good_chains_keeps_used_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
