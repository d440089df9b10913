#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/snapshot.sh [-n RUNS] [-c MAX_CLONES]: snapshots and clones, casulo
# side by side with QEMU in one run. Prints, with ratios:
#   restore    process start -> the restored guest's first console byte
#              (its first instruction after the restore shows as output:
#              the guest prints back to back), 256 MiB and 4 GiB snapshots;
#              QEMU: -incoming "exec:cat FILE" of a `migrate "exec:cat > FILE"`
#   create     `casulo snapshot` wall time for 256 MiB / 1 GiB / 4 GiB VMs
#              whose guest wrote half of its RAM first (casulo writes only
#              pages with data); QEMU's migrate to a file (its tiny BIOS
#              guest leaves RAM untouched, so QEMU has less to write)
#   density    256 MiB clones of one snapshot (guest working set 64 MiB,
#              read after the restore): memory per clone from the sum of
#              Pss and from the drop of MemAvailable, and how many clones
#              fit in 4 GiB of host RAM at the larger of the two
# The casulo guest is tests/guest/memtouch.S; QEMU's a 64 KiB BIOS that
# prints "tick" lines forever (written below, like bench/tiny-bios.S).
# Performance lives here, never in tests: nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=10
MAX_CLONES=64
while getopts "n:c:" o; do
    case $o in n) RUNS=$OPTARG ;; c) MAX_CLONES=$OPTARG ;;
        *) echo "usage: $0 [-n RUNS] [-c MAX_CLONES]" >&2; exit 2 ;; esac
done
BUILD=${BUILD:-build}
OUT=$(realpath -m "$BUILD/bench/snapshot")
rm -rf "$OUT"
mkdir -p "$OUT"
CASULO=$(realpath -m "$BUILD/casulo")
GUEST=$(realpath -m "$BUILD/guest/memtouch.elf")
[ -x "$CASULO" ] && [ -f "$GUEST" ] || make -s "$CASULO" guests
QEMU=$(command -v qemu-system-x86_64 || true)
QEMU_CPU=host
[ -d /sys/module/kvm_pvm ] && QEMU_CPU=host,-arch-capabilities

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# firstbyte.py: ms from just before spawning CMD to its first stdout byte,
# then the process group is killed.
cat > "$OUT/firstbyte.py" <<'PY'
import os, signal, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, start_new_session=True)
b = os.read(p.stdout.fileno(), 1)
ms = (time.monotonic() - t0) * 1000
os.killpg(p.pid, signal.SIGKILL)
p.wait()
if not b:
    sys.stderr.write(p.stderr.read().decode(errors='replace'))
    sys.exit(1)
print('%.3f' % ms)
PY
# qmp.py SOCK migrate FILE: live-migrates into FILE, prints ms to "completed"; qmp.py SOCK quit.
cat > "$OUT/qmp.py" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
for _ in range(200):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
f = s.makefile('rw')
f.readline()
def cmd(name, **args):
    f.write(json.dumps({'execute': name, 'arguments': args}) + '\n'); f.flush()
    while True:
        r = json.loads(f.readline())
        if 'return' in r or 'error' in r:
            return r
cmd('qmp_capabilities')
if sys.argv[2] == 'migrate':
    t0 = time.monotonic()
    r = cmd('migrate', uri='exec:cat > ' + sys.argv[3])
    if 'error' in r:
        sys.exit('migrate: %s' % r['error'])
    while True:
        st = cmd('query-migrate')['return'].get('status')
        if st in ('completed', 'failed', 'cancelled'):
            break
        time.sleep(0.002)
    if st != 'completed':
        sys.exit('migration ' + st)
    print('%.3f' % ((time.monotonic() - t0) * 1000))
cmd('quit')
PY
cat > "$OUT/tick-bios.S" <<'ASM'
    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ss
    mov $0x7000, %sp
    mov $0xf000, %ax
    mov %ax, %ds
    mov $0x3f8, %dx
0:  mov $msg, %si
1:  lodsb
    test %al, %al
    jz 0b
    out %al, %dx
    jmp 1b
