/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hello: checks the 64-bit boot protocol entry state (RSI at the zero page,
 * the boot stack, the boot GDT selectors, interrupts off), then prints the
 * "HdrS" magic, the command line and the e820 map found through the zero
 * page, and powers off. tests/kvm/boot_hello.sh compares them with what
 * casulo was asked for.
 */
#include "guest.h"

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    /* Keep the entry state before any call changes it. */
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
