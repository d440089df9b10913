// SPDX-License-Identifier: Apache-2.0
/*
 * The e820 map for the memory sizes that exercise each edge of the layout:
 * the 2 MiB minimum, ordinary sizes, exactly the hole start, one page over it
 * (which creates a region at 4 GiB), and large memory split across the hole.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "core/guest_mem.h"

struct expect { uint64_t addr, size; uint32_t type; };

static void check_map(uint64_t ram, const struct expect *want, unsigned nwant)
{
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, ram, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    struct e820_entry e[16];
    int n = x86_e820_build(&gm, e, 16);
    assert_int_equal(n, (int)nwant);

    uint64_t ram_total = 0;
    for (unsigned i = 0; i < nwant; i++) {
        assert_int_equal(e[i].addr, want[i].addr);
        assert_int_equal(e[i].size, want[i].size);
        assert_int_equal(e[i].type, want[i].type);
        if (i)
            assert_true(e[i - 1].addr + e[i - 1].size <= e[i].addr);
        if (e[i].type == E820_TYPE_RAM) {
            ram_total += e[i].size;
            /* Every RAM byte claimed must be backed by guest memory, never the hole. */
            assert_non_null(guest_mem_ptr(&gm, e[i].addr, e[i].size));
            assert_true(e[i].addr + e[i].size <= X86_MMIO_HOLE_GPA || e[i].addr >= X86_MMIO_HOLE_END);
        }
    }
    /* All RAM is reported except the legacy window below 1 MiB. */
    assert_int_equal(ram_total, ram - (X86_HIMEM_GPA - X86_EBDA_GPA));
    guest_mem_destroy(&gm);
}

#define RAM(a, s) { (a), (s), E820_TYPE_RAM }
#define RES(a, s) { (a), (s), E820_TYPE_RESERVED }
#define LOW RAM(0, X86_EBDA_GPA), RES(X86_EBDA_GPA, X86_HIMEM_GPA - X86_EBDA_GPA)
#define ECAM RES(X86_PCI_ECAM_GPA, X86_PCI_ECAM_SIZE)

static void test_2m(void **state)
{
    const struct expect w[] = { LOW, RAM(1 * MiB, 1 * MiB), ECAM };
    check_map(2 * MiB, w, ARRAY_SIZE(w));
}

static void test_512m(void **state)
{
    const struct expect w[] = { LOW, RAM(1 * MiB, 511 * MiB), ECAM };
    check_map(512 * MiB, w, ARRAY_SIZE(w));
}

static void test_3g(void **state)
{
    const struct expect w[] = { LOW, RAM(1 * MiB, 3 * GiB - 1 * MiB), ECAM };
    check_map(3 * GiB, w, ARRAY_SIZE(w));
}

static void test_3g_plus_page(void **state)
{
    const struct expect w[] = { LOW, RAM(1 * MiB, 3 * GiB - 1 * MiB), ECAM, RAM(4 * GiB, 4096) };
    check_map(3 * GiB + 4096, w, ARRAY_SIZE(w));
}

static void test_4g(void **state)
{
    const struct expect w[] = { LOW, RAM(1 * MiB, 3 * GiB - 1 * MiB), ECAM, RAM(4 * GiB, 1 * GiB) };
    check_map(4 * GiB, w, ARRAY_SIZE(w));
}

static void test_8g(void **state)
{
    const struct expect w[] = { LOW, RAM(1 * MiB, 3 * GiB - 1 * MiB), ECAM, RAM(4 * GiB, 5 * GiB) };
    check_map(8 * GiB, w, ARRAY_SIZE(w));
}

static void test_no_room(void **state)
{
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 4 * GiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    struct e820_entry e[5];
    assert_int_equal(x86_e820_build(&gm, e, 4), -ENOSPC);
    assert_int_equal(x86_e820_build(&gm, e, 5), 5);
    assert_int_equal(x86_e820_build(&gm, e, 0), -ENOSPC);
    guest_mem_destroy(&gm);
}

static void test_empty(void **state)
{
    struct guest_mem gm = { 0 };
    struct e820_entry e[8];
    assert_int_equal(x86_e820_build(&gm, e, 8), -EINVAL);
}

/* RAM laid over the ECAM window (an unusual hole) must not also be called reserved. */
static void test_ecam_covered_by_ram(void **state)
{
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 4 * GiB, 4 * GiB, 4 * GiB), 0);
    struct e820_entry e[8];
    int n = x86_e820_build(&gm, e, 8);
    assert_int_equal(n, 3);
    assert_int_equal(e[2].addr, 1 * MiB);
    assert_int_equal(e[2].size, 4 * GiB - 1 * MiB);
    guest_mem_destroy(&gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_2m),
        cmocka_unit_test(test_512m),
        cmocka_unit_test(test_3g),
        cmocka_unit_test(test_3g_plus_page),
        cmocka_unit_test(test_4g),
        cmocka_unit_test(test_8g),
        cmocka_unit_test(test_no_room),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_ecam_covered_by_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
