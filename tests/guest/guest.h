/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers for casulo's tiny test guests: serial output through COM1,
 * hex/decimal printing, command-line lookup, power-off, reset and a
 * deliberate triple fault. Each guest is one .S file that includes this once
 * from inside its .text section.
 *
 * On PVM hosts every CPL0 instruction is emulated (about 1M/s) and the
 * emulator lacks int n/int3, SSE, xsave and cmpxchg16b, so the routines use
 * only plain GPR, port-I/O and MMIO instructions. They are position
 * independent (RIP-relative only) so that the bzImage guest, which is never
 * linked, can use them as well.
 *
 * A guest includes this file (constants and macros) at its top and
 * guest_lib.h (the routines) at the end of its .text. Calling convention:
 * arguments in the registers named per routine; every routine preserves all
 * registers it does not return a value in.
 */
#ifndef CASULO_TEST_GUEST_H
#define CASULO_TEST_GUEST_H

#define COM1            0x3f8
#define UART_RBR        0       /* receive buffer (DLAB=0, read) */
#define UART_THR        0       /* transmit holding (DLAB=0, write) */
#define UART_IER        1
#define UART_IIR        2
#define UART_FCR        2
#define UART_LCR        3
#define UART_MCR        4
#define UART_LSR        5
#define UART_LSR_DR     0x01
#define UART_LSR_THRE   0x20

#define ACPI_PM1A_CNT   0x604
#define ACPI_SLP_S5     ((5 << 10) | (1 << 13))
#define ACPI_RESET_PORT 0x60c
#define I8042_CMD       0x64

#define ZERO_PAGE           0x7000
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES     0x1e8
#define BP_HDR_MAGIC        0x202
#define BP_HDR_VERSION      0x206
#define BP_RAMDISK_IMAGE    0x218
#define BP_RAMDISK_SIZE     0x21c
#define BP_CMD_LINE_PTR     0x228
#define BP_E820_TABLE       0x2d0
#define E820_ENTRY_SIZE     20

#define LAPIC_BASE      0xfee00000
#define LAPIC_ID        0x20
#define LAPIC_EOI       0xb0
#define LAPIC_SVR       0xf0
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define IOAPIC_BASE     0xfec00000
#define IOAPIC_REGSEL   0x00
#define IOAPIC_WIN      0x10

/* Guest-chosen places: free low memory per include/arch/x86/layout.h. */
#define IDT_BASE        0x1f000     /* 256 gates, 4 KiB */
#define SERIAL_VECTOR   0x24
#define SPURIOUS_VECTOR 0xff

/* Print a string literal: PRINT "text". */
.macro PRINT str
    pushq %rsi
    leaq 9001f(%rip), %rsi
    call puts
    popq %rsi
    jmp 9002f
9001: .asciz "\str"
9002:
.endm

/* Print a string literal followed by a newline. */
.macro PRINTLN str
    PRINT "\str\n"
.endm

/* Print a label, then %rax in hex: PRINTHEX "rsi=". */
.macro PRINTHEX label
    PRINT "\label"
    call put_hex
.endm

/* CMDLINE_HAS "word": ZF=0 when the command line contains it. */
.macro CMDLINE_HAS str
    pushq %rdi
    leaq 9003f(%rip), %rdi
    call cmdline_has
    popq %rdi
    jmp 9004f
9003: .asciz "\str"
9004:
    testq %rax, %rax
.endm

/* FAIL "reason": print and stop the VM with a non-zero casulo exit. */
.macro FAIL str
    leaq 9005f(%rip), %rsi
    jmp guest_fail
9005: .asciz "\str"
.endm

#endif
