// SPDX-License-Identifier: Apache-2.0
/*
 * bzImage parsing and loading, on synthetic images built here field by field
 * at the offsets boot.rst gives (not through our own structs, so a wrong
 * struct layout would show up). Covers every rejection, truncation at every
 * length, and the zero page a successful boot_load() leaves in guest memory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "boot/loader.h"
#include "core/guest_mem.h"

struct bz_opts {
    unsigned setup_sects;
    size_t pm_len;
    uint16_t version;
    uint8_t loadflags;
    uint16_t xloadflags;
    int64_t syssize;          /* -1: derived from pm_len */
    uint32_t initrd_addr_max;
    uint32_t cmdline_size;
    uint32_t kernel_alignment;
    uint8_t relocatable;
    uint64_t pref_address;
    uint32_t init_size;
    uint8_t jump_len;         /* header ends at 0x202 + jump_len */
};

static struct bz_opts bz_defaults(void)
{
    return (struct bz_opts){
        .setup_sects = 4, .pm_len = 8192, .version = 0x020f, .loadflags = 0x01,
        .xloadflags = 0x03, .syssize = -1, .initrd_addr_max = 0x7fffffff, .cmdline_size = 2047,
        .kernel_alignment = 0x200000, .relocatable = 1, .pref_address = 0x1000000,
        .init_size = 0x400000, .jump_len = 0x6a,
    };
}

static void put(uint8_t *b, size_t off, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        b[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *b, size_t off, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)b[off + i] << (8 * i);
    return v;
}

static uint8_t *bz_build(const struct bz_opts *o, size_t *len)
{
    unsigned sects = o->setup_sects ? o->setup_sects : 4;
    size_t setup = (sects + 1) * 512;
    *len = setup + o->pm_len;
    uint8_t *b = calloc(1, *len);
    assert_non_null(b);
    put(b, 0x1f1, o->setup_sects, 1);
    put(b, 0x1f4, o->syssize >= 0 ? (uint64_t)o->syssize : (o->pm_len + 15) / 16, 4);
    put(b, 0x1fa, 0xfffd, 2);            /* vid_mode: the loader overrides it */
    put(b, 0x1fe, 0xaa55, 2);
    put(b, 0x200, 0xeb, 1);
    put(b, 0x201, o->jump_len, 1);
    memcpy(b + 0x202, "HdrS", 4);
    put(b, 0x206, o->version, 2);
    put(b, 0x20e, 0x1234, 2);            /* kernel_version: copied through */
    put(b, 0x211, o->loadflags, 1);
    put(b, 0x214, 0x100000, 4);
    put(b, 0x22c, o->initrd_addr_max, 4);
    put(b, 0x230, o->kernel_alignment, 4);
    put(b, 0x234, o->relocatable, 1);
    put(b, 0x236, o->xloadflags, 2);
    put(b, 0x238, o->cmdline_size, 4);
    put(b, 0x258, o->pref_address, 8);
    put(b, 0x260, o->init_size, 4);
    put(b, 0x268, 0xdeadbeef, 4);        /* kernel_info_offset: past a short header */
    for (size_t i = 0; i < o->pm_len; i++)
        b[setup + i] = (uint8_t)(i * 7 + 3);
    return b;
}

static int bz_parse_opts(const struct bz_opts *o, struct boot_bzimage *bz, char *err, size_t errlen)
{
    size_t len;
    uint8_t *b = bz_build(o, &len);
    int rc = boot_bzimage_parse(b, len, bz, err, errlen);
    free(b);
    return rc;
}

