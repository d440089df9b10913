/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memtouch: a guest with a working set, for the clone tests and benchmarks.
 * It writes one non-zero word into every 4 KiB page of PAGES pages from
 * 16 MiB,
 * so a snapshot holds that much data ("memtouch.mib=" 16, 64, 128, 512 or
 * 2048; 64 by default), then reads every page back forever, printing
 * "pass=N gen=X" after each full read: N counts the passes, X is
 * the first 8 bytes of the VM generation ID (ACPI VMGenID buffer), which
 * every restore changes. Reading, not writing, keeps a restored clone's
 * pages shared with the snapshot's page cache. The walk runs at CPL0, one
 * access per page (about 6 instructions), so even the emulated CPL0 of a
 * PVM host covers 64 MiB in a fraction of a second. With "memtouch.tick" it
 * prints "tick" lines back to back instead of reading, so that the first
 * line after a restore comes at once (bench/snapshot.sh times it).
 */
#include "guest.h"

#define TOUCH_BASE  0x1000000        /* 16 MiB: above the kernel and its bss */
#define VMGENID_GPA 0xef000          /* arch/x86/acpi_vmgenid.h */
#define PAGE        4096

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    PRINTLN "MEMTOUCH start"
    movq $64, %r14                    /* MiB to touch */
    CMDLINE_HAS "memtouch.mib=2048"
    jz 1f
    movq $2048, %r14
    jmp 2f
1:  CMDLINE_HAS "memtouch.mib=512"
    jz 1f
    movq $512, %r14
    jmp 2f
1:  CMDLINE_HAS "memtouch.mib=128"
    jz 1f
    movq $128, %r14
    jmp 2f
1:  CMDLINE_HAS "memtouch.mib=16"
    jz 2f
    movq $16, %r14
2:  shlq $8, %r14                     /* MiB -> pages */

    movq $TOUCH_BASE, %rdi
    movq %r14, %rcx
    movq $1, %rax
3:  movq %rax, (%rdi)
    addq $PAGE, %rdi
    incq %rax
    decq %rcx
    jnz 3b
    PRINT "MEMTOUCH touched pages="
    movq %r14, %rax
    call put_dec
    call newline

    CMDLINE_HAS "memtouch.tick"
    jz 6f
7:  PRINTLN "tick"
    jmp 7b

6:  xorq %r12, %r12                   /* passes */
4:  movq $TOUCH_BASE, %rdi
    movq %r14, %rcx
    movq $1, %rax
5:  cmpq %rax, (%rdi)
    jne mismatch
    addq $PAGE, %rdi
    incq %rax
    decq %rcx
    jnz 5b
    incq %r12
    PRINT "pass="
    movq %r12, %rax
    call put_dec
    movq VMGENID_GPA, %rax
    PRINTHEX " gen="
    call newline
    jmp 4b

mismatch:
    FAIL "a touched page lost its value"

#include "guest_lib.h"
