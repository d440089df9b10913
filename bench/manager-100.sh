#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/manager-100.sh [-n VMS]: `casulo serve` with many tiny VMs. Creates
# and starts VMS (default 100) spin guests through the daemon, waits for
# every one's ready line, lets the stats sampler run a few rounds, and
# prints the time taken and the daemon's resident memory (VmRSS, VmHWM);
# then stops and deletes them all. Nothing is asserted (numbers only).
set -euo pipefail
cd "$(dirname "$0")/.."
N=100
while getopts "n:" o; do
    case $o in n) N=$OPTARG ;; *) echo "usage: $0 [-n VMS]" >&2; exit 2 ;; esac
done
BUILD=${BUILD:-build}
CASULO=$PWD/$BUILD/casulo
GUEST=$PWD/$BUILD/guest/spin.elf
[ -x "$CASULO" ] && [ -f "$GUEST" ] || make -s "$BUILD/casulo" guests
T=$(mktemp -d /tmp/cmgr-bench.XXXXXX)
STATE=$T/state
export CASULO_CONNECT=unix:$T/casulo.sock
DAEMON=
cleanup() {
    [ -n "$DAEMON" ] && kill -9 "$DAEMON" 2>/dev/null
    for p in $(pgrep -f -- "--config $STATE/vms/" || true); do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
rss() { awk -v k="$1:" '$1 == k { printf "%.1f MiB", $2 / 1024 }' "/proc/$DAEMON/status"; }

"$CASULO" serve --state-dir "$STATE" --listen "unix:$T/casulo.sock" >"$T/daemon.log" 2>&1 &
DAEMON=$!
until "$CASULO" vm list >/dev/null 2>&1; do sleep 0.05; done
echo "daemon idle: VmRSS $(rss VmRSS)"

t0=$(now)
for i in $(seq 1 "$N"); do
    "$CASULO" vm create "b$i" --kernel "$GUEST" --cmdline mode=hlt --memory 16M >/dev/null
done
t1=$(now)
for i in $(seq 1 "$N"); do "$CASULO" vm start "b$i" >/dev/null; done
t2=$(now)
for i in $(seq 1 "$N"); do
    until grep -q SPINNING "$STATE/vms/b$i/console.log" 2>/dev/null; do sleep 0.02; done
done
t3=$(now)
running=$("$CASULO" vm list | awk 'NR > 1 && ($2 == "running" || $2 == "starting")' | wc -l)
vmms=$(pgrep -f -- "--config $STATE/vms/" | wc -l)
echo "$N VMs: create $(secs "$t0" "$t1") s, start $(secs "$t1" "$t2") s, all ready lines $(secs "$t2" "$t3") s later (total $(secs "$t0" "$t3") s)"
echo "listed running: $running, VMM processes: $vmms"
echo "daemon with $N VMs: VmRSS $(rss VmRSS), VmHWM $(rss VmHWM)"
sleep 5   # two or three stats rounds (GET /metrics of every VM)
echo "after stats sampling: VmRSS $(rss VmRSS), VmHWM $(rss VmHWM), daemon CPU $(awk '{ printf "%.2f s", ($14 + $15) / 100 }' "/proc/$DAEMON/stat")"
t4=$(now)
for i in $(seq 1 "$N"); do "$CASULO" vm stop "b$i" >/dev/null; "$CASULO" vm delete "b$i" >/dev/null; done
echo "stop + delete all: $(secs "$t4" "$(now)") s; VMMs left: $(pgrep -f -- "--config $STATE/vms/" | wc -l)"
kill -TERM "$DAEMON"; wait "$DAEMON" || true; DAEMON=
