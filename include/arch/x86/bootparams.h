/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The x86 Linux boot protocol's data structures (Documentation/arch/x86/
 * boot.rst and zero-page.rst): the setup header found at 0x1f1 of a bzImage
 * and the 4 KiB "zero page" (struct boot_params) the kernel reads at entry.
 * Our own definitions, checked field by field against the documented offsets,
 * so the build does not depend on kernel headers being installed.
 */
#ifndef CASULO_ARCH_X86_BOOTPARAMS_H
#define CASULO_ARCH_X86_BOOTPARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/e820.h"
#include "util/compiler.h"

struct guest_mem;

#define X86_SETUP_HDR_OFFSET   0x1f1   /* file offset == zero-page offset */
#define X86_SETUP_HDR_MAGIC    0x53726448u /* "HdrS" little-endian */
#define X86_BOOT_FLAG_MAGIC    0xaa55
#define X86_SETUP_SECTS_DEFAULT 4      /* setup_sects == 0 means 4 */

/* loadflags */
#define X86_LOADED_HIGH        0x01
#define X86_KASLR_FLAG         0x02
#define X86_QUIET_FLAG         0x20
#define X86_KEEP_SEGMENTS      0x40
#define X86_CAN_USE_HEAP       0x80

/* xloadflags (protocol >= 2.12) */
#define X86_XLF_KERNEL_64                 0x01
#define X86_XLF_CAN_BE_LOADED_ABOVE_4G    0x02

#define X86_LOADER_TYPE_UNDEFINED 0xff
#define X86_VID_MODE_NORMAL    0xffff
/* End of the setup heap relative to the real-mode code, minus 0x200 (boot.rst). */
#define X86_HEAP_END_PTR       0xfe00
/* The protocol version we claim for zero pages built without a bzImage. */
#define X86_BOOT_PROTOCOL_ELF  0x020f

struct x86_setup_header {
    uint8_t  setup_sects;
    uint16_t root_flags;
    uint32_t syssize;
    uint16_t ram_size;
    uint16_t vid_mode;
    uint16_t root_dev;
    uint16_t boot_flag;
    uint16_t jump;
    uint32_t header;
    uint16_t version;
    uint32_t realmode_swtch;
    uint16_t start_sys_seg;
    uint16_t kernel_version;
    uint8_t  type_of_loader;
    uint8_t  loadflags;
    uint16_t setup_move_size;
    uint32_t code32_start;
    uint32_t ramdisk_image;
    uint32_t ramdisk_size;
    uint32_t bootsect_kludge;
    uint16_t heap_end_ptr;
    uint8_t  ext_loader_ver;
    uint8_t  ext_loader_type;
    uint32_t cmd_line_ptr;
    uint32_t initrd_addr_max;
    uint32_t kernel_alignment;
    uint8_t  relocatable_kernel;
    uint8_t  min_alignment;
    uint16_t xloadflags;
    uint32_t cmdline_size;
    uint32_t hardware_subarch;
    uint64_t hardware_subarch_data;
    uint32_t payload_offset;
    uint32_t payload_length;
    uint64_t setup_data;
    uint64_t pref_address;
    uint32_t init_size;
    uint32_t handover_offset;
    uint32_t kernel_info_offset;
} __attribute__((packed));

