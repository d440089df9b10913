// SPDX-License-Identifier: Apache-2.0
/*
 * ELF64 kernel parsing and loading on synthetic images: every structural
 * rejection, truncation at every length, placement against guest RAM and the
 * boot structures, and the zero page built from scratch for an ELF kernel.
 */
#include <elf.h>
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

#define MAX_PH 80

struct elf_img {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[MAX_PH];
    uint8_t payload[2 * 4096];
};

/* Two PT_LOAD segments (text at 1 MiB, data+bss after it) and a PT_NOTE. */
static void elf_default(struct elf_img *e)
{
    memset(e, 0, sizeof(*e));
    memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
    e->eh.e_ident[EI_CLASS] = ELFCLASS64;
    e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
    e->eh.e_ident[EI_VERSION] = EV_CURRENT;
    e->eh.e_type = ET_EXEC;
    e->eh.e_machine = EM_X86_64;
    e->eh.e_version = EV_CURRENT;
    e->eh.e_entry = 0x100010;
    e->eh.e_phoff = offsetof(struct elf_img, ph);
    e->eh.e_ehsize = sizeof(Elf64_Ehdr);
    e->eh.e_phentsize = sizeof(Elf64_Phdr);
    e->eh.e_phnum = 3;
    uint64_t off = offsetof(struct elf_img, payload);
    e->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = off, .p_vaddr = 0xffffffff80100000ULL,
                             .p_paddr = 0x100000, .p_filesz = 4096, .p_memsz = 4096 };
    e->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0, .p_filesz = 0x7fffffff };
    e->ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = off + 4096, .p_paddr = 0x101000,
                             .p_filesz = 100, .p_memsz = 0x3000 };
    for (size_t i = 0; i < sizeof(e->payload); i++)
        e->payload[i] = (uint8_t)(i * 13 + 1);
}

static int parse(const struct elf_img *e, struct boot_elf *out, char *err)
{
    return boot_elf_parse((const uint8_t *)e, sizeof(*e), out, err, 256);
}

static void expect_reject(const struct elf_img *e, const char *needle)
{
    struct boot_elf out;
    char err[256] = "";
    assert_int_equal(parse(e, &out, err), -ENOEXEC);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_parse_ok(void **state)
{
    struct elf_img e;
    elf_default(&e);
    struct boot_elf out;
    char err[256];
    assert_int_equal(parse(&e, &out, err), 0);
    assert_int_equal(out.entry, 0x100010);
    assert_int_equal(out.nr_segments, 2);
    assert_int_equal(out.segments[0].paddr, 0x100000);
    assert_int_equal(out.segments[1].memsz, 0x3000);
    assert_int_equal(out.low, 0x100000);
    assert_int_equal(out.high, 0x104000);
    assert_int_equal(boot_detect_format((const uint8_t *)&e, sizeof(e)), BOOT_FORMAT_ELF64);
}

/* A "Linux" note in a PT_NOTE segment marks a vmlinux; a hostile note size must not be followed. */
static void test_linux_note(void **state)
{
    struct elf_img e;
    elf_default(&e);
    struct boot_elf out;
    char err[256];
    assert_int_equal(parse(&e, &out, err), 0);
    assert_false(out.linux_note);   /* the default PT_NOTE runs past the file: ignored */

    /* Place two notes in the data segment's file bytes: "Xen" then "Linux". */
    uint64_t off = offsetof(struct elf_img, payload) + 4096;
    uint8_t *p = (uint8_t *)&e + off;
    Elf64_Nhdr xen = { .n_namesz = 4, .n_descsz = 5, .n_type = 1 };
    Elf64_Nhdr lin = { .n_namesz = 6, .n_descsz = 4, .n_type = 2 };
    memcpy(p, &xen, sizeof(xen));
    memcpy(p + 12, "Xen", 4);
    memcpy(p + 12 + 4 + 8, &lin, sizeof(lin));
    memcpy(p + 12 + 4 + 8 + 12, "Linux", 6);
    e.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = off, .p_filesz = 12 + 4 + 8 + 12 + 8 + 4 };
    assert_int_equal(parse(&e, &out, err), 0);
    assert_true(out.linux_note);

    /* A first note whose size claims more than the segment: the scan stops. */
    Elf64_Nhdr huge = { .n_namesz = 0xfffffff0u, .n_descsz = 0xfffffff0u };
    memcpy(p, &huge, sizeof(huge));
    assert_int_equal(parse(&e, &out, err), 0);
    assert_false(out.linux_note);
}

static void test_reject_ident(void **state)
{
    struct elf_img e;
    elf_default(&e);
    e.eh.e_ident[EI_CLASS] = ELFCLASS32;
    expect_reject(&e, "32-bit");
    elf_default(&e);
    e.eh.e_ident[EI_CLASS] = 7;
    expect_reject(&e, "class");
    elf_default(&e);
    e.eh.e_ident[EI_DATA] = ELFDATA2MSB;
    expect_reject(&e, "little-endian");
    elf_default(&e);
    e.eh.e_ident[EI_VERSION] = 0;
    expect_reject(&e, "version");
    elf_default(&e);
    e.eh.e_ident[1] = 'X';
    expect_reject(&e, "not an ELF");
}

