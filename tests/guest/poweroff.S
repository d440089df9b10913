/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poweroff: prints one line and powers off through ACPI PM1a_CNT (SLP_TYP=5,
 * SLP_EN), the way Linux leaves S5. casulo must exit with status 0.
 * With "flood" on the command line it first prints 1000 numbered lines
 * ("line 0" .. "line 999") as fast as the UART takes them, then powers off
 * right after the last: none of it may be lost on the way out. With
 * "probe" it first pokes a port and an MMIO address nothing claims, 100
 * times each, and prints what the reads returned: unclaimed accesses must be
 * harmless (and read as all ones, like an empty ISA bus or PCI hole).
 */

#define UNCLAIMED_PORT 0x1234
#define UNCLAIMED_MMIO 0xd0000000          /* inside the 32-bit PCI window */
#include "guest.h"

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    CMDLINE_HAS "probe"
    jz 3f
    movl $100, %ecx
    movl $UNCLAIMED_MMIO, %ebx
4:  movw $UNCLAIMED_PORT, %dx
    outb %al, %dx
    inb %dx, %al
    movl %eax, (%rbx)
    movl (%rbx), %esi
    decl %ecx
    jnz 4b
    movzbl %al, %eax
    PRINTHEX "unclaimed: in="
    movl %esi, %eax
    PRINTHEX " mmio="
    call newline
3:  CMDLINE_HAS "flood"
    jz 2f
    xorl %eax, %eax
1:  PRINT "line "
    call put_dec
    call newline
    incl %eax
    cmpl $1000, %eax
    jb 1b
2:  PRINTLN "poweroff guest: powering off"
    call poweroff

#include "guest_lib.h"
