/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmark's tiny guest for QEMU: a 64 KiB BIOS image that prints one
 * line on COM1 and leaves at once, the counterpart of tests/guest/hello for
 * casulo. It leaves through isa-debug-exit (port 0xf4, microvm) and falls
 * back to the i8042 reset line (pc, with -no-reboot).
 * Build: as --32 + ld -Ttext 0 --oformat binary; runs from 0xf0000.
 */
    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ss
    mov $0x7000, %sp
    mov $0xf000, %ax
    mov %ax, %ds
    mov $msg, %si
1:  lodsb
    test %al, %al
    jz 2f
    mov $0x3f8, %dx
    out %al, %dx
    jmp 1b
2:  mov $0xf4, %dx          /* isa-debug-exit */
    mov $0, %al
    out %al, %dx
    mov $0xfe, %al          /* i8042: pulse the reset line */
    out %al, $0x64
3:  hlt
    jmp 3b
msg:
    .asciz "BENCH-GUEST-READY\r\n"

    .org 0xfff0             /* reset vector: 0xffff0 */
    ljmp $0xf000, $_start
    .org 0x10000
