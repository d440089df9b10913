// SPDX-License-Identifier: Apache-2.0
/*
 * Placing a kernel image that is already in host memory into guest RAM, and
 * describing it to the kernel in the zero page. Shared by boot_load() (which
 * reads the files) and the fuzzer, so the placement rules are exercised on
 * hostile images without touching the file system.
 */
#include "boot/loader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/bootparams.h"
#include "arch/x86/layout.h"
#include "core/guest_mem.h"
#include "util/size.h"
#include "util/error.h"

struct load_state {
    struct x86_boot_params bp;
    uint64_t cmdline_max;      /* longest command line, NUL excluded */
    uint64_t initrd_addr_max;
    uint64_t reserved_end;     /* nothing else may go below this */
    bool rsdp_field;           /* the kernel reads acpi_rsdp_addr */
};

static int load_bzimage(struct guest_mem *gm, const struct boot_image *img, struct load_state *st,
                        struct boot_info *out, char *err, size_t errlen)
{
    char why[256], ram[32];
    struct boot_bzimage bz;
    int rc = boot_bzimage_parse(img->kernel, img->kernel_len, &bz, why, sizeof(why));
    if (rc)
        return error_set(err, errlen, rc, "kernel '%s': %s", img->kernel_name, why);

    uint64_t end;
    size_format(gm->ram_size, ram, sizeof(ram));
    if (boot_bzimage_end(&bz, X86_HIMEM_GPA, &end) ||
        !guest_mem_ptr(gm, X86_HIMEM_GPA, end - X86_HIMEM_GPA))
        return error_set(err, errlen, -ENOSPC,
                         "kernel '%s' (%zu bytes) does not fit in guest memory (%s): "
                         "it needs [0x%llx, 0x%llx) with room to decompress",
                         img->kernel_name, img->kernel_len, ram,
                         (unsigned long long)X86_HIMEM_GPA, (unsigned long long)end);
    rc = guest_mem_write(gm, X86_HIMEM_GPA, img->kernel + bz.setup_len, bz.pm_len);
    if (rc)
        return error_set(err, errlen, rc, "kernel '%s': cannot write guest memory", img->kernel_name);

    x86_bootparams_from_setup(&st->bp, img->kernel, bz.setup_len);
    st->cmdline_max = MIN((uint64_t)bz.cmdline_size, X86_CMDLINE_MAX - 1);
    st->initrd_addr_max = bz.initrd_addr_max;
    st->reserved_end = end;
    st->rsdp_field = bz.version >= BOOT_RSDP_PROTOCOL;

    out->format = BOOT_FORMAT_BZIMAGE;
    out->linux_kernel = true;
    out->entry = X86_HIMEM_GPA + BOOT_BZ_ENTRY64_OFFSET;
    out->kernel_gpa = X86_HIMEM_GPA;
    out->kernel_end = X86_HIMEM_GPA + bz.pm_len;
    return 0;
}

static int load_elf(struct guest_mem *gm, const struct boot_image *img, struct load_state *st,
                    struct boot_info *out, char *err, size_t errlen)
{
    char why[256], ram[32];
    struct boot_elf elf;
    int rc = boot_elf_parse(img->kernel, img->kernel_len, &elf, why, sizeof(why));
    if (rc)
        return error_set(err, errlen, rc, "kernel '%s': %s", img->kernel_name, why);
    rc = boot_elf_check_placement(&elf, gm, why, sizeof(why));
    if (rc) {
        size_format(gm->ram_size, ram, sizeof(ram));
        return error_set(err, errlen, -ENOSPC, "kernel '%s' (%zu bytes) does not fit in guest memory (%s): %s",
                         img->kernel_name, img->kernel_len, ram, why);
    }
    for (unsigned i = 0; i < elf.nr_segments; i++) {
        const struct boot_elf_segment *s = &elf.segments[i];
        uint8_t *dst = guest_mem_ptr(gm, s->paddr, s->memsz);
        if (!dst)
            return error_set(err, errlen, -EFAULT, "kernel '%s': cannot write guest memory",
                             img->kernel_name);
        memcpy(dst, img->kernel + s->offset, s->filesz);
        memset(dst + s->filesz, 0, s->memsz - s->filesz);
    }

