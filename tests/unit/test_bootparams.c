// SPDX-License-Identifier: Apache-2.0
/*
 * The zero-page helpers on their own: how much of a setup area is copied
 * (the jump at 0x200 gives the header's length, clipped to the file and to
 * the header area), the fields a loader sets, 64-bit initrd and command-line
 * addresses split into their ext_ halves, and the e820 table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/bootparams.h"
#include "arch/x86/layout.h"
#include "core/guest_mem.h"

#define SETUP_LEN 8192

static void fill_setup(uint8_t *setup, uint8_t jump_len)
{
    for (size_t i = 0; i < SETUP_LEN; i++)
        setup[i] = (uint8_t)(i | 1);   /* never 0, so a copied byte is visible */
    setup[0x200] = 0xeb;
    setup[0x201] = jump_len;
}

static void test_from_setup_length(void **state)
{
    struct x86_boot_params bp;
    const uint8_t *raw = (const uint8_t *)&bp;
    uint8_t setup[SETUP_LEN];

    fill_setup(setup, 0x66);
    x86_bootparams_from_setup(&bp, setup, SETUP_LEN);
    assert_int_equal(raw[0x1f0], 0);
    assert_int_equal(raw[0x1f1], setup[0x1f1]);
    assert_int_equal(raw[0x267], setup[0x267]);
    assert_int_equal(raw[0x268], 0);   /* past 0x202 + 0x66 */
    assert_int_equal(raw[0x000], 0);

    /* The longest jump would run past the header area: clipped at 0x290. */
    fill_setup(setup, 0xff);
    x86_bootparams_from_setup(&bp, setup, SETUP_LEN);
    assert_int_equal(raw[0x28f], setup[0x28f]);
    assert_int_equal(raw[0x290], 0);

    /* Clipped to what the caller says exists. */
    fill_setup(setup, 0x6a);
    x86_bootparams_from_setup(&bp, setup, 0x210);
    assert_int_equal(raw[0x20f], setup[0x20f]);
    assert_int_equal(raw[0x210], 0);

    /* Too short to hold even the magic: nothing copied. */
    x86_bootparams_from_setup(&bp, setup, 0x201);
    for (size_t i = 0; i < sizeof(bp); i++)
        assert_int_equal(raw[i], 0);
}

static void test_minimal_and_loader(void **state)
{
    struct x86_boot_params bp;
    x86_bootparams_minimal(&bp);
    x86_bootparams_set_loader(&bp);
    const uint8_t *raw = (const uint8_t *)&bp;
    assert_memory_equal(raw + 0x202, "HdrS", 4);
    assert_int_equal(bp.hdr.version, 0x020f);
    assert_int_equal(raw[0x206], 0x0f);
    assert_int_equal(raw[0x207], 0x02);
    assert_int_equal(raw[0x1fe], 0x55);
    assert_int_equal(raw[0x1ff], 0xaa);
    assert_int_equal(raw[0x210], 0xff);
    assert_int_equal(raw[0x211], X86_LOADED_HIGH | X86_CAN_USE_HEAP);
    assert_int_equal(raw[0x224] | raw[0x225] << 8, 0xfe00);
    assert_int_equal(raw[0x1fa] | raw[0x1fb] << 8, 0xffff);
    assert_int_equal(bp.hdr.cmdline_size, X86_CMDLINE_MAX - 1);
    assert_int_equal(bp.hdr.initrd_addr_max, 0x7fffffff);
}

static void test_high_addresses_split(void **state)
{
    struct x86_boot_params bp;
    x86_bootparams_minimal(&bp);
    x86_bootparams_set_initrd(&bp, 0x123456000ULL, 0x200001000ULL);
    x86_bootparams_set_cmdline(&bp, 0x400020000ULL);
    const uint8_t *raw = (const uint8_t *)&bp;
    uint32_t v;
    memcpy(&v, raw + 0x218, 4);
    assert_int_equal(v, 0x23456000);
    memcpy(&v, raw + 0x0c0, 4);
    assert_int_equal(v, 0x1);
    memcpy(&v, raw + 0x21c, 4);
    assert_int_equal(v, 0x00001000);
    memcpy(&v, raw + 0x0c4, 4);
    assert_int_equal(v, 0x2);
    memcpy(&v, raw + 0x228, 4);
    assert_int_equal(v, 0x00020000);
    memcpy(&v, raw + 0x0c8, 4);
    assert_int_equal(v, 0x4);
}

static void test_e820(void **state)
{
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 4 * GiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    struct x86_boot_params bp;
    x86_bootparams_minimal(&bp);
    assert_int_equal(x86_bootparams_set_e820(&bp, &gm), 0);
    const uint8_t *raw = (const uint8_t *)&bp;
    assert_int_equal(raw[0x1e8], 5);
    /* Entry 4: RAM at 4 GiB, 1 GiB long. */
    uint64_t addr, size;
    uint32_t type;
    memcpy(&addr, raw + 0x2d0 + 4 * 20, 8);
    memcpy(&size, raw + 0x2d0 + 4 * 20 + 8, 8);
    memcpy(&type, raw + 0x2d0 + 4 * 20 + 16, 4);
    assert_int_equal(addr, 4 * GiB);
    assert_int_equal(size, 1 * GiB);
    assert_int_equal(type, E820_TYPE_RAM);
    guest_mem_destroy(&gm);

    struct guest_mem empty = { 0 };
    assert_int_equal(x86_bootparams_set_e820(&bp, &empty), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_setup_length),
        cmocka_unit_test(test_minimal_and_loader),
        cmocka_unit_test(test_high_addresses_split),
        cmocka_unit_test(test_e820),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
