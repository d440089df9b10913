#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Live migration between two casulo processes in two network namespaces
# joined by a veth pair. The counter guest keeps counting on the
# destination without a gap, restart or repeat; the migdirty guest's
# memory-pattern checksum on the destination equals the one it printed on
# the source; the source exits 0 only once the destination runs; GET
# /migrate reports the measured downtime and total time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate_lib.bash"
migrate_require counter.elf migdirty.elf

# migrate_once GUEST STEP CMDLINE [ARGS...]: migrate a running GUEST (both sides get ARGS), check the handover.
migrate_once() {
    local guest=$1 step=$2 cmdline=$3 port=$((MIG_PORT + RANDOM % 100))
    shift 3
    rm -f "$T"/*.con "$T"/*.out "$T"/*.err "$T/src.sock"
    mig_start dst "$MIG_NS_B" --incoming "tcp:$MIG_DST_IP:$port" --memory 256M "$@"
    local dst=$MIG_PID
    mig_wait_file "waiting for an incoming migration" "$T/dst.err"
    mig_start src "$MIG_NS_A" --kernel "$GUESTS/$guest" --memory 256M --cmdline "$cmdline" \
        --api-socket "$T/src.sock" "$@"
    local src=$MIG_PID
    mig_wait_file "$(if [ "$step" = 1 ]; then echo tick=3; else echo count=60000; fi)" "$T/src.con"
    "$CASULO" migrate --api "$T/src.sock" "tcp:$MIG_DST_IP:$port" --watch >"$T/watch.out" 2>&1 ||
        mfail "casulo migrate --watch failed: $(cat "$T/watch.out")"
    grep -q '^completed: downtime [0-9]* ms, total [0-9]* ms' "$T/watch.out" ||
        mfail "no completion line from --watch: $(cat "$T/watch.out")"
    mig_wait_exit "$src" 20
    [ "$MIG_RC" = 0 ] || mfail "the source exited $MIG_RC after the migration, expected 0"
    grep -q "migrated to tcp:$MIG_DST_IP:$port" "$T/src.err" || mfail "the source did not say it migrated"
    # The destination runs on: three more values past the source's last one.
    local last
    last=$(ticks "$T/src.con" | tail -n1)
    mig_wait_file "$(if [ "$step" = 1 ]; then echo "tick=$((last + 3))"; else echo "count=$((last + 3 * step))"; fi)" "$T/dst.con"
    kill -0 "$dst" || mfail "the destination exited"
    if [ $# -gt 0 ]; then
        # Shared storage: the destination now holds the disk's lock.
        timeout 20 "$CASULO" run --kernel "$GUESTS/$guest" --memory 16M --console off "$@" \
            >"$T/third.out" 2>&1 && mfail "a third VM opened the migrated VM's disk"
        grep -q "locked by another VM" "$T/third.out" ||
            mfail "a third VM was refused for another reason: $(cat "$T/third.out")"
    fi
    expect_unbroken "$step" "$T/src.con" "$T/dst.con"
    ! grep -q "GUEST FAIL" "$T/src.con" "$T/dst.con" || mfail "a guest failed its own checks"
    ! grep -qE "COUNTER start|MIGDIRTY start" "$T/dst.con" || mfail "the guest restarted on the destination"
    kill -TERM "$dst"
    mig_wait_exit "$dst" 20
    [ "$MIG_RC" = 0 ] || mfail "the destination exited $MIG_RC on SIGTERM"
    echo "$guest: $(tail -n1 "$T/watch.out")"
}

# A read-write disk on "shared storage" (one file both sides open): its lock moves with the VM.
truncate -s 1M "$T/disk.img"
migrate_once counter.elf 20000 "" --disk "path=$T/disk.img"
migrate_once migdirty.elf 1 "migdirty.slow"
pattern=$(grep -oE 'pattern=0x[0-9a-f]+' "$T/src.con" | head -n1 | cut -d= -f2)
[ -n "$pattern" ] || mfail "the source guest printed no pattern checksum"
dsum=$(grep -oE 'sum=0x[0-9a-f]+' "$T/dst.con" | tail -n1 | cut -d= -f2)
[ "$dsum" = "$pattern" ] || mfail "memory checksum on the destination is $dsum, the source's pattern was $pattern"
echo "memory pattern checksum $pattern matches on the destination"
echo "PASS"
