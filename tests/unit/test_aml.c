// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the AML writer: exact encodings of names, integers, EISA
 * ids and resource descriptors, PkgLength boundaries (checked by decoding
 * what was written), and the sticky -ENOSPC / -EINVAL errors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/aml.h"

#define BUF_CAP 16384

struct aml_fixture {
    uint8_t data[BUF_CAP];
    struct aml_buf b;
};

static struct aml_fixture fx;

static struct aml_buf *fresh(size_t cap)
{
    memset(fx.data, 0xcc, sizeof(fx.data));
    aml_buf_init(&fx.b, fx.data, cap);
    return &fx.b;
}

static void expect_bytes(const struct aml_buf *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->err, 0);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

/* Decodes a PkgLength at p; returns its value and sets *nbytes. */
static size_t decode_pkglen(const uint8_t *p, size_t *nbytes)
{
    size_t follow = p[0] >> 6;
    *nbytes = 1 + follow;
    if (!follow)
        return p[0] & 0x3f;
    size_t v = p[0] & 0x0f;
    for (size_t i = 0; i < follow; i++)
        v |= (size_t)p[1 + i] << (4 + 8 * i);
    return v;
}

static void test_integers(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    aml_integer(b, 0);
    aml_integer(b, 1);
    aml_integer(b, 2);
    aml_integer(b, 0xff);
    aml_integer(b, 0x100);
    aml_integer(b, 0x12345678);
    aml_integer(b, 0x100000000ULL);
    const uint8_t want[] = {
        0x00, 0x01, 0x0a, 0x02, 0x0a, 0xff, 0x0b, 0x00, 0x01,
        0x0c, 0x78, 0x56, 0x34, 0x12,
        0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    };
    expect_bytes(b, want, sizeof(want));
}

static void test_name_strings(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    aml_name_string(b, "_S5");
    aml_name_string(b, "\\_SB.PCI0");
    aml_name_string(b, "^^A.B.C");
    aml_name_string(b, "\\");
    const uint8_t want[] = {
        '_', 'S', '5', '_',
        '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
        '^', '^', 0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_',
        '\\', 0x00,
    };
    expect_bytes(b, want, sizeof(want));
}

static void test_bad_names(void **state)
{
    const char *bad[] = { "1ABC", "ABCDE", "abc", "A..B", "A.", ".A", "\\_SB.", "A-B" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct aml_buf *b = fresh(BUF_CAP);
        aml_name_string(b, bad[i]);
        assert_int_equal(aml_buf_error(b), -EINVAL);
        /* Sticky: later writes do nothing. */
        size_t len = b->len;
        aml_integer(b, 5);
        assert_int_equal(b->len, len);
    }
}

static void test_eisaid(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    aml_eisaid(b, "PNP0501");
    aml_eisaid(b, "PNP0B00");
    const uint8_t want[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01, 0x0c, 0x41, 0xd0, 0x0b, 0x00 };
    expect_bytes(b, want, sizeof(want));

    const char *bad[] = { "PNP050", "PNP05011", "pNP0501", "PNP05G1", "1NP0501" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = fresh(BUF_CAP);
        aml_eisaid(b, bad[i]);
        assert_int_equal(aml_buf_error(b), -EINVAL);
    }
}

static void test_string(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    aml_name_str(b, "_HID", "ACPI0007");
    const uint8_t want[] = { 0x08, '_', 'H', 'I', 'D', 0x0d,
                             'A', 'C', 'P', 'I', '0', '0', '0', '7', 0 };
    expect_bytes(b, want, sizeof(want));
    b = fresh(BUF_CAP);
    aml_string(b, "caf\xc3\xa9");
    assert_int_equal(aml_buf_error(b), -EINVAL);
}

static void test_package_and_method(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    const uint64_t v[] = { 5, 5, 0, 0 };
    aml_name(b, "_S5");
    aml_package_ints(b, v, 4);
    aml_method_return_int(b, "_STA", 0x0f);
    const uint8_t want[] = {
        0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00,
        0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f,
    };
    expect_bytes(b, want, sizeof(want));

    b = fresh(BUF_CAP);
    struct aml_mark m = aml_method_open(b, "_PRW", 8, false);
    aml_close(b, m);
    assert_int_equal(aml_buf_error(b), -EINVAL);
}

/* A scope whose body is n raw bytes: its PkgLength must describe exactly it. */
static void test_pkglen_boundaries(void **state)
{
    static const uint8_t filler[BUF_CAP];
    const size_t sizes[] = { 0, 1, 57, 58, 59, 60, 61, 62, 4080, 4085, 4086, 4090, 9000 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct aml_buf *b = fresh(BUF_CAP);
        struct aml_mark m = aml_scope_open(b, "_SB");
        aml_bytes(b, filler, sizes[i]);
        aml_close(b, m);
        assert_int_equal(b->err, 0);
        assert_int_equal(b->data[0], 0x10);
        size_t nbytes;
        size_t pkglen = decode_pkglen(b->data + 1, &nbytes);
        /* PkgLength counts itself, the name and the body, not the opcode. */
        assert_int_equal(pkglen, b->len - 1);
        assert_int_equal(pkglen, nbytes + 4 + sizes[i]);
        size_t want_nbytes = pkglen <= 0x3f ? 1 : pkglen < 0x1000 ? 2 : 3;
        assert_int_equal(nbytes, want_nbytes);
        assert_memory_equal(b->data + 1 + nbytes, "_SB_", 4);
    }
}

