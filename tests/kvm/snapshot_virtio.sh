#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Snapshot and restore of a guest whose virtio-blk queue is in use. The vsnap
# guest writes and reads back a sector per request on one queue, forever,
# and prints every 64 requests; it runs with a disk, an rng and a balloon
# (PCI config, BARs, MSI-X and transport state of each). It is paused and
# snapshotted mid-run, stopped, and restored in a new process with the same
# devices: the guest must go on issuing requests on the queue it set up
# before (the count continues with no gap, the device never asks for a
# reset, data read back is what was written). The image must hold what the
# guest wrote before the snapshot (disks are flushed), checked by the
# guest's own reads. Both I/O engines. A restore with other devices than
# the snapshot had is refused with one line naming the difference.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/snapshot_lib.bash"
snapshot_require
kvm_require vsnap.elf

VSTEP=64

vcounts() {
    cat "$@" | grep -oE 'vcount=[0-9]+' | sed 's/vcount=//'
}

# expect_vsequence BEFORE FILES...: VSTEP, 2*VSTEP, ... unbroken across FILES,
# at least 2 counts past BEFORE.
expect_vsequence() {
    local before=$1 expected=$VSTEP c
    shift
    while read -r c; do
        [ "$c" = "$expected" ] ||
            fail "request count broken across the restore: expected $expected, got $c (snapshot after $before)"
        expected=$((expected + VSTEP))
    done < <(vcounts "$@")
    [ "$expected" -gt $((before + 2 * VSTEP)) ] || fail "the restored guest made fewer than 2 rounds of requests"
}

DEVS=(--rng --balloon)

run_engine() {   # IO
    local io=$1 before first
    head -c $((256 * 512)) /dev/urandom >"$T/disk.img"
    local disk="path=$T/disk.img,io=$io"
    casulo_start --kernel "$GUESTS/vsnap.elf" --memory 64M --disk "$disk" "${DEVS[@]}" \
        --api-socket "$T/api"
    wait_count "vcount=" 5
    "$CASULO" pause --api "$T/api" >"$T/client.out" 2>&1 ||
        fail "casulo pause failed: $(cat "$T/client.out")"
    "$CASULO" snapshot --api "$T/api" "$T/snap-$io" >"$T/client.out" 2>&1 ||
        fail "casulo snapshot failed: $(cat "$T/client.out")"
    cp "$T/out" "$T/out.before"
    stop_with TERM
    expect_rc 0
    expect_no_out "GUEST FAIL"
    expect_out "status=0xf"
    before=$(vcounts "$T/out.before" | tail -n1)

    casulo_start --restore "$T/snap-$io" --memory 64M --disk "$disk" "${DEVS[@]}"
    wait_count "vcount=" 5
    stop_with TERM
    expect_rc 0
    expect_no_out "VSNAP start"
    expect_no_out "GUEST FAIL"
    expect_no_err_re "needs reset"
    expect_vsequence "$before" "$T/out.before" "$T/out"
    first=$(vcounts "$T/out" | head -n1)
    echo "io=$io: snapshot after $before requests, the restored guest went on at $first"
}

run_engine sync
run_engine uring

# Other devices than the snapshot's: refused before anything runs.
# (No --disk restores the snapshot's own disk: see docs/clones.md. A disk the
# snapshot does not have, or one too many, is refused.)
expect_rejected 1 "the snapshot has no disk with that id" --restore "$T/snap-sync" --memory 64M \
    --disk "path=$T/disk.img,id=nosuch" "${DEVS[@]}"
expect_rejected 1 "more --disk given than the snapshot has disks" --restore "$T/snap-sync" \
    --memory 64M --disk "path=$T/disk.img" --disk "path=$T/disk.img" "${DEVS[@]}"
expect_rejected 1 "PCI slot [0-9]+.*none there|slot [0-9]+: snapshot has" \
    --restore "$T/snap-sync" --memory 64M --disk "path=$T/disk.img" --rng
echo "ok (mismatched devices refused: $(head -n1 "$T/err"))"
