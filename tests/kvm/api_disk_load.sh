#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The API keeps answering while the guest hammers a disk. The virtio guest's
# benchmark loop issues back-to-back virtio-blk requests (4 KiB reads, then
# in a second VM 64 KiB writes) until it is stopped; meanwhile GET /vm,
# GET /metrics, GET /healthz and the client's status verb must each answer
# successfully within API_BOUND seconds. The bound is generous on purpose:
# it detects an API thread stuck behind guest I/O, it does not measure speed.
# The blk0 counters of the op being hammered must grow between scrapes, the
# other op's stay put, and no request counts as an error.
. "$(dirname "$0")/lib.sh"
kvm_require virtio.elf
command -v curl >/dev/null || skip "no curl"
"$CASULO" run --help | grep -q -- --api-socket || skip "casulo run has no --api-socket"

S=$T/api.sock
API_BOUND=${API_BOUND:-5}
ROUNDS=${ROUNDS:-13}   # x 4 requests per VM: a bit over 50 each

# api METHOD PATH: one request that must answer 200 within the bound; body in $T/reply.
api() {
    local code
    code=$(curl -s -o "$T/reply" -w '%{http_code}' --max-time "$API_BOUND" \
        --unix-socket "$S" -X "$1" "http://localhost$2")
    local rc=$?
    [ "$rc" = 0 ] || fail "curl $1 $2 failed or took over ${API_BOUND}s (curl exit $rc) while the guest hammered the disk"
    [ "$code" = 200 ] || fail "$1 $2: HTTP $code: $(cat "$T/reply")"
}

wait_socket() {
    local i=0
    while [ ! -S "$S" ]; do
        i=$((i + 1)); [ $i -le 300 ] || fail "no API socket at $S"
        kill -0 "$PID" 2>/dev/null || fail "casulo exited before creating its API socket"
        sleep 0.1
    done
}

# blk_counter FAMILY OP: a blk0 sample from the last /metrics reply.
blk_counter() {
    local v
    v=$(sed -n "s/^casulo_device_$1_total{device=\"blk0\",kind=\"virtio-blk\",op=\"$2\"} //p" "$T/reply")
    [ -n "$v" ] || fail "/metrics has no $1 counter for blk0 op $2: $(cat "$T/reply")"
    echo "$v"
}

# still_loading: the guest is inside its loop (not finished, not failed).
still_loading() {
    kill -0 "$PID" 2>/dev/null || fail "casulo exited while the guest was hammering the disk"
    if grep -qE 'BENCH END|FAIL|no completion|bench_errors' "$T/out"; then
        fail "the guest left its request loop early"
    fi
}

truncate -s 2M "$T/disk.img" || skip "cannot create a disk image in $T"

run_load() {   # BENCH HAMMERED_OP IDLE_OP
    local bench=$1 op=$2 idle=$3 i r0 r1 b0 b1 idle0 idle1
    rm -f "$S"
    # n: far more requests than the test lasts; `stop` ends the loop.
    casulo_start --kernel "$GUESTS/virtio.elf" --memory 128M --console stdio \
        --disk "path=$T/disk.img,io=uring" --api-socket "$S" --cmdline "bench=$bench n=4000000000"
    wait_out "BENCH START"
    wait_socket

    api GET /metrics
    r0=$(blk_counter requests "$op"); b0=$(blk_counter bytes "$op")
    idle0=$(blk_counter requests "$idle")
    for i in $(seq "$ROUNDS"); do
        api GET /vm
        grep -qF '"state":"Running"' "$T/reply" || fail "GET /vm while loaded: $(cat "$T/reply")"
        api GET /metrics
        api GET /healthz
        grep -qF '"status":"ok"' "$T/reply" || fail "GET /healthz while loaded: $(cat "$T/reply")"
        timeout "$API_BOUND" "$CASULO" status --api "$S" >"$T/cout" 2>&1 ||
            fail "casulo status failed or took over ${API_BOUND}s: $(cat "$T/cout")"
        grep -qE '^state +Running$' "$T/cout" || fail "casulo status while loaded: $(cat "$T/cout")"
        still_loading
    done
    api GET /metrics
    r1=$(blk_counter requests "$op"); b1=$(blk_counter bytes "$op")
    idle1=$(blk_counter requests "$idle")
    [ "$r1" -gt "$r0" ] || fail "blk0 $op requests did not grow under load: $r0 then $r1"
    [ "$b1" -gt "$b0" ] || fail "blk0 $op bytes did not grow under load: $b0 then $b1"
    [ "$idle1" = "$idle0" ] || fail "blk0 $idle requests moved though the guest only does $op: $idle0 then $idle1"
    [ "$(blk_counter errors "$op")" = 0 ] || fail "blk0 $op errors under load: $(cat "$T/reply")"
    echo "$bench: blk0 $op requests $r0 -> $r1, bytes $b0 -> $b1"

    timeout 30 "$CASULO" stop --api "$S" >"$T/cout" 2>&1 || fail "casulo stop: $(cat "$T/cout")"
    casulo_wait 30
    expect_rc 0
    expect_err_re 'stopped through the API'
}

run_load rd4k read write
run_load wr64k write read
echo "ok"
