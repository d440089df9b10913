#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/io.sh [-n REQUESTS] [-r REPEATS] [-p]: virtio I/O cost in casulo and in QEMU,
# both driven by the same tiny guest (tests/guest/virtio.S bench mode, one
# synchronous request at a time), so the guest's own cost is the same:
#   rd4k  4 KiB virtio-blk reads   (QEMU: virtio-blk-pci, aio=io_uring; casulo: io=uring)
#   wr64k 64 KiB virtio-blk writes (same raw image, host page cache on both)
#   tx    1500-byte virtio-net frames to a TAP (QEMU: tap, vhost=off)
# The guest waits for each completion's MSI-X interrupt with sti; hlt, as a
# real driver does; -p makes it busy-poll the used ring instead. On a
# KVM-PVM host every guest CPL0 instruction is emulated and charged to the
# vCPU thread, so a polling guest's spinning would count as VMM CPU for
# either VMM; sleeping, the vCPU thread's time is KVM's (the guest's short
# loop, the interrupt, halt and wake-up), and the guest's loop is kept to a
# few instructions.
# For each: requests/s over the guest's loop (host time between its
# "BENCH START" and "BENCH END" lines), host CPU time of the whole VMM
# process per request (on-CPU time of all its threads between those two
# lines, bench/vmmrun.py; the vCPU thread's included), the same without
# the vCPU threads (the VMM's own I/O work per request), and VMM exits to
# userspace per request (perf's kvm:kvm_userspace_exit; KVM_RUN returns,
# every vCPU; target ~0 with ioeventfd kicks): (exits of a run with N
# requests - exits of a run with 0) / N, which cancels start-up (QEMU's
# firmware makes thousands). Exits come from their own runs: perf on the
# VMM's threads costs time at each of their context switches. The other
# columns are medians of -r runs per VMM (default 5), the VMMs taking
# turns, because this 2-core host's other load moves single runs by 2x.
# QEMU boots the guest's PVH entry (bench/virtio-pvh.ld keeps its ELF note).
# Measured figures are in docs/io.md. Performance lives here, never in
# tests: nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
N=10000
REPEATS=5
WAIT=
while getopts "n:pr:" o; do
    case $o in
        n) N=$OPTARG ;;
        p) WAIT=" wait=poll" ;;
        r) REPEATS=$OPTARG ;;
        *) echo "usage: $0 [-n REQUESTS] [-r REPEATS] [-p]" >&2; exit 2 ;;
    esac
done
BUILD=${BUILD:-build}
OUT=$BUILD/bench
mkdir -p "$OUT"
CASULO=$BUILD/casulo
GUEST=$BUILD/guest/virtio.elf
[ -x "$CASULO" ] && [ -f "$GUEST" ] || make -s "$CASULO" guests
PVH=$OUT/virtio-pvh.elf
cc -nostdlib -static -ffreestanding -fno-pic -no-pie -Wl,--build-id=none \
    -Wl,-T,bench/virtio-pvh.ld -Itests/guest -o "$PVH" tests/guest/virtio.S

IMG=$OUT/io.img
[ -f "$IMG" ] || head -c $((16 << 20)) /dev/urandom >"$IMG"

