#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every `casulo vm` verb against a live daemon, and the error each misuse
# gets: unknown VM, duplicate name, wrong state, over-commit, bad values,
# bad command lines (exit 2), no daemon (exit 1).
. "$(dirname "$0")/lib.sh"
mgr_require
for g in echo triplefault; do
    [ -f "$GUESTS/$g.elf" ] || skip "guest $GUESTS/$g.elf is not built (make guests)"
done

# --- command-line misuse, no daemon needed
refused 2 "usage: casulo vm" vm
ok vm help; [[ "$OUT" == *"clone NAME --count N"* ]] || fail "vm help lacks clone"
refused 2 "unknown vm verb 'frobnicate'" vm frobnicate x
refused 2 "vm start needs a VM name" vm start
refused 2 "vm list takes no name" vm list extra
refused 2 "--count is not an option of vm start" vm start x --count 2
refused 2 "unknown option '--bogus'" vm list --bogus
ok "$CASULO" serve --help; [[ "$OUT" == *"--state-dir DIR"* ]] || fail "serve --help lacks --state-dir"
refused 2 "unknown option '--bogus'" "$CASULO" serve --bogus
refused 2 "--overcommit 'lots' is not a ratio" "$CASULO" serve --overcommit lots
refused 2 "--allow-remote needs --token-file FILE" "$CASULO" serve --allow-remote
refused 1 "cannot reach the casulo daemon at unix:$T/nobody.sock" vm --connect "unix:$T/nobody.sock" list
refused 1 "is not unix:PATH, http://HOST:PORT" vm --connect "ftp://x" list

daemon_start

# --- create and its errors
create_spin a
[[ "$OUT" == "VM 'a' created" ]] || fail "create said: $OUT"
refused 1 "a VM named 'a' already exists" vm create a --kernel "$SPIN"
refused 1 "VM name 'b@d' must start with a letter or digit" vm create 'b@d' --kernel "$SPIN"
refused 2 "vm create needs --kernel PATH or --from-snapshot DIR" vm create b
refused 1 "kernel '$T/none': No such file or directory" vm create b --kernel "$T/none"
refused 1 "memory '12Q' is not a size" vm create b --kernel "$SPIN" --memory 12Q
refused 1 "field 'restart' must be \"no\", \"on-failure\" or \"always\"" vm create b --kernel "$SPIN" --restart sometimes
refused 1 "cpus" vm create b --kernel "$SPIN" --cpus zero
ok vm list
[ "$(echo "$OUT" | head -n1 | tr -s ' ')" = "NAME STATE CPUS MEMORY UPTIME" ] || fail "list header: $OUT"
[ "$(echo "$OUT" | awk '$1 == "a" { print $2, $3, $4 }')" = "stopped 1 16M" ] || fail "list row: $OUT"
ok vm --json list; [[ "$OUT" == "["*'"name":"a"'* ]] || fail "list --json: $OUT"
refused 1 "no VM named 'nope'" vm info nope
for verb in start stop pause resume power-off delete snapshot; do
    refused 1 "no VM named 'nope'" vm "$verb" nope
done

# --- state machine and its errors
refused 1 "cannot pause VM 'a': it is stopped" vm pause a
refused 1 "cannot stop VM 'a': it is stopped" vm stop a
ok vm start a; [[ "$OUT" == "VM 'a' started (pid "* ]] || fail "start said: $OUT"
wait_ready a
wait_state a running
refused 1 "VM 'a' is already running" vm start a
refused 1 "cannot delete VM 'a': it is running; stop it first" vm delete a
refused 1 "cannot resume VM 'a': it is running" vm resume a
ok vm pause a; [ "$(field a state)" = paused ] || fail "not paused after pause"
refused 1 "cannot pause VM 'a': it is paused" vm pause a
ok vm snapshot a
snap=$(echo "$OUT" | sed -n "s/^VM 'a': snapshot in //p")
[ -f "$snap/memory" ] && [ -f "$snap/state" ] || fail "no snapshot files in '$snap'"
[ "$(field a state)" = paused ] || fail "a paused VM should stay paused after a snapshot"
ok vm resume a; [ "$(field a state)" = running ] || fail "not running after resume"
ok vm snapshot a; [ "$(field a state)" = running ] || fail "a running VM should run again after a snapshot"

# --- set: the definition when stopped, the balloon when running
refused 1 "VM 'a' is running: stop it first or use --balloon" vm set a --memory 32M
refused 1 "this VM has no balloon device" vm set a --balloon 4M
refused 2 "vm set needs --memory SIZE" vm set a
create_spin bal --balloon
ok vm start bal
wait_state bal running
ok vm set bal --balloon 4M
[[ "$OUT" == "VM 'bal': balloon target 4M" ]] || fail "set --balloon said: $OUT"
refused 1 "balloon 'lots' is not a size" vm set bal --balloon lots

# --- clone: horizontal scale-out from one snapshot
ok vm clone a --count 2
[[ "$OUT" == *"2 clones from snapshot"*" a-1 a-2" ]] || fail "clone said: $OUT"
for c in a-1 a-2; do
    wait_state "$c" running
    [ "$(field "$c" pid)" != "$(field a pid)" ] || fail "clone $c shares a's process"