static void expect_reject(const struct bz_opts *o, const char *needle)
{
    struct boot_bzimage bz;
    char err[256] = "";
    assert_int_equal(bz_parse_opts(o, &bz, err, sizeof(err)), -ENOEXEC);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_parse_ok(void **state)
{
    struct bz_opts o = bz_defaults();
    struct boot_bzimage bz;
    char err[256];
    assert_int_equal(bz_parse_opts(&o, &bz, err, sizeof(err)), 0);
    assert_int_equal(bz.version, 0x020f);
    assert_int_equal(bz.setup_sects, 4);
    assert_int_equal(bz.setup_len, 5 * 512);
    assert_int_equal(bz.pm_len, 8192);
    assert_int_equal(bz.syssize_bytes, 8192);
    assert_int_equal(bz.initrd_addr_max, 0x7fffffff);
    assert_int_equal(bz.cmdline_size, 2047);
    assert_true(bz.relocatable);
    assert_int_equal(bz.kernel_alignment, 0x200000);
    assert_int_equal(bz.pref_address, 0x1000000);
    assert_int_equal(bz.init_size, 0x400000);
    assert_true(bz.xloadflags & 1);
}

static void test_setup_sects_zero_means_four(void **state)
{
    struct bz_opts o = bz_defaults();
    o.setup_sects = 0;
    struct boot_bzimage bz;
    assert_int_equal(bz_parse_opts(&o, &bz, NULL, 0), 0);
    assert_int_equal(bz.setup_sects, 4);
    assert_int_equal(bz.setup_len, 2560);

    o.setup_sects = 30;
    assert_int_equal(bz_parse_opts(&o, &bz, NULL, 0), 0);
    assert_int_equal(bz.setup_len, 31 * 512);
}

static void test_initrd_addr_max_default(void **state)
{
    struct bz_opts o = bz_defaults();
    o.initrd_addr_max = 0;
    struct boot_bzimage bz;
    assert_int_equal(bz_parse_opts(&o, &bz, NULL, 0), 0);
    assert_int_equal(bz.initrd_addr_max, BOOT_DEFAULT_INITRD_MAX);
    o.initrd_addr_max = 0x37ffffff;
    assert_int_equal(bz_parse_opts(&o, &bz, NULL, 0), 0);
    assert_int_equal(bz.initrd_addr_max, 0x37ffffff);
}

static void test_reject_no_magic(void **state)
{
    size_t len;
    struct bz_opts o = bz_defaults();
    uint8_t *b = bz_build(&o, &len);
    b[0x203] = 'x';
    struct boot_bzimage bz;
    char err[128];
    assert_int_equal(boot_bzimage_parse(b, len, &bz, err, sizeof(err)), -ENOEXEC);
    assert_non_null(strstr(err, "HdrS"));
    assert_int_equal(boot_detect_format(b, len), BOOT_FORMAT_NONE);
    free(b);
}

static void test_reject_old_protocol(void **state)
{
    struct bz_opts o = bz_defaults();
    o.version = 0x0205;
    expect_reject(&o, "2.05 is too old");
    o.version = 0x0206;   /* accepted as a header, but has no xloadflags: no 64-bit entry */
    expect_reject(&o, "64-bit");
    o.version = 0x020b;
    expect_reject(&o, "64-bit");
}

static void test_reject_no_64bit(void **state)
{
    struct bz_opts o = bz_defaults();
    o.xloadflags = 0x02;
    expect_reject(&o, "XLF_KERNEL_64");
}

static void test_reject_not_loaded_high(void **state)
{
    struct bz_opts o = bz_defaults();
    o.loadflags = 0x80;
    expect_reject(&o, "LOADED_HIGH");
}

static void test_reject_truncated_setup(void **state)
{
    struct bz_opts o = bz_defaults();
    o.setup_sects = 40;  /* 41 sectors of setup, but the file is shorter */
    o.pm_len = 0;
    size_t len;
    uint8_t *b = bz_build(&o, &len);
    struct boot_bzimage bz;
    char err[256];
    assert_int_equal(boot_bzimage_parse(b, 4096, &bz, err, sizeof(err)), -ENOEXEC);
    assert_non_null(strstr(err, "setup area"));
    free(b);
}

static void test_reject_no_pm(void **state)
{
    struct bz_opts o = bz_defaults();
    o.pm_len = 0;
    o.syssize = 1;
    expect_reject(&o, "no protected-mode kernel");
    o.pm_len = 0x200;
    expect_reject(&o, "ends before its 64-bit entry");
    o.pm_len = 0x201;
    struct boot_bzimage bz;
    assert_int_equal(bz_parse_opts(&o, &bz, NULL, 0), 0);
}

static void test_reject_syssize(void **state)
{
    struct bz_opts o = bz_defaults();
    o.syssize = 8192 / 16 + 1;
    expect_reject(&o, "syssize says 8208 bytes");
    o.syssize = 0;
    expect_reject(&o, "syssize is 0");
    o.syssize = 0xffffffff;  /* * 16 must not wrap */
    expect_reject(&o, "syssize says");
}

static void test_reject_bad_alignment(void **state)
{
    struct bz_opts o = bz_defaults();
    o.kernel_alignment = 0x300000;
    expect_reject(&o, "kernel_alignment");
    o.kernel_alignment = 0;
    expect_reject(&o, "kernel_alignment");
    o.relocatable = 0;   /* alignment is irrelevant to a fixed-address kernel */
    struct boot_bzimage bz;
    assert_int_equal(bz_parse_opts(&o, &bz, NULL, 0), 0);
}

static void test_reject_pref_overflow(void **state)
{
    struct bz_opts o = bz_defaults();
    o.pref_address = UINT64_MAX - 10;
    expect_reject(&o, "overflows");
}

/* Every prefix of a valid image is rejected cleanly (and under ASan, read in bounds). */
static void test_every_truncation(void **state)
{
    struct bz_opts o = bz_defaults();
    o.pm_len = 1024;
    size_t len;
    uint8_t *b = bz_build(&o, &len);
    struct boot_bzimage bz;
    char err[256];
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b, n);
        assert_int_not_equal(boot_bzimage_parse(copy, n, &bz, err, sizeof(err)), 0);
        free(copy);
    }
    assert_int_equal(boot_bzimage_parse(b, len, &bz, err, sizeof(err)), 0);
    free(b);
}

