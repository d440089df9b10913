/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bz_hello: the hello guest packaged as a bzImage, to give casulo's bzImage
 * loader a real boot. One setup sector after the boot sector holds the
 * setup header (protocol 2.15, LOADED_HIGH, XLF_KERNEL_64, not relocatable,
 * preferred address 1 MiB); the protected-mode part starts after it, with
 * the 64-bit entry point at its offset 0x200 as the boot protocol wants.
 *
 * Built by guest.mk without a link step (assembled, then objcopy -O binary),
 * so every reference here and in the included code must be RIP-relative or
 * an absolute constant. Any bzImage-specific loader bug shows up as a
 * difference from the ELF hello guest's output.
 */
#include "guest.h"

#define SETUP_SECTS 1
#define PM_SIZE     0x2000              /* protected-mode part, padded */
#define LOAD_ADDR   0x100000

    .text
    .code16
bz_start:
    /* Boot sector: a real-mode entry nobody uses here; just stop. */
    cli
1:  hlt
    jmp 1b

    .org 0x1f1
    .byte SETUP_SECTS                   /* setup_sects */
    .word 0                             /* root_flags */
    .long PM_SIZE / 16                  /* syssize */
    .word 0                             /* ram_size */
    .word 0xffff                        /* vid_mode */
    .word 0                             /* root_dev */
    .word 0xaa55                        /* boot_flag */
    .org 0x200
    .byte 0xeb, setup_code - bz_start - 0x202   /* jump over the header */
    .ascii "HdrS"                       /* header */
    .word 0x020f                        /* version */
    .long 0                             /* realmode_swtch */
    .word 0x1000                        /* start_sys_seg */
    .word 0                             /* kernel_version */
    .byte 0                             /* type_of_loader */
    .byte 0x01                          /* loadflags: LOADED_HIGH */
    .word 0x8000                        /* setup_move_size */
    .long LOAD_ADDR                     /* code32_start */
    .long 0                             /* ramdisk_image */
    .long 0                             /* ramdisk_size */
    .long 0                             /* bootsect_kludge */
    .word 0                             /* heap_end_ptr */
    .byte 0                             /* ext_loader_ver */
    .byte 0                             /* ext_loader_type */
    .long 0                             /* cmd_line_ptr */
    .long 0x7fffffff                    /* initrd_addr_max */
    .long 0x100000                      /* kernel_alignment */
    .byte 0                             /* relocatable_kernel */
    .byte 20                            /* min_alignment (log2) */
    .word 0x0001                        /* xloadflags: XLF_KERNEL_64 */
    .long 0xffff                        /* cmdline_size */
    .long 0                             /* hardware_subarch */
    .quad 0                             /* hardware_subarch_data */
    .long 0                             /* payload_offset */
    .long 0                             /* payload_length */
    .quad 0                             /* setup_data */
    .quad LOAD_ADDR                     /* pref_address */
    .long PM_SIZE + 0x10000             /* init_size */
    .long 0                             /* handover_offset */
    .long 0                             /* kernel_info_offset */
setup_code:
    cli
2:  hlt
    jmp 2b

    .org (SETUP_SECTS + 1) * 512
pm_start:
    /* startup_32: this guest supports only the 64-bit entry. */
    .code32
    cli
3:  hlt
    jmp 3b

    .org pm_start + 0x200
    .code64
startup_64:
    movq %rsi, %r15
    movq %rsp, %r14
    pushfq
    popq %r13
    movl %cs, %r12d
    movl %ds, %r11d
    movl %ss, %r10d
    jmp hello_main

#include "hello_body.h"
#include "guest_lib.h"

    .org pm_start + PM_SIZE
