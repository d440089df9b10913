# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# lib.sh - sourced by the Linux-guest integration tests (the nested tier). A
# test writes a checklist for L1's busybox sh with the helpers below, boots
# L1 once with scripts/nested.sh to run the whole list (each L2 boot is a few
# seconds, L1's boot about ten), and then asserts each "CHECK name ok" line.
#
# The L2 VMM is casulo by default; L2_VMM=qemu runs the same checklist with
# QEMU (microvm, -enable-kvm) as the L2 VMM instead, which validates the
# harness and the guest independently of casulo.
#
# Not a test by itself: run as a program it says so and exits 0.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "lib.sh is a helper sourced by the integration tests, not a test"
    exit 0
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
L2_VMM=${L2_VMM:-casulo}
L2_TIMEOUT=${L2_TIMEOUT:-120}          # one L2 boot, inside L1
NESTED_TIMEOUT=${NESTED_TIMEOUT:-900}  # the whole L1 run
TEST_NAME=$(basename "$0" .sh)
TEST_WORK=$REPO/out/integration/$TEST_NAME
CHECKLIST=$TEST_WORK/payload/checklist.sh
EXPECTED_CHECKS=()

# A missing prerequisite skips the test, except under CI=true where it fails.
skip_or_fail() {
    if [ "${CI:-}" = true ]; then echo "FAIL (prerequisite, CI=true): $*"; exit 1; fi
    echo "skip: $*"
    exit 77
}

nested_prerequisites() {
    local t
    for t in qemu-system-x86_64 apt-get apt-cache dpkg-deb; do
        command -v "$t" >/dev/null || skip_or_fail "no $t on this host"
    done
    "$REPO/scripts/fetch-debs.sh" linux-image-amd64 busybox-static >/dev/null ||
        skip_or_fail "cannot download the L1 kernel (apt-get download failed)"
    "$REPO/scripts/build-guest.sh" "$REPO/out/guest" ||
        skip_or_fail "cannot build the default guest (apt-get download failed)"
    case $L2_VMM in
    casulo) [ -x "$REPO/build/casulo" ] || { echo "FAIL: build/casulo is not built"; exit 1; } ;;
    qemu) ;;
    *) echo "FAIL: unknown L2_VMM=$L2_VMM (casulo or qemu)"; exit 1 ;;
    esac
}

# Starts the checklist: the L1-side helpers, then the test appends its body.
checklist_begin() {
    rm -rf "$TEST_WORK"
    mkdir -p "$TEST_WORK/payload"
    {
        echo "L2_VMM=$L2_VMM L2_TIMEOUT=$L2_TIMEOUT"
        cat <<'EOF'
# ---- L1-side helpers (busybox sh) ----
# reboot=k: a guest that cannot power off resets through the i8042, which a
# VMM reports as a clean exit, unlike the triple fault of reboot=t.
L2_BASE="console=ttyS0 quiet initcall_blacklist=cmos_init reboot=k panic=-1"

# l2_boot NAME CPUS MEM WORD [DEV...]: boot /l2 with CPUS vCPUs and MEM
# memory, WORD added to the kernel command line (casulo.run=... or
# casulo.runb64=...; more words may follow, space-separated). DEV adds a
# device, in order: disk:FILE:ID[,OPTS] (virtio-blk, serial ID; OPTS are
# more casulo --disk keys, e.g. io=sync,queues=2, which QEMU ignores),
# disk-ro:FILE:ID (read-only), net:TAP:MAC (virtio-net), rng (virtio-rng).
# The console goes to /tmp/NAME.out (and to the log, prefixed), the VMM's
# exit status to /tmp/NAME.rc.
l2_boot() {
    name=$1 cpus=$2 mem=$3 word=$4
    shift 4
    devs="$*"
    echo "L2-BOOT $name vmm=$L2_VMM cpus=$cpus memory=$mem${devs:+ devices=$devs}"
    case $L2_VMM in
    casulo)
        set -- casulo run --kernel /l2/bzImage --initrd /l2/initramfs.cpio \
            --cpus "$cpus" --memory "$mem" --cmdline "$L2_BASE $word"
        for d in $devs; do
            IFS=: read -r kind a b <<DEV
$d
DEV
            case $kind in
            disk) set -- "$@" --disk "path=$a,id=$b" ;;
            disk-ro) set -- "$@" --disk "path=$a,id=$b,readonly=on" ;;
            net) set -- "$@" --net "tap=$a,mac=$b" ;;
            rng) set -- "$@" --rng ;;
            esac
        done ;;
    qemu)
        # microvm has no PCI bus: the devices need q35 (SeaBIOS, slower)
        machine=microvm
        [ -z "$devs" ] || machine=q35
        set -- qemu-system-x86_64 -M "$machine" -enable-kvm -cpu host -smp "$cpus" -m "$mem" \
            -nodefaults -no-user-config -display none -serial stdio -no-reboot \
            -L /usr/share/qemu -kernel /l2/bzImage -initrd /l2/initramfs.cpio \
            -append "$L2_BASE $word"
        n=0
        for d in $devs; do
            IFS=: read -r kind a b <<DEV
