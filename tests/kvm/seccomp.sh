#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The seccomp sandbox on a running VM: with --seccomp on (the default) every
# thread of casulo (main, io, each vCPU, and any kernel worker KVM attaches)
# runs in seccomp filter mode with exactly one filter of its own, and the VM
# still stops cleanly on SIGTERM; --seccomp off leaves them unfiltered; a
# bad mode is refused. Where the kernel log is readable, the same guests with
# disks, entropy and restarts under --seccomp log must not make the kernel
# log a single call outside the allow lists. That forbidden calls kill the
# process is covered by tests/unit/test_seccomp.c.
. "$(dirname "$0")/lib.sh"
kvm_require spin.elf poweroff.elf reboot.elf
"$CASULO" run --help 2>&1 | grep -q -- --seccomp || skip "this casulo has no --seccomp option"

# thread_states: "NAME SECCOMP FILTERS" for each thread of $PID.
thread_states() {
    local t
    for t in /proc/"$PID"/task/*; do
        printf '%s %s %s\n' "$(cat "$t/comm" 2>/dev/null)" \
            "$(awk '/^Seccomp:/ { print $2 }' "$t/status" 2>/dev/null)" \
            "$(awk '/^Seccomp_filters:/ { print $2 }' "$t/status" 2>/dev/null)"
    done
}

# wait_threads WANT_MODE: until every thread shows Seccomp: WANT_MODE (the
# main thread installs its filter just after starting the others).
wait_threads() {
    local want=$1 i=0
    while thread_states | awk -v w="$want" '$2 != w { bad = 1 } END { exit !bad }'; do
        kill -0 "$PID" 2>/dev/null || fail "casulo exited while its threads were inspected"
        i=$((i + 1))
        [ $i -le 100 ] || { thread_states; fail "not every thread shows Seccomp: $want"; }
        sleep 0.1
    done
}

IMG=$T/disk.img
IMG2=$T/disk2.img
truncate -s 4M "$IMG" "$IMG2"

# --seccomp on (and the default): every thread filtered, one filter each.
for mode in default on; do
    args=()
    [ "$mode" = default ] || args=(--seccomp "$mode")
    casulo_start --kernel "$GUESTS/spin.elf" --cpus 2 --rng --disk "path=$IMG" "${args[@]}"
    wait_out SPINNING
    wait_threads 2
    states=$(thread_states)
    echo "$states" | sed 's/^/    /'
    for name in casulo io vcpu0 vcpu1; do
        echo "$states" | grep -q "^$name 2 1$" ||
            fail "--seccomp $mode: thread $name should show Seccomp: 2 with 1 filter"
    done
    [ "$(echo "$states" | awk '$3 != 1' | wc -l)" = 0 ] ||
        fail "--seccomp $mode: a thread has other than one filter"
    stop_with TERM
    expect_rc 0
    expect_no_out "GUEST FAIL"
done

# --seccomp off: nothing filtered.
casulo_start --kernel "$GUESTS/spin.elf" --seccomp off
wait_out SPINNING
wait_threads 0
stop_with TERM
expect_rc 0

expect_rejected 1 "seccomp" --kernel "$GUESTS/spin.elf" --seccomp maybe

# Under --seccomp log, nothing that these runs do may be outside the lists.
if ! dmesg >/dev/null 2>&1; then
    echo "the kernel log is not readable here: allow-list completeness not checked"
    echo "ok"
    exit 0
fi
exe=$(readlink -f "$CASULO")
# The audit serial orders records even once the ring buffer is full.
last_serial() {
    dmesg | sed -nE 's/.*audit\([0-9.]+:([0-9]+)\).*/\1/p' | tail -n1
}
# audit_since SERIAL: this casulo's seccomp records (type 1326) after SERIAL.
audit_since() {
    dmesg | grep -F "type=1326" | grep -F "exe=\"$exe\"" |
        sed -nE 's/.*audit\([0-9.]+:([0-9]+)\).*/\1 &/p' | awk -v s="$1" '$1 > s' | cut -d' ' -f2-
}
before=$(last_serial)
casulo_run --kernel "$GUESTS/poweroff.elf" --seccomp log --cpus 2 --rng --disk "path=$IMG" \
    --disk "path=$IMG2,readonly=on,io=sync"
expect_rc 0
# The restarted VMs' threads stack their filters on the main thread's.
casulo_start --kernel "$GUESTS/reboot.elf" --seccomp log --on-reboot restart --rng \
    --disk "path=$IMG" --cmdline "method=acpi"
wait_count "reboot guest booting" 3
stop_with TERM
expect_rc 0
sleep 0.5   # kauditd prints asynchronously
logged=$(audit_since "${before:-0}")
if [ -n "$logged" ]; then
    echo "$logged" | head -n 20
    fail "the kernel logged system calls outside the allow lists (above)"
fi
echo "ok"
