#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# PUT /vm/power-off on a guest with no ACPI driver (the spin guest): the
# button press is reported as not listened to, and the hard stop follows at
# the timeout; casulo exits 0 naming why. Also: a socket file left by a
# casulo that was killed is taken over by the next one.
. "$(dirname "$0")/lib.sh"
kvm_require spin.elf
command -v curl >/dev/null || skip "no curl"
"$CASULO" run --help | grep -q -- --api-socket || skip "casulo run has no --api-socket"

S=$T/api.sock

wait_socket() {
    local i=0
    while ! curl -s --max-time 5 --unix-socket "$S" http://localhost/healthz >/dev/null; do
        i=$((i + 1)); [ $i -le 300 ] || fail "API socket $S does not answer"
        kill -0 "$PID" 2>/dev/null || fail "casulo exited before its API answered"
        sleep 0.1
    done
}

# A killed casulo leaves its socket file behind.
casulo_start --kernel "$GUESTS/spin.elf" --api-socket "$S"
wait_out SPINNING
wait_socket
kill -9 "$PID"
casulo_wait 30 2>/dev/null   # not bash's "Killed" notice
[ -S "$S" ] || fail "expected the killed casulo's socket file to remain"

# The next casulo replaces it; power-off then stops a guest that ignores the button.
casulo_start --kernel "$GUESTS/spin.elf" --api-socket "$S"
wait_out SPINNING
wait_socket
reply=$(curl -s --max-time 30 --unix-socket "$S" -X PUT -d '{"timeout_s": 1}' \
        -w ' %{http_code}' http://localhost/vm/power-off) || fail "curl power-off failed"
case $reply in
*'"guest_listening":false'*' 202') ;;
*) fail "power-off: expected 202 with guest_listening false, got: $reply" ;;
esac
casulo_wait 30
expect_rc 0
expect_err_re 'did not power off within 1 s of the ACPI power button'
[ ! -e "$S" ] || fail "the API socket file is still there after casulo exited"

# The client verb says the same in words, and the VM stops the same way.
casulo_start --kernel "$GUESTS/spin.elf" --api-socket "$S"
wait_out SPINNING
wait_socket
out=$(timeout 30 "$CASULO" power-off --api "$S" --timeout 0) || fail "casulo power-off failed: $out"
[ "$out" = "power button pressed, but the guest has not enabled it; the VM is stopped in 0 s" ] ||
    fail "casulo power-off printed: $out"
casulo_wait 30
expect_rc 0
expect_err_re 'did not power off within 0 s'
echo "ok"
