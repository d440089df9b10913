#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The per-VM API end to end: `casulo run --api-socket` with the spin guest,
# driven with `curl --unix-socket` and with the client verbs. Pause really
# stops the vCPU (its thread's CPU time stands still), resume restarts it,
# wrong-state and malformed requests get their 4xx, `stop` ends casulo with
# status 0, and the socket file goes away with it.
. "$(dirname "$0")/lib.sh"
kvm_require spin.elf
command -v curl >/dev/null || skip "no curl"
"$CASULO" run --help | grep -q -- --api-socket || skip "casulo run has no --api-socket"

S=$T/api.sock

# api METHOD PATH [BODY]: one request; the body lands in $T/reply, the status in $CODE.
api() {
    local args=(-s -o "$T/reply" -w '%{http_code}' --max-time 30 --unix-socket "$S" -X "$1")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    CODE=$(curl "${args[@]}" "http://localhost$2") || fail "curl $1 $2 failed (exit $?)"
}

expect_reply() {   # STATUS TEXT: the last reply had STATUS and contains TEXT
    [ "$CODE" = "$1" ] || fail "API: expected HTTP $1, got $CODE: $(cat "$T/reply")"
    grep -qF -- "$2" "$T/reply" || fail "API reply: expected '$2', got: $(cat "$T/reply")"
}

# client VERB ARGS...: the casulo client; stdout in $T/cout, stderr in $T/cerr, status in $CRC.
client() {
    local verb=$1; shift
    timeout 30 "$CASULO" "$verb" --api "$S" "$@" >"$T/cout" 2>"$T/cerr"
    CRC=$?
}

expect_client() {  # STATUS REGEX: exit status and a line of stdout (0) or stderr (1)
    [ "$CRC" = "$1" ] || fail "client: expected exit $1, got $CRC: $(cat "$T/cout" "$T/cerr")"
    local f=$T/cout
    [ "$1" = 0 ] || f=$T/cerr
    grep -qE -- "$2" "$f" || fail "client: expected /$2/, got: $(cat "$f")"
}

# The vCPU thread's CPU time from the metrics, in seconds.
vcpu_seconds() {
    api GET /metrics
    sed -n 's/^casulo_vcpu_run_seconds_total{vcpu="0"} //p' "$T/reply"
}

wait_socket() {
    local i=0
    while [ ! -S "$S" ]; do
        i=$((i + 1)); [ $i -le 300 ] || fail "no API socket at $S"
        kill -0 "$PID" 2>/dev/null || fail "casulo exited before creating its API socket"
        sleep 0.1
    done
}

casulo_start --kernel "$GUESTS/spin.elf" --console stdio --api-socket "$S"
wait_out SPINNING
wait_socket
[ "$(stat -c %a "$S")" = 600 ] || fail "API socket mode is $(stat -c %a "$S"), expected 600"

api GET /healthz;  expect_reply 200 '"status":"ok"'
api GET /vm;       expect_reply 200 '"state":"Running"'
expect_reply 200 "\"kernel\":\"$GUESTS/spin.elf\""
client status;     expect_client 0 '^state +Running$'

# Pause: the spinning vCPU stops burning CPU.
client pause;      expect_client 0 '^paused$'
api GET /vm;       expect_reply 200 '"state":"Paused"'
a=$(vcpu_seconds); sleep 0.3; b=$(vcpu_seconds)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "vCPU ran while paused: $a s then $b s"
client pause;      expect_client 1 '^casulo: error: the VM is already paused$'
api PUT /vm/state '{"state":"Paused"}'; expect_reply 409 '{"error":"the VM is already paused"}'
client power-off;  expect_client 1 'resume it first'
client status --json; expect_client 0 '"state":"Paused"'

client resume;     expect_client 0 '^running$'
a=$(vcpu_seconds); sleep 0.3; b=$(vcpu_seconds)
awk -v a="$a" -v b="$b" 'BEGIN { exit !(b > a) }' || fail "vCPU did not run after resume: $a s then $b s"
api PUT /vm/state '{"state":"Running"}'; expect_reply 409 'already running'

# Malformed requests change nothing.
api PUT /vm/state '{"state":"Off"}';     expect_reply 400 "must be \\\"Running\\\" or \\\"Paused\\\""
api PUT /vm/state '{"state":"Paused","x":1}'; expect_reply 400 "unknown field 'x'"
api PUT /vm/state '{"state":true}';      expect_reply 400 "field 'state' must be a string"
api PUT /vm/state '{"state":';           expect_reply 400 'invalid JSON'
api PUT /vm/power-off '{"timeout_s":-5}'; expect_reply 400 'non-negative integer'
api GET /nope;                           expect_reply 404 'no such endpoint'
api DELETE /vm;                          expect_reply 405 'allowed: GET'
api GET /vm;                             expect_reply 200 '"state":"Running"'

api GET /metrics;  expect_reply 200 'casulo_vm_state{state="Running"} 1'
expect_reply 200 'casulo_vcpu_exits_total{vcpu="0",reason="io"}'
expect_reply 200 "casulo_guest_memory_bytes $((512 * 1024 * 1024))"
client metrics;    expect_client 0 '^casulo_uptime_seconds [0-9.]+$'

# Another casulo cannot take the socket while this one listens.
casulo2_err=$T/err2
timeout 30 "$CASULO" run --kernel "$GUESTS/spin.elf" --console off --api-socket "$S" >/dev/null 2>"$casulo2_err"
rc2=$?
[ "$rc2" = 1 ] || fail "second casulo on a busy socket: exit $rc2, expected 1"
grep -qF "API socket $S is in use by another process" "$casulo2_err" ||
    fail "second casulo: expected 'in use by another process', got: $(cat "$casulo2_err")"
api GET /healthz;  expect_reply 200 ok

client stop;       expect_client 0 '^stopping$'
casulo_wait 30
expect_rc 0
expect_err_re 'stopped through the API'
[ ! -e "$S" ] || fail "the API socket file is still there after casulo exited"
client status;     expect_client 1 "^casulo: error: cannot connect to API socket $S: "
echo "ok"
