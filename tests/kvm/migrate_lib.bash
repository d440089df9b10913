# SPDX-License-Identifier: Apache-2.0
# Shared by the live-migration tests (sourced after lib.sh; not *.sh, so the
# kvm tier does not run it as a test). Two "hosts" are two network
# namespaces joined by a veth pair: the source VM runs in A (10.77.N.1), the
# destination in B (10.77.N.2). Every VM's console goes to a file, its API
# to a Unix socket in $T; helpers start them, poll GET /migrate and read the
# guests' counters. Everything is removed on exit, even after a failure.

MIG_NS_A=casmigA$$
MIG_NS_B=casmigB$$
MIG_VETH_A=cmA$$
MIG_VETH_B=cmB$$
MIG_NET=10.77.$(($$ % 250 + 1))
MIG_SRC_IP=$MIG_NET.1
MIG_DST_IP=$MIG_NET.2
MIG_PORT=7700
MIG_PIDS=()

mig_cleanup() {
    local p
    for p in "${MIG_PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null
    done
    ip netns del "$MIG_NS_A" 2>/dev/null
    ip netns del "$MIG_NS_B" 2>/dev/null
    lib_cleanup
}
trap mig_cleanup EXIT

migrate_require() {
    kvm_require "$@"
    command -v ip >/dev/null || skip "no ip command (iproute2)"
    command -v curl >/dev/null || skip "no curl"
    [ "$(id -u)" = 0 ] || skip "network namespaces need root"
    "$CASULO" run --help 2>&1 | grep -q -- '--incoming' || skip "casulo run has no --incoming"
    ip netns add "$MIG_NS_A" 2>/dev/null || skip "cannot create network namespaces"
    ip netns add "$MIG_NS_B" || fail "cannot create a second network namespace"
    ip link add "$MIG_VETH_A" type veth peer name "$MIG_VETH_B" || fail "cannot create a veth pair"
    ip link set "$MIG_VETH_A" netns "$MIG_NS_A" || fail "cannot move the veth into $MIG_NS_A"
    ip link set "$MIG_VETH_B" netns "$MIG_NS_B" || fail "cannot move the veth into $MIG_NS_B"
    ip -n "$MIG_NS_A" addr add "$MIG_SRC_IP/24" dev "$MIG_VETH_A"
    ip -n "$MIG_NS_B" addr add "$MIG_DST_IP/24" dev "$MIG_VETH_B"
    ip -n "$MIG_NS_A" link set lo up
    ip -n "$MIG_NS_B" link set lo up
    ip -n "$MIG_NS_A" link set "$MIG_VETH_A" up || fail "cannot bring $MIG_VETH_A up"
    ip -n "$MIG_NS_B" link set "$MIG_VETH_B" up || fail "cannot bring $MIG_VETH_B up"
}

# mig_start NAME NETNS ARGS...: `casulo run ARGS` in NETNS in the background,
# console in $T/NAME.con, stdout/stderr in $T/NAME.out/.err; sets MIG_PID.
mig_start() {
    local name=$1 ns=$2
    shift 2
    : >"$T/$name.con"
    ip netns exec "$ns" "$CASULO" run --console "file=$T/$name.con" "$@" \
        </dev/null >"$T/$name.out" 2>"$T/$name.err" &
    MIG_PID=$!
    MIG_PIDS+=("$MIG_PID")
}

mig_show() {
    local f
    for f in "$T"/*.err "$T"/*.out; do
        [ -s "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
    done
    for f in "$T"/*.con; do
        [ -s "$f" ] && { echo "--- $f (last lines)"; tail -n 5 "$f"; }
    done
}

mfail() {
    echo "FAIL: $*"
    mig_show
    exit 1
}

# mig_wait_file TEXT FILE [SECONDS]
mig_wait_file() {
    local text=$1 file=$2 secs=${3:-30} i=0
    while ! grep -qF -- "$text" "$file" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le $((secs * 10)) ] || mfail "no '$text' in $file after ${secs}s"
        sleep 0.1
    done
}

# api SOCKET METHOD PATH [BODY]: the reply body on stdout.
api() {
    if [ -n "${4:-}" ]; then
        curl -s -m 10 --unix-socket "$1" -X "$2" -H 'Content-Type: application/json' -d "$4" "http://localhost$3"
    else
        curl -s -m 10 --unix-socket "$1" -X "$2" "http://localhost$3"
    fi
}

# json_field JSON KEY: a top-level scalar of a JSON object (strings without quotes).
json_field() {
    python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(str(v).lower() if isinstance(v,bool) else ("" if v is None else v))' "$1" "$2"
}

# mig_wait_status SOCKET STATUS... [--secs N]: until GET /migrate says one of STATUS; echoes the reply.
mig_wait_status() {
    local sock=$1 secs=60 i=0 reply s want
    shift
    while :; do
        reply=$(api "$sock" GET /migrate)
        s=$(json_field "$reply" status 2>/dev/null)
        for want in "$@"; do
            [ "$s" = "$want" ] && { echo "$reply"; return 0; }
        done
        i=$((i + 1))
        [ $i -le $((secs * 10)) ] || mfail "GET /migrate did not reach '$*' in ${secs}s (last: $reply)"
        sleep 0.1
    done
}

# mig_wait_sent SOCKET BYTES: until the migration has sent BYTES (so it is mid-copy).
mig_wait_sent() {
    local sock=$1 bytes=$2 i=0 reply
    while :; do
        reply=$(api "$sock" GET /migrate)
        [ "$(json_field "$reply" status)" = active ] || mfail "migration is no longer active: $reply"
        [ "$(json_field "$reply" bytes_sent)" -ge "$bytes" ] 2>/dev/null && return 0
        i=$((i + 1))
        [ $i -le 600 ] || mfail "migration did not send $bytes bytes in 60s: $reply"
        sleep 0.1
    done
}

# ticks FILE...: the tick= (or count=) values printed across FILEs, one a line.
ticks() {
    cat "$@" | grep -oE '(tick|count)=[0-9]+' | sed 's/^[a-z]*=//'
}

# expect_unbroken STEP FILE...: the values go up by STEP each line, with no gap or restart.
expect_unbroken() {
    local step=$1 prev= v
    shift
    while read -r v; do
        if [ -n "$prev" ] && [ "$v" != $((prev + step)) ]; then
            mfail "sequence broken across the migration: $prev then $v"
        fi
        prev=$v
    done < <(ticks "$@")
    [ -n "$prev" ] || mfail "no values printed"
}

# expect_source_alive SOCKET CONSOLE: the source VM still runs (state Running,
# its console still advancing) after a failed migration.
expect_source_alive() {
    local sock=$1 con=$2 reply before
    reply=$(api "$sock" GET /vm)
    [ "$(json_field "$reply" state)" = Running ] || mfail "source VM is not Running after the failure: $reply"
    before=$(ticks "$con" | tail -n1)
    local i=0
    while [ "$(ticks "$con" | tail -n1)" = "$before" ]; do
        i=$((i + 1))
        [ $i -le 200 ] || mfail "the source guest stopped advancing after the failure (stuck at $before)"
        sleep 0.1
    done
}

# mig_wait_exit PID SECONDS: until PID exits; its status in MIG_RC.
mig_wait_exit() {
    local pid=$1 secs=$2 i=0
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le $((secs * 10)) ] || mfail "process $pid still running after ${secs}s"
        sleep 0.1
    done
    wait "$pid"
    MIG_RC=$?
}
