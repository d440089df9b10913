// SPDX-License-Identifier: Apache-2.0
/*
 * Where the initrd goes. Like other boot loaders we put it as high as the
 * kernel allows (initrd_addr_max) and RAM below the hole allows, so it stays
 * clear of the kernel's decompression and early allocations, which grow
 * upwards from the kernel's load address.
 */
#include "boot/loader.h"

#include <errno.h>

#define INITRD_ALIGN 4096ULL

int boot_initrd_place(uint64_t size, uint64_t kernel_end, uint64_t low_end, uint64_t addr_max,
                      uint64_t *gpa)
{
    if (size == 0)
        return -EINVAL;
    /* addr_max names the last byte the initrd may occupy, hence + 1. */
    uint64_t top = addr_max >= low_end ? low_end : addr_max + 1;
    if (size > top)
        return -ENOSPC;
    if (kernel_end > UINT64_MAX - (INITRD_ALIGN - 1))
        return -ENOSPC;
    uint64_t floor = ALIGN_UP(kernel_end, INITRD_ALIGN);
    uint64_t start = ALIGN_DOWN(top - size, INITRD_ALIGN);
    if (start < floor)
        return -ENOSPC;
    *gpa = start;
    return 0;
}
