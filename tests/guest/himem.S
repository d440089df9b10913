/* SPDX-License-Identifier: Apache-2.0 */
/*
 * himem: memory above 4 GiB. Finds in the zero page's e820 map the RAM
 * entry that holds 1 MiB (low RAM) and the one that starts at 4 GiB (high
 * RAM), maps the high range itself (the boot page tables cover only 4 GiB:
 * one new 2 MiB-page directory per GiB touched), writes an address-derived
 * pattern at the start and top of high RAM and at the top of low RAM, reads
 * all three back, and prints "HIMEM OK lo_end=... hi_end=..." or
 * "HIMEM FAIL <why>" (then stops the VM with an error).
 */
#include "guest.h"

#define FOUR_GIB    0x100000000
#define PATTERN     0xa5a5a5a55a5a5a5a
#define PD_POOL     2

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    PRINTLN "himem guest"

    movl $0x100000, %edi
    call e820_ram_end
    testq %rax, %rax
    jz no_low
    movq %rax, %r15                     /* end of low RAM */
    movabsq $FOUR_GIB, %rdi
    call e820_ram_end
    testq %rax, %rax
    jz no_high
    movq %rax, %r14                     /* end of high RAM */

    movabsq $FOUR_GIB, %rdi
    call map_gib
    leaq -8(%r14), %rdi
    call map_gib

    /* Write all three first, then check: aliasing would show up. */
    movabsq $PATTERN, %r13
    movabsq $FOUR_GIB, %rdi
    movq %rdi, %rax
    xorq %r13, %rax
    movq %rax, (%rdi)
    leaq -8(%r14), %rdi
    movq %rdi, %rax
    xorq %r13, %rax
    movq %rax, (%rdi)
    leaq -8(%r15), %rdi
    movq %rdi, %rax
    xorq %r13, %rax
    movq %rax, (%rdi)

    movabsq $FOUR_GIB, %rdi
    call check
    leaq -8(%r14), %rdi
    call check
    leaq -8(%r15), %rdi
    call check

    PRINT "HIMEM OK lo_end="
    movq %r15, %rax
    call put_hex
    PRINT " hi_end="
    movq %r14, %rax
    call put_hex
    movabsq $FOUR_GIB, %rax
    movq (%rax), %rax
    PRINT " value="
    call put_hex
    call newline
    call poweroff

no_low:
    PRINTLN "HIMEM FAIL no e820 RAM entry holds 1 MiB"
    jmp triple_fault
no_high:
    PRINTLN "HIMEM FAIL no e820 RAM entry holds 4 GiB"
    jmp triple_fault

/* Fails unless the qword at %rdi holds its pattern. */
check:
    movq %rdi, %rax
    xorq %r13, %rax
    cmpq %rax, (%rdi)
    jne 1f
    ret
1:  PRINT "HIMEM FAIL at "
    movq %rdi, %rax
    call put_hex
    PRINT " read "
    movq (%rdi), %rax
    call put_hex
    call newline
    jmp triple_fault

/*
 * Returns in %rax the end of the e820 RAM (type 1) entry that contains
 * %rdi, 0 when no such entry exists.
 */
e820_ram_end:
    pushq %rbx
    pushq %rcx
    movzbl ZERO_PAGE + BP_E820_ENTRIES, %ecx
    cmpl $128, %ecx
    jbe 1f
    movl $128, %ecx
1:  movl $ZERO_PAGE + BP_E820_TABLE, %ebx
2:  testl %ecx, %ecx
    jz 4f
    cmpl $1, 16(%rbx)
    jne 3f
    movq (%rbx), %rax
    cmpq %rax, %rdi
    jb 3f
    addq 8(%rbx), %rax
    cmpq %rax, %rdi
    jb 5f
3:  addl $E820_ENTRY_SIZE, %ebx
    decl %ecx
    jmp 2b
4:  xorl %eax, %eax
5:  popq %rcx
    popq %rbx
    ret

/*
 * Makes the GiB that holds %rdi reachable: if its PDPT entry is empty, fill
 * a page directory from the pool with 512 identity 2 MiB pages and hook it
 * in, then reload CR3.
 */
map_gib:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    movq %rdi, %rax
    shrq $30, %rax
    cmpq $512, %rax
    jae 9f
    movq %cr3, %rbx
    andq $~0xfff, %rbx
    movq (%rbx), %rbx                   /* PML4[0] -> PDPT */
    testb $1, %bl
    jz 9f
    movabsq $0x000ffffffffff000, %rcx
    andq %rcx, %rbx
    leaq (%rbx, %rax, 8), %rbx          /* the PDPT entry */
    testb $1, (%rbx)
    jnz 8f
    movl pd_used(%rip), %ecx
    cmpl $PD_POOL, %ecx
    jae 9f
    incl pd_used(%rip)
    shlq $12, %rcx
    leaq pd_pool(%rip), %rdx
    addq %rcx, %rdx                     /* new PD (identity mapped) */
    movq %rdx, %rcx
    orq $0x7, %rcx                      /* P, RW, US */
    shlq $30, %rax                      /* GiB base */
    orq $0x87, %rax                     /* P, RW, US, PS */
    pushq %rdx
    pushq %rsi
    movl $512, %esi
1:  movq %rax, (%rdx)
    addq $0x200000, %rax
    addq $8, %rdx
    decl %esi
    jnz 1b
    popq %rsi
    popq %rdx
    movq %rcx, (%rbx)
    movq %cr3, %rax
    movq %rax, %cr3
8:  popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    ret
9:  PRINTLN "HIMEM FAIL cannot map the range"
    jmp triple_fault

#include "guest_lib.h"

    .bss
    .balign 4096
pd_pool: .skip 4096 * PD_POOL
pd_used: .long 0
