/* SPDX-License-Identifier: Apache-2.0 */
/*
 * triplefault: loads an IDT with a zero limit and executes ud2, so the CPU
 * shuts down. casulo must exit non-zero, name the reason and dump the vCPU
 * registers on stderr.
 */
#include "guest.h"

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    PRINTLN "triplefault guest: faulting"
    jmp triple_fault

#include "guest_lib.h"
