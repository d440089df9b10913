#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A damaged or mismatched snapshot is refused by `casulo run --restore` with
# exit status 1, one line on stderr naming the problem, and no guest output
# (nothing started): a flipped byte, a truncated state file, a newer format
# version, a vCPU count other than the snapshot's, a missing, truncated or
# foreign memory file. The untouched snapshot restores, so every refusal
# below is due to its one damage.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/snapshot_lib.bash"
snapshot_require

snapshot_counter "$T/good" "$T/out.good"
snapshot_counter "$T/other" "$T/out.other"

casulo_start --restore "$T/good" --memory 64M
wait_count "count=" 1
stop_with TERM
expect_rc 0

damaged() {   # NAME: a fresh copy of the good snapshot to damage
    rm -rf "$T/$1"
    cp -r "$T/good" "$T/$1"
    echo "$T/$1"
}
flip_byte() {   # FILE OFFSET
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $(((b ^ 0x40) & 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
size() { stat -c %s "$1"; }
refused() {   # REGEX ARGS...: expect_rejected with exit status 1, and log the line
    expect_rejected 1 "$@"
    echo "refused: $(head -n1 "$T/err")"
}

# The first record after the 64-byte header and 48-byte record header.
d=$(damaged flip1); flip_byte "$d/state" $((64 + 48 + 4))
refused "corrupt|checksum" --restore "$d" --memory 64M
d=$(damaged flip2); flip_byte "$d/state" $(($(size "$d/state") / 2))
refused "corrupt|checksum|malformed|invalid|too large" --restore "$d" --memory 64M
d=$(damaged flip3); flip_byte "$d/state" $(($(size "$d/state") - 3))
refused "corrupt|checksum" --restore "$d" --memory 64M
d=$(damaged trunc); truncate -s $(($(size "$d/state") / 2)) "$d/state"
refused "truncated" --restore "$d" --memory 64M
d=$(damaged empty); : >"$d/state"
refused "truncated" --restore "$d" --memory 64M
d=$(damaged version); printf '\002' | dd of="$d/state" bs=1 seek=8 conv=notrunc status=none
refused "version 2" --restore "$d" --memory 64M
refused "vCPU" --restore "$T/good" --memory 64M --cpus 2
d=$(damaged nomem); rm "$d/memory"
refused "memory.*missing" --restore "$d" --memory 64M
d=$(damaged memtrunc); truncate -s 1M "$d/memory"
refused "memory.*truncated" --restore "$d" --memory 64M
d=$(damaged foreign); cp "$T/other/memory" "$d/memory"
refused "another snapshot" --restore "$d" --memory 64M
d=$(damaged nostate); rm "$d/state"
refused "state" --restore "$d" --memory 64M
echo "ok"
