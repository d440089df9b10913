#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ACPI power-off (PM1a_CNT SLP_TYP=5|SLP_EN) ends casulo with status 0, after
# the guest's output has been written out, without an error on stderr.
. "$(dirname "$0")/lib.sh"
kvm_require poweroff.elf

casulo_run --kernel "$GUESTS/poweroff.elf"
expect_rc 0
expect_out "poweroff guest: powering off"
expect_no_out "GUEST FAIL"
expect_no_err_re "error|triple|internal"
echo "ok"
