// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio/virtqueue, well-behaved driver: chains of every
 * shape (direct, indirect, mixed), the used ring, notification decisions
 * with and without EVENT_IDX including 16-bit wraparound, kick suppression,
 * state save/restore and the chain copy helpers. Hostile drivers are in
 * test_virtqueue_hostile.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_virtqueue_driver.h"

static void single_buffer_round_trip(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    td_init(&t, 8, false, false);
    assert_int_equal(virtq_pop(&t.vq, &c), 0);

    td_desc(&t, 3, TD_BUF_GPA, 100, 0, 0);
    td_avail(&t, 3);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    assert_int_equal(c.head, 3);
    assert_int_equal(c.nr, 1);
    assert_int_equal(c.nr_readable, 1);
    assert_ptr_equal(c.bufs[0].hva, td_hva(&t, TD_BUF_GPA));
    assert_int_equal(c.bufs[0].len, 100);
    assert_false(c.bufs[0].device_writable);
    assert_int_equal(c.readable_bytes, 100);
    assert_int_equal(c.writable_bytes, 0);
    assert_int_equal(virtq_pop(&t.vq, &c), 0);

    assert_int_equal(td_used_idx(&t), 0);
    virtq_push(&t.vq, c.head, 7);
    assert_int_equal(td_used_idx(&t), 1);
    uint32_t id, len;
    td_used_elem(&t, 0, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, 7);
    assert_false(virtq_is_broken(&t.vq));
    assert_string_equal(virtq_broken_reason(&t.vq), "");
    td_fini(&t);
}

