#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `casulo vm migrate` between two daemons on this machine ("hosts": two
# state directories, two Unix sockets; the VMMs' migration stream over
# 127.0.0.1). The counter guest moves and keeps counting on the
# destination without a gap or a restart, the source no longer defines it.
# Failures leave the VM running on its source with the error in `vm info`:
# the destination refusing (a VM of that name there), a wrong token, and
# the destination's VMM killed mid-copy (a bandwidth cap keeps the copy
# going long enough; nothing is timed).
. "$(dirname "$0")/lib.sh"
mgr_require
for g in counter migdirty; do
    [ -f "$GUESTS/$g.elf" ] || skip "guest $GUESTS/$g.elf is not built (make guests)"
done
"$CASULO" run --help 2>&1 | grep -q -- '--incoming' || skip "casulo run has no --incoming"

# The destination daemon: its own state directory and socket, with a token.
STATE2=$T/state2
SOCK2=$T/dst.sock
DLOG2=$T/daemon2.log
TOKEN=dest-0123456789abcdef
printf '%s\n' "$TOKEN" >"$T/token"
DAEMON2_PID=

cleanup2() {
    if [ -n "$DAEMON2_PID" ]; then
        kill -9 "$DAEMON2_PID" 2>/dev/null
        wait "$DAEMON2_PID" 2>/dev/null
    fi
    local p
    for p in $(pgrep -f -- "--config $STATE2/vms/" 2>/dev/null); do
        kill -9 "$p" 2>/dev/null
    done
    lib_cleanup
}
trap cleanup2 EXIT

fail2() {
    echo "--- destination daemon log (last 30 lines):"
    tail -n 30 "$DLOG2" 2>/dev/null
    fail "$@"
}

dvm() { CASULO_CONNECT=unix:$SOCK2 CASULO_TOKEN=$TOKEN "$CASULO" vm "$@"; }
dfield() { dvm info "$1" 2>/dev/null | awk -v k="$2:" '$1 == k { print $2 }'; }

# It may commit 1 GiB of guest memory, whatever this machine has.
RATIO=$(awk '/^MemTotal:/ { printf "%.6f", 1048576 / $2 }' /proc/meminfo)
"$CASULO" serve --state-dir "$STATE2" --listen "unix:$SOCK2" --token-file "$T/token" \
    --overcommit "$RATIO" \
    ${CASULO_VMM:+--vmm "$CASULO_VMM"} >>"$DLOG2" 2>&1 &
DAEMON2_PID=$!
daemon_start
i=0
until dvm list >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -le $((WAIT_S * 10)) ] || fail2 "the destination daemon did not answer"
    sleep 0.1
done

# ticks FILE...: the count= / tick= values printed across FILEs, one a line.
ticks() {
    cat "$@" | grep -oE '(tick|count)=[0-9]+' | sed 's/^[a-z]*=//'
}

# expect_unbroken STEP FILE...: the values go up by STEP each line, no gap, no restart.
expect_unbroken() {
    local step=$1 prev= v
    shift
    while read -r v; do
        [ -z "$prev" ] || [ "$v" = $((prev + step)) ] || fail2 "sequence broken: $prev then $v"
        prev=$v
    done < <(ticks "$@")
    [ -n "$prev" ] || fail2 "no values printed in $*"
}

# still_running NAME CONSOLE: the source runs it, and its guest still advances.
still_running() {
    [ "$(field "$1" state)" = running ] || fail "VM $1 is '$(field "$1" state)' on the source after a failed migration"
    local before i=0
    before=$(ticks "$2" | tail -n1)
    while [ "$(ticks "$2" | tail -n1)" = "$before" ]; do
        i=$((i + 1))
        [ $i -le $((WAIT_S * 10)) ] || fail "VM $1's guest stopped advancing (at $before)"
        sleep 0.1
    done
}

# wait_text FILE TEXT
wait_text() {
    local i=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le $((WAIT_S * 10)) ] || fail2 "no '$2' in $1 within ${WAIT_S}s"
        sleep 0.1
    done
}

ok vm create c1 --kernel "$GUESTS/counter.elf" --memory 64M --start
CON1=$STATE/vms/c1/console.log
wait_text "$CON1" "count=40000"
wait_state c1 running

# --- 1. the destination refuses: it has a VM of that name
ok dvm create c1 --kernel "$SPIN" --memory 16M
refused 1 "the destination daemon at $SOCK2 refused the VM: a VM named 'c1' already exists" \
    vm migrate c1 --to "unix:$SOCK2" --dest-token "$TOKEN"
