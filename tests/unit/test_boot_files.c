// SPDX-License-Identifier: Apache-2.0
/*
 * boot_load()'s file handling: missing, empty, non-regular and oversized
 * kernel and initrd files are refused with a message naming the file, and a
 * good pair lands in guest memory with the initrd's bytes intact.
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
#include "core/guest_mem.h"

struct tiny_elf {
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    uint8_t code[16];
};

static void tiny_elf(struct tiny_elf *e)
{
    memset(e, 0, sizeof(*e));
    memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
    e->eh.e_ident[EI_CLASS] = ELFCLASS64;
    e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
    e->eh.e_ident[EI_VERSION] = EV_CURRENT;
    e->eh.e_type = ET_EXEC;
    e->eh.e_machine = EM_X86_64;
    e->eh.e_entry = 0x100000;
    e->eh.e_phoff = offsetof(struct tiny_elf, ph);
    e->eh.e_phentsize = sizeof(Elf64_Phdr);
    e->eh.e_phnum = 1;
    e->ph = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = offsetof(struct tiny_elf, code),
                          .p_paddr = 0x100000, .p_filesz = 16, .p_memsz = 16 };
    memset(e->code, 0xf4, sizeof(e->code));   /* hlt */
}

static char *write_temp(const void *data, size_t len)
{
    char *path = strdup("/tmp/casulo-test-files-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    if (len)
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

struct fixture {
    struct guest_mem gm;
    struct boot_info info;
    char err[512];
    char *kernel;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || guest_mem_init(&f->gm, 2 * MiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA))
        return -1;
    struct tiny_elf e;
    tiny_elf(&e);
    f->kernel = write_temp(&e, sizeof(e));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->kernel);
    free(f->kernel);
    guest_mem_destroy(&f->gm);
    free(f);
    return 0;
}

static int load(struct fixture *f, const char *kernel, const char *initrd)
{
    struct boot_request req = { .kernel_path = kernel, .initrd_path = initrd, .cmdline = "hi" };
    f->err[0] = 0;
    return boot_load(&f->gm, &req, &f->info, f->err, sizeof(f->err));
}

static void test_good(void **state)
{
    struct fixture *f = *state;
    uint8_t initrd[5000];
    for (size_t i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i * 3);
    char *ipath = write_temp(initrd, sizeof(initrd));
    assert_int_equal(load(f, f->kernel, ipath), 0);
    assert_int_equal(f->info.format, BOOT_FORMAT_ELF64);
    assert_int_equal(f->info.entry, 0x100000);
    assert_int_equal(f->info.initrd_gpa, 2 * MiB - 8192);
    assert_memory_equal(guest_mem_ptr(&f->gm, f->info.initrd_gpa, sizeof(initrd)), initrd, sizeof(initrd));
    assert_int_equal(*(uint8_t *)guest_mem_ptr(&f->gm, 0x100000, 1), 0xf4);
    unlink(ipath);
    free(ipath);
}

static void test_missing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "/nonexistent/vmlinux", NULL), -ENOENT);
    assert_string_equal(f->err, "cannot open kernel '/nonexistent/vmlinux': No such file or directory");
    assert_int_equal(load(f, f->kernel, "/nonexistent/initrd"), -ENOENT);
    assert_non_null(strstr(f->err, "initrd '/nonexistent/initrd'"));
}

static void test_not_regular(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "/tmp", NULL), -EINVAL);
    assert_string_equal(f->err, "kernel '/tmp' is not a regular file");
    assert_int_equal(load(f, f->kernel, "/tmp"), -EINVAL);
    assert_string_equal(f->err, "initrd '/tmp' is not a regular file");
}

static void test_empty(void **state)
{
    struct fixture *f = *state;
    char *empty = write_temp(NULL, 0);
    assert_int_equal(load(f, empty, NULL), -ENOEXEC);
    assert_non_null(strstr(f->err, "is empty"));
    assert_int_equal(load(f, f->kernel, empty), -ENOEXEC);
    assert_non_null(strstr(f->err, "initrd '"));
    unlink(empty);
    free(empty);
}

static void test_neither_format(void **state)
{
    struct fixture *f = *state;
    const char text[] = "this is not a kernel\n";
    char *p = write_temp(text, sizeof(text));
    assert_int_equal(load(f, p, NULL), -ENOEXEC);
    char want[256];
    snprintf(want, sizeof(want), "kernel '%s' is neither a bzImage nor an ELF64 file", p);
    assert_string_equal(f->err, want);
    unlink(p);
    free(p);
}

static void test_too_large(void **state)
{
    struct fixture *f = *state;
    char *big = write_temp(NULL, 0);
    assert_int_equal(truncate(big, 2 * MiB + 1), 0);
    assert_int_equal(load(f, big, NULL), -EFBIG);
    assert_non_null(strstr(f->err, "(2097153 bytes) does not fit in guest memory (2M)"));
    assert_int_equal(load(f, f->kernel, big), -EFBIG);
    assert_non_null(strstr(f->err, "initrd '"));
    /* Fits in RAM as a file, but not between the kernel and the top of RAM. */
    assert_int_equal(truncate(big, 1 * MiB), 0);
    assert_int_equal(load(f, f->kernel, big), -ENOSPC);
    assert_non_null(strstr(f->err, "(1048576 bytes) does not fit in guest memory (2M)"));
    unlink(big);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_neither_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