$d
DEV
            n=$((n + 1))
            case $kind in
            disk | disk-ro)
                ro=; [ "$kind" = disk ] || ro=,readonly=on
                set -- "$@" -drive "file=$a,if=none,id=d$n,format=raw,discard=unmap$ro" \
                    -device "virtio-blk-pci,drive=d$n,serial=${b%%,*}" ;;
            net) set -- "$@" -netdev "tap,id=n$n,ifname=$a,script=no,downscript=no" \
                    -device "virtio-net-pci,netdev=n$n,mac=$b,romfile=" ;;
            rng) set -- "$@" -object rng-random,id=r$n,filename=/dev/urandom \
                    -device virtio-rng-pci,rng=r$n ;;
            esac
        done ;;
    esac
    read -r t0 _ < /proc/uptime
    for attempt in 1 2; do
        # SIGKILL, because a VMM may well exit 0 when asked to stop by SIGTERM;
        # busybox timeout passes on the program's own status: 137.
        { timeout -s KILL "$L2_TIMEOUT" "$@" < /dev/null 2>&1; echo $? > "/tmp/$name.rc"; } |
            tr -d '\r' | tee "/tmp/$name.out" | sed "s/^/L2[$name] /"
        # About one 4-vCPU 4 GiB boot in twenty in this nested tier (L1's KVM
        # on QEMU's emulated SVM) has triple-faulted before the guest printed
        # anything, never reproduced on rerun: such a boot, and only such a
        # boot, is tried once more, loudly (docs/testing.md, "Known flakes").
        [ "$attempt" = 1 ] && [ "$(cat "/tmp/$name.rc")" = 3 ] &&
            grep -q '^casulo: error: triple-fault' "/tmp/$name.out" &&
            ! grep -q -v '^casulo: ' "/tmp/$name.out" || break
        echo "L2-RETRY $name: triple fault before any guest output; booting once more"
    done
    read -r t1 _ < /proc/uptime
    rc=$(cat "/tmp/$name.rc")
    [ "$rc" != 137 ] || echo "L2-TIMEOUT $name: killed after $L2_TIMEOUT s"
    echo "L2-EXIT $name rc=$rc seconds=$(awk "BEGIN{print $t1-$t0}")"
}

# check NAME COMMAND...: one checklist line, ok when COMMAND succeeds.
check() {
    n=$1; shift
    if "$@"; then echo "CHECK $n ok"; else echo "CHECK $n FAIL"; fi
}

# result NAME KEY: KEY's value on the guest's CASULO-RESULT line.
result() {
    sed -n 's/^CASULO-RESULT //p' "/tmp/$1.out" | tr ' ' '\n' | sed -n "s/^$2=//p" | tail -n1
}

has_line() { grep -q -x -e "$2" "/tmp/$1.out"; }
vmm_rc_is() { [ "$(cat "/tmp/$1.rc")" = "$2" ]; }
equals() { [ -n "$1" ] && [ "$1" = "$2" ]; }

# kib SIZE: 256M, 4G, 1024K -> KiB
kib() {
    case $1 in
    *K) echo "${1%K}" ;;
    *M) echo $(( ${1%M} * 1024 )) ;;
    *G) echo $(( ${1%G} * 1024 * 1024 )) ;;
    *) echo $(( $1 / 1024 )) ;;
    esac
}
# within_pct VALUE REF PCT: VALUE <= REF and VALUE >= REF * (100 - PCT) / 100
within_pct() {
    [ -n "$1" ] && awk -v v="$1" -v r="$2" -v p="$3" 'BEGIN { exit !(v <= r && v >= r * (100 - p) / 100) }'
}
# ---- checks ----
EOF
    } > "$CHECKLIST"
}

# expect_check NAME: the host side will require "CHECK NAME ok".
expect_check() { EXPECTED_CHECKS+=("$1"); }

# Boots L1 once, runs the checklist and asserts every expected check.
checklist_run() {
    local args=(-t "$NESTED_TIMEOUT" -p "$TEST_WORK/payload" -l "$TEST_WORK/l1.log") rc n failed=0
    [ "$L2_VMM" != qemu ] || args+=(-q)
    "$REPO/scripts/nested.sh" "${args[@]}" -- sh /payload/checklist.sh
    rc=$?
    echo "----"
    if grep -q '^L1-KVM .* dev_kvm=yes' "$TEST_WORK/l1.log"; then
        echo "ok    l1-dev-kvm"
    else
        echo "FAIL  l1-dev-kvm (kvm_amd did not give L1 a /dev/kvm)"; failed=1
    fi
    for n in "${EXPECTED_CHECKS[@]}"; do
        if grep -q -x "CHECK $n ok" "$TEST_WORK/l1.log"; then
            echo "ok    $n"
        else
            echo "FAIL  $n"; failed=1
        fi
    done
    [ "$rc" = 0 ] || { echo "FAIL: the L1 checklist exited $rc"; failed=1; }
    if [ $failed != 0 ]; then
        echo "---- last L2 console lines (whole L1 log: $TEST_WORK/l1.log)"
        grep -E '^L2' "$TEST_WORK/l1.log" | tail -n 12
    fi
    [ $failed = 0 ]
}
