# SPDX-License-Identifier: Apache-2.0
# Shared by the snapshot tests (sourced after lib.sh): checks that this casulo
# has `run --restore` and the `snapshot` client verb, and takes a snapshot of
# the counter guest at a known point. Not named *.sh: the kvm tier runs every
# *.sh of tests/kvm as a test.

SNAP_STEP=20000   # tests/guest/counter.S prints every STEP counts

snapshot_require() {
    kvm_require counter.elf
    "$CASULO" run --help 2>&1 | grep -q -- '--restore' ||
        skip "casulo run has no --restore option"
    "$CASULO" --help 2>&1 | grep -qE '^ +snapshot ' ||
        skip "casulo has no snapshot verb"
}

# snapshot_counter DIR OUTCOPY [ARGS...]: runs the counter guest (with ARGS),
# pauses it after a few counts, snapshots it into DIR, copies its console
# output so far (complete: a paused guest prints nothing more) to OUTCOPY
# and stops it.
snapshot_counter() {
    local dir=$1 copy=$2
    shift 2
    casulo_start --kernel "$GUESTS/counter.elf" --memory 64M --api-socket "$T/api" "$@"
    wait_count "count=" 3
    "$CASULO" pause --api "$T/api" >"$T/client.out" 2>&1 ||
        fail "casulo pause failed: $(cat "$T/client.out")"
    "$CASULO" snapshot --api "$T/api" "$dir" >"$T/client.out" 2>&1 ||
        fail "casulo snapshot failed: $(cat "$T/client.out")"
    [ -s "$dir/state" ] && [ -s "$dir/memory" ] || fail "snapshot directory $dir lacks state or memory"
    cp "$T/out" "$copy"
    stop_with TERM
    expect_rc 0
    expect_no_out "GUEST FAIL"
}

# counts FILE...: the count= values printed across FILEs concatenated, one a
# line (a line cut by the snapshot is completed by the restored guest).
counts() {
    cat "$@" | grep -oE 'count=[0-9]+' | sed 's/count=//'
}