static void test_reject_header(void **state)
{
    struct elf_img e;
    elf_default(&e);
    e.eh.e_machine = EM_AARCH64;
    expect_reject(&e, "not x86-64");
    elf_default(&e);
    e.eh.e_type = ET_DYN;
    expect_reject(&e, "ET_EXEC");
    elf_default(&e);
    e.eh.e_phentsize = 32;
    expect_reject(&e, "e_phentsize");
    elf_default(&e);
    e.eh.e_phnum = 0;
    expect_reject(&e, "no program headers");
    elf_default(&e);
    e.eh.e_phnum = BOOT_ELF_MAX_PHNUM + 1;
    expect_reject(&e, "program headers, at most");
    elf_default(&e);
    e.eh.e_phnum = 0xffff;
    expect_reject(&e, "program headers, at most");
    elf_default(&e);
    e.eh.e_phoff = sizeof(e) - 100;
    expect_reject(&e, "program headers at");
    elf_default(&e);
    e.eh.e_phoff = UINT64_MAX - 10;
    expect_reject(&e, "program headers at");
}

static void test_reject_segments(void **state)
{
    struct elf_img e;
    elf_default(&e);
    e.ph[2].p_filesz = e.ph[2].p_memsz + 1;
    expect_reject(&e, "p_filesz");
    elf_default(&e);
    e.ph[2].p_offset = sizeof(e) - 10;
    expect_reject(&e, "runs past the end");
    elf_default(&e);
    e.ph[2].p_offset = UINT64_MAX - 10;
    expect_reject(&e, "runs past the end");
    elf_default(&e);
    e.ph[2].p_paddr = UINT64_MAX - 0x1000;
    expect_reject(&e, "overflows");
    elf_default(&e);
    e.ph[2].p_paddr = 0x100800;
    expect_reject(&e, "overlaps");
    elf_default(&e);
    e.ph[0].p_type = PT_NOTE;
    e.ph[2].p_type = PT_DYNAMIC;
    expect_reject(&e, "no loadable");
    elf_default(&e);
    e.eh.e_entry = 0x101000 + 200;   /* in segment 2's bss, not its file bytes */
    expect_reject(&e, "entry point");
    elf_default(&e);
    e.eh.e_entry = 0xffffffff80100010ULL;   /* virtual: we want the physical entry */
    expect_reject(&e, "entry point");
}

static void test_zero_memsz_ignored(void **state)
{
    struct elf_img e;
    elf_default(&e);
    e.eh.e_phnum = 4;
    e.ph[3] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_paddr = 0x100000, .p_memsz = 0 };
    struct boot_elf out;
    assert_int_equal(parse(&e, &out, NULL), 0);
    assert_int_equal(out.nr_segments, 2);
}

static void test_every_truncation(void **state)
{
    struct elf_img e;
    elf_default(&e);
    struct boot_elf out;
    char err[256];
    /* The last byte of segment 2's file data ends the part the parser depends on. */
    size_t need = offsetof(struct elf_img, payload) + 4096 + 100;
    for (size_t n = 0; n < need; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, &e, n);
        assert_int_not_equal(boot_elf_parse(copy, n, &out, err, sizeof(err)), 0);
        free(copy);
    }
    assert_int_equal(boot_elf_parse((const uint8_t *)&e, need, &out, err, sizeof(err)), 0);
}

static void test_placement(void **state)
{
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 2 * MiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    struct elf_img e;
    struct boot_elf out;
    char err[256];

    elf_default(&e);
    assert_int_equal(parse(&e, &out, err), 0);
    assert_int_equal(boot_elf_check_placement(&out, &gm, err, sizeof(err)), 0);

    elf_default(&e);
    e.ph[0].p_paddr = X86_ZERO_PAGE_GPA;
    e.eh.e_entry = X86_ZERO_PAGE_GPA;
    assert_int_equal(parse(&e, &out, err), 0);
    assert_int_equal(boot_elf_check_placement(&out, &gm, err, sizeof(err)), -ERANGE);
    assert_non_null(strstr(err, "below 1 MiB"));

    elf_default(&e);
    e.ph[2].p_paddr = 2 * MiB - 0x1000;   /* bss runs past the end of RAM */
    assert_int_equal(parse(&e, &out, err), 0);
    assert_int_equal(boot_elf_check_placement(&out, &gm, err, sizeof(err)), -ERANGE);
    assert_non_null(strstr(err, "not inside guest RAM"));

    elf_default(&e);
    e.ph[2].p_paddr = X86_MMIO_HOLE_GPA;
    assert_int_equal(parse(&e, &out, err), 0);
    assert_int_equal(boot_elf_check_placement(&out, &gm, err, sizeof(err)), -ERANGE);
    guest_mem_destroy(&gm);
}