    x86_bootparams_minimal(&st->bp);
    st->cmdline_max = X86_CMDLINE_MAX - 1;
    st->initrd_addr_max = BOOT_DEFAULT_INITRD_MAX;
    st->reserved_end = elf.high;
    st->rsdp_field = true;

    out->format = BOOT_FORMAT_ELF64;
    out->linux_kernel = elf.linux_note;
    out->entry = elf.entry;
    out->kernel_gpa = elf.low;
    out->kernel_end = elf.high;
    return 0;
}

int boot_load_image(struct guest_mem *gm, const struct boot_image *img, struct boot_info *out,
                    char *err, size_t errlen)
{
    struct load_state st;
    memset(out, 0, sizeof(*out));
    memset(&st, 0, sizeof(st));
    const char *cmdline = img->cmdline ? img->cmdline : "";

    int rc;
    switch (boot_detect_format(img->kernel, img->kernel_len)) {
    case BOOT_FORMAT_BZIMAGE:
        rc = load_bzimage(gm, img, &st, out, err, errlen);
        break;
    case BOOT_FORMAT_ELF64:
        rc = load_elf(gm, img, &st, out, err, errlen);
        break;
    default:
        rc = error_set(err, errlen, -ENOEXEC, "kernel '%s' is neither a bzImage nor an ELF64 file",
                       img->kernel_name);
        break;
    }
    if (rc)
        return rc;

    size_t cmdline_len = strnlen(cmdline, X86_CMDLINE_MAX);
    if (cmdline_len > st.cmdline_max)
        return error_set(err, errlen, -E2BIG,
                         "command line is %s%zu bytes, kernel '%s' accepts at most %llu",
                         cmdline_len == X86_CMDLINE_MAX ? "at least " : "", cmdline_len,
                         img->kernel_name, (unsigned long long)st.cmdline_max);
    rc = guest_mem_write(gm, X86_CMDLINE_GPA, cmdline, cmdline_len + 1);
    if (rc)
        return error_set(err, errlen, rc, "cannot write the command line to guest memory");
    x86_bootparams_set_cmdline(&st.bp, X86_CMDLINE_GPA);

    if (img->initrd_name) {
        uint64_t gpa;
        rc = boot_initrd_place(img->initrd_size, st.reserved_end, guest_mem_low_end(gm),
                               st.initrd_addr_max, &gpa);
        if (rc) {
            char ram[32];
            size_format(gm->ram_size, ram, sizeof(ram));
            return error_set(err, errlen, -ENOSPC,
                             "initrd '%s' (%llu bytes) does not fit in guest memory (%s)",
                             img->initrd_name, (unsigned long long)img->initrd_size, ram);
        }
        x86_bootparams_set_initrd(&st.bp, gpa, img->initrd_size);
        out->initrd_gpa = gpa;
        out->initrd_size = img->initrd_size;
    }

    /* Older kernels find the RSDP by scanning [0xe0000, 0x100000), where it lives anyway. */
    if (img->acpi_rsdp_gpa && st.rsdp_field)
        st.bp.acpi_rsdp_addr = img->acpi_rsdp_gpa;
    rc = x86_bootparams_set_e820(&st.bp, gm);
    if (rc)
        return error_set(err, errlen, rc, "cannot build the e820 map");
    x86_bootparams_set_loader(&st.bp);

    rc = guest_mem_write(gm, X86_ZERO_PAGE_GPA, &st.bp, sizeof(st.bp));
    if (rc)
        return error_set(err, errlen, rc, "cannot write the zero page to guest memory");
    out->boot_params_gpa = X86_ZERO_PAGE_GPA;
    return 0;
}
