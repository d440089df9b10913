/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migguest: the guest of bench/migration.sh, booted by casulo and, through
 * its PVH entry (tests/guest/pvh.h), by QEMU, so that both VMMs migrate the
 * same memory contents. Linked with bench/virtio-pvh.ld (it keeps the note).
 * Command line:
 *   (nothing)  idle: prints "MIGGUEST ready", then halts with interrupts
 *              masked at the PIC (nothing wakes it)
 *   mig.fill   writes one word into every page of 256 MiB from 64 MiB (the
 *              whole page then has to travel), prints ready, idles
 *   mig.dirty  prints ready, then rewrites one word of every page of those
 *              256 MiB over and over, printing "sweep=N" after each pass
 * Runs at CPL0, emulated on a PVM host at about 1M instructions/s in both
 * VMMs alike; a sweep is 4 instructions a page.
 */
#include "guest.h"

#define MIG_BASE    0x4000000       /* 64 MiB */
#define MIG_PAGES   65536           /* 256 MiB */
#define PAGE        4096

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    call pic_mask_all
    CMDLINE_HAS "mig.dirty"
    jnz dirty
    CMDLINE_HAS "mig.fill"
    jz ready
    movq $1, %rax
    call sweep
ready:
    PRINTLN "MIGGUEST ready"
1:  sti
    hlt
    jmp 1b

dirty:
    PRINTLN "MIGGUEST ready"
    xorq %r12, %r12
1:  incq %r12
    movq %r12, %rax
    call sweep
    PRINT "sweep="
    movq %r12, %rax
    call put_dec
    call newline
    jmp 1b

/* Writes %rax into the first word of every page of the region. */
sweep:
    movq $MIG_BASE, %rdi
    movq $MIG_PAGES, %rcx
1:  movq %rax, (%rdi)
    addq $PAGE, %rdi
    decq %rcx
    jnz 1b
    ret

#include "guest_lib.h"
#include "pvh.h"
