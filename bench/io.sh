#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/io.sh [-n REQUESTS] [-r REPEATS] [-i | -p]: virtio I/O cost in
# casulo and in QEMU, both driven by the same tiny guest
# (tests/guest/virtio.S bench mode, one synchronous request at a time), so
# the guest's own work is the same:
#   rd4k  4 KiB virtio-blk reads   (QEMU: virtio-blk-pci, aio=io_uring; casulo: io=uring)
#   wr64k 64 KiB virtio-blk writes (same raw image, host page cache on both;
#         N/4 requests per run, they are slower)
#   tx    1500-byte virtio-net frames to a TAP (QEMU: tap, vhost=off)
# Guest modes. Default (wait=user): the request loop runs at CPL3 with
# interrupts off: fill the avail entry, kick with an MMIO write to the
# queue's notify address (an ioeventfd in both VMMs: no exit to userspace),
# busy-poll the used index. On a KVM-PVM host guest CPL0 code is emulated
# by KVM (~1M instructions/s) and charged to the vCPU thread as host system
# time, the same for either VMM and larger than the VMM's own work; guest
# CPL3 code runs natively and the kernel accounts it as the thread's guest
# time, which can be subtracted. -i (wait=irq): the loop runs at CPL0 and
# sleeps in sti; hlt until the completion's MSI-X interrupt. -p
# (wait=poll): CPL0 busy-polling.
# Columns, per request, over the guest's loop only (host time between its
# "BENCH START" and "BENCH END" lines, bench/vmmrun.py):
#   req_per_s  requests per second of that loop
#   cpu        on-CPU time of all the VMM process's threads (schedstat, ns),
#              the vCPU thread included: everything the run cost the host
#   guest      guest time of those threads (/proc/.../stat guest_time: the
#              guest's own native code, at CPL3; a sample taken at each
#              scheduler tick, hence long loops)
#   vmm        cpu - guest: the VMM's threads plus KVM's host-side work in
#              the vCPU thread (exits, MMIO decode, ioeventfd signalling,
#              interrupt injection; and the guest's CPL0 code when it has
#              any, so with -i/-p this is mostly KVM's emulation), charged
#              the same way for both VMMs
#   io         cpu minus the vCPU threads' time: the VMM's own I/O threads
#              (and io_uring workers) alone
#   exits      VMM exits to userspace (perf's kvm:kvm_userspace_exit; KVM_RUN
#              returns, every vCPU; target ~0 with ioeventfd kicks): (exits
#              of a run with N requests - exits of a run with 0) / N, which
#              cancels start-up (QEMU's firmware makes thousands). Exits come
#              from their own runs: perf on the VMM's threads costs time at
#              each of their context switches.
# -n: requests per run (default 100000; wr64k runs a quarter of them):
# long enough for the tick-sampled guest time to settle.
# The other columns are medians of -r runs per VMM (default 5), the VMMs
# taking turns, because this 2-core host's other load moves single runs by
# 2x; then casulo/QEMU ratios. QEMU boots the guest's PVH entry
# (bench/virtio-pvh.ld keeps its ELF note). Measured figures are in
# docs/io.md. Performance lives here, never in tests: nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
N=100000
REPEATS=5
WAIT=" wait=user"
while getopts "in:pr:" o; do
    case $o in
        i) WAIT=" wait=irq" ;;
        n) N=$OPTARG ;;
        p) WAIT=" wait=poll" ;;
        r) REPEATS=$OPTARG ;;
        *) echo "usage: $0 [-n REQUESTS] [-r REPEATS] [-i | -p]" >&2; exit 2 ;;
    esac
done
N_ALL=$N
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

# measure KEY N PERF CMD...: one run; sets R_LOOP R_CPU R_VCPU R_GUEST (in the
# loop) and, with PERF=1, R_EXITS (whole run); KEY names the logs.
measure() {
    local key=$1 n=$2 count=$3 line rc
    shift 3
    local wrap=()
    [ "$count" = 1 ] && wrap=(perf stat -x, -o "$OUT/$key.perf" -e kvm:kvm_userspace_exit --)
    line=$(python3 bench/vmmrun.py "$OUT/$key.log" "${wrap[@]}" "$@")
    read -r R_LOOP R_CPU R_VCPU R_GUEST _ rc <<<"$line"
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
# hits both alike; each appends "workload n vmm loop_s cpu_s vcpu_s
# guest_s exits_per_request" to $RAW.
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
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$N" "$vmm" "$R_LOOP" "$R_CPU" \
                "$R_VCPU" "$R_GUEST" "$R_EXPR" >>"$RAW"
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
N=$((N_ALL / 4))
blk_rows wr64k
N=$N_ALL

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
python3 - "$RAW" >"$RESULTS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    w, n, vmm, loop, cpu, vcpu, guest, ex = line.split()
    n, loop, cpu, vcpu, guest = int(n), float(loop), float(cpu), float(vcpu), float(guest)
    r = runs.setdefault((w, vmm), [[], [], [], [], [], ex])
    r[0].append(n / loop)
    r[1].append(cpu / n * 1e6)
    r[2].append(guest / n * 1e6)
    r[3].append((cpu - guest) / n * 1e6)
    r[4].append((cpu - vcpu) / n * 1e6)
for (w, vmm), r in runs.items():
    med = [statistics.median(x) for x in r[:5]]
    print('%s\t%s\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%s' % (w, vmm, *med, r[5]))
PY
case $WAIT in
    " wait=user") MODE="CPL3 busy-polling (kick by MMIO, no interrupts)" ;;
    " wait=irq") MODE="CPL0 interrupt-driven (sti; hlt)" ;;
    *) MODE="CPL0 busy-polling" ;;
esac
echo "virtio I/O: $N_ALL synchronous requests per run (wr64k: $((N_ALL / 4))), tiny $MODE guest"
echo "(same for both VMMs); median of $REPEATS runs per VMM, the two VMMs taking turns."
echo "Per request, in µs: cpu = the whole VMM process (all threads); guest = its guest time"
echo "(the guest's native code); vmm = cpu - guest (VMM threads + KVM's host-side work);"
echo "io = cpu without the vCPU threads (the VMM's I/O threads alone)."
printf '%-7s %-7s %10s %8s %8s %8s %8s %10s\n' workload vmm req_per_s cpu guest vmm io exits/req
awk -F'\t' '{ printf "%-7s %-7s %10s %8s %8s %8s %8s %10s\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$RESULTS"
if [ -n "$QEMU" ]; then
    echo "casulo/QEMU ratios (req/s: higher is better; the rest: lower is better):"
    awk -F'\t' 'function ratio(a, b) { return (b + 0 > 0) ? sprintf("%.2f", a / b) : "n/a" }
        { v[$1, $2] = $0; w[$1] = 1 }
        END { for (k in w) if ((k, "casulo") in v && (k, "qemu") in v) {
            split(v[k, "casulo"], a, "\t"); split(v[k, "qemu"], b, "\t")
            ex = (b[8] + 0 > 0) ? ratio(a[8], b[8]) : sprintf("n/a (%s vs %s)", a[8], b[8])
            printf "%-7s req/s %s  cpu %s  vmm %s  io %s  exits %s\n", k, ratio(a[3], b[3]),
                ratio(a[4], b[4]), ratio(a[6], b[6]), ratio(a[7], b[7]), ex } }' "$RESULTS"
fi
