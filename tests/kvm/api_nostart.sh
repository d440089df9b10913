#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configure before boot: `casulo run --no-start` (and "start": false in a
# config file) serves only the API, in state NotStarted. PUT /vm/config
# merges config-file keys into the pending configuration (bad ones are
# 400s that change nothing), PUT /vm/start refuses a configuration that does
# not validate and leaves the VM NotStarted, then boots the fixed one; the
# other actions are 409 until then. PUT /vm/stop before the start exits 0;
# with --on-reboot restart the API serves each rebuilt VM.
. "$(dirname "$0")/lib.sh"
kvm_require spin.elf reboot.elf
command -v curl >/dev/null || skip "no curl"
"$CASULO" run --help | grep -q -- --no-start || skip "casulo run has no --no-start"

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

wait_socket() {
    local i=0
    rm -f "$T/ready"
    while [ ! -S "$S" ]; do
        i=$((i + 1)); [ $i -le 300 ] || fail "no API socket at $S"
        kill -0 "$PID" 2>/dev/null || fail "casulo exited before creating its API socket"
        sleep 0.1
    done
}

# --- 1. --no-start, a bad configuration fixed through the API, then a boot. ---
casulo_start --no-start --api-socket "$S" --console stdio --memory 64M
wait_socket
api GET /vm;        expect_reply 200 '"state":"NotStarted"'
expect_reply 200 '"memory_bytes":67108864'
expect_reply 200 '"kernel":null'
api GET /metrics;   expect_reply 200 'casulo_vm_state{state="NotStarted"} 1'

# Everything that needs a VM is a conflict until it exists.
api PUT /vm/state '{"state":"Paused"}'; expect_reply 409 'the VM has not started yet'
api PUT /vm/state '{"state":"Running"}'; expect_reply 409 'the VM has not started yet'
api PUT /vm/power-off '{}';              expect_reply 409 'the VM has not started yet'
api PUT /snapshot "{\"path\":\"$T/snap\"}"; expect_reply 409 'the VM has not started yet'
api GET /balloon;                        expect_reply 409 'the VM has not started yet'
api PUT /balloon '{"target_mib":1}';     expect_reply 409 'the VM has not started yet'
[ ! -e "$T/snap" ] || fail "a snapshot directory was made for a VM that does not exist"

# No kernel yet: the start is refused with the startup check's line, and nothing changes.
api PUT /vm/start;  expect_reply 400 'no kernel'
api GET /vm;        expect_reply 200 '"state":"NotStarted"'

# Strict bodies: the config file's own messages, and the pending config is untouched.
api PUT /vm/config '{"memroy":"128M"}';   expect_reply 400 "unknown key 'memroy'"
api PUT /vm/config '{"cpus":"two"}';      expect_reply 400 "'cpus' must be a number"
api PUT /vm/config '{"memory":"lots"}';   expect_reply 400 'is not a size'
api PUT /vm/config '{"cpus":2, "memory":"x"}'; expect_reply 400 'is not a size'
api PUT /vm/config "{\"api_socket\":\"$T/other.sock\"}"; expect_reply 400 'cannot be changed'
api PUT /vm/config '{"kernel":';          expect_reply 400 'not valid JSON'
api GET /vm;        expect_reply 200 '"cpus":1,'
expect_reply 200 '"memory_bytes":67108864'

# Lists (parsed on the API thread, under its seccomp filter) replace the old ones.
api PUT /vm/config '{"nets":["tap=casulo-nope0"],"disks":["path=/nonexistent/a.img","path=/nonexistent/b.img"]}'
expect_reply 200 '"tap":"casulo-nope0"'
api PUT /vm/config '{"disks":[{"path":"/nonexistent/c.img","readonly":true}]}'
expect_reply 200 '"disks":[{"path":"/nonexistent/c.img","readonly":true'
grep -qF 'a.img' "$T/reply" && fail "the disks list was added to, not replaced: $(cat "$T/reply")"
api PUT /vm/config '{"nets":[],"disks":[]}'; expect_reply 200 '"disks":[],"nets":[]'

