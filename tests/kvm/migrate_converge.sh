#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Convergence under a bandwidth cap, on a veth between two namespaces: a
# guest dirtying memory well below the cap converges; one dirtying far
# above it is reported as not converging and, with a deadline and no
# auto-converge, fails while the source keeps running; with auto-converge
# the vCPUs are throttled and the migration completes. No timing is
# asserted, only outcomes and what GET /migrate reported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate_lib.bash"
migrate_require migdirty.elf
CAP=16

# setup MODE: destination and source with the migdirty guest in MODE.
setup() {
    PORT=$((MIG_PORT + RANDOM % 100))
    rm -f "$T"/*.con "$T"/*.out "$T"/*.err "$T/src.sock"
    mig_start dst "$MIG_NS_B" --incoming "tcp:$MIG_DST_IP:$PORT" --memory 256M
    DST=$MIG_PID
    mig_wait_file "waiting for an incoming migration" "$T/dst.err"
    mig_start src "$MIG_NS_A" --kernel "$GUESTS/migdirty.elf" --memory 256M --cmdline "migdirty.$1" \
        --api-socket "$T/src.sock"
    SRC=$MIG_PID
    mig_wait_file "tick=2" "$T/src.con"
}

# Below the cap: converges.
setup slow
reply=$(api "$T/src.sock" PUT /migrate "{\"url\": \"tcp:$MIG_DST_IP:$PORT\", \"bandwidth_mib_s\": $CAP}")
[ "$(json_field "$reply" status)" = active ] || mfail "PUT /migrate: $reply"
reply=$(mig_wait_status "$T/src.sock" completed failed)
[ "$(json_field "$reply" status)" = completed ] || mfail "slow dirtier did not converge: $reply"
[ -n "$(json_field "$reply" downtime_ms)" ] && [ -n "$(json_field "$reply" total_ms)" ] ||
    mfail "no downtime_ms/total_ms in $reply"
mig_wait_exit "$SRC" 20
[ "$MIG_RC" = 0 ] || mfail "source exited $MIG_RC"
last=$(ticks "$T/src.con" | tail -n1)
mig_wait_file "tick=$((last + 2))" "$T/dst.con"
expect_unbroken 1 "$T/src.con" "$T/dst.con"
kill -TERM "$DST"; mig_wait_exit "$DST" 20
echo "below the cap: converged, downtime $(json_field "$reply" downtime_ms) ms, total $(json_field "$reply" total_ms) ms"

# Above the cap, no auto-converge, a deadline: reported as not converging, then fails; the source runs on.
setup fast
reply=$(api "$T/src.sock" PUT /migrate "{\"url\": \"tcp:$MIG_DST_IP:$PORT\", \"bandwidth_mib_s\": $CAP, \"timeout_s\": 20, \"compress\": false}")
[ "$(json_field "$reply" status)" = active ] || mfail "PUT /migrate: $reply"
seen_nonconv=
for _ in $(seq 400); do
    reply=$(api "$T/src.sock" GET /migrate)
    [ "$(json_field "$reply" converging)" = false ] && { seen_nonconv=1; break; }
    [ "$(json_field "$reply" status)" = active ] || break
    sleep 0.1
done
[ -n "$seen_nonconv" ] || mfail "GET /migrate never reported converging=false: $reply"
[ "$(json_field "$reply" throttle_percent)" = 0 ] || mfail "throttled without auto_converge: $reply"
reply=$(mig_wait_status "$T/src.sock" failed completed)
[ "$(json_field "$reply" status)" = failed ] || mfail "fast dirtier without auto-converge: $reply"
json_field "$reply" error | grep -q "did not converge" || mfail "no 'did not converge' error: $reply"
expect_source_alive "$T/src.sock" "$T/src.con"
mig_wait_exit "$DST" 20
[ "$MIG_RC" != 0 ] || mfail "destination exited 0 after the source gave up"
grep -q "did not converge" "$T/dst.err" || mfail "destination did not say why it stopped"
kill -TERM "$SRC"; mig_wait_exit "$SRC" 20
echo "above the cap: not converging reported, failed after the deadline, source kept running"

# Above the cap with auto-converge: throttled, completes.
setup fast
reply=$(api "$T/src.sock" PUT /migrate "{\"url\": \"tcp:$MIG_DST_IP:$PORT\", \"bandwidth_mib_s\": 32, \"max_downtime_ms\": 1000, \"auto_converge\": true, \"compress\": false}")
[ "$(json_field "$reply" status)" = active ] || mfail "PUT /migrate: $reply"
max_throttle=0
for _ in $(seq 1200); do
    reply=$(api "$T/src.sock" GET /migrate)
    t=$(json_field "$reply" throttle_percent)
    [ -n "$t" ] && [ "$t" -gt "$max_throttle" ] && max_throttle=$t
    [ "$(json_field "$reply" status)" = active ] || break
    sleep 0.1
done
[ "$(json_field "$reply" status)" = completed ] || mfail "auto-converge did not complete: $reply"
[ "$max_throttle" -gt 0 ] || mfail "auto-converge never throttled the vCPUs"
mig_wait_exit "$SRC" 20
[ "$MIG_RC" = 0 ] || mfail "source exited $MIG_RC"
last=$(ticks "$T/src.con" | tail -n1)
mig_wait_file "tick=$((last + 2))" "$T/dst.con" 60
expect_unbroken 1 "$T/src.con" "$T/dst.con"
kill -TERM "$DST"; mig_wait_exit "$DST" 20
echo "auto-converge: throttled up to $max_throttle%, completed, downtime $(json_field "$reply" downtime_ms) ms"
echo "PASS"
