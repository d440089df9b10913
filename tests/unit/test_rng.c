// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio-rng behind the virtio-pci transport: what lands in
 * the driver's buffers (a recognisable stand-in entropy source makes the
 * bytes checkable), chains with several writable buffers, readable buffers
 * skipped, the per-request cap, a source that fails or is interrupted, and
 * the real getrandom source.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_virtio_pci_driver.h"

/*
 * The stand-in source: bytes counting up from where it left off, at most
 * `chunk` per call (0: all), failing with `fail_errno` once `budget` bytes
 * have gone out, after `eintr_left` interrupted calls.
 */
struct source {
    uint8_t next;
    size_t chunk, budget, calls;
    int fail_errno;
    unsigned eintr_left;
};

struct rng_fixture {
    struct vd t;            /* first: tests use the fixture as a struct vd */
    struct source src;
};

static ssize_t fake_fill(void *opaque, void *buf, size_t len)
{
    struct source *s = opaque;
    s->calls++;
    if (s->eintr_left) {
        s->eintr_left--;
        errno = EINTR;
        return -1;
    }
    if (s->budget == 0) {
        errno = s->fail_errno;
        return -1;
    }
    size_t n = MIN(len, s->budget);
    if (s->chunk)
        n = MIN(n, s->chunk);
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = s->next++;
    s->budget -= n;
    return (ssize_t)n;
}

static struct source *source_of(struct vd *t)
{
    return &((struct rng_fixture *)(void *)t)->src;
}

static int setup(void **state)
{
    struct rng_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    struct vd *t = &f->t;
    vd_init(t);
    f->src = (struct source){ .next = 1, .budget = SIZE_MAX, .fail_errno = EIO };
    vd_add_rng(t, fake_fill, &f->src);
    vd_bring_up(t, 0, VD_BASIC_FEATURES, 16, false);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct vd *t = *state;
    vd_fini(t);
    free(t);
    return 0;
}

static uint32_t run_request(struct vd *t, uint16_t head, uint16_t expect_used)
{
    vd_avail(t, 0, head);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), expect_used);
    uint32_t id, len;
    vd_used_elem(t, 0, (uint16_t)(expect_used - 1), &id, &len);
    assert_int_equal(id, head);
    return len;
}

static void check_counting(const uint8_t *p, size_t n, uint8_t first)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(p[i], (uint8_t)(first + i));
}

