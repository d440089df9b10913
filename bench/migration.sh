#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/migration.sh [-r RUNS] [-g GIVEUP_S]: live migration on loopback, casulo
# and QEMU side by side, the same guest binary for both (bench/migguest.S,
# booted by QEMU through its PVH entry), the same limits (300 ms downtime
# budget; no auto-converge):
#   a  idle guest, 1 GiB of memory: downtime and total time
#   b  the guest wrote 256 MiB (one word in every page) and idles; link
#      capped at 128 MiB/s: total time. casulo compresses page batches
#      (zstd) by default and these pages compress extremely well, so b runs
#      twice for casulo: as is, and with --no-compress (row "b raw", against
#      the same QEMU figure): real guests' memory compresses less
#   c  the guest rewrites those 256 MiB over and over; no cap: downtime,
#      and whether it converged at all within GIVEUP_S (default 30; then
#      casulo's --timeout gives up, QEMU's migration is cancelled)
# casulo: `casulo run --incoming` + `casulo migrate --watch --json`, the
# figures from its last GET /migrate (downtime: pause to the destination's
# RUNNING). QEMU: `-incoming tcp:`, QMP migrate-set-parameters / migrate /
# query-migrate over a unix socket (a small inline python3 client; downtime:
# QEMU's own figure, stop to completion on the source). Bytes: casulo's
# bytes_sent (every byte on the wire), QEMU's ram.transferred.
# a and b are the median (by total time) of RUNS runs (default 3), c one run.
# Both guests run at CPL0, which a PVM host emulates, so c's dirty rate is
# the emulator's; the ratio is what to read. Nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3 GIVEUP=30
while getopts "r:g:" o; do
    case $o in
    r) RUNS=$OPTARG ;;
    g) GIVEUP=$OPTARG ;;
    *) echo "usage: $0 [-r RUNS] [-g GIVEUP_S]" >&2; exit 2 ;;
    esac
done
BUILD=${BUILD:-build}
OUT=$BUILD/bench/migration
rm -rf "$OUT"
mkdir -p "$OUT"
CASULO=$BUILD/casulo
[ -x "$CASULO" ] || make -s "$CASULO"
GUEST=$OUT/migguest.elf
cc -nostdlib -static -ffreestanding -fno-pic -no-pie -Wl,--build-id=none \
    -Wl,-T,bench/virtio-pvh.ld -Itests/guest -o "$GUEST" bench/migguest.S

QEMU=$(command -v qemu-system-x86_64 || true)
[ -n "$QEMU" ] || echo "note: qemu-system-x86_64 not found; measuring casulo alone" >&2
QEMU_CPU=host
# On KVM-PVM hosts QEMU's -cpu host aborts setting MSR_IA32_ARCH_CAPABILITIES.
[ -d /sys/module/kvm_pvm ] && QEMU_CPU=host,-arch-capabilities

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# wait_text TEXT FILE: until FILE has TEXT (20 s at most).
wait_text() {
    local i=0
    until grep -qF -- "$1" "$2" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 200 ] || { echo "no '$1' in $2 after 20 s" >&2; tail -n 5 "$2" >&2 || true; exit 1; }
        sleep 0.1
    done
}

port() { echo $((20000 + RANDOM % 20000)); }

# Guest readiness: idle guests once they said so, the dirtying one after two sweeps.
ready_text() { case $1 in *mig.dirty*) echo "sweep=2" ;; *) echo "MIGGUEST ready" ;; esac; }