done
refused 1 "a VM named 'a-1' already exists" vm clone a --count 1
refused 1 "field 'count' must be a whole number from 1 to 100" vm clone a --count 0
refused 1 "no VM named 'nope'" vm clone nope --count 1
refused 2 "vm clone needs --count N" vm clone a
ok vm clone a --count 1 --prefix web --no-start
[ "$(field web-1 state)" = stopped ] || fail "--no-start clone is not stopped"
# Each clone gets its own copy of each disk; the source cannot go while clones need its snapshot.
truncate -s 1M "$T/disk.img"
create_spin d --disk "path=$T/disk.img" --start
wait_state d running
ok vm clone d --count 2
for c in d-1 d-2; do
    [ -f "$STATE/vms/$c/disk-0.img" ] || fail "clone $c has no disk copy"
    grep -q "\"path=$STATE/vms/$c/disk-0.img\"" "$STATE/vms/$c/vm.json" || fail "clone $c does not use its copy"
done
[ "$(stat -c %i "$STATE/vms/d-1/disk-0.img")" != "$(stat -c %i "$STATE/vms/d-2/disk-0.img")" ] ||
    fail "the clones share one disk file"
ok vm stop d
refused 1 "cannot delete VM 'd': VM 'd-1' is restored from its snapshot" vm delete d
# A VM defined from a snapshot continues it.
ok vm create from-snap --from-snapshot "$snap" --start
wait_state from-snap running

# --- migrate's misuse (tests/manager/migrate.sh moves VMs between two daemons)
refused 1 "field 'to': 'otherhost' is not unix:PATH, tcp:HOST:PORT or http://HOST:PORT" \
    vm migrate a --to otherhost
refused 2 "vm migrate needs --to DEST" vm migrate a
refused 2 "--bandwidth 'fast' is not a whole number" vm migrate a --to tcp:h:1 --bandwidth fast

# --- power-off, stop, set, delete
ok vm power-off a; [[ "$OUT" == "VM 'a' is powering off" ]] || fail "power-off said: $OUT"
ok vm stop a
[ "$(field a state)" = stopped ] || fail "a is not stopped after stop"
[ -z "$(field a pid)" ] || fail "a still has a pid after stop"
ok vm set a --memory 32M
[ "$(field a memory)" = 32M ] || fail "memory is $(field a memory) after set --memory 32M"
refused 1 "memory 'x' is not a size" vm set a --memory x

# --- over-commit: refused with the numbers
ok vm create huge --kernel "$SPIN" --memory 64T
refused 1 "starting 'huge' (64T) would over-commit host memory" vm start huge
[ "$(field huge state)" = stopped ] || fail "huge should not have started"

# --- console: attach (not a TTY: stdin and stdout piped), type a line, read the echo
ok vm create e --kernel "$GUESTS/echo.elf" --cmdline mode=poll --memory 16M --start
wait_ready e READY
out=$( (sleep 0.5; printf 'over the socket\n'; sleep 2) | timeout 20 "$CASULO" vm console e)
[[ "$out" == *"ECHO: over the socket"* ]] || fail "console output: $out"
wait_state e stopped   # echo powers off after one line
refused 1 "VM 'e' is stopped: its console is there while it runs" vm console e

# --- a guest that crashes: the state says so, the reason is the VMM's error line
ok vm create tf --kernel "$GUESTS/triplefault.elf" --memory 16M --start
wait_state tf crashed
ok vm info tf
[[ "$OUT" == *"last exit:    exited with status 3: casulo: error: triple-fault"* ]] || fail "crash reason: $OUT"

# --- restart policies
create_spin r-fail --restart on-failure
ok vm start r-fail
wait_state r-fail running
old=$(field r-fail pid)
kill -9 "$old"
i=0
until [ -n "$(field r-fail pid)" ] && [ "$(field r-fail pid)" != "$old" ]; do
    i=$((i + 1)); [ $i -le $((WAIT_S * 10)) ] || fail "on-failure: r-fail was not restarted"
    sleep 0.1
done
wait_state r-fail running
ok vm info r-fail; [[ "$OUT" == *"last exit:    killed by signal KILL"* ]] || fail "exit reason: $OUT"
create_spin r-no
ok vm start r-no
wait_state r-no running
kill -9 "$(field r-no pid)"
wait_state r-no crashed
sleep 1.5   # a restart would come after 1 s
[ "$(field r-no state)" = crashed ] || fail "restart=no: r-no was restarted"

# --- the REST API directly
host=$(curl -sf --unix-socket "$SOCK" http://localhost/api/v1/host) || fail "GET /api/v1/host"
[[ "$host" == *'"memory_total":'* && "$host" == *'"overcommit_ratio":1'* ]] || fail "host: $host"
code=$(curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$SOCK" -X PUT http://localhost/api/v1/vms)
[ "$code" = 405 ] || fail "PUT /api/v1/vms: $code"
code=$(curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$SOCK" -d '{"name":"x","vcpus":1}' http://localhost/api/v1/vms)
[ "$code" = 400 ] && grep -q "unknown field 'vcpus'" "$T/body" || fail "unknown field: $code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$SOCK" -d '{"name":' http://localhost/api/v1/vms)
[ "$code" = 400 ] && grep -q "invalid JSON" "$T/body" || fail "bad JSON: $code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$SOCK" http://localhost/api/v1/nothing)
[ "$code" = 404 ] || fail "unknown endpoint: $code"
curl -sf --unix-socket "$SOCK" http://localhost/api/v1/vms/bal | grep -q '"stats_history":\[' ||
    fail "GET /api/v1/vms/bal has no stats_history"

# --- delete
ok vm delete web-1
refused 1 "no VM named 'web-1'" vm delete web-1
[ ! -e "$STATE/vms/web-1" ] || fail "web-1's directory is still there"
consistent
echo "PASS: every verb and its errors"
