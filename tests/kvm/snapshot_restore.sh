#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Snapshot and restore of a running guest. The counter guest counts in memory
# and in a register (they must agree) and prints every STEP counts. It is
# paused and snapshotted mid-run, stopped, and restored in a new casulo
# process: the restored guest must continue the sequence where it was (no
# restart, no gap, no repeat), with a working console. Restored twice from
# the same snapshot, both clones continue from the same count. An echo guest
# asleep in hlt is restored and must still be woken by a serial interrupt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/snapshot_lib.bash"
snapshot_require

snapshot_counter "$T/snap" "$T/out.before"
before=$(counts "$T/out.before" | tail -n1)
[ -n "$before" ] && [ "$before" -ge $((3 * SNAP_STEP)) ] ||
    fail "expected at least 3 counts before the snapshot, last was '$before'"

# expect_sequence BEFORE FILES...: the counts across FILES (output before the
# snapshot, then after the restore) are one unbroken sequence STEP, 2*STEP,
# ..., reaching at least 2 counts past BEFORE. Concatenated, so that a line
# the snapshot cut in two is whole again.
expect_sequence() {
    local before=$1 expected=$SNAP_STEP c
    shift
    while read -r c; do
        [ "$c" = "$expected" ] ||
            fail "count sequence broken across the restore: expected $expected, got $c (snapshot after $before)"
        expected=$((expected + SNAP_STEP))
    done < <(counts "$@")
    [ "$expected" -gt $((before + 2 * SNAP_STEP)) ] || fail "the restored guest printed fewer than 2 counts"
}

restore_once() {   # COPY: restore, let it print 3 more counts, keep its output in COPY
    casulo_start --restore "$T/snap" --memory 64M
    wait_count "count=" 3
    stop_with TERM
    expect_rc 0
    expect_no_out "COUNTER start"
    expect_no_out "GUEST FAIL"
    cp "$T/out" "$1"
}
restore_once "$T/out.clone1"
restore_once "$T/out.clone2"

expect_sequence "$before" "$T/out.before" "$T/out.clone1"

first1=$(counts "$T/out.clone1" | head -n1)
first2=$(counts "$T/out.clone2" | head -n1)
[ "$first1" = "$first2" ] || fail "two restores of one snapshot disagree: $first1 vs $first2"
echo "counter: snapshot at count $before, restored guests continued at $first1"

# Two vCPUs, the second still waiting for its SIPI: both come back.
snapshot_counter "$T/smp" "$T/out.smp" --cpus 2
before=$(counts "$T/out.smp" | tail -n1)
casulo_start --restore "$T/smp" --memory 64M --cpus 2
wait_count "count=" 2
stop_with TERM
expect_rc 0
expect_no_out "COUNTER start"
expect_sequence "$before" "$T/out.smp" "$T/out"
echo "2 vCPUs: snapshot at count $before, restored guest continued at $(counts "$T/out" | head -n1)"

# A guest asleep in hlt, woken only by COM1's interrupt: after a restore the
# console input, the UART and its IRQ through the restored IOAPIC still work.
casulo_start --kernel "$GUESTS/echo.elf" --memory 64M --api-socket "$T/api"
wait_out READY
"$CASULO" pause --api "$T/api" >"$T/client.out" 2>&1 || fail "casulo pause failed: $(cat "$T/client.out")"
"$CASULO" snapshot --api "$T/api" "$T/echo" >"$T/client.out" 2>&1 ||
    fail "casulo snapshot failed: $(cat "$T/client.out")"
stop_with TERM
expect_rc 0
casulo_start --restore "$T/echo" --memory 64M
send "after restore\n"
casulo_wait
expect_rc 0
expect_out "ECHO: after restore"
expect_no_out READY
echo "ok (echo guest restored asleep, woken by the serial interrupt)"
