// SPDX-License-Identifier: Apache-2.0
/* Unit tests for core/bus: registration rules and dispatch. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/bus.h"

struct recorder {
    uint64_t last_offset;
    unsigned last_size;
    uint32_t last_value;
    unsigned reads, writes;
};

static void rec_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
    struct recorder *r = opaque;
    r->reads++;
    r->last_offset = offset;
    r->last_size = size;
    uint32_t v = 0xa0 + (uint32_t)offset;
    memcpy(data, &v, size > 4 ? 4 : size);
}

static void rec_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
    struct recorder *r = opaque;
    r->writes++;
    r->last_offset = offset;
    r->last_size = size;
    r->last_value = 0;
    memcpy(&r->last_value, data, size > 4 ? 4 : size);
}

static const struct bus_ops rec_ops = { rec_read, rec_write };

static int setup(void **state)
{
    static struct bus bus;
    assert_int_equal(bus_init(&bus, "test"), 0);
    *state = &bus;
    return 0;
}

static int teardown(void **state)
{
    bus_destroy(*state);
    return 0;
}

static void refuses_overlaps(void **state)
{
    struct bus *bus = *state;
    struct recorder a = { 0 };
    assert_int_equal(bus_register(bus, 0x100, 0x10, &rec_ops, &a, "a"), 0);
    assert_int_equal(bus_register(bus, 0x100, 0x10, &rec_ops, &a, "dup"), -EEXIST);
    assert_int_equal(bus_register(bus, 0x10f, 1, &rec_ops, &a, "tail"), -EEXIST);
    assert_int_equal(bus_register(bus, 0xf0, 0x11, &rec_ops, &a, "head"), -EEXIST);
    assert_int_equal(bus_register(bus, 0x80, 0x100, &rec_ops, &a, "cover"), -EEXIST);
    assert_int_equal(bus_register(bus, 0x110, 1, &rec_ops, &a, "after"), 0);
    assert_int_equal(bus_register(bus, 0xff, 1, &rec_ops, &a, "before"), 0);
    assert_int_equal(bus_register(bus, 0, 0, &rec_ops, &a, "empty"), -EINVAL);
    assert_int_equal(bus_register(bus, UINT64_MAX, 2, &rec_ops, &a, "wrap"), -EINVAL);
    assert_int_equal(bus_register(bus, UINT64_MAX, 1, &rec_ops, &a, "last"), 0);
}

static void dispatches_with_offsets(void **state)
{
    struct bus *bus = *state;
    struct recorder a = { 0 }, b = { 0 };
    for (uint64_t i = 0; i < 40; i++)  /* many ranges: exercise the binary search */
        assert_int_equal(bus_register(bus, 0x1000 + i * 0x100, 0x10, &rec_ops, i == 17 ? &b : &a, "r"), 0);
    uint32_t v = 0x12345678;
    assert_true(bus_write(bus, 0x1000 + 17 * 0x100 + 4, &v, 4));
    assert_int_equal(b.writes, 1);
    assert_int_equal(b.last_offset, 4);
    assert_int_equal(b.last_size, 4);
    assert_int_equal(b.last_value, 0x12345678);
    uint8_t byte = 0;
    assert_true(bus_read(bus, 0x1000 + 17 * 0x100 + 0xf, &byte, 1));
    assert_int_equal(byte, 0xa0 + 0xf);
    assert_int_equal(a.writes, 0);
}

static void unclaimed_reads_all_ones(void **state)
{
    struct bus *bus = *state;
    struct recorder a = { 0 };
    assert_int_equal(bus_register(bus, 0x200, 4, &rec_ops, &a, "a"), 0);
    uint32_t v = 0;
    assert_false(bus_read(bus, 0x300, &v, 4));
    assert_int_equal(v, 0xffffffff);
    /* Straddling the end of a range is not a claim either. */
    v = 0;
    assert_false(bus_read(bus, 0x202, &v, 4));
    assert_int_equal(v, 0xffffffff);
    assert_false(bus_write(bus, 0x1ff, &v, 2));
    assert_int_equal(a.reads + a.writes, 0);
    /* Each unclaimed address is remembered once. */
    assert_false(bus_read(bus, 0x300, &v, 4));
    unsigned n = 0;
    for (unsigned i = 0; i < bus->nr_unclaimed_logged; i++)
        n += bus->unclaimed_logged[i] == 0x300;
    assert_int_equal(n, 1);
}

static void unregister_frees_range(void **state)
{
    struct bus *bus = *state;
    struct recorder a = { 0 };
    assert_int_equal(bus_register(bus, 0x400, 8, &rec_ops, &a, "a"), 0);
    assert_int_equal(bus_unregister(bus, 0x404), -ENOENT);
    assert_int_equal(bus_unregister(bus, 0x400), 0);
    uint8_t b;
    assert_false(bus_read(bus, 0x400, &b, 1));
    assert_int_equal(bus_register(bus, 0x402, 8, &rec_ops, &a, "b"), 0);
}

/* A handler that moves its own range, as a PCI BAR write does: must not deadlock. */
struct mover {
    struct bus *bus;
    uint64_t base;
};

static void mover_write(void *opaque, uint64_t offset, const void *data, unsigned size);
static const struct bus_ops mover_ops = { NULL, mover_write };

static void mover_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
    struct mover *m = opaque;
    uint32_t new_base = 0;
    memcpy(&new_base, data, size);
    assert_int_equal(bus_unregister(m->bus, m->base), 0);
    m->base = new_base;
    assert_int_equal(bus_register(m->bus, m->base, 4, &mover_ops, m, "mover"), 0);
}

static void handler_may_reregister(void **state)
{
    struct bus *bus = *state;
    struct mover m = { bus, 0x1000 };
    assert_int_equal(bus_register(bus, 0x1000, 4, &mover_ops, &m, "mover"), 0);
    uint32_t to = 0x2000;
    assert_true(bus_write(bus, 0x1000, &to, 4));
    assert_int_equal(m.base, 0x2000);
    uint8_t b;
    assert_false(bus_read(bus, 0x1000, &b, 1));
    to = 0x3000;
    assert_true(bus_write(bus, 0x2000, &to, 4));
    assert_int_equal(m.base, 0x3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(refuses_overlaps, setup, teardown),
        cmocka_unit_test_setup_teardown(dispatches_with_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(unclaimed_reads_all_ones, setup, teardown),
        cmocka_unit_test_setup_teardown(unregister_frees_range, setup, teardown),
        cmocka_unit_test_setup_teardown(handler_may_reregister, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
