// SPDX-License-Identifier: Apache-2.0
/* Unit tests for core/guest_mem: layout around the MMIO hole and bounds checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "core/guest_mem.h"

static void small_memory_is_one_region(void **state)
{
    (void)state;
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 64 * MiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    assert_int_equal(gm.nr_regions, 1);
    assert_int_equal(gm.regions[0].gpa, 0);
    assert_int_equal(gm.regions[0].size, 64 * MiB);
    assert_int_equal(guest_mem_low_end(&gm), 64 * MiB);
    guest_mem_destroy(&gm);
}

static void large_memory_splits_around_hole(void **state)
{
    (void)state;
    struct guest_mem gm;
    /* MAP_NORESERVE: 5 GiB of address space costs nothing until touched. */
    assert_int_equal(guest_mem_init(&gm, 5 * GiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    assert_int_equal(gm.nr_regions, 2);
    assert_int_equal(gm.regions[0].size, 3 * GiB);
    assert_int_equal(gm.regions[1].gpa, 4 * GiB);
    assert_int_equal(gm.regions[1].size, 2 * GiB);
    assert_int_equal(gm.regions[0].size + gm.regions[1].size, gm.ram_size);
    assert_null(guest_mem_ptr(&gm, 3 * GiB, 1));          /* the hole */
    assert_null(guest_mem_ptr(&gm, 3 * GiB - 1, 2));      /* straddles into it */
    assert_non_null(guest_mem_ptr(&gm, 3 * GiB - 1, 1));
    assert_non_null(guest_mem_ptr(&gm, 6 * GiB - 8, 8));
    assert_null(guest_mem_ptr(&gm, 6 * GiB - 8, 9));
    uint64_t v = 0x1122334455667788ULL, back = 0;
    assert_int_equal(guest_mem_write(&gm, 5 * GiB, &v, sizeof(v)), 0);
    assert_int_equal(guest_mem_read(&gm, 5 * GiB, &back, sizeof(back)), 0);
    assert_int_equal(back, v);
    /* High RAM is the continuation of the same host mapping. */
    assert_ptr_equal(guest_mem_ptr(&gm, 4 * GiB, 1), (uint8_t *)guest_mem_ptr(&gm, 0, 1) + 3 * GiB);
    guest_mem_destroy(&gm);
}

static void hostile_ranges_are_refused(void **state)
{
    (void)state;
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 16 * MiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    uint8_t b = 0;
    assert_null(guest_mem_ptr(&gm, UINT64_MAX, 1));
    assert_null(guest_mem_ptr(&gm, 1, UINT64_MAX));
    assert_null(guest_mem_ptr(&gm, 16 * MiB - 4, UINT64_MAX - 2));
    assert_null(guest_mem_ptr(&gm, 16 * MiB, 0));
    assert_int_equal(guest_mem_write(&gm, 16 * MiB, &b, 1), -EFAULT);
    assert_int_equal(guest_mem_read(&gm, UINT64_MAX - 1, &b, 1), -EFAULT);
    guest_mem_destroy(&gm);
}

static void bad_sizes_are_refused(void **state)
{
    (void)state;
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 0, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), -EINVAL);
    assert_int_equal(guest_mem_init(&gm, 4097, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), -EINVAL);
    assert_int_equal(guest_mem_init(&gm, 4096, X86_HIGH_RAM_GPA, X86_MMIO_HOLE_GPA), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_memory_is_one_region),
        cmocka_unit_test(large_memory_splits_around_hole),
        cmocka_unit_test(hostile_ranges_are_refused),
        cmocka_unit_test(bad_sizes_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
