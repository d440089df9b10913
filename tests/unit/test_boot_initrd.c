// SPDX-License-Identifier: Apache-2.0
/*
 * initrd placement: as high as allowed, page aligned, never below the
 * kernel's end, and refusing (not wrapping) when sizes and limits are absurd.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "boot/loader.h"

static void test_top_of_ram(void **state)
{
    uint64_t gpa = 0;
    assert_int_equal(boot_initrd_place(10000, 2 * MiB, 64 * MiB, 0x7fffffff, &gpa), 0);
    assert_int_equal(gpa, (64 * MiB - 10000) & ~4095ULL);
    assert_int_equal(gpa % 4096, 0);
    assert_true(gpa + 10000 <= 64 * MiB);
}

static void test_addr_max_limits(void **state)
{
    uint64_t gpa = 0;
    /* addr_max is the last byte: an initrd may end exactly at addr_max + 1. */
    assert_int_equal(boot_initrd_place(4096, 2 * MiB, 3 * GiB, 0x37ffffff, &gpa), 0);
    assert_int_equal(gpa, 0x38000000 - 4096);
    assert_int_equal(boot_initrd_place(4096, 2 * MiB, 3 * GiB, UINT64_MAX, &gpa), 0);
    assert_int_equal(gpa, 3 * GiB - 4096);
}

static void test_exact_fit_and_one_over(void **state)
{
    uint64_t gpa = 0;
    assert_int_equal(boot_initrd_place(4 * MiB, 4 * MiB, 8 * MiB, 0x7fffffff, &gpa), 0);
    assert_int_equal(gpa, 4 * MiB);
    assert_int_equal(boot_initrd_place(4 * MiB + 1, 4 * MiB, 8 * MiB, 0x7fffffff, &gpa), -ENOSPC);
    /* An unaligned kernel end rounds up to the next page. */
    assert_int_equal(boot_initrd_place(4 * MiB - 4096, 4 * MiB + 1, 8 * MiB, 0x7fffffff, &gpa), 0);
    assert_int_equal(gpa, 4 * MiB + 4096);
    assert_int_equal(boot_initrd_place(4 * MiB - 4095, 4 * MiB + 1, 8 * MiB, 0x7fffffff, &gpa), -ENOSPC);
}

static void test_absurd(void **state)
{
    uint64_t gpa = 0;
    assert_int_equal(boot_initrd_place(0, 1 * MiB, 8 * MiB, 0x7fffffff, &gpa), -EINVAL);
    assert_int_equal(boot_initrd_place(UINT64_MAX, 1 * MiB, 8 * MiB, 0x7fffffff, &gpa), -ENOSPC);
    assert_int_equal(boot_initrd_place(4096, UINT64_MAX, 8 * MiB, 0x7fffffff, &gpa), -ENOSPC);
    assert_int_equal(boot_initrd_place(4096, 16 * MiB, 8 * MiB, 0x7fffffff, &gpa), -ENOSPC);
    assert_int_equal(boot_initrd_place(4096, 1 * MiB, 8 * MiB, 0, &gpa), -ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_of_ram),
        cmocka_unit_test(test_addr_max_limits),
        cmocka_unit_test(test_exact_fit_and_one_over),
        cmocka_unit_test(test_absurd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
