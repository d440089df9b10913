/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migdirty: a guest for the live-migration tests. At start it fills 16 MiB
 * from 32 MiB with a pattern (one word per page), prints its checksum as
 * "pattern=X", then loops forever: it dirties memory, recomputes the
 * checksum (a mismatch ends it with "GUEST FAIL") and prints
 * "tick=N sum=X". The tick is kept in memory and in %r12 and compared on
 * every step, so a migration that loses RAM or registers is seen; ticks must
 * go on without a gap or a restart on the destination.
 * Dirtying, from the command line: "migdirty.fast" rewrites all of 64 MiB
 * from 64 MiB on every tick (far faster than any capped link),
 * "migdirty.slow" writes 2 pages then idles, 50 times per tick (about
 * 1 MiB/s); neither: nothing but the tick. Runs at CPL0 (emulated on a PVM
 * host: about 1M instructions/s).
 */
#include "guest.h"

#define PAT_BASE    0x2000000       /* 32 MiB */
#define PAT_PAGES   4096            /* 16 MiB */
#define DIRTY_BASE  0x4000000       /* 64 MiB */
#define DIRTY_PAGES 16384           /* 64 MiB */
#define PAGE        4096
#define SLOW_ROUNDS 50
#define SLOW_DELAY  3000

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    PRINTLN "MIGDIRTY start"
    /* The pattern: page i holds i * K + C. */
    movq $PAT_BASE, %rdi
    xorq %rcx, %rcx
    movabsq $0x9e3779b97f4a7c15, %rbx
1:  movq %rcx, %rax
    imulq %rbx, %rax
    addq $0x1234567, %rax
    movq %rax, (%rdi)
    addq $PAGE, %rdi
    incq %rcx
    cmpq $PAT_PAGES, %rcx
    jb 1b
    call checksum
    movq %rax, expected(%rip)
    PRINT "pattern="
    call put_hex
    call newline

    xorq %r15, %r15                 /* 0: idle, 1: fast, 2: slow */
    CMDLINE_HAS "migdirty.fast"
    jz 1f
    movq $1, %r15
1:  CMDLINE_HAS "migdirty.slow"
    jz 1f
    movq $2, %r15
1:  xorq %r12, %r12
    movq %r12, tick(%rip)
    xorq %r13, %r13                 /* next page of the slow walk */

loop:
    incq %r12
    incq tick(%rip)
    cmpq tick(%rip), %r12
    jne mismatch
    cmpq $1, %r15
    je fast
    cmpq $2, %r15
    je slow
    movq $SLOW_DELAY * 20, %rcx
    call delay
    jmp report

fast:
    movq $DIRTY_BASE, %rdi
    movq $DIRTY_PAGES, %rcx
1:  movq %r12, (%rdi)
    addq $PAGE, %rdi
    decq %rcx
    jnz 1b
    jmp report

slow:
    movq $SLOW_ROUNDS, %rdx
1:  movq %r13, %rax
    andq $DIRTY_PAGES - 1, %rax
    shlq $12, %rax
    addq $DIRTY_BASE, %rax
    movq %r12, (%rax)
    movq %r12, PAGE(%rax)
    addq $2, %r13
    movq $SLOW_DELAY, %rcx
    call delay
    decq %rdx
    jnz 1b

report:
    call checksum
    cmpq expected(%rip), %rax
    jne corrupt
    PRINT "tick="
    movq %r12, %rax
    call put_dec
    PRINT " sum="
    call checksum
    call put_hex
    call newline
    jmp loop

mismatch:
    FAIL "tick in memory and in %r12 disagree"
corrupt:
    FAIL "the memory pattern changed"

/* %rax = checksum of the pattern pages. */
checksum:
    pushq %rcx
    pushq %rdi
    xorq %rax, %rax
    movq $PAT_BASE, %rdi
    movq $PAT_PAGES, %rcx
1:  rolq $1, %rax
    xorq (%rdi), %rax
    addq $PAGE, %rdi
    decq %rcx
    jnz 1b
    popq %rdi
    popq %rcx
    ret

#include "guest_lib.h"

    .bss
    .balign 8
tick:     .quad 0
expected: .quad 0
