#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Failures before the switch-over never lose the VM: the destination killed
# with SIGKILL mid-copy, the veth cut mid-copy, a stream with one flipped
# bit, a destination configured differently, and a stream that is not a
# migration at all. Each time the source keeps running (state Running, its
# guest still counting) with the error in GET /migrate, and the destination
# exits non-zero with one clear line. A guest rewriting 64 MiB and a 4 MiB/s
# bandwidth cap make "mid-copy" last long enough; nothing is timed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate_lib.bash"
migrate_require migdirty.elf
command -v python3 >/dev/null || skip "no python3"
PROXY="$(dirname "$0")/migrate_proxy.py"
CAP=4

# setup [DEST ARGS...]: a destination (with extra args) and, unless one runs,
# a source running migdirty (with SRC_ARGS).
SRC_ARGS=()
setup() {
    PORT=$((MIG_PORT + RANDOM % 100))
    rm -f "$T"/dst.*
    mig_start dst "$MIG_NS_B" --incoming "tcp:$MIG_DST_IP:$PORT" --memory 256M "$@"
    DST=$MIG_PID
    mig_wait_file "waiting for an incoming migration" "$T/dst.err"
    if [ -z "${SRC:-}" ] || ! kill -0 "$SRC" 2>/dev/null; then
        mig_start src "$MIG_NS_A" --kernel "$GUESTS/migdirty.elf" --memory 256M \
            --cmdline migdirty.fast --api-socket "$T/src.sock" "${SRC_ARGS[@]}"
        SRC=$MIG_PID
        mig_wait_file "tick=2" "$T/src.con"
    fi
}

start_migration() {   # URL
    local reply
    reply=$(api "$T/src.sock" PUT /migrate "{\"url\": \"$1\", \"bandwidth_mib_s\": $CAP, \"compress\": false}")
    [ "$(json_field "$reply" status)" = active ] || mfail "PUT /migrate: $reply"
}

# after_failure WHAT PATTERN: GET /migrate failed with PATTERN, the source runs on.
after_failure() {
    local reply err
    reply=$(mig_wait_status "$T/src.sock" failed completed cancelled)
    [ "$(json_field "$reply" status)" = failed ] || mfail "$1: expected failed, got $reply"
    err=$(json_field "$reply" error)
    echo "$err" | grep -qiE "$2" || mfail "$1: error '$err' does not match /$2/"
    expect_source_alive "$T/src.sock" "$T/src.con"
    expect_unbroken 1 "$T/src.con"
    echo "$1: source kept running; GET /migrate: $err"
}

# dst_failed WHAT PATTERN: the destination exited non-zero with one line matching PATTERN.
dst_failed() {
    mig_wait_exit "$DST" 40
    [ "$MIG_RC" != 0 ] || mfail "$1: the destination exited 0"
    grep -qiE "$2" "$T/dst.err" || mfail "$1: destination said: $(cat "$T/dst.err")"
    ! grep -q "tick=" "$T/dst.con" || mfail "$1: the destination ran the guest"
    echo "$1: destination exited $MIG_RC: $(grep -iE "$2" "$T/dst.err" | head -n1)"
}

# 1. SIGKILL the destination mid-copy.
setup
start_migration "tcp:$MIG_DST_IP:$PORT"
mig_wait_sent "$T/src.sock" $((4 << 20))
# The migration owns pause/resume while it runs.
reply=$(api "$T/src.sock" PUT /vm/state '{"state": "Paused"}')
echo "$reply" | grep -q "a migration is in progress" || mfail "pause during a migration: $reply"
kill -9 "$DST"
mig_wait_exit "$DST" 10
after_failure "destination killed" "reset|broken pipe|closed|refused|sending"

# 2. Cut the link mid-copy: the source notices the lack of progress.
setup
start_migration "tcp:$MIG_DST_IP:$PORT"
mig_wait_sent "$T/src.sock" $((4 << 20))
ip -n "$MIG_NS_A" link set "$MIG_VETH_A" down
after_failure "link cut" "no progress|timed out|unreachable|network"
dst_failed "link cut" "incoming migration failed"
ip -n "$MIG_NS_A" link set "$MIG_VETH_A" up
ip -n "$MIG_NS_A" addr add "$MIG_SRC_IP/24" dev "$MIG_VETH_A" 2>/dev/null