QEMU=$(command -v qemu-system-x86_64 || true)
[ -n "$QEMU" ] || echo "note: qemu-system-x86_64 not found; measuring casulo alone" >&2
QEMU_CPU=host
# On KVM-PVM hosts QEMU's -cpu host aborts setting MSR_IA32_ARCH_CAPABILITIES.
[ -d /sys/module/kvm_pvm ] && QEMU_CPU=host,-arch-capabilities
QEMU_COMMON=(-name bench,debug-threads=on -M pc -enable-kvm -cpu "$QEMU_CPU" -m 128 -nodefaults -no-user-config
             -display none -serial stdio -no-reboot
             -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$PVH")

# Exits come from perf when it can count the KVM tracepoint (root).
EXITS=0
if perf stat -x, -o /dev/null -e kvm:kvm_userspace_exit true 2>/dev/null; then
    EXITS=1
else
    echo "note: perf cannot count kvm:kvm_userspace_exit here; exits not measured" >&2
fi

# measure KEY N PERF CMD...: one run; sets R_LOOP R_CPU R_VCPU (in the
# loop) and, with PERF=1, R_EXITS (whole run); KEY names the logs.
measure() {
    local key=$1 n=$2 count=$3 line rc
    shift 3
    local wrap=()
    [ "$count" = 1 ] && wrap=(perf stat -x, -o "$OUT/$key.perf" -e kvm:kvm_userspace_exit --)
    line=$(python3 bench/vmmrun.py "$OUT/$key.log" "${wrap[@]}" "$@")
    read -r R_LOOP R_CPU R_VCPU _ rc <<<"$line"
    if ! grep -q '^bench_errors=0' "$OUT/$key.log"; then
        echo "$key (n=$n): the guest did not finish cleanly (rc $rc):" >&2
        tail -n 20 "$OUT/$key.log" >&2
        exit 1
    fi
    R_EXITS=nan
    [ "$count" = 1 ] && R_EXITS=$(awk -F, '/kvm_userspace_exit/ { print $1 }' "$OUT/$key.perf")
    return 0
}

# exits_per_req KEY CMD0 CMDN (array names): (exits of CMDN - exits of
# CMD0) / N from two perf-counted runs, or nan without perf. Only these
# runs are counted: a perf event on the VMM's threads costs time at each of
# their context switches, which would inflate the CPU figures.
exits_per_req() {
    local key=$1 e0
    local -n c0=$2 cn=$3
    R_EXPR=nan
    [ $EXITS = 1 ] || return 0
    measure "$key-exits0" 0 1 "${c0[@]}"
    e0=$R_EXITS
    measure "$key-exitsN" "$N" 1 "${cn[@]}"
    R_EXPR=$(awk -v e="$R_EXITS" -v e0="$e0" -v n="$N" 'BEGIN { printf "%.3f", (e - e0) / n }')
}

# rows WORKLOAD: each VMM's exits per request (C0/CN for casulo, Q0/QN
# for QEMU: 0 and N requests), then REPEATS plain runs of N requests of
# each, casulo and QEMU taking turns so that a change in the host's load
# hits both alike; each appends "workload vmm loop_s cpu_s vcpu_s
# exits_per_request" to $RAW.
RAW=$OUT/io-runs.tsv
: >"$RAW"
rows() {   # WORKLOAD
    local w=$1 r vmm ex_casulo ex_qemu=nan
    local vmms=(casulo)
    [ -n "$QEMU" ] && vmms+=(qemu)
    exits_per_req "$w-casulo" C0 CN
    ex_casulo=$R_EXPR
    if [ -n "$QEMU" ]; then
        exits_per_req "$w-qemu" Q0 QN
        ex_qemu=$R_EXPR
    fi
    for r in $(seq "$REPEATS"); do
        for vmm in "${vmms[@]}"; do
            if [ "$vmm" = casulo ]; then
                measure "$w-casulo-$r" "$N" 0 "${CN[@]}"
                R_EXPR=$ex_casulo
            else
                measure "$w-qemu-$r" "$N" 0 "${QN[@]}"
                R_EXPR=$ex_qemu
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$vmm" "$R_LOOP" "$R_CPU" "$R_VCPU" \
                "$R_EXPR" >>"$RAW"
        done
    done
}

blk_rows() {   # WORKLOAD
    local w=$1
    C0=("$CASULO" run --kernel "$GUEST" --memory 128M --disk "path=$IMG,io=uring" --cmdline "bench=$w n=0$WAIT")
    CN=("${C0[@]:0:${#C0[@]}-1}" "bench=$w n=$N$WAIT")
    local q=("$QEMU" "${QEMU_COMMON[@]}"
             -drive "file=$IMG,if=none,id=d0,format=raw,aio=io_uring"
             -device virtio-blk-pci,drive=d0,disable-legacy=on -append)
    Q0=("${q[@]}" "bench=$w n=0 exit=qemu$WAIT")
    QN=("${q[@]}" "bench=$w n=$N exit=qemu$WAIT")
    rows "$w"
}

blk_rows rd4k
blk_rows wr64k

# virtio-net: a TAP in a private network namespace, IPv6 off so that only
# the guest's frames cross it; nobody reads them (the kernel drops them).
NS=casulo-bench-io-$$
if [ "$(id -u)" = 0 ] && ip netns add "$NS" 2>/dev/null; then
    trap 'ip netns del "$NS" 2>/dev/null' EXIT
    ip -n "$NS" tuntap add bio0 mode tap
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.bio0.disable_ipv6=1
    ip -n "$NS" link set bio0 up
    NX=(ip netns exec "$NS")
    C0=("${NX[@]}" "$CASULO" run --kernel "$GUEST" --memory 128M --net tap=bio0 --cmdline "bench=tx n=0$WAIT")
    CN=("${C0[@]:0:${#C0[@]}-1}" "bench=tx n=$N$WAIT")
    q=("${NX[@]}" "$QEMU" "${QEMU_COMMON[@]}"
       -netdev tap,id=n0,ifname=bio0,script=no,downscript=no,vhost=off
       -device virtio-net-pci,netdev=n0,disable-legacy=on -append)
    Q0=("${q[@]}" "bench=tx n=0 exit=qemu$WAIT")
    QN=("${q[@]}" "bench=tx n=$N exit=qemu$WAIT")
    rows tx
else
    echo "note: no network namespace (needs root); virtio-net not measured" >&2
fi

# One row per workload and VMM: the median over its runs of each column.
RESULTS=$OUT/io.tsv
python3 - "$RAW" "$N" >"$RESULTS" <<'PY'
import statistics, sys
runs = {}
n = int(sys.argv[2])
for line in open(sys.argv[1]):
    w, vmm, loop, cpu, vcpu, ex = line.split()
    r = runs.setdefault((w, vmm), [[], [], [], ex])
    r[0].append(n / float(loop))
    r[1].append(float(cpu) / n * 1e6)
    r[2].append((float(cpu) - float(vcpu)) / n * 1e6)
for (w, vmm), r in runs.items():
    med = [statistics.median(x) for x in r[:3]]
    print('%s\t%s\t%.0f\t%.1f\t%.1f\t%s' % (w, vmm, med[0], med[1], med[2], r[3]))
PY
MODE="interrupt-driven (sti; hlt)"
[ -z "$WAIT" ] || MODE="busy-polling"
echo "virtio I/O: $N synchronous requests per run, tiny $MODE guest (same for both VMMs);"
echo "median of $REPEATS runs per VMM, the two VMMs taking turns"
echo "(cpu: the whole VMM process in the loop, its vCPU threads included;"
echo " io_cpu: the same without the vCPU threads, i.e. the VMM's own I/O work)"
printf '%-7s %-7s %10s %12s %15s %10s\n' workload vmm req_per_s cpu_us/req io_cpu_us/req exits/req
awk -F'\t' '{ printf "%-7s %-7s %10s %12s %15s %10s\n", $1, $2, $3, $4, $5, $6 }' "$RESULTS"
if [ -n "$QEMU" ]; then
    echo "casulo/QEMU ratios (req/s: higher is better; CPU and exits: lower is better):"
    awk -F'\t' '{ v[$1, $2] = $0; w[$1] = 1 }
        END { for (k in w) if ((k, "casulo") in v && (k, "qemu") in v) {
            split(v[k, "casulo"], a, "\t"); split(v[k, "qemu"], b, "\t")
            r = (b[6] + 0 > 0) ? sprintf("%.2f", a[6] / b[6]) : sprintf("n/a (%s vs %s)", a[6], b[6])
            io = (b[5] + 0 > 0) ? sprintf("%.2f", a[5] / b[5]) : "n/a"
            printf "%-7s req/s %.2f  cpu/req %.2f  io_cpu/req %s  exits/req %s\n", k, a[3] / b[3], a[4] / b[4], io, r } }' "$RESULTS"
fi