static void test_fills_writable_buffers_in_order(void **state)
{
    struct vd *t = *state;
    uint64_t b = vd_gpa(0, VD_BUF);
    memset(vd_hva(t, b, 0x3000), 0xee, 0x3000);
    /* readable 16 (skipped) -> writable 10 -> writable 20 */
    vd_desc(t, 0, 0, b, 16, VIRTQ_DESC_F_NEXT, 1);
    vd_desc(t, 0, 1, b + 0x1000, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    vd_desc(t, 0, 2, b + 0x2000, 20, VIRTQ_DESC_F_WRITE, 0);
    assert_int_equal(run_request(t, 0, 1), 30);
    struct virtio_rng_stats st;
    virtio_rng_get_stats(virtio_pci_dev(t->vdev[0]), &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.bytes, 30);
    assert_int_equal(st.short_fills, 0);
    check_counting(vd_hva(t, b + 0x1000, 10), 10, 1);
    check_counting(vd_hva(t, b + 0x2000, 20), 20, 11);
    /* The readable buffer and the bytes after each writable one are untouched. */
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(vd_hva(t, b, 16)[i], 0xee);
    assert_int_equal(vd_hva(t, b + 0x1000 + 10, 1)[0], 0xee);
    assert_int_equal(vd_hva(t, b + 0x2000 + 20, 1)[0], 0xee);
}

static void test_readable_only_chain_gets_nothing(void **state)
{
    struct vd *t = *state;
    struct source *src = source_of(t);
    vd_desc(t, 0, 0, vd_gpa(0, VD_BUF), 64, 0, 0);
    assert_int_equal(run_request(t, 0, 1), 0);
    assert_int_equal(src->calls, 0);
}

static void test_request_capped(void **state)
{
    struct vd *t = *state;
    uint64_t b = vd_gpa(0, VD_BUF);
    uint32_t big = VIRTIO_RNG_MAX_REQUEST + 0x1000;
    memset(vd_hva(t, b, big), 0, big);
    /* Two writable buffers whose sum passes the cap: the second is cut short. */
    vd_desc(t, 0, 0, b, 0x8000, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    vd_desc(t, 0, 1, b + 0x8000, big - 0x8000, VIRTQ_DESC_F_WRITE, 0);
    assert_int_equal(run_request(t, 0, 1), VIRTIO_RNG_MAX_REQUEST);
    check_counting(vd_hva(t, b, VIRTIO_RNG_MAX_REQUEST), VIRTIO_RNG_MAX_REQUEST, 1);
    assert_true(vd_all_zero(vd_hva(t, b + VIRTIO_RNG_MAX_REQUEST, big - VIRTIO_RNG_MAX_REQUEST),
                            big - VIRTIO_RNG_MAX_REQUEST));
}

static void test_short_reads_and_eintr(void **state)
{
    struct vd *t = *state;
    struct source *src = source_of(t);
    src->chunk = 7;
    src->eintr_left = 2;
    uint64_t b = vd_gpa(0, VD_BUF);
    vd_desc(t, 0, 0, b, 100, VIRTQ_DESC_F_WRITE, 0);
    assert_int_equal(run_request(t, 0, 1), 100);
    check_counting(vd_hva(t, b, 100), 100, 1);
    assert_true(src->calls >= 2 + 100 / 7);
}

static void test_failing_source_returns_what_it_has(void **state)
{
    struct vd *t = *state;
    struct source *src = source_of(t);
    src->budget = 40;
    uint64_t b = vd_gpa(0, VD_BUF);
    vd_desc(t, 0, 0, b, 100, VIRTQ_DESC_F_WRITE, 0);
    assert_int_equal(run_request(t, 0, 1), 40);
    /* Still failing: the next request completes with nothing, the device stays healthy. */
    vd_desc(t, 0, 1, b + 0x100, 100, VIRTQ_DESC_F_WRITE, 0);
    assert_int_equal(run_request(t, 1, 2), 0);
    assert_false(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    /* Both requests counted, both short, and only the 40 bytes given. */
    struct virtio_rng_stats st;
    virtio_rng_get_stats(virtio_pci_dev(t->vdev[0]), &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.bytes, 40);
    assert_int_equal(st.short_fills, 2);
}

static void test_many_requests_one_kick(void **state)
{
    struct vd *t = *state;
    uint64_t b = vd_gpa(0, VD_BUF);
    for (uint16_t i = 0; i < 16; i++) {
        vd_desc(t, 0, i, b + 0x100u * i, 8, VIRTQ_DESC_F_WRITE, 0);
        vd_avail(t, 0, i);
    }
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 16);
    check_counting(vd_hva(t, b + 0x100 * 15, 8), 8, (uint8_t)(1 + 8 * 15));
    /* One interrupt for the batch. */
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_QUEUE);
}

static void test_real_getrandom(void **state)
{
    struct vd *t = *state;
    vd_add_rng(t, NULL, NULL);
    vd_bring_up(t, 1, VD_BASIC_FEATURES, 8, false);
    uint64_t b = vd_gpa(1, VD_BUF);
    memset(vd_hva(t, b, 4096), 0, 4096);
    vd_desc(t, 1, 0, b, 4096, VIRTQ_DESC_F_WRITE, 0);
    vd_avail(t, 1, 0);
    vd_kick(t, 1);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 1), 1);
    uint32_t id, len;
    vd_used_elem(t, 1, 0, &id, &len);
    assert_int_equal(len, 4096);
    /* 4 KiB of zeros from getrandom would be a broken host. */
    assert_false(vd_all_zero(vd_hva(t, b, 4096), 4096));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fills_writable_buffers_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readable_only_chain_gets_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_reads_and_eintr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_source_returns_what_it_has, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_requests_one_kick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_getrandom, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