still_running c1 "$CON1"
vm info c1 | grep -q "migration:    failed" || fail "vm info c1 shows no failed migration: $(vm info c1)"
vm info c1 | grep -q "migration error: .*already exists" || fail "vm info c1 lacks the error"
[ "$(dfield c1 state)" = stopped ] || fail2 "the destination's own c1 changed: $(dfield c1 state)"
ok dvm delete c1
echo "duplicate name at the destination: refused, the VM runs on"

# --- 2. a wrong token, and none
refused 1 "refused the token (give its token with --dest-token)" \
    vm migrate c1 --to "unix:$SOCK2" --dest-token wrong-token-0123456789
refused 1 "refused the token" vm migrate c1 --to "unix:$SOCK2"
still_running c1 "$CON1"
dvm list | grep -q '^c1 ' && fail2 "the destination defined c1 without the right token"
echo "wrong token: refused, the VM runs on"

# --- 3. the move
ok vm migrate c1 --to "unix:$SOCK2" --dest-token "$TOKEN" --watch
echo "$OUT" | grep -qE "^completed: downtime [0-9]+ ms, total [0-9]+ ms" || fail "vm migrate --watch said: $OUT"
echo "$OUT" | tail -n1
vm list | grep -q '^c1 ' && fail "the source still lists c1 after the move"
[ "$(dfield c1 state)" = running ] || fail2 "c1 is '$(dfield c1 state)' on the destination"
OLD=$(ls -d "$STATE"/migrated/c1-* 2>/dev/null | head -n1)
[ -n "$OLD" ] && [ -f "$OLD/console.log" ] && [ -f "$OLD/migration.json" ] ||
    fail "the source kept no migrated/c1-*/ with its console log and migration.json"
grep -q '"status": "completed"' "$OLD/migration.json" || fail "migration.json: $(cat "$OLD/migration.json")"
CON2=$STATE2/vms/c1/console.log
last=$(ticks "$OLD/console.log" | tail -n1)
wait_text "$CON2" "count=$((last + 60000))"
expect_unbroken 20000 "$OLD/console.log" "$CON2"
grep -q "COUNTER start" "$CON2" && fail2 "the guest started again on the destination"
grep -q "GUEST FAIL" "$OLD/console.log" "$CON2" && fail2 "the guest failed its own checks"
pid=$(dfield c1 pid)
[ -n "$pid" ] && grep -qF -- "$STATE2/vms/c1/vm.json" "/proc/$pid/cmdline" ||
    fail2 "the destination's c1 has no VMM of its own (pid '$pid')"
[ -z "$(vmm_pids)" ] || fail "a VMM of the source state directory still runs: $(vmm_pids)"
consistent
echo "moved: the counter goes on at the destination from $last, without a gap"

# --- 4. the destination's VMM killed mid-copy
ok vm create big --kernel "$GUESTS/migdirty.elf" --memory 256M --cmdline migdirty.slow --start
CONB=$STATE/vms/big/console.log
wait_text "$CONB" "tick=2"
wait_state big running
# 2 MiB/s, uncompressed (this guest's pages compress ~1000-fold): the ~17 MiB it
# holds take seconds, so "mid-copy" holds on a loaded host
ok vm migrate big --to "unix:$SOCK2" --dest-token "$TOKEN" --bandwidth 2 --no-compress
refused 1 "VM 'big' is already migrating to $SOCK2" vm migrate big --to "unix:$SOCK2"
i=0
while :; do
    sent=$(vm --json info big | python3 -c 'import json,sys; m=json.load(sys.stdin).get("migration") or {}; p=m.get("progress") or {}; print(p.get("bytes_sent", 0) if m.get("status") == "active" else -1)')
    [ "$sent" -ge $((4 << 20)) ] && break
    [ "$sent" -ge 0 ] || fail "the migration of big is no longer active: $(vm info big)"
    i=$((i + 1))
    [ $i -le $((WAIT_S * 10)) ] || fail "the migration of big sent no 4 MiB in ${WAIT_S}s"
    sleep 0.1
done
[ "$(dfield big state)" = incoming ] || fail2 "big is '$(dfield big state)' on the destination mid-copy"
dpid=$(dfield big pid)
kill -9 "$dpid" || fail2 "cannot kill the destination VMM $dpid"
i=0
until vm info big | grep -q "migration:    failed"; do
    i=$((i + 1))
    [ $i -le $((WAIT_S * 10)) ] || fail "the source did not see the migration fail: $(vm info big)"
    sleep 0.1
