/* SPDX-License-Identifier: Apache-2.0 */
/*
 * emulfail: executes int3 at CPL0. On a KVM-PVM host the instruction
 * emulator cannot run it and KVM_RUN returns KVM_EXIT_INTERNAL_ERROR
 * (emulation failure); casulo must exit non-zero saying so. On hardware KVM
 * int3 simply reaches the IDT, whose #BP stub reports "GUEST FAIL" and
 * triple-faults, which also ends casulo non-zero.
 */
#include "guest.h"

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    PRINTLN "emulfail guest: int3 at CPL0"
    int3
    PRINTLN "GUEST FAIL: int3 returned"
    jmp triple_fault

#include "guest_lib.h"
