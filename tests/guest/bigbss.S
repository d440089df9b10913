/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bigbss: a kernel whose bss is 64 MiB, for the "kernel does not fit in
 * guest memory" check; booted with enough memory it powers off at once.
 */
#include "guest.h"

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    PRINTLN "bigbss guest"
    call poweroff

#include "guest_lib.h"

    .bss
    .skip 64 << 20