static void test_end(void **state)
{
    struct bz_opts o = bz_defaults();
    struct boot_bzimage bz;
    uint64_t end;
    assert_int_equal(bz_parse_opts(&o, &bz, NULL, 0), 0);
    /* Relocatable: runs at max(align_up(1M, 2M), pref 16M) = 16M, needs init_size from there. */
    assert_int_equal(boot_bzimage_end(&bz, X86_HIMEM_GPA, &end), 0);
    assert_int_equal(end, 0x1000000 + 0x400000);

    bz.pref_address = 0;
    assert_int_equal(boot_bzimage_end(&bz, X86_HIMEM_GPA, &end), 0);
    assert_int_equal(end, 0x200000 + 0x400000);

    bz.init_size = 0;   /* still reserves up to where it would run */
    assert_int_equal(boot_bzimage_end(&bz, X86_HIMEM_GPA, &end), 0);
    assert_int_equal(end, 0x200000);
    bz.relocatable = false;   /* the image itself is then the larger */
    assert_int_equal(boot_bzimage_end(&bz, X86_HIMEM_GPA, &end), 0);
    assert_int_equal(end, X86_HIMEM_GPA + 8192);

    bz.relocatable = false;
    bz.pref_address = 0x1000000;
    bz.init_size = 0x10;
    assert_int_equal(boot_bzimage_end(&bz, X86_HIMEM_GPA, &end), 0);
    assert_int_equal(end, 0x1000010);

    bz.relocatable = true;
    assert_int_equal(boot_bzimage_end(&bz, UINT64_MAX - 4096, &end), -ERANGE);
    assert_int_equal(boot_bzimage_end(&bz, UINT64_MAX - 3 * 8192, &end), -ERANGE);
}

