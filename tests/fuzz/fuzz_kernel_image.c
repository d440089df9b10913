// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the kernel loaders: feeds arbitrary bytes to the
 * bzImage and ELF64 parsers and then to boot_load_image() with a small guest,
 * and checks that whatever is accepted was placed inside guest RAM, above
 * the boot structures, with the initrd clear of the kernel.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/loader.h"
#include "core/guest_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RAM (4 * MiB)

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static void fuzz_parsers(const uint8_t *data, size_t size)
{
    char err[256];
    struct boot_bzimage bz;
    if (boot_bzimage_parse(data, size, &bz, err, sizeof(err)) == 0) {
        fuzz_check(bz.setup_len + bz.pm_len == size);
        fuzz_check(bz.syssize_bytes <= bz.pm_len && bz.pm_len > 0);
        uint64_t end;
        if (boot_bzimage_end(&bz, X86_HIMEM_GPA, &end) == 0)
            fuzz_check(end >= X86_HIMEM_GPA + bz.pm_len);
    } else {
        fuzz_check(memchr(err, 0, sizeof(err)) != NULL && err[0] != 0);
    }

    struct boot_elf elf;
    if (boot_elf_parse(data, size, &elf, err, sizeof(err)) == 0) {
        fuzz_check(elf.nr_segments > 0 && elf.nr_segments <= BOOT_ELF_MAX_PHNUM);
        for (unsigned i = 0; i < elf.nr_segments; i++) {
            const struct boot_elf_segment *s = &elf.segments[i];
            fuzz_check(s->filesz <= s->memsz);
            fuzz_check(s->offset <= size && s->filesz <= size - s->offset);
            fuzz_check(s->paddr >= elf.low && s->paddr + s->memsz <= elf.high);
        }
    }
}

static void fuzz_load(const uint8_t *data, size_t size)
{
    struct guest_mem gm;
    if (guest_mem_init(&gm, FUZZ_RAM, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA))
        return;
    /* Vary the initrd size with the input so placement edges get explored. */
    uint64_t initrd_size = size ? ((uint64_t)data[size - 1] << 14) + (size & 0xfff) : 0;
    struct boot_image img = {
        .kernel = data, .kernel_len = size, .kernel_name = "fuzz",
        .initrd_name = initrd_size ? "fuzz-initrd" : NULL, .initrd_size = initrd_size,
        .cmdline = "console=ttyS0", .acpi_rsdp_gpa = X86_ACPI_GPA,
    };
    struct boot_info info;
    char err[512];
    if (boot_load_image(&gm, &img, &info, err, sizeof(err)) == 0) {
        fuzz_check(info.boot_params_gpa == X86_ZERO_PAGE_GPA);
        fuzz_check(info.kernel_gpa >= X86_HIMEM_GPA);
        fuzz_check(info.kernel_end <= FUZZ_RAM);
        fuzz_check(info.entry >= info.kernel_gpa && info.entry < info.kernel_end);
        if (info.initrd_size) {
            fuzz_check(info.initrd_gpa >= info.kernel_end);
            fuzz_check(info.initrd_gpa % 4096 == 0);
            fuzz_check(guest_mem_ptr(&gm, info.initrd_gpa, info.initrd_size) != NULL);
        }
    } else {
        fuzz_check(err[0] != 0);
    }
    guest_mem_destroy(&gm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parsers(data, size);
    fuzz_load(data, size);
    return 0;
}
