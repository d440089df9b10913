/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PVH entry point for the tiny guests, so that QEMU's -kernel can boot the
 * same ELF that casulo does (bench/io.sh, bench/migration.sh compare the two
 * VMMs on one guest binary). QEMU enters it through the ELF note
 * XEN_ELFNOTE_PHYS32_ENTRY in 32-bit protected mode with paging off and
 * %ebx pointing at hvm_start_info; it copies the command line's address
 * into the zero page (where guest_lib.h's cmdline_ptr looks), builds 2 MiB
 * page tables for the first 4 GiB, enters long mode with casulo's boot stack
 * and joins _start as if casulo had started it. casulo ignores the note;
 * tests/guest/guest.ld discards it, bench/virtio-pvh.ld keeps it.
 * Include once, from inside .text, after guest.h.
 */
#ifndef CASULO_TEST_GUEST_PVH_H
#define CASULO_TEST_GUEST_PVH_H

#define PVH_PT          0x60000         /* PML4, PDPT, 4 PDs */
#define PVH_STACK       0x8ff0          /* casulo's X86_BOOT_STACK_GPA */

    .code32
pvh_start:
    cli
    movl 24(%ebx), %eax                 /* hvm_start_info.cmdline_paddr */
    movl %eax, ZERO_PAGE + BP_CMD_LINE_PTR
    movl $0, ZERO_PAGE + BP_EXT_CMD_LINE_PTR
    /* PML4[0] -> PDPT; PDPT[0..3] -> 4 PDs of 2 MiB pages: 4 GiB, U/S set. */
    movl $PVH_PT, %edi
    movl $PVH_PT + 0x1007, (%edi)
    movl $0, 4(%edi)
    movl $PVH_PT + 0x1000, %edi
    movl $PVH_PT + 0x2007, %eax
    xorl %ecx, %ecx
1:  movl %eax, (%edi, %ecx, 8)
    movl $0, 4(%edi, %ecx, 8)
    addl $0x1000, %eax
    incl %ecx
    cmpl $4, %ecx
    jb 1b
    movl $PVH_PT + 0x2000, %edi
    movl $0x87, %eax
    xorl %ecx, %ecx
2:  movl %eax, (%edi, %ecx, 8)
    movl $0, 4(%edi, %ecx, 8)
    addl $0x200000, %eax
    incl %ecx
    cmpl $2048, %ecx
    jb 2b
    movl %cr4, %eax
    orl $0x20, %eax                     /* PAE */
    movl %eax, %cr4
    movl $PVH_PT, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx              /* EFER.LME */
    rdmsr
    orl $0x100, %eax
    wrmsr
    lgdt pvh_gdt_desc
    movl %cr0, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    ljmp $0x10, $pvh_long
    .code64
pvh_long:
    movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl $PVH_STACK, %esp
    jmp _start

    .balign 8
pvh_gdt:
    .quad 0
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x10: 64-bit code */
    .quad 0x00cf92000000ffff            /* 0x18: data */
pvh_gdt_desc:
    .word pvh_gdt_desc - pvh_gdt - 1
    .long pvh_gdt

    .pushsection .note.pvh, "a", @note
    .balign 4
    .long 4                             /* "Xen\0" */
    .long 8
    .long 18                            /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad pvh_start

    .popsection

#endif
