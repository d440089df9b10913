/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spin: never ends by itself, for the stop tests (SIGTERM, SIGINT, Ctrl-A x).
 * Prints "SPINNING" once it is about to loop. By default it drops to CPL3
 * (its own GDT with user segments, iretq) and spins there natively, so the
 * vCPU stays inside KVM_RUN until casulo kicks it. With "mode=hlt" on the
 * command line it sleeps in `sti; hlt` at CPL0 instead.
 */
#include "guest.h"

#define USER_DS 0x23
#define USER_CS 0x2b

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    CMDLINE_HAS "mode=hlt"
    jnz hlt_mode

    leaq gdt(%rip), %rax
    subq $16, %rsp
    movw $gdt_end - gdt - 1, 6(%rsp)
    movq %rax, 8(%rsp)
    lgdt 6(%rsp)
    addq $16, %rsp
    PRINTLN "SPINNING at cpl3"
    leaq user_stack_top(%rip), %rax
    pushq $USER_DS
    pushq %rax
    pushq $0x2                          /* RFLAGS: IF=0, IOPL=0 */
    pushq $USER_CS
    leaq user_loop(%rip), %rax
    pushq %rax
    iretq

hlt_mode:
    PRINTLN "SPINNING in hlt"
1:  sti
    hlt
    jmp 1b

user_loop:
    incq %rax
    jmp user_loop

    .balign 8
gdt:
    .quad 0
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x10: kernel code64 */
    .quad 0x00cf92000000ffff            /* 0x18: kernel data */
    .quad 0x00cff2000000ffff            /* 0x20: user data, DPL3 */
    .quad 0x00affa000000ffff            /* 0x28: user code64, DPL3 */
gdt_end:

#include "guest_lib.h"

    .bss
    .balign 16
user_stack: .skip 4096
user_stack_top:
