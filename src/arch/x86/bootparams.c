// SPDX-License-Identifier: Apache-2.0
/*
 * Filling in the zero page (struct boot_params). The loaders decide where
 * things go; this file only knows which fields say so, so every boot path
 * (bzImage, ELF) writes the same fields the same way.
 */
#include "arch/x86/bootparams.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"

void x86_bootparams_from_setup(struct x86_boot_params *bp, const uint8_t *setup, size_t setup_len)
{
    memset(bp, 0, sizeof(*bp));
    if (setup_len < 0x202)
        return;
    /* The header's length is given by the short jump at 0x200: it jumps past it. */
    size_t end = 0x202 + (size_t)setup[0x201];
    end = MIN(end, setup_len);
    end = MIN(end, (size_t)X86_SETUP_HDR_AREA_END);
    memcpy((uint8_t *)bp + X86_SETUP_HDR_OFFSET, setup + X86_SETUP_HDR_OFFSET,
           end - X86_SETUP_HDR_OFFSET);
}

void x86_bootparams_minimal(struct x86_boot_params *bp)
{
    memset(bp, 0, sizeof(*bp));
    bp->hdr.boot_flag = X86_BOOT_FLAG_MAGIC;
    bp->hdr.header = X86_SETUP_HDR_MAGIC;
    bp->hdr.version = X86_BOOT_PROTOCOL_ELF;
    bp->hdr.loadflags = X86_LOADED_HIGH;
    bp->hdr.kernel_alignment = 0x1000000;
    bp->hdr.initrd_addr_max = 0x7fffffff;
    bp->hdr.cmdline_size = X86_CMDLINE_MAX - 1;
}

void x86_bootparams_set_loader(struct x86_boot_params *bp)
{
    bp->hdr.type_of_loader = X86_LOADER_TYPE_UNDEFINED;
    bp->hdr.loadflags |= X86_CAN_USE_HEAP;
    bp->hdr.heap_end_ptr = X86_HEAP_END_PTR;
    bp->hdr.vid_mode = X86_VID_MODE_NORMAL;
}

void x86_bootparams_set_cmdline(struct x86_boot_params *bp, uint64_t gpa)
{
    bp->hdr.cmd_line_ptr = (uint32_t)gpa;
    bp->ext_cmd_line_ptr = (uint32_t)(gpa >> 32);
}

void x86_bootparams_set_initrd(struct x86_boot_params *bp, uint64_t gpa, uint64_t size)
{
    bp->hdr.ramdisk_image = (uint32_t)gpa;
    bp->ext_ramdisk_image = (uint32_t)(gpa >> 32);
    bp->hdr.ramdisk_size = (uint32_t)size;
    bp->ext_ramdisk_size = (uint32_t)(size >> 32);
}

int x86_bootparams_set_e820(struct x86_boot_params *bp, const struct guest_mem *gm)
{
    int n = x86_e820_build(gm, bp->e820_table, E820_MAX_ZEROPAGE);
    if (n < 0)
        return n;
    bp->e820_entries = (uint8_t)n;
    return 0;
}