static void test_load_image(void **state)
{
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 8 * MiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    /* Dirty the bss area first: the loader must zero it. */
    memset(guest_mem_ptr(&gm, 0x101000, 0x3000), 0xcc, 0x3000);

    struct elf_img e;
    elf_default(&e);
    struct boot_image img = { .kernel = (const uint8_t *)&e, .kernel_len = sizeof(e),
                              .kernel_name = "vmlinux", .initrd_name = "initrd", .initrd_size = 5000,
                              .cmdline = "root=/dev/vda", .acpi_rsdp_gpa = 0xe0000 };
    struct boot_info info;
    char err[256];
    assert_int_equal(boot_load_image(&gm, &img, &info, err, sizeof(err)), 0);
    assert_int_equal(info.format, BOOT_FORMAT_ELF64);
    assert_int_equal(info.entry, 0x100010);
    assert_int_equal(info.kernel_gpa, 0x100000);
    assert_int_equal(info.kernel_end, 0x104000);
    assert_int_equal(info.boot_params_gpa, X86_ZERO_PAGE_GPA);
    assert_int_equal(info.initrd_gpa, 8 * MiB - 8192);
    assert_int_equal(info.initrd_size, 5000);

    assert_memory_equal(guest_mem_ptr(&gm, 0x100000, 4096), e.payload, 4096);
    const uint8_t *d = guest_mem_ptr(&gm, 0x101000, 0x3000);
    assert_memory_equal(d, e.payload + 4096, 100);
    for (size_t i = 100; i < 0x3000; i++)
        assert_int_equal(d[i], 0);

    const uint8_t *z = guest_mem_ptr(&gm, X86_ZERO_PAGE_GPA, 4096);
    uint32_t v32;
    uint16_t v16;
    uint64_t v64;
    assert_memory_equal(z + 0x202, "HdrS", 4);
    memcpy(&v16, z + 0x206, 2);
    assert_int_equal(v16, 0x020f);
    memcpy(&v16, z + 0x1fe, 2);
    assert_int_equal(v16, 0xaa55);
    assert_int_equal(z[0x210], 0xff);
    assert_int_equal(z[0x211] & 0x81, 0x81);
    memcpy(&v32, z + 0x228, 4);
    assert_int_equal(v32, X86_CMDLINE_GPA);
    memcpy(&v32, z + 0x218, 4);
    assert_int_equal(v32, 8 * MiB - 8192);
    memcpy(&v32, z + 0x21c, 4);
    assert_int_equal(v32, 5000);
    memcpy(&v64, z + 0x70, 8);
    assert_int_equal(v64, 0xe0000);
    assert_int_equal(z[0x1e8], 4);
    assert_string_equal((const char *)guest_mem_ptr(&gm, X86_CMDLINE_GPA, 1), "root=/dev/vda");
    guest_mem_destroy(&gm);
}

static void test_load_image_errors(void **state)
{
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 2 * MiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    struct elf_img e;
    elf_default(&e);
    struct boot_image img = { .kernel = (const uint8_t *)&e, .kernel_len = sizeof(e),
                              .kernel_name = "k.elf", .cmdline = "" };
    struct boot_info info;
    char err[256];

    img.initrd_name = "big.img";
    img.initrd_size = 2 * MiB;
    assert_int_equal(boot_load_image(&gm, &img, &info, err, sizeof(err)), -ENOSPC);
    assert_string_equal(err, "initrd 'big.img' (2097152 bytes) does not fit in guest memory (2M)");

    img.initrd_name = NULL;
    e.ph[2].p_paddr = 3 * MiB;
    assert_int_equal(boot_load_image(&gm, &img, &info, err, sizeof(err)), -ENOSPC);
    assert_non_null(strstr(err, "kernel 'k.elf'"));
    assert_non_null(strstr(err, "does not fit in guest memory (2M)"));

    e.eh.e_machine = EM_386;
    assert_int_equal(boot_load_image(&gm, &img, &info, err, sizeof(err)), -ENOEXEC);
    assert_non_null(strstr(err, "kernel 'k.elf': ELF machine 3"));

    const uint8_t junk[64] = "#!/bin/sh\n";
    img.kernel = junk;
    img.kernel_len = sizeof(junk);
    assert_int_equal(boot_load_image(&gm, &img, &info, err, sizeof(err)), -ENOEXEC);
    assert_string_equal(err, "kernel 'k.elf' is neither a bzImage nor an ELF64 file");
    img.kernel_len = 0;
    assert_int_equal(boot_load_image(&gm, &img, &info, err, sizeof(err)), -ENOEXEC);
    guest_mem_destroy(&gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_reject_ident),
        cmocka_unit_test(test_reject_header),
        cmocka_unit_test(test_reject_segments),
        cmocka_unit_test(test_zero_memsz_ignored),
        cmocka_unit_test(test_linux_note),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_load_image),
        cmocka_unit_test(test_load_image_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