# 3. One flipped bit in the stream (past the header): the destination refuses it.
setup
PPORT=$((PORT + 200))
ip netns exec "$MIG_NS_B" python3 "$PROXY" "$MIG_DST_IP" "$PPORT" "$MIG_DST_IP" "$PORT" 3000000 \
    >"$T/proxy.out" 2>&1 &
MIG_PIDS+=("$!")
mig_wait_file listening "$T/proxy.out"
start_migration "tcp:$MIG_DST_IP:$PPORT"
after_failure "corrupt stream" "corrupt|checksum"
dst_failed "corrupt stream" "migration stream is corrupt"

# 4. RUNNING lost after COMMIT (the two generals): the source cannot know
#    whether the destination runs, so it keeps its VM paused and says so;
#    the destination, which got COMMIT, runs the VM. A shared disk's lock
#    went with it: resuming the source is refused until the destination stops.
kill -TERM "$SRC"; mig_wait_exit "$SRC" 20
SRC=
rm -f "$T"/src.*
truncate -s 1M "$T/disk.img"
SRC_ARGS=(--disk "path=$T/disk.img")
setup --disk "path=$T/disk.img"
PPORT=$((PORT + 300))
ip netns exec "$MIG_NS_B" python3 "$PROXY" "$MIG_DST_IP" "$PPORT" "$MIG_DST_IP" "$PORT" droprunning \
    >"$T/proxy.out" 2>&1 &
MIG_PIDS+=("$!")
mig_wait_file listening "$T/proxy.out"
reply=$(api "$T/src.sock" PUT /migrate "{\"url\": \"tcp:$MIG_DST_IP:$PPORT\", \"max_downtime_ms\": 60000}")
[ "$(json_field "$reply" status)" = active ] || mfail "PUT /migrate: $reply"
reply=$(mig_wait_status "$T/src.sock" failed completed)
migerr=$(json_field "$reply" error)
echo "$migerr" | grep -q "outcome unknown after COMMIT" || mfail "lost RUNNING: $reply"
[ "$(json_field "$(api "$T/src.sock" GET /vm)" state)" = Paused ] ||
    mfail "the source VM is not paused after a lost RUNNING"
last=$(ticks "$T/src.con" | tail -n1)
mig_wait_file "tick=$((last + 2))" "$T/dst.con"
expect_unbroken 1 "$T/src.con" "$T/dst.con"
reply=$(api "$T/src.sock" PUT /vm/state '{"state": "Running"}')
echo "$reply" | grep -q "a disk is locked by another VM" || mfail "resume while the destination runs: $reply"
echo "lost RUNNING: source stays paused ($(echo "$migerr" | cut -c1-60)...), destination runs, resume refused"
# Had the destination not run it, the source could go on: stop the destination, resume.
kill -TERM "$DST"; mig_wait_exit "$DST" 20
reply=$(api "$T/src.sock" PUT /vm/state '{"state": "Running"}')
[ "$(json_field "$reply" state)" = Running ] || mfail "resume after the destination stopped: $reply"
kill -TERM "$SRC"; mig_wait_exit "$SRC" 20
SRC=
SRC_ARGS=()
rm -f "$T"/src.*

# 5. A destination with another memory size refuses the stream at its header.
setup --memory 128M
start_migration "tcp:$MIG_DST_IP:$PORT"
after_failure "config mismatch" "refused.*256 MiB.*128 MiB"
dst_failed "config mismatch" "refused.*256 MiB of memory but this one is configured with 128 MiB"

# 6. Not a migration stream at all.
setup
ip netns exec "$MIG_NS_A" python3 "$PROXY" - 0 "$MIG_DST_IP" "$PORT" garbage >"$T/proxy.out" 2>&1
dst_failed "garbage stream" "not a casulo migration stream"

kill -TERM "$SRC"
mig_wait_exit "$SRC" 20
[ "$MIG_RC" = 0 ] || mfail "source exited $MIG_RC on SIGTERM"
echo "PASS"
