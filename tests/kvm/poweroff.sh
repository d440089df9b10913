#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ACPI power-off (PM1a_CNT SLP_TYP=5|SLP_EN) ends casulo with status 0, after
# the guest's output has been written out, without an error on stderr.
# The flood run powers off right after 1000 lines: all must reach stdout.
# The probe run pokes an unclaimed port and MMIO address 100 times each:
# reads give all ones, the VM goes on, and stderr gets at most one line each.
. "$(dirname "$0")/lib.sh"
kvm_require poweroff.elf

casulo_run --kernel "$GUESTS/poweroff.elf"
expect_rc 0
expect_out "poweroff guest: powering off"
expect_no_out "GUEST FAIL"
expect_no_err_re "error|triple|internal"
casulo_run --kernel "$GUESTS/poweroff.elf" --cmdline flood
expect_rc 0
n=$(grep -cE '^line [0-9]+$' "$T/out")
[ "$n" = 1000 ] || fail "expected 1000 numbered lines on stdout, got $n"
expect_out "line 999"
expect_out "poweroff guest: powering off"
casulo_run --kernel "$GUESTS/poweroff.elf" --cmdline probe
expect_rc 0
expect_out "unclaimed: in=0xff mmio=0xffffffff"
expect_out "poweroff guest: powering off"
[ "$(grep -ci '1234' "$T/err")" -le 1 ] || fail "unclaimed port 0x1234 logged more than once"
[ "$(grep -ci 'd0000000' "$T/err")" -le 1 ] || fail "unclaimed MMIO 0xd0000000 logged more than once"
echo "ok"