static char *write_temp(const void *data, size_t len)
{
    char *path = strdup("/tmp/casulo-test-bz-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

struct loaded {
    struct guest_mem gm;
    struct boot_info info;
    char err[512];
    int rc;
};

static void load_bz(struct loaded *l, const struct bz_opts *o, uint64_t ram, const char *cmdline,
                    size_t initrd_len, uint64_t rsdp)
{
    size_t len;
    uint8_t *b = bz_build(o, &len);
    char *kpath = write_temp(b, len);
    char *ipath = NULL;
    if (initrd_len) {
        uint8_t *initrd = malloc(initrd_len);
        for (size_t i = 0; i < initrd_len; i++)
            initrd[i] = (uint8_t)(i ^ 0x5a);
        ipath = write_temp(initrd, initrd_len);
        free(initrd);
    }
    assert_int_equal(guest_mem_init(&l->gm, ram, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    struct boot_request req = { .kernel_path = kpath, .initrd_path = ipath, .cmdline = cmdline,
                                .acpi_rsdp_gpa = rsdp };
    l->err[0] = 0;
    l->rc = boot_load(&l->gm, &req, &l->info, l->err, sizeof(l->err));
    unlink(kpath);
    if (ipath)
        unlink(ipath);
    free(kpath);
    free(ipath);
    free(b);
}

static const uint8_t *zp(const struct loaded *l)
{
    const uint8_t *p = guest_mem_ptr(&l->gm, X86_ZERO_PAGE_GPA, 4096);
    assert_non_null(p);
    return p;
}

static void test_load_zero_page(void **state)
{
    struct bz_opts o = bz_defaults();
    o.jump_len = 0x66;     /* header ends at 0x268: kernel_info_offset is not copied */
    struct loaded l;
    load_bz(&l, &o, 64 * MiB, "console=ttyS0 quiet", 10000, 0xe0000);
    assert_int_equal(l.rc, 0);
    const uint8_t *z = zp(&l);

    assert_int_equal(l.info.format, BOOT_FORMAT_BZIMAGE);
    assert_int_equal(l.info.entry, 0x100200);
    assert_int_equal(l.info.boot_params_gpa, X86_ZERO_PAGE_GPA);
    assert_int_equal(l.info.kernel_gpa, 0x100000);
    assert_int_equal(l.info.kernel_end, 0x100000 + 8192);

    /* The protected-mode part, byte for byte, at 1 MiB. */
    const uint8_t *k = guest_mem_ptr(&l.gm, 0x100000, 8192);
    for (size_t i = 0; i < 8192; i++)
        assert_int_equal(k[i], (uint8_t)(i * 7 + 3));

    /* Copied header fields. */
    assert_memory_equal(z + 0x202, "HdrS", 4);
    assert_int_equal(get(z, 0x206, 2), 0x020f);
    assert_int_equal(get(z, 0x20e, 2), 0x1234);
    assert_int_equal(get(z, 0x1fe, 2), 0xaa55);
    assert_int_equal(get(z, 0x238, 4), 2047);
    assert_int_equal(get(z, 0x258, 8), 0x1000000);
    assert_int_equal(get(z, 0x268, 4), 0);
    /* Loader fields. */
    assert_int_equal(z[0x210], 0xff);
    assert_int_equal(z[0x211], 0x81);
    assert_int_equal(get(z, 0x224, 2), 0xfe00);
    assert_int_equal(get(z, 0x1fa, 2), 0xffff);
    assert_int_equal(get(z, 0x228, 4), X86_CMDLINE_GPA);
    assert_int_equal(get(z, 0x0c8, 4), 0);
    assert_string_equal((const char *)guest_mem_ptr(&l.gm, X86_CMDLINE_GPA, 1), "console=ttyS0 quiet");
    assert_int_equal(get(z, 0x070, 8), 0xe0000);
    assert_int_equal(z[0x1ef], 0);   /* sentinel: we hand over a clean zero page */

    /* The initrd at the top of RAM, page aligned, with its bytes. */
    uint64_t want = (64 * MiB - 10000) & ~4095ULL;
    assert_int_equal(l.info.initrd_gpa, want);
    assert_int_equal(l.info.initrd_size, 10000);
    assert_int_equal(get(z, 0x218, 4), want);
    assert_int_equal(get(z, 0x21c, 4), 10000);
    assert_int_equal(get(z, 0x0c0, 4), 0);
    assert_int_equal(get(z, 0x0c4, 4), 0);
    const uint8_t *ird = guest_mem_ptr(&l.gm, want, 10000);
    for (size_t i = 0; i < 10000; i++)
        assert_int_equal(ird[i], (uint8_t)(i ^ 0x5a));

    /* e820: 4 entries, the last RAM one ends at 64 MiB. */
    assert_int_equal(z[0x1e8], 4);
    assert_int_equal(get(z, 0x2d0, 8), 0);
    assert_int_equal(get(z, 0x2d0 + 8, 8), X86_EBDA_GPA);
    assert_int_equal(get(z, 0x2d0 + 16, 4), 1);
    assert_int_equal(get(z, 0x2d0 + 20, 8), X86_EBDA_GPA);
    assert_int_equal(get(z, 0x2d0 + 36, 4), 2);
    assert_int_equal(get(z, 0x2d0 + 40, 8), 1 * MiB);
    assert_int_equal(get(z, 0x2d0 + 48, 8), 63 * MiB);
    guest_mem_destroy(&l.gm);
}

static void test_load_initrd_respects_addr_max(void **state)
{
    struct bz_opts o = bz_defaults();
    o.initrd_addr_max = 0x2000fff;   /* last byte at 32 MiB + 4095 */
    struct loaded l;
    load_bz(&l, &o, 64 * MiB, "", 8192, 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.info.initrd_gpa, 0x2001000 - 8192);
    assert_int_equal(get(zp(&l), 0x070, 8), 0);   /* no RSDP given */
    guest_mem_destroy(&l.gm);
}

static void test_load_rsdp_needs_214(void **state)
{
    struct bz_opts o = bz_defaults();
    o.version = 0x020d;
    struct loaded l;
    load_bz(&l, &o, 64 * MiB, "", 0, 0xe0000);
    assert_int_equal(l.rc, 0);
    assert_int_equal(get(zp(&l), 0x070, 8), 0);
    guest_mem_destroy(&l.gm);
}

static void test_load_cmdline_too_long(void **state)
{
    struct bz_opts o = bz_defaults();
    o.cmdline_size = 10;
    struct loaded l;
    load_bz(&l, &o, 64 * MiB, "0123456789", 0, 0);
    assert_int_equal(l.rc, 0);
    guest_mem_destroy(&l.gm);
    load_bz(&l, &o, 64 * MiB, "0123456789a", 0, 0);
    assert_int_equal(l.rc, -E2BIG);
    assert_non_null(strstr(l.err, "command line is 11 bytes"));
    assert_non_null(strstr(l.err, "at most 10"));
    guest_mem_destroy(&l.gm);

    /* Even a kernel that claims more is held to our 64 KiB buffer. */
    o.cmdline_size = 0x7fffffff;
    char *big = malloc(X86_CMDLINE_MAX + 1);
    memset(big, 'a', X86_CMDLINE_MAX);
    big[X86_CMDLINE_MAX] = 0;
    load_bz(&l, &o, 64 * MiB, big, 0, 0);
    assert_int_equal(l.rc, -E2BIG);
    guest_mem_destroy(&l.gm);
    big[X86_CMDLINE_MAX - 1] = 0;
    load_bz(&l, &o, 64 * MiB, big, 0, 0);
    assert_int_equal(l.rc, 0);
    guest_mem_destroy(&l.gm);
    free(big);
}

static void test_load_initrd_too_big(void **state)
{
    struct bz_opts o = bz_defaults();
    struct loaded l;
    /* Kernel reserves up to 20 MiB; 24 MiB of RAM leaves 4 MiB, so 4 MiB + 1 fails. */
    load_bz(&l, &o, 24 * MiB, "", 4 * MiB, 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.info.initrd_gpa, 20 * MiB);
    guest_mem_destroy(&l.gm);
    load_bz(&l, &o, 24 * MiB, "", 4 * MiB + 1, 0);
    assert_int_equal(l.rc, -ENOSPC);
    assert_non_null(strstr(l.err, "initrd '"));
    assert_non_null(strstr(l.err, "(4194305 bytes) does not fit in guest memory (24M)"));
    guest_mem_destroy(&l.gm);
}

static void test_load_kernel_too_big(void **state)
{
    struct bz_opts o = bz_defaults();
    struct loaded l;
    /* init_size says the kernel needs up to 20 MiB. */
    load_bz(&l, &o, 16 * MiB, "", 0, 0);
    assert_int_equal(l.rc, -ENOSPC);
    assert_non_null(strstr(l.err, "does not fit in guest memory (16M)"));
    guest_mem_destroy(&l.gm);

    /* A file larger than all of guest RAM is refused before it is read. */
    o.pm_len = 3 * MiB;
    o.init_size = 0;
    load_bz(&l, &o, 2 * MiB, "", 0, 0);
    assert_int_equal(l.rc, -EFBIG);
    assert_non_null(strstr(l.err, "does not fit in guest memory (2M)"));
    guest_mem_destroy(&l.gm);
}

static void test_load_tiny_memory(void **state)
{
    struct bz_opts o = bz_defaults();
    o.pref_address = 0;
    o.init_size = 0;
    o.kernel_alignment = 0x1000;
    struct loaded l;
    load_bz(&l, &o, 2 * MiB, "x", 4096, 0);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.info.initrd_gpa, 2 * MiB - 4096);
    guest_mem_destroy(&l.gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_setup_sects_zero_means_four),
        cmocka_unit_test(test_initrd_addr_max_default),
        cmocka_unit_test(test_reject_no_magic),
        cmocka_unit_test(test_reject_old_protocol),
        cmocka_unit_test(test_reject_no_64bit),
        cmocka_unit_test(test_reject_not_loaded_high),
        cmocka_unit_test(test_reject_truncated_setup),
        cmocka_unit_test(test_reject_no_pm),
        cmocka_unit_test(test_reject_syssize),
        cmocka_unit_test(test_reject_bad_alignment),
        cmocka_unit_test(test_reject_pref_overflow),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_end),
        cmocka_unit_test(test_load_zero_page),
        cmocka_unit_test(test_load_initrd_respects_addr_max),
        cmocka_unit_test(test_load_rsdp_needs_214),
        cmocka_unit_test(test_load_cmdline_too_long),
        cmocka_unit_test(test_load_initrd_too_big),
        cmocka_unit_test(test_load_kernel_too_big),
        cmocka_unit_test(test_load_tiny_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