# casulo_once KEY CMDLINE BW_MIB (0: no cap) GIVEUP_S (0: none) [MIGRATE_ARGS]: one
# migration; prints "status downtime_ms total_ms bytes iterations".
casulo_once() {
    local key=$1 cmdline=$2 bw=$3 giveup=$4 extra=${5:-} p d s
    p=$(port)
    local dir=$OUT/$key
    mkdir -p "$dir"
    "$CASULO" run --incoming "tcp:127.0.0.1:$p" --memory 1G --console "file=$dir/dst.con" \
        </dev/null >"$dir/dst.out" 2>"$dir/dst.err" &
    d=$!
    PIDS+=("$d")
    wait_text "waiting for an incoming migration" "$dir/dst.err"
    "$CASULO" run --kernel "$GUEST" --memory 1G --cmdline "$cmdline" --console "file=$dir/src.con" \
        --api-socket "$dir/src.sock" </dev/null >"$dir/src.out" 2>"$dir/src.err" &
    s=$!
    PIDS+=("$s")
    wait_text "$(ready_text "$cmdline")" "$dir/src.con"
    local args=(--max-downtime 300)
    [ "$bw" = 0 ] || args+=(--bandwidth "$bw")
    [ "$giveup" = 0 ] || args+=(--timeout "$giveup")
    local more=()
    [ -z "$extra" ] || read -ra more <<<"$extra"
    args+=("${more[@]}")
    "$CASULO" migrate --api "$dir/src.sock" "tcp:127.0.0.1:$p" --watch --json "${args[@]}" \
        >"$dir/watch.json" 2>"$dir/watch.err" || true
    kill -9 "$s" "$d" 2>/dev/null || true
    wait "$s" "$d" 2>/dev/null || true
    python3 -c '
import json, sys
last = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        last = json.loads(line)
print(last.get("status", "none"), last.get("downtime_ms", "nan"), last.get("total_ms", last.get("elapsed_ms", "nan")),
      last.get("bytes_sent", "nan"), last.get("iteration", "nan"))' "$dir/watch.json"
}

# The QMP side of a QEMU migration: capabilities, parameters, migrate, then
# query-migrate every 10 ms until it ends (or GIVEUP_S: migrate_cancel).
QMP_MIGRATE='
import json, socket, sys, time
path, uri, bw, giveup = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_UNIX)
for _ in range(200):
    try:
        s.connect(path)
        break
    except OSError:
        time.sleep(0.05)
