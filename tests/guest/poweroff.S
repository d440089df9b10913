/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poweroff: prints one line and powers off through ACPI PM1a_CNT (SLP_TYP=5,
 * SLP_EN), the way Linux leaves S5. casulo must exit with status 0.
 */
#include "guest.h"

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    PRINTLN "poweroff guest: powering off"
    call poweroff

#include "guest_lib.h"
