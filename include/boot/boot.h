/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading a guest kernel into guest memory and describing how to enter it.
 * Formats: Linux bzImage (x86 boot protocol >= 2.06, 64-bit entry at
 * code32_start + 0x200) and ELF64 (vmlinux or a freestanding test guest,
 * loaded by program headers and entered at e_entry in 64-bit mode).
 * Either way the vCPU starts in long mode with RSI = zero page.
 */
#ifndef CASULO_BOOT_BOOT_H
#define CASULO_BOOT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct guest_mem;

enum boot_format { BOOT_FORMAT_NONE, BOOT_FORMAT_BZIMAGE, BOOT_FORMAT_ELF64 };

struct boot_request {
    const char *kernel_path;
    const char *initrd_path;   /* NULL: none */
    const char *cmdline;       /* never NULL */
    uint64_t acpi_rsdp_gpa;    /* 0: not given; else written to boot_params */
};

struct boot_info {
    enum boot_format format;
    uint64_t entry;            /* guest-physical RIP at first instruction */
    uint64_t boot_params_gpa;  /* RSI */
    uint64_t kernel_gpa;       /* where the image landed ... */
    uint64_t kernel_end;       /* ... and its end (exclusive) */
    uint64_t initrd_gpa;       /* 0 when none */
    uint64_t initrd_size;
    bool linux_kernel;         /* a bzImage, or an ELF with a "Linux" note */
};

/*
 * Reads the kernel (and initrd), checks them, copies them into guest memory,
 * writes the command line and the zero page (boot_params with the e820 map).
 * On failure writes one line to err naming the file and the problem and
 * returns -errno; guest memory may be partly written.
 */
int boot_load(struct guest_mem *gm, const struct boot_request *req, struct boot_info *out,
              char *err, size_t errlen) MUST_CHECK;

#endif