msg:
    .asciz "tick\r\n"
    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
ASM
as --32 -o "$OUT/tick-bios.o" "$OUT/tick-bios.S"
ld -m elf_i386 -Ttext 0 --oformat binary -o "$OUT/tick-bios.bin" "$OUT/tick-bios.o"

# wait_for FILE TEXT PID: until FILE holds TEXT (a hang detector, 120 s).
wait_for() {
    local i=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null; do
        kill -0 "$3" 2>/dev/null || { echo "process $3 exited before '$2':" >&2; cat "$1" >&2; exit 1; }
        i=$((i + 1)); [ $i -le 1200 ] || { echo "no '$2' in $1 after 120 s" >&2; exit 1; }
        sleep 0.1
    done
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
minimum() { sort -n | head -n1; }

# casulo_snapshot MIB TOUCH_MIB DIR [MODE]: boots memtouch, snapshots it once it
# is in its loop; prints the `casulo snapshot` wall ms.
casulo_snapshot() {
    local mib=$1 touch=$2 dir=$3 mode=${4:-memtouch.tick} sock="$OUT/api.$1" pid ms t0 t1
    rm -f "$sock"
    "$CASULO" run --kernel "$GUEST" --memory "${mib}M" --api-socket "$sock" \
        --cmdline "memtouch.mib=$touch $mode" </dev/null >"$OUT/boot.$mib.out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if [ "$mode" = memtouch.tick ]; then wait_for "$OUT/boot.$mib.out" tick "$pid"
    else wait_for "$OUT/boot.$mib.out" "pass=1 " "$pid"; fi
    "$CASULO" pause --api "$sock" >/dev/null
    sync
    t0=$(date +%s%N)
    "$CASULO" snapshot --api "$sock" "$dir" >/dev/null
    t1=$(date +%s%N)
    kill -TERM "$pid"; wait "$pid" || true
    echo $(( (t1 - t0) / 1000 )) | awk '{printf "%.3f\n", $1 / 1000}'
}

echo "== snapshot creation (guest wrote half of its RAM; casulo snapshot wall time) =="
printf '%-8s %10s %12s %12s\n' memory touched_MiB data_MiB create_ms
for mib in 256 1024 4096; do
    touch=$((mib / 2)); [ $mib = 4096 ] && touch=2048
    ms=$(casulo_snapshot $mib $touch "$OUT/snap.$mib")
    data=$(du -m "$OUT/snap.$mib/memory" | cut -f1)
    printf '%-8s %10s %12s %12s\n' "${mib}M" "$touch" "$data" "$ms"
    eval "CREATE_$mib=$ms"
done

echo
echo "== restore: process start -> first guest output byte, $RUNS runs each =="
# Warm the page cache as a clone farm would have it: one restore first.
printf '%-22s %10s %10s\n' what median_ms min_ms
for mib in 256 4096; do
    python3 "$OUT/firstbyte.py" "$CASULO" run --restore "$OUT/snap.$mib" --memory "${mib}M" >/dev/null
    for ((i = 0; i < RUNS; i++)); do
        python3 "$OUT/firstbyte.py" "$CASULO" run --restore "$OUT/snap.$mib" --memory "${mib}M"
    done > "$OUT/restore.casulo.$mib"
    med=$(median < "$OUT/restore.casulo.$mib"); min=$(minimum < "$OUT/restore.casulo.$mib")
    printf '%-22s %10s %10s\n' "casulo ${mib}M" "$med" "$min"
    eval "RESTORE_C_$mib=$med"
done

if [ -n "$QEMU" ]; then
    QARGS=(-M microvm -enable-kvm -cpu "$QEMU_CPU" -nodefaults -no-user-config -display none
           -serial stdio -bios "$OUT/tick-bios.bin")
    for mib in 256 4096; do
        sock="$OUT/qmp.$mib"
        rm -f "$sock"
        "$QEMU" "${QARGS[@]}" -m "$mib" -qmp "unix:$sock,server=on,wait=off" \
            </dev/null >"$OUT/qemu.$mib.out" 2>&1 &
        qpid=$!
        PIDS+=("$qpid")
        wait_for "$OUT/qemu.$mib.out" tick "$qpid"
        ms=$(python3 "$OUT/qmp.py" "$sock" migrate "$OUT/qemu.$mib.mig")
        wait "$qpid" || true
        eval "QCREATE_$mib=$ms"
        python3 "$OUT/firstbyte.py" "$QEMU" "${QARGS[@]}" -m "$mib" -incoming "exec:cat $OUT/qemu.$mib.mig" >/dev/null
        for ((i = 0; i < RUNS; i++)); do
            python3 "$OUT/firstbyte.py" "$QEMU" "${QARGS[@]}" -m "$mib" -incoming "exec:cat $OUT/qemu.$mib.mig"
        done > "$OUT/restore.qemu.$mib"
        med=$(median < "$OUT/restore.qemu.$mib"); min=$(minimum < "$OUT/restore.qemu.$mib")
        printf '%-22s %10s %10s\n' "qemu-microvm ${mib}M" "$med" "$min"
        eval "RESTORE_Q_$mib=$med"
    done
    echo
    for mib in 256 4096; do
        eval "c=\$RESTORE_C_$mib q=\$RESTORE_Q_$mib"
        awk -v c="$c" -v q="$q" -v m="$mib" 'BEGIN { printf "ratio restore casulo/qemu %sM: %.3f (goal <= 0.2; casulo goal <= 10 ms)\n", m, c / q }'
    done
    for mib in 256 4096; do
        eval "c=\$CREATE_$mib q=\$QCREATE_$mib"
        awk -v c="$c" -v q="$q" -v m="$mib" 'BEGIN { printf "ratio create casulo/qemu-migrate-to-file %sM: %.3f (casulo wrote %s; qemu guest untouched)\n", m, c / q, "half its RAM" }'
    done
else
    echo "note: qemu-system-x86_64 not found; casulo alone" >&2
fi

echo
echo "== clone density: 256 MiB clones of one snapshot (64 MiB working set, read after restore) =="
casulo_snapshot 256 64 "$OUT/snap.density" memtouch.read >/dev/null
avail() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
sync
before=$(avail)
CLONES=()
n=0
while [ $n -lt "$MAX_CLONES" ]; do
    # Keep 1 GiB of the host free whatever the cap says.
    [ "$(avail)" -gt $((1024 * 1024)) ] || break
    "$CASULO" run --restore "$OUT/snap.density" --memory 256M </dev/null >"$OUT/clone.$n.out" 2>&1 &
    CLONES+=($!)
    PIDS+=($!)
    n=$((n + 1))
done
for ((i = 0; i < n; i++)); do
    # Two full reads of its working set since the restore.
    j=0
    while [ "$(grep -cE '^pass=[0-9]+ ' "$OUT/clone.$i.out")" -lt 2 ]; do
        kill -0 "${CLONES[$i]}" 2>/dev/null || { echo "clone $i exited:" >&2; cat "$OUT/clone.$i.out" >&2; exit 1; }
        j=$((j + 1)); [ $j -le 3000 ] || { echo "clone $i: no passes after 300 s" >&2; exit 1; }
        sleep 0.1
    done
done
after=$(avail)
pss=0
for p in "${CLONES[@]}"; do
    pss=$((pss + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")))
done
for p in "${CLONES[@]}"; do kill -TERM "$p"; done
for p in "${CLONES[@]}"; do wait "$p" || true; done
per_pss=$(awk -v s="$pss" -v n="$n" 'BEGIN { printf "%.2f", s / n / 1024 }')
per_avail=$(awk -v b="$before" -v a="$after" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n / 1024 }')
fit=$(awk -v x="$per_pss" -v y="$per_avail" 'BEGIN { m = x > y ? x : y; printf "%d", 4096 / m }')
echo "clones running at once: $n (cap $MAX_CLONES)"
echo "per clone: ${per_pss} MiB by Pss, ${per_avail} MiB by MemAvailable"
echo "clones of a 256 MiB guest that fit in 4 GiB: $fit (goal >= 64)"