static void test_nested_device(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    struct aml_mark sb = aml_scope_open(b, "\\_SB");
    struct aml_mark dev = aml_device_open(b, "COM1");
    aml_name_int(b, "_UID", 1);
    aml_close(b, dev);
    aml_close(b, sb);
    const uint8_t want[] = {
        0x10, 0x13, '\\', '_', 'S', 'B', '_',
        0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x01,
    };
    expect_bytes(b, want, sizeof(want));
}

static void test_resource_template(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    struct aml_mark m = aml_restemplate_open(b);
    aml_res_io(b, 0x3f8, 8);
    aml_res_irq_noflags(b, 4);
    aml_restemplate_close(b, m);
    const uint8_t want[] = {
        0x11, 0x10, 0x0a, 0x0d,
        0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
        0x22, 0x10, 0x00,
        0x79, 0x00,
    };
    expect_bytes(b, want, sizeof(want));

    b = fresh(BUF_CAP);
    aml_res_irq_noflags(b, 16);
    assert_int_equal(aml_buf_error(b), -EINVAL);
}

/* A buffer large enough to need a WordConst size and a 2-byte PkgLength. */
static void test_big_buffer(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    struct aml_mark m = aml_buffer_open(b);
    for (int i = 0; i < 300; i++)
        aml_u8(b, i);
    aml_close(b, m);
    assert_int_equal(b->err, 0);
    size_t nbytes;
    size_t pkglen = decode_pkglen(b->data + 1, &nbytes);
    assert_int_equal(nbytes, 2);
    assert_int_equal(pkglen, b->len - 1);
    const uint8_t *size = b->data + 1 + nbytes;
    assert_int_equal(size[0], 0x0b);
    assert_int_equal(size[1] | size[2] << 8, 300);
    assert_int_equal(b->len, 1 + 2 + 3 + 300);
    assert_int_equal(size[3 + 299], 299 & 0xff);
}

static void test_large_descriptors(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    aml_res_memory32_fixed(b, 0xd0000000, 0x1000, true);
    aml_res_interrupt(b, AML_IRQ_EDGE, 33);
    aml_res_addr_space(b, 16, AML_ADDR_BUS, 0, 0, 0xff);
    aml_res_addr_space(b, 32, AML_ADDR_MEMORY, AML_ADDR_READWRITE, 0xc0000000, 0xdfffffff);
    aml_res_addr_space(b, 64, AML_ADDR_MEMORY, AML_ADDR_READWRITE, 1ULL << 40,
                       (1ULL << 41) - 1);
    assert_int_equal(b->err, 0);
    assert_int_equal(b->len, 12 + 9 + 16 + 26 + 46);
    const uint8_t *p = b->data;
    const uint8_t mem32[] = { 0x86, 9, 0, 1, 0, 0, 0, 0xd0, 0, 0x10, 0, 0 };
    assert_memory_equal(p, mem32, sizeof(mem32));
    const uint8_t irq[] = { 0x89, 6, 0, 0x03, 1, 33, 0, 0, 0 };
    assert_memory_equal(p + 12, irq, sizeof(irq));
    const uint8_t bus[] = { 0x88, 13, 0, 2, 0x0c, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 1 };
    assert_memory_equal(p + 21, bus, sizeof(bus));
    /* DWord length field: 0x20000000. */
    uint32_t len32;
    memcpy(&len32, p + 37 + 22, 4);
    assert_int_equal(len32, 0x20000000);
    assert_int_equal(p[63], 0x8a);
    assert_int_equal(p[64] | p[65] << 8, 43);
    uint64_t len64;
    memcpy(&len64, p + 63 + 38, 8);
    assert_int_equal(len64, 1ULL << 40);

    b = fresh(BUF_CAP);
    aml_res_addr_space(b, 16, AML_ADDR_IO, AML_ADDR_IO_ENTIRE, 0, 0x10000);
    assert_int_equal(aml_buf_error(b), -EINVAL);
    b = fresh(BUF_CAP);
    aml_res_addr_space(b, 24, AML_ADDR_IO, 0, 0, 1);
    assert_int_equal(aml_buf_error(b), -EINVAL);
    b = fresh(BUF_CAP);
    aml_res_addr_space(b, 32, AML_ADDR_MEMORY, 0, 5, 4);
    assert_int_equal(aml_buf_error(b), -EINVAL);
}

/* Every capacity short of the full size fails with -ENOSPC and no overrun. */
static void test_enospc(void **state)
{
    struct aml_buf *b = fresh(BUF_CAP);
    struct aml_mark m = aml_device_open(b, "COM1");
    aml_name_eisaid(b, "_HID", "PNP0501");
    aml_close(b, m);
    assert_int_equal(b->err, 0);
    size_t need = b->len;
    for (size_t cap = 0; cap < need + 4; cap++) {
        b = fresh(cap);
        m = aml_device_open(b, "COM1");
        aml_name_eisaid(b, "_HID", "PNP0501");
        aml_close(b, m);
        /* The open reserves the longest PkgLength, so 3 spare bytes are needed. */
        if (cap >= need + 3)
            assert_int_equal(b->err, 0);
        else if (cap < need)
            assert_int_equal(b->err, -ENOSPC);
        assert_true(b->len <= cap);
        for (size_t i = cap; i < BUF_CAP; i++)
            assert_int_equal(fx.data[i], 0xcc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_name_strings),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_eisaid),
        cmocka_unit_test(test_string),
        cmocka_unit_test(test_package_and_method),
        cmocka_unit_test(test_pkglen_boundaries),
        cmocka_unit_test(test_nested_device),
        cmocka_unit_test(test_resource_template),
        cmocka_unit_test(test_big_buffer),
        cmocka_unit_test(test_large_descriptors),
        cmocka_unit_test(test_enospc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
