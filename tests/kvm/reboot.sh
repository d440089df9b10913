#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Guest reset, through the ACPI reset register and through the i8042: by
# default casulo exits 0 saying "guest requested reboot"; with
# --on-reboot restart it boots the guest again (counted by the guest's boot
# line) until it is stopped.
. "$(dirname "$0")/lib.sh"
kvm_require reboot.elf

for method in acpi i8042; do
    casulo_run --kernel "$GUESTS/reboot.elf" --cmdline "method=$method"
    expect_rc 0
    expect_out "resetting via $method"
    [ "$(grep -cF "reboot guest booting" "$T/out")" = 1 ] || fail "expected exactly one boot"
    expect_err_re "guest requested reboot"
    expect_no_out "GUEST FAIL"
done

casulo_start --kernel "$GUESTS/reboot.elf" --on-reboot restart --cmdline "method=acpi"
wait_count "reboot guest booting" 3
stop_with TERM
expect_rc 0
expect_no_out "GUEST FAIL"
echo "ok"
