/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reboot: prints "reboot guest booting" and asks for a reset: through the
 * i8042 controller ("pulse reset line", 0xfe to port 0x64) when the command
 * line holds "method=i8042", else through the ACPI reset register (FADT
 * RESET_REG, port 0x60c). Each boot prints the line once, so a test can
 * count boots under --on-reboot restart.
 */
#include "guest.h"

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    PRINTLN "reboot guest booting"
    CMDLINE_HAS "method=i8042"
    jnz 1f
    PRINTLN "resetting via acpi"
    call reset_acpi
1:  PRINTLN "resetting via i8042"
    call reset_i8042

#include "guest_lib.h"
