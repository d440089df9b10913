/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oneline: the smallest useful guest — prints one line on COM1 and powers
 * off through ACPI S5, nothing else. bench/startup times casulo with it: at
 * guest CPL0 on KVM-PVM every instruction is emulated (~1 us each), so a
 * benchmark guest must not parse or print more than it needs to.
 */
#include "guest.h"

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    leaq msg(%rip), %rsi
    movw $COM1, %dx
1:  lodsb
    testb %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  movw $ACPI_PM1A_CNT, %dx
    movw $ACPI_SLP_S5, %ax
    outw %ax, %dx
3:  hlt
    jmp 3b

    .section .rodata
msg:
    .asciz "CASULO-GUEST-READY\n"