static void multi_descriptor_chain(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    td_init(&t, 16, false, false);
    /* 5 -> 2 -> 7 -> 11, out of table order, as a driver's free list leaves them. */
    td_desc(&t, 5, TD_BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
    td_desc(&t, 2, TD_BUF_GPA + 0x100, 8, VIRTQ_DESC_F_NEXT, 7);
    td_desc(&t, 7, TD_BUF_GPA + 0x200, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 11);
    td_desc(&t, 11, TD_HIGH + 0x40, 1, VIRTQ_DESC_F_WRITE, 0);
    td_avail(&t, 5);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    assert_int_equal(c.head, 5);
    assert_int_equal(c.nr, 4);
    assert_int_equal(c.nr_readable, 2);
    assert_int_equal(c.readable_bytes, 24);
    assert_int_equal(c.writable_bytes, 513);
    assert_ptr_equal(c.bufs[1].hva, td_hva(&t, TD_BUF_GPA + 0x100));
    assert_ptr_equal(c.bufs[3].hva, td_hva(&t, TD_HIGH + 0x40));
    assert_true(c.bufs[2].device_writable && c.bufs[3].device_writable);
    assert_false(c.bufs[0].device_writable || c.bufs[1].device_writable);
    td_fini(&t);
}

static void chain_copy_helpers_span_buffers(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    td_init(&t, 4, false, false);
    td_desc(&t, 0, TD_BUF_GPA, 5, VIRTQ_DESC_F_NEXT, 1);
    td_desc(&t, 1, TD_BUF_GPA + 0x100, 7, VIRTQ_DESC_F_NEXT, 2);
    td_desc(&t, 2, TD_BUF_GPA + 0x200, 3, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
    td_desc(&t, 3, TD_BUF_GPA + 0x300, 4, VIRTQ_DESC_F_WRITE, 0);
    const char *hdr = "abcdefghijkl";   /* 12 readable bytes: 5 + 7 */
    assert_int_equal(guest_mem_write(&t.gm, TD_BUF_GPA, hdr, 5), 0);
    assert_int_equal(guest_mem_write(&t.gm, TD_BUF_GPA + 0x100, hdr + 5, 7), 0);
    td_avail(&t, 0);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);

    char out[16] = { 0 };
    assert_int_equal(virtq_chain_read(&c, 0, out, 12), 12);
    assert_memory_equal(out, hdr, 12);
    memset(out, 0, sizeof(out));
    assert_int_equal(virtq_chain_read(&c, 3, out, 4), 4);      /* across the boundary */
    assert_memory_equal(out, "defg", 4);
    assert_int_equal(virtq_chain_read(&c, 10, out, 16), 2);    /* short: only 2 left */
    assert_memory_equal(out, "kl", 2);
    assert_int_equal(virtq_chain_read(&c, 12, out, 1), 0);
    assert_int_equal(virtq_chain_read(&c, UINT64_MAX, out, 1), 0);

    assert_int_equal(virtq_chain_write(&c, 1, "WXYZ", 4), 4);  /* 2 in each writable buf */
    char w[4];
    assert_int_equal(guest_mem_read(&t.gm, TD_BUF_GPA + 0x201, w, 2), 0);
    assert_memory_equal(w, "WX", 2);
    assert_int_equal(guest_mem_read(&t.gm, TD_BUF_GPA + 0x300, w, 2), 0);
    assert_memory_equal(w, "YZ", 2);
    assert_int_equal(virtq_chain_write(&c, 5, "0123", 4), 2);  /* 7 writable bytes in all */
    /* The readable part was not written by the write helper. */
    assert_int_equal(guest_mem_read(&t.gm, TD_BUF_GPA, w, 4), 0);
    assert_memory_equal(w, "abcd", 4);
    td_fini(&t);
}

static void indirect_table_is_followed(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    const uint64_t table = TD_BUF_GPA + 0x1000;
    td_init(&t, 4, false, true);
    /* WRITE on the descriptor that refers to a table must be ignored (spec). */
    td_desc(&t, 1, table, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
    td_desc_at(&t, table, 0, TD_BUF_GPA, 10, VIRTQ_DESC_F_NEXT, 2);
    td_desc_at(&t, table, 2, TD_BUF_GPA + 0x100, 20, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    td_desc_at(&t, table, 1, TD_BUF_GPA + 0x200, 30, VIRTQ_DESC_F_WRITE, 0);
    td_avail(&t, 1);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    assert_int_equal(c.head, 1);
    assert_int_equal(c.nr, 3);
    assert_int_equal(c.nr_readable, 1);
    assert_int_equal(c.readable_bytes, 10);
    assert_int_equal(c.writable_bytes, 50);
    assert_ptr_equal(c.bufs[2].hva, td_hva(&t, TD_BUF_GPA + 0x200));
    td_fini(&t);
}

static void direct_descriptors_then_indirect(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    const uint64_t table = TD_BUF_GPA + 0x1000;
    td_init(&t, 8, false, true);
    /* The spec's "zero or more normal descriptors followed by one indirect". */
    td_desc(&t, 0, TD_BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 6);
    td_desc(&t, 6, table, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    td_desc_at(&t, table, 0, TD_BUF_GPA + 0x100, 8, VIRTQ_DESC_F_NEXT, 1);
    td_desc_at(&t, table, 1, TD_BUF_GPA + 0x200, 16, VIRTQ_DESC_F_WRITE, 0);
    td_avail(&t, 0);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    assert_int_equal(c.nr, 3);
    assert_int_equal(c.nr_readable, 2);
    assert_int_equal(c.readable_bytes, 12);
    assert_int_equal(c.writable_bytes, 16);
    td_fini(&t);
}

static void zero_length_descriptors_are_skipped(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    td_init(&t, 4, false, false);
    /* Address 0x7fffffff is not RAM, but nothing is accessed through a 0-length buffer. */
    td_desc(&t, 0, 0x7fffffff, 0, VIRTQ_DESC_F_NEXT, 1);
    td_desc(&t, 1, TD_BUF_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
    td_avail(&t, 0);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    assert_int_equal(c.nr, 1);
    assert_int_equal(c.nr_readable, 0);
    assert_true(c.bufs[0].device_writable);
    td_fini(&t);
}

/* Pops and pushes whatever is available, returning the number of chains. */
static unsigned drain(struct td *t, uint32_t written)
{
    struct virtq_chain c;
    unsigned n = 0;
    int r;
    while ((r = virtq_pop(&t->vq, &c)) == 1) {
        virtq_push(&t->vq, c.head, written);
        n++;
    }
    assert_int_equal(r, 0);
    return n;
}

static void indices_wrap_around_16_bits(void **state)
{
    (void)state;
    struct td t;
    td_init(&t, 4, false, false);
    struct virtq_state st = { .last_avail_idx = 65534, .used_idx = 65534 };
    assert_int_equal(virtq_set_state(&t.vq, &st), 0);
    td_w16(&t, TD_USED_GPA + 2, 65534);
    td_set_avail_idx(&t, 65534);
    for (uint16_t i = 0; i < 4; i++)
        td_desc(&t, i, TD_BUF_GPA + 0x100u * i, 8, VIRTQ_DESC_F_WRITE, 0);
    for (uint16_t i = 0; i < 4; i++)
        td_avail(&t, (uint16_t)(3 - i));   /* a full ring, straddling 65535 -> 0 */
    assert_int_equal(t.avail_idx, 2);
    assert_int_equal(drain(&t, 5), 4);
    assert_int_equal(td_used_idx(&t), 2);
    for (uint16_t k = 0; k < 4; k++) {
        uint32_t id, len;
        td_used_elem(&t, (uint16_t)(65534 + k), &id, &len);
        assert_int_equal(id, 3 - k);
        assert_int_equal(len, 5);
    }
    virtq_get_state(&t.vq, &st);
    assert_int_equal(st.last_avail_idx, 2);
    assert_int_equal(st.used_idx, 2);
    td_fini(&t);
}

static void notify_follows_no_interrupt_flag(void **state)
{
    (void)state;
    struct td t;
    td_init(&t, 8, false, false);
    td_desc(&t, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    assert_false(virtq_needs_notify(&t.vq));    /* nothing used yet */
    td_avail(&t, 0);
    assert_int_equal(drain(&t, 1), 1);
    assert_true(virtq_needs_notify(&t.vq));
    assert_false(virtq_needs_notify(&t.vq));    /* nothing new since */

    td_avail_flags(&t, VIRTQ_AVAIL_F_NO_INTERRUPT);
    td_avail(&t, 0);
    assert_int_equal(drain(&t, 1), 1);
    assert_false(virtq_needs_notify(&t.vq));

    td_avail_flags(&t, 0);
    td_avail(&t, 0);
    assert_int_equal(drain(&t, 1), 1);
    assert_true(virtq_needs_notify(&t.vq));
    /* used_event is ignored without EVENT_IDX. */
    td_used_event(&t, 100);
    td_avail(&t, 0);
    assert_int_equal(drain(&t, 1), 1);
    assert_true(virtq_needs_notify(&t.vq));
    td_fini(&t);
}

static void notify_follows_used_event(void **state)
{
    (void)state;
    struct td t;
    td_init(&t, 8, true, false);
    for (uint16_t i = 0; i < 8; i++)
        td_desc(&t, i, TD_BUF_GPA + 0x100u * i, 8, VIRTQ_DESC_F_WRITE, 0);
    /* NO_INTERRUPT must be ignored with EVENT_IDX. */
    td_avail_flags(&t, VIRTQ_AVAIL_F_NO_INTERRUPT);
    td_used_event(&t, 0);
    td_avail(&t, 0);
    assert_int_equal(drain(&t, 0), 1);          /* used idx 0 -> 1 crosses used_event 0 */
    assert_true(virtq_needs_notify(&t.vq));

    td_avail(&t, 1);
    td_avail(&t, 2);
    assert_int_equal(drain(&t, 0), 2);          /* 1 -> 3: used_event 0 not crossed */
    assert_false(virtq_needs_notify(&t.vq));

    td_used_event(&t, 4);
    td_avail(&t, 3);
    assert_int_equal(drain(&t, 0), 1);          /* 3 -> 4: the driver waits for entry 4 */
    assert_false(virtq_needs_notify(&t.vq));
    td_avail(&t, 4);
    assert_int_equal(drain(&t, 0), 1);          /* 4 -> 5: entry 4 written */
    assert_true(virtq_needs_notify(&t.vq));

    /* A batch of pushes that passes used_event notifies once. */
    td_used_event(&t, 6);
    for (uint16_t i = 5; i < 8; i++)
        td_avail(&t, i);
    assert_int_equal(drain(&t, 0), 3);          /* 5 -> 8 */
    assert_true(virtq_needs_notify(&t.vq));
    assert_false(virtq_needs_notify(&t.vq));
    td_fini(&t);
}

static void used_event_wraps_around(void **state)
{
    (void)state;
    struct td t;
    td_init(&t, 4, true, false);
    struct virtq_state st = { .last_avail_idx = 65535, .used_idx = 65535 };
    assert_int_equal(virtq_set_state(&t.vq, &st), 0);
    td_set_avail_idx(&t, 65535);
    td_desc(&t, 0, TD_BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);

    td_used_event(&t, 65535);
    td_avail(&t, 0);
    assert_int_equal(drain(&t, 0), 1);          /* 65535 -> 0 */
    /* Just restored: the last signalled index is unknown, so notify. */
    assert_true(virtq_needs_notify(&t.vq));

    td_used_event(&t, 1);
    td_avail(&t, 0);
    assert_int_equal(drain(&t, 0), 1);          /* 0 -> 1 */
    assert_false(virtq_needs_notify(&t.vq));
    td_avail(&t, 0);
    assert_int_equal(drain(&t, 0), 1);          /* 1 -> 2 crosses 1 */
    assert_true(virtq_needs_notify(&t.vq));

    /* An event far behind (65000) is not "crossed" by 2 -> 3. */
    td_used_event(&t, 65000);
    td_avail(&t, 0);
    assert_int_equal(drain(&t, 0), 1);
    assert_false(virtq_needs_notify(&t.vq));
    td_fini(&t);
}

static void kick_suppression_with_flags(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    td_init(&t, 4, false, false);
    td_desc(&t, 0, TD_BUF_GPA, 8, 0, 0);
    assert_int_equal(td_used_flags(&t), 0);
    virtq_disable_notify(&t.vq);
    assert_int_equal(td_used_flags(&t), VIRTQ_USED_F_NO_NOTIFY);
    assert_false(virtq_enable_notify(&t.vq));   /* nothing arrived meanwhile */
    assert_int_equal(td_used_flags(&t), 0);

    virtq_disable_notify(&t.vq);
    td_avail(&t, 0);                            /* arrives while kicks are off */
    assert_true(virtq_enable_notify(&t.vq));
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    assert_false(virtq_enable_notify(&t.vq));
    td_fini(&t);
}

static void kick_suppression_with_avail_event(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    td_init(&t, 4, true, false);
    td_desc(&t, 0, TD_BUF_GPA, 8, 0, 0);
    td_avail(&t, 0);
    td_avail(&t, 0);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    assert_int_equal(td_avail_event(&t), 1);    /* kick me when slot 1 is filled */
    virtq_push(&t.vq, c.head, 0);

    virtq_disable_notify(&t.vq);
    assert_int_equal(td_used_flags(&t), 0);     /* flags stay 0 with EVENT_IDX (spec) */
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    assert_int_equal(td_avail_event(&t), 1);    /* not advanced while disabled */
    virtq_push(&t.vq, c.head, 0);
    assert_int_equal(virtq_pop(&t.vq, &c), 0);
    assert_int_equal(td_avail_event(&t), 1);

    assert_false(virtq_enable_notify(&t.vq));
    assert_int_equal(td_avail_event(&t), 2);
    virtq_disable_notify(&t.vq);
    td_avail(&t, 0);
    assert_true(virtq_enable_notify(&t.vq));
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    virtq_push(&t.vq, c.head, 0);
    /* An empty pop publishes where the next kick should come from. */
    assert_int_equal(virtq_pop(&t.vq, &c), 0);
    assert_int_equal(td_avail_event(&t), 3);
    td_fini(&t);
}

static void state_restore_is_checked(void **state)
{
    (void)state;
    struct td t;
    td_init(&t, 8, false, false);
    struct virtq_state st = { .last_avail_idx = 10, .used_idx = 2 };
    assert_int_equal(virtq_set_state(&t.vq, &st), 0);       /* 8 in flight: a full ring */
    virtq_get_state(&t.vq, &st);
    assert_int_equal(st.last_avail_idx, 10);
    assert_int_equal(st.used_idx, 2);
    st = (struct virtq_state){ .last_avail_idx = 11, .used_idx = 2 };
    assert_int_equal(virtq_set_state(&t.vq, &st), -EINVAL);  /* 9 in flight */
    st = (struct virtq_state){ .last_avail_idx = 2, .used_idx = 3 };
    assert_int_equal(virtq_set_state(&t.vq, &st), -EINVAL);  /* used ahead of avail */
    virtq_get_state(&t.vq, &st);
    assert_int_equal(st.last_avail_idx, 10);
    virtq_reset(&t.vq);
    st = (struct virtq_state){ 0 };
    assert_int_equal(virtq_set_state(&t.vq, &st), -EINVAL);  /* not enabled */
    td_fini(&t);
}

static void pushing_an_unpopped_chain_breaks_the_queue(void **state)
{
    (void)state;
    struct td t;
    struct virtq_chain c;
    td_init(&t, 4, false, false);
    virtq_push(&t.vq, 0, 0);                    /* nothing in flight */
    assert_true(virtq_is_broken(&t.vq));
    assert_int_equal(td_used_idx(&t), 0);
    td_fini(&t);

    td_init(&t, 4, false, false);
    td_desc(&t, 0, TD_BUF_GPA, 8, 0, 0);
    td_avail(&t, 0);
    assert_int_equal(virtq_pop(&t.vq, &c), 1);
    virtq_push(&t.vq, 4, 0);                    /* head out of range */
    assert_true(virtq_is_broken(&t.vq));
    assert_int_equal(td_used_idx(&t), 0);
    td_fini(&t);
}

static void disabled_queue_does_nothing(void **state)
{
    (void)state;
    struct virtq vq;
    struct virtq_chain c;
    virtq_reset(&vq);
    assert_int_equal(virtq_pop(&vq, &c), 0);
    virtq_push(&vq, 0, 0);
    assert_false(virtq_needs_notify(&vq));
    virtq_disable_notify(&vq);
    assert_false(virtq_enable_notify(&vq));
    assert_false(virtq_is_broken(&vq));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_buffer_round_trip),
        cmocka_unit_test(multi_descriptor_chain),
        cmocka_unit_test(chain_copy_helpers_span_buffers),
        cmocka_unit_test(indirect_table_is_followed),
        cmocka_unit_test(direct_descriptors_then_indirect),
        cmocka_unit_test(zero_length_descriptors_are_skipped),
        cmocka_unit_test(indices_wrap_around_16_bits),
        cmocka_unit_test(notify_follows_no_interrupt_flag),
        cmocka_unit_test(notify_follows_used_event),
        cmocka_unit_test(used_event_wraps_around),
        cmocka_unit_test(kick_suppression_with_flags),
        cmocka_unit_test(kick_suppression_with_avail_event),
        cmocka_unit_test(state_restore_is_checked),
        cmocka_unit_test(pushing_an_unpopped_chain_breaks_the_queue),
        cmocka_unit_test(disabled_queue_does_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
