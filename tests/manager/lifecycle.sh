#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The daemon's life cycle with 20 tiny VMs: create, start, list, stop,
# delete, with the daemon killed (-9) twice midway and restarted. After
# each restart no VM is lost (the running ones are adopted, same pids),
# none is started twice, and what the daemon and its database say matches
# the processes that really run. A VMM that died while the daemon was down
# is reported as ended, not started again.
. "$(dirname "$0")/lib.sh"
mgr_require
N=20
daemon_start

for i in $(seq 1 $N); do create_spin "v$i"; done
for i in $(seq 1 10); do ok vm start "v$i"; done
for i in $(seq 1 10); do wait_ready "v$i"; done
declare -A before
for i in $(seq 1 10); do before[v$i]=$(field "v$i" pid); done
[ "$(vmm_pids | wc -l)" = 10 ] || fail "expected 10 VMM processes, found $(vmm_pids | wc -l)"

# --- kill -9 the daemon while VMs run; the VMs must keep running
daemon_kill9
for i in $(seq 1 10); do
    kill -0 "${before[v$i]}" 2>/dev/null || fail "VM v$i's VMM died with the daemon"
done
daemon_start
consistent
for i in $(seq 1 10); do
    [ "$(field "v$i" state)" = running ] || fail "v$i is '$(field "v$i" state)' after the restart, not running"
    [ "$(field "v$i" pid)" = "${before[v$i]}" ] || fail "v$i: pid $(field "v$i" pid), was ${before[v$i]} (not adopted)"
done
for i in $(seq 11 $N); do
    [ "$(field "v$i" state)" = stopped ] || fail "v$i should still be stopped"
done

# --- start the rest: all 20 reach their ready line
for i in $(seq 11 $N); do ok vm start "v$i"; done
for i in $(seq 1 $N); do wait_ready "v$i"; wait_state "v$i" running; done
ok vm list
[ "$(echo "$OUT" | awk 'NR > 1 && $2 == "running"' | wc -l)" = $N ] || fail "vm list: not $N running: $OUT"
[ "$(vmm_pids | wc -l)" = $N ] || fail "expected $N VMM processes, found $(vmm_pids | wc -l)"
consistent

# --- stop some, kill one VMM behind the daemon's back while it is down
for i in 1 2 3 4 5; do ok vm stop "v$i"; done
victim=$(field v6 pid)
daemon_kill9
kill -9 "$victim"
while kill -0 "$victim" 2>/dev/null; do sleep 0.05; done
daemon_start
consistent
for i in 1 2 3 4 5; do
    [ "$(field "v$i" state)" = stopped ] || fail "v$i should be stopped after the restart"
done
st=$(field v6 state)
[ "$st" = crashed ] || [ "$st" = stopped ] || fail "v6 (killed while the daemon was down) is '$st'"
[ -z "$(field v6 pid)" ] || fail "v6 has a pid again: started twice?"
[ "$(vmm_pids | wc -l)" = $((N - 6)) ] || fail "expected $((N - 6)) VMMs, found $(vmm_pids | wc -l)"
if command -v sqlite3 >/dev/null; then
    open=$(sqlite3 "$STATE/casulo.db" 'SELECT count(*) FROM runs WHERE ended_at IS NULL')
    [ "$open" = $((N - 6)) ] || fail "the database has $open open runs, $((N - 6)) VMs run"
    [ "$(sqlite3 "$STATE/casulo.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
fi

# --- stop and delete everything
for i in $(seq 1 $N); do
    [ -n "$(field "v$i" pid)" ] && ok vm stop "v$i"
    ok vm delete "v$i"
done
ok vm list
[ "$(echo "$OUT" | wc -l)" = 1 ] || fail "VMs left after deleting all: $OUT"
[ -z "$(vmm_pids)" ] || fail "VMM processes left: $(vmm_pids | tr '\n' ' ')"
[ -z "$(ls "$STATE/vms")" ] || fail "VM directories left: $(ls "$STATE/vms")"
daemon_stop
echo "PASS: $N VMs through two daemon crashes"
