#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The console escape: Ctrl-A x typed on casulo's stdin quits (exit 0) while
# the guest spins; a Ctrl-A followed by another key must not quit.
. "$(dirname "$0")/lib.sh"
kvm_require spin.elf

casulo_start --kernel "$GUESTS/spin.elf"
wait_out SPINNING
send 'abc\001\001\001'
sleep 0.5
kill -0 "$PID" 2>/dev/null || fail "casulo quit on input that is not Ctrl-A x"
send 'x'
casulo_wait 30
expect_rc 0
echo "ok"