# A kernel that does not exist passes the body checks but not the start.
api PUT /vm/config "{\"kernel\":\"$T/missing.elf\"}"; expect_reply 200 '"state":"NotStarted"'
api PUT /vm/start;  expect_reply 400 "$T/missing.elf"
api GET /vm;        expect_reply 200 '"state":"NotStarted"'

# A directory is no kernel either: still the configuration's fault, 400.
api PUT /vm/config "{\"kernel\":\"$T\"}"; expect_reply 200 '"state":"NotStarted"'
api PUT /vm/start;  expect_reply 400 "$T"
api GET /vm;        expect_reply 200 '"state":"NotStarted"'

# Keys merge: the memory given earlier stays while the kernel is replaced.
api PUT /vm/config "{\"kernel\":\"$GUESTS/spin.elf\"}"; expect_reply 200 "\"kernel\":\"$GUESTS/spin.elf\""
expect_reply 200 '"memory_bytes":67108864'
api PUT /vm/config '{"memory":"96M"}';   expect_reply 200 '"memory_bytes":100663296'
expect_reply 200 "\"kernel\":\"$GUESTS/spin.elf\""
grep -q SPINNING "$T/out" && fail "the guest ran before PUT /vm/start"

api PUT /vm/start;  expect_reply 202 '"state":"Running"'
wait_out SPINNING
api GET /vm;        expect_reply 200 '"state":"Running"'
expect_reply 200 '"memory_bytes":100663296'
api PUT /vm/start;  expect_reply 409 'the VM has already started'
api PUT /vm/config '{"cpus":2}'; expect_reply 409 'the VM has already started'
api PUT /vm/state '{"state":"Paused"}';  expect_reply 200 '"state":"Paused"'
api PUT /vm/state '{"state":"Running"}'; expect_reply 200 '"state":"Running"'
api GET /metrics;   expect_reply 200 "casulo_guest_memory_bytes 100663296"
api PUT /vm/stop;   expect_reply 202 '"state"'
casulo_wait 30
expect_rc 0
expect_err_re 'stopped through the API'
[ ! -e "$S" ] || fail "the API socket file is still there after casulo exited"

# --- 2. "start": false in a config file, stopped before it ever starts: exit 0. ---
printf '{"kernel": "%s", "start": false, "api_socket": "%s", "console": "off"}\n' \
    "$GUESTS/spin.elf" "$S" >"$T/vm.json"
casulo_start --config "$T/vm.json"
wait_socket
api GET /vm;        expect_reply 200 '"state":"NotStarted"'
expect_reply 200 "\"kernel\":\"$GUESTS/spin.elf\""
api PUT /vm/stop;   expect_reply 202 '"state"'
casulo_wait 30
expect_rc 0
expect_err_re 'before the VM started'
[ ! -e "$S" ] || fail "the API socket file is still there after casulo exited"

# --- 3. A signal before the start ends it like a signal to a running VM (status 0). ---
casulo_start --no-start --api-socket "$S" --kernel "$GUESTS/spin.elf"
wait_socket
kill -TERM "$PID"
casulo_wait 30
expect_rc 0
expect_err_re 'signal'
[ ! -e "$S" ] || fail "the API socket file is still there after casulo exited"

# --- 4. --on-reboot restart: the API serves each rebuilt VM; stop ends it. ---
casulo_start --no-start --api-socket "$S" --kernel "$GUESTS/reboot.elf" --cmdline "method=acpi" \
    --on-reboot restart
wait_socket
api PUT /vm/start;  expect_reply 202 '"state":"Running"'
wait_count "reboot guest booting" 3
api GET /vm;        expect_reply 200 '"kernel"'
api PUT /vm/start;  expect_reply 409 'the VM has already started'
api PUT /vm/stop;   expect_reply 202 '"state"'
casulo_wait 30
expect_rc 0
expect_err_re 'stopped through the API'
expect_no_out "GUEST FAIL"

# --- 5. --no-start without a socket is a bad value. ---
casulo_run --no-start --kernel "$GUESTS/spin.elf"
expect_rc 1
expect_err_re '--no-start needs --api-socket'
echo "ok"