done
vm info big | grep -q "migration error: ." || fail "vm info big shows no error"
vm info big | grep "migration error"
still_running big "$CONB"
i=0
while dvm list | grep -q '^big '; do
    i=$((i + 1))
    [ $i -le $((WAIT_S * 10)) ] || fail2 "the destination still defines big after its VMM died"
    sleep 0.1
done
grep -q "VM 'big': the incoming migration ended before the VM ran here" "$DLOG2" ||
    fail2 "the destination daemon logged no reason for dropping big"
consistent
echo "destination VMM killed mid-copy: the source runs on, the destination dropped it"

# --- 5. the destination would over-commit its memory; a VM that does not run
ok vm create huge --kernel "$SPIN" --cmdline mode=hlt --memory 2G --start
wait_ready huge
wait_state huge running
refused 1 "would over-commit host memory" vm migrate huge --to "unix:$SOCK2" --dest-token "$TOKEN"
[ "$(field huge state)" = running ] || fail "huge is '$(field huge state)' after the refusal"
dvm list | grep -q '^huge ' && fail2 "the destination kept a definition of huge"
echo "over-commit at the destination: refused, the VM runs on"

# --- 6. the source daemon stopped mid-copy: it cancels, the VM stays here
ok vm migrate big --to "unix:$SOCK2" --dest-token "$TOKEN" --bandwidth 2 --no-compress
bpid=$(field big pid)
daemon_stop
kill -0 "$bpid" 2>/dev/null || fail "big's VMM ended with the source daemon"
grep -q "VM 'big': migration to $SOCK2 cancelled" "$DLOG" ||
    fail "the source daemon did not cancel the migration of big at its stop"
i=0
while dvm list | grep -q '^big '; do
    i=$((i + 1))
    [ $i -le $((WAIT_S * 10)) ] || fail2 "the destination still defines big after the cancel"
    sleep 0.1
done
daemon_start
[ "$(field big pid)" = "$bpid" ] || fail "big was not adopted again (pid '$(field big pid)', was $bpid)"
still_running big "$CONB"
consistent
echo "source daemon stopped mid-copy: cancelled, big adopted again and running"

# --- 7. the destination daemon killed (-9) and restarted mid-copy: the
# incoming VM stays incoming (never booted afresh), and arrives
ok vm migrate big --to "unix:$SOCK2" --dest-token "$TOKEN" --bandwidth 8 --no-compress
[ "$(dfield big state)" = incoming ] || fail2 "big is '$(dfield big state)' on the destination"
dpid=$(dfield big pid)
kill -9 "$DAEMON2_PID"
wait "$DAEMON2_PID" 2>/dev/null
"$CASULO" serve --state-dir "$STATE2" --listen "unix:$SOCK2" --token-file "$T/token" \
    --overcommit "$RATIO" ${CASULO_VMM:+--vmm "$CASULO_VMM"} >>"$DLOG2" 2>&1 &
DAEMON2_PID=$!
i=0
until [ "$(dfield big state)" = running ]; do
    s=$(dfield big state)
    [ -z "$s" ] || [ "$s" = incoming ] || fail2 "big is '$s' on the restarted destination"
    i=$((i + 1))
    [ $i -le $((WAIT_S * 10)) ] || fail2 "big did not arrive at the restarted destination"
    sleep 0.1
done
[ "$(dfield big pid)" = "$dpid" ] || fail2 "the destination runs big in pid $(dfield big pid), not its incoming VMM $dpid"
i=0
while vm list | grep -q '^big '; do
    i=$((i + 1))
    [ $i -le $((WAIT_S * 10)) ] || fail "the source still defines big: $(vm info big)"
    sleep 0.1
done
OLDB=$(ls -d "$STATE"/migrated/big-* | head -n1)
lastb=$(ticks "$OLDB/console.log" | tail -n1)
wait_text "$STATE2/vms/big/console.log" "tick=$((lastb + 2))"
expect_unbroken 1 "$OLDB/console.log" "$STATE2/vms/big/console.log"
grep -q "MIGDIRTY start" "$STATE2/vms/big/console.log" && fail2 "big started afresh on the destination"
echo "destination daemon restarted mid-copy: big stayed incoming, then arrived (tick $lastb on)"

# --- 8. a VM that does not run
ok vm stop huge
refused 1 "cannot migrate VM 'huge': it is stopped (only a running VM migrates)" \
    vm migrate huge --to "unix:$SOCK2" --dest-token "$TOKEN"
echo "PASS"
