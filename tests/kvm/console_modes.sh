#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# --console off sends the guest's serial output nowhere, --console file=PATH
# into PATH instead of stdout; both still boot and power off with status 0.
. "$(dirname "$0")/lib.sh"
kvm_require hello.elf

casulo_run --kernel "$GUESTS/hello.elf" --console off
expect_rc 0
expect_no_out "hello from casulo guest"

casulo_run --kernel "$GUESTS/hello.elf" --console "file=$T/console.log" --cmdline "to-file"
expect_rc 0
expect_no_out "hello from casulo guest"
grep -qF "hello from casulo guest" "$T/console.log" || fail "console file lacks the hello line: $(head -c 500 "$T/console.log")"
grep -qF "cmdline=[to-file]" "$T/console.log" || fail "console file lacks the command line"
echo "ok"