/* Offsets below are file/zero-page offsets minus 0x1f1. */
#define X86_HDR_AT(field, off) \
    _Static_assert(offsetof(struct x86_setup_header, field) == (off) - 0x1f1, #field)
X86_HDR_AT(setup_sects, 0x1f1);
X86_HDR_AT(syssize, 0x1f4);
X86_HDR_AT(vid_mode, 0x1fa);
X86_HDR_AT(boot_flag, 0x1fe);
X86_HDR_AT(jump, 0x200);
X86_HDR_AT(header, 0x202);
X86_HDR_AT(version, 0x206);
X86_HDR_AT(type_of_loader, 0x210);
X86_HDR_AT(loadflags, 0x211);
X86_HDR_AT(code32_start, 0x214);
X86_HDR_AT(ramdisk_image, 0x218);
X86_HDR_AT(ramdisk_size, 0x21c);
X86_HDR_AT(heap_end_ptr, 0x224);
X86_HDR_AT(cmd_line_ptr, 0x228);
X86_HDR_AT(initrd_addr_max, 0x22c);
X86_HDR_AT(kernel_alignment, 0x230);
X86_HDR_AT(relocatable_kernel, 0x234);
X86_HDR_AT(xloadflags, 0x236);
X86_HDR_AT(cmdline_size, 0x238);
X86_HDR_AT(setup_data, 0x250);
X86_HDR_AT(pref_address, 0x258);
X86_HDR_AT(init_size, 0x260);
X86_HDR_AT(kernel_info_offset, 0x268);
_Static_assert(sizeof(struct x86_setup_header) == 0x26c - 0x1f1, "setup header size");

/* End of the zero-page area the setup header may occupy (edd_mbr_sig_buffer follows). */
#define X86_SETUP_HDR_AREA_END 0x290

struct x86_boot_params {
    uint8_t  screen_info[0x40];          /* 0x000 */
    uint8_t  apm_bios_info[0x14];        /* 0x040 */
    uint8_t  _pad2[4];                   /* 0x054 */
    uint64_t tboot_addr;                 /* 0x058 */
    uint8_t  ist_info[0x10];             /* 0x060 */
    uint64_t acpi_rsdp_addr;             /* 0x070 */
    uint8_t  _pad3[8];                   /* 0x078 */
    uint8_t  hd0_info[16];               /* 0x080 */
    uint8_t  hd1_info[16];               /* 0x090 */
    uint8_t  sys_desc_table[0x10];       /* 0x0a0 */
    uint8_t  olpc_ofw_header[0x10];      /* 0x0b0 */
    uint32_t ext_ramdisk_image;          /* 0x0c0 */
    uint32_t ext_ramdisk_size;           /* 0x0c4 */
    uint32_t ext_cmd_line_ptr;           /* 0x0c8 */
    uint8_t  _pad4[112];                 /* 0x0cc */
    uint32_t cc_blob_address;            /* 0x13c */
    uint8_t  edid_info[0x80];            /* 0x140 */
    uint8_t  efi_info[0x20];             /* 0x1c0 */
    uint32_t alt_mem_k;                  /* 0x1e0 */
    uint32_t scratch;                    /* 0x1e4 */
    uint8_t  e820_entries;               /* 0x1e8 */
    uint8_t  eddbuf_entries;             /* 0x1e9 */
    uint8_t  edd_mbr_sig_buf_entries;    /* 0x1ea */
    uint8_t  kbd_status;                 /* 0x1eb */
    uint8_t  secure_boot;                /* 0x1ec */
    uint8_t  _pad5[2];                   /* 0x1ed */
    uint8_t  sentinel;                   /* 0x1ef */
    uint8_t  _pad6[1];                   /* 0x1f0 */
    struct x86_setup_header hdr;         /* 0x1f1 */
    uint8_t  _pad7[0x290 - 0x1f1 - sizeof(struct x86_setup_header)];
    uint32_t edd_mbr_sig_buffer[16];     /* 0x290 */
    struct e820_entry e820_table[E820_MAX_ZEROPAGE]; /* 0x2d0 */
    uint8_t  _pad8[48];                  /* 0xcd0 */
    uint8_t  eddbuf[6 * 0x52];           /* 0xd00 */
    uint8_t  _pad9[276];                 /* 0xeec */
} __attribute__((packed));

#define X86_BP_AT(field, off) \
    _Static_assert(offsetof(struct x86_boot_params, field) == (off), #field)
X86_BP_AT(acpi_rsdp_addr, 0x070);
X86_BP_AT(ext_ramdisk_image, 0x0c0);
X86_BP_AT(ext_ramdisk_size, 0x0c4);
X86_BP_AT(ext_cmd_line_ptr, 0x0c8);
X86_BP_AT(cc_blob_address, 0x13c);
X86_BP_AT(alt_mem_k, 0x1e0);
X86_BP_AT(e820_entries, 0x1e8);
X86_BP_AT(sentinel, 0x1ef);
X86_BP_AT(hdr, 0x1f1);
X86_BP_AT(edd_mbr_sig_buffer, 0x290);
X86_BP_AT(e820_table, 0x2d0);
X86_BP_AT(eddbuf, 0xd00);
_Static_assert(sizeof(struct x86_boot_params) == 4096, "zero page is one page");

/*
 * Starts a zero page from a bzImage's setup area: zeroes bp, then copies the
 * setup header bytes [0x1f1, 0x202 + setup[0x201]) as the protocol asks,
 * clipped to setup_len and to the header area. setup_len must be >= 0x202.
 */
void x86_bootparams_from_setup(struct x86_boot_params *bp, const uint8_t *setup, size_t setup_len);

/*
 * Starts a zero page for a kernel that brought no setup header (ELF): the
 * fields a 64-bit entry reads, claiming protocol X86_BOOT_PROTOCOL_ELF.
 */
void x86_bootparams_minimal(struct x86_boot_params *bp);

/* Marks us as the loader: type_of_loader, CAN_USE_HEAP, heap_end_ptr, vid_mode. */
void x86_bootparams_set_loader(struct x86_boot_params *bp);
void x86_bootparams_set_cmdline(struct x86_boot_params *bp, uint64_t gpa);
void x86_bootparams_set_initrd(struct x86_boot_params *bp, uint64_t gpa, uint64_t size);

/* Fills e820_entries/e820_table from gm. -ENOSPC if the map does not fit. */
int x86_bootparams_set_e820(struct x86_boot_params *bp, const struct guest_mem *gm) MUST_CHECK;

#endif
