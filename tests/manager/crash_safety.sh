#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The SQLite store survives the daemon being killed (-9) in the middle of a
# burst of writes (creates, starts): the database passes integrity_check,
# every create the daemon acknowledged is still there after the restart,
# every VM it lists is whole (definition and files), what runs matches what
# it says, and the daemon carries on (creates, duplicate names refused).
. "$(dirname "$0")/lib.sh"
mgr_require
command -v sqlite3 >/dev/null || skip "the sqlite3 command-line tool is not installed (apt-get install sqlite3)"
daemon_start

# Four writers, each creating VMs as fast as the daemon takes them; every
# tenth also starts, so runs rows are written too. Acknowledged names go to a file.
writer() {
    local w=$1 i
    for i in $(seq 1 40); do
        local extra=()
        [ $((i % 10)) = 0 ] && extra=(--start)
        if "$CASULO" vm create "w$w-$i" --kernel "$SPIN" --cmdline mode=hlt --memory 16M \
            "${extra[@]}" >/dev/null 2>&1; then
            echo "w$w-$i" >>"$T/acked.$w"
        fi
    done
}
for w in 1 2 3 4; do writer "$w" & done
# Kill once some writes have been acknowledged, while the writers are still going.
i=0
until [ "$(cat "$T"/acked.* 2>/dev/null | wc -l)" -ge 25 ]; do
    i=$((i + 1)); [ $i -le $((WAIT_S * 20)) ] || fail "the burst of creates did not progress"
    sleep 0.05
done
daemon_kill9
wait   # the writers now fail fast: nobody listens
acked=$(cat "$T"/acked.* | sort)
[ -n "$acked" ] || fail "no create was acknowledged before the kill"

[ "$(sqlite3 "$STATE/casulo.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check failed after the kill"
daemon_start
[ "$(sqlite3 "$STATE/casulo.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check failed after the restart"
[ "$(sqlite3 "$STATE/casulo.db" 'PRAGMA journal_mode')" = wal ] || fail "the database is not in WAL mode"

ok vm list
listed=$(echo "$OUT" | awk 'NR > 1 { print $1 }' | sort)
missing=$(comm -23 <(echo "$acked") <(echo "$listed"))
[ -z "$missing" ] || fail "acknowledged creates lost in the crash: $missing"
for name in $listed; do
    [ -s "$STATE/vms/$name/vm.json" ] || fail "VM $name is listed but has no vm.json"
    ok vm info "$name"
done
consistent

# The daemon carries on.
create_spin after-crash
ok vm start after-crash
wait_ready after-crash
first=$(echo "$acked" | head -n1)
refused 1 "a VM named '$first' already exists" vm create "$first" --kernel "$SPIN"
echo "PASS: $(echo "$listed" | wc -l) VMs intact after a kill -9 during $(echo "$acked" | wc -l) acknowledged creates"
