#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A triple fault (IDT with a zero limit, then ud2) stops casulo with exit
# status 3, a line naming the reason and a register dump on stderr.
. "$(dirname "$0")/lib.sh"
kvm_require triplefault.elf

casulo_run --kernel "$GUESTS/triplefault.elf"
expect_rc 3
expect_out "triplefault guest: faulting"
expect_err_re "triple fault|shutdown"
expect_err_re "rip"
expect_err_re "cr3"
echo "ok"
