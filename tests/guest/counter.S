/* SPDX-License-Identifier: Apache-2.0 */
/*
 * counter: counts forever, for the snapshot/restore tests. The count is kept
 * twice, in memory and in %r12, and the two are compared on every step, so
 * a restore that brings back registers without memory (or the reverse)
 * ends the guest with "GUEST FAIL". Every STEP counts it prints
 * "count=N" on COM1; a restored guest must continue the sequence, never
 * start again (it would print "COUNTER start" again). Counting runs at CPL0,
 * so a snapshot is often taken right at a port-I/O exit.
 */
#include "guest.h"

#define STEP 20000

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    PRINTLN "COUNTER start"
    xorq %r12, %r12
    movq %r12, counter(%rip)
    movq $STEP, %r13
1:  incq %r12
    incq counter(%rip)
    cmpq counter(%rip), %r12
    jne mismatch
    decq %r13
    jnz 1b
    movq $STEP, %r13
    PRINT "count="
    movq counter(%rip), %rax
    call put_dec
    call newline
    jmp 1b

mismatch:
    FAIL "counter in memory and in %r12 disagree"

#include "guest_lib.h"

    .bss
    .balign 8
counter: .quad 0