f = s.makefile("rw")
def cmd(name, args=None):
    msg = {"execute": name}
    if args is not None:
        msg["arguments"] = args
    f.write(json.dumps(msg) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            if "error" in r:
                sys.exit("qmp %s: %s" % (name, r["error"]))
            return r["return"]
json.loads(f.readline())
cmd("qmp_capabilities")
cmd("migrate-set-parameters", {"downtime-limit": 300, "max-bandwidth": bw})
cmd("migrate", {"uri": uri})
t0 = time.monotonic()
while True:
    r = cmd("query-migrate")
    st = r.get("status", "none")
    if st in ("completed", "failed", "cancelled"):
        break
    if giveup and time.monotonic() - t0 > giveup:
        cmd("migrate_cancel")
        r = cmd("query-migrate")
        st = "not-converged"
        break
    time.sleep(0.01)
ram = r.get("ram", {})
print(st, r.get("downtime", "nan"), r.get("total-time", int((time.monotonic() - t0) * 1000)),
      ram.get("transferred", "nan"), ram.get("dirty-sync-count", "nan"))
'

qemu_once() {
    local key=$1 cmdline=$2 bw=$3 giveup=$4 p d s
    p=$(port)
    local dir=$OUT/$key
    mkdir -p "$dir"
    local q=("$QEMU" -name mig -M pc -enable-kvm -cpu "$QEMU_CPU" -m 1024 -nodefaults -no-user-config
             -display none -no-reboot -kernel "$GUEST" -append "$cmdline")
    "${q[@]}" -serial "file:$dir/dst.con" -incoming "tcp:127.0.0.1:$p" \
        </dev/null >"$dir/dst.out" 2>&1 &
    d=$!
    PIDS+=("$d")
    "${q[@]}" -serial "file:$dir/src.con" -qmp "unix:$dir/src.qmp,server=on,wait=off" \
        </dev/null >"$dir/src.out" 2>&1 &
    s=$!
    PIDS+=("$s")
    wait_text "$(ready_text "$cmdline")" "$dir/src.con"
    local bytes=$((bw * 1048576))
    [ "$bw" != 0 ] || bytes=$((100 << 30))   # "no cap": 100 GiB/s (QEMU's default is 32 MiB/s)
    python3 -c "$QMP_MIGRATE" "$dir/src.qmp" "tcp:127.0.0.1:$p" "$bytes" "$giveup" 2>"$dir/qmp.err" ||
        echo "error nan nan nan nan"
    kill -9 "$s" "$d" 2>/dev/null || true
    wait "$s" "$d" 2>/dev/null || true
}

RESULTS=$OUT/results.tsv
: >"$RESULTS"
# scenario NAME RUNS CMDLINE BW GIVEUP [VMMS] [CASULO_MIGRATE_ARGS]: the median
# run of each VMM (default: casulo qemu) into RESULTS.
scenario() {
    local name=$1 runs=$2 cmdline=$3 bw=$4 giveup=$5 vmms=${6:-casulo qemu} extra=${7:-} vmm i line
    for vmm in $vmms; do
        [ $vmm = casulo ] || [ -n "$QEMU" ] || continue
        : >"$OUT/$name-$vmm.runs"
        for i in $(seq "$runs"); do
            line=$("${vmm}_once" "$name-$vmm-$i" "$cmdline" "$bw" "$giveup" "$extra")
            echo "$name $vmm run $i: $line" >&2
            echo "$line" >>"$OUT/$name-$vmm.runs"
        done
        sort -k3,3g "$OUT/$name-$vmm.runs" | sed -n "$(((runs + 1) / 2))p" |
            sed "s/^/$name\t$vmm\t/; s/ /\t/g" >>"$RESULTS"
    done
}

scenario a "$RUNS" "" 0 0
scenario b "$RUNS" "mig.fill" 128 0
scenario r "$RUNS" "mig.fill" 128 0 casulo --no-compress
scenario c 1 "mig.dirty" 0 "$GIVEUP"

python3 - "$RESULTS" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, vmm, status, down, total, sent, iters = line.rstrip("\n").split("\t")
    rows[(name, vmm)] = dict(status=status, down=down, total=total, sent=sent, iters=iters)
titles = {"a": "a idle, 1 GiB", "b": "b 256 MiB written, 128 MiB/s cap",
          "r": "b raw: the same, --no-compress", "c": "c dirtying 256 MiB, no cap"}
# b raw is casulo alone: QEMU's b is its reference.
if ("b", "qemu") in rows:
    rows[("r", "qemu")] = rows[("b", "qemu")]
def num(v):
    try:
        return float(v)
    except ValueError:
        return None
def cell(r, key):
    v = num(r[key]) if r else None
    if v is None or r["status"] != "completed":
        return "-"
    return "%.1f" % (v / 1048576) if key == "sent" else "%.0f" % v
def ratio(c, q, key):
    a, b = (num(c[key]) if c and c["status"] == "completed" else None), (num(q[key]) if q and q["status"] == "completed" else None)
    if a is None or b is None:
        return "-"
    if b == 0:
        return "inf" if a else "1.00"
    return "%.2f" % (a / b)
print()
print("%-34s %-13s %10s %10s %12s" % ("scenario", "metric", "casulo", "qemu", "casulo/qemu"))
for name in "abrc":
    c, q = rows.get((name, "casulo")), rows.get((name, "qemu"))
    first = True
    for key, label in (("down", "downtime ms"), ("total", "total ms"), ("sent", "sent MiB")):
        print("%-34s %-13s %10s %10s %12s" % (titles[name] if first else "", label, cell(c, key), cell(q, key), ratio(c, q, key)))
        first = False
    print("%-34s %-13s %10s %10s" % ("", "status", c["status"] if c else "-", q["status"] if q else "-"))
    print("%-34s %-13s %10s %10s" % ("", "passes", c["iters"] if c else "-", q["iters"] if q else "-"))
EOF
echo "(logs and consoles: $OUT)"
