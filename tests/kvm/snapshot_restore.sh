#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Snapshot and restore of a running guest. The counter guest counts in memory
# and in a register (they must agree) and prints every STEP counts. It is
# paused and snapshotted mid-run, stopped, and restored in a new casulo
# process: the restored guest must continue the sequence where it was (no
# restart, no gap, no repeat), with a working console. Restored twice from
# the same snapshot, both clones continue from the same count.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/snapshot_lib.bash"
snapshot_require

snapshot_counter "$T/snap" "$T/out.before"
before=$(counts "$T/out.before" | tail -n1)
[ -n "$before" ] && [ "$before" -ge $((3 * SNAP_STEP)) ] ||
    fail "expected at least 3 counts before the snapshot, last was '$before'"

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

# One unbroken sequence STEP, 2*STEP, ... across the snapshot.
expected=$SNAP_STEP
while read -r c; do
    [ "$c" = "$expected" ] || fail "count sequence broken across the restore: expected $expected, got $c (before: $before)"
    expected=$((expected + SNAP_STEP))
done < <(counts "$T/out.before" "$T/out.clone1")
[ "$expected" -gt $((before + 2 * SNAP_STEP)) ] || fail "the restored guest printed fewer than 2 counts"

first1=$(counts "$T/out.clone1" | head -n1)
first2=$(counts "$T/out.clone2" | head -n1)
[ "$first1" = "$first2" ] || fail "two restores of one snapshot disagree: $first1 vs $first2"
echo "ok (snapshot at count $before, restored guests continued at $first1)"
