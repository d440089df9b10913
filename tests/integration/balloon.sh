#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# balloon.sh - the virtio-balloon with a real Linux driver, driven through
# the API: inside one nested L1, casulo boots the default guest with 512M
# and --balloon --api-socket; the guest touches 280 MiB and frees half of
# it; then, from L1, `casulo balloon --target 128M` must make the guest
# inflate to the target and casulo's resident set (VmRSS in
# /proc/PID/status) drop by at least 100 MiB. The guest's statistics must
# arrive (and be refreshed when polling is on), a target above RAM is
# refused, deflating returns `actual` to 0, and `casulo stop` ends the VM.
#
# Why the guest frees its memory in a checkerboard: the device also offers
# free page reporting, with which Linux hands the host any free block of
# 2 MiB or more on its own, within seconds. Freed pages that were written
# alternately with pages still in use cannot merge into such blocks, so they
# stay resident until the balloon takes them, and the RSS drop measures the
# balloon, not the reporting. The balloon allocates single pages, and the
# allocator serves those from its order-0 lists first: these pages.
# L2 runs in an emulator, so the guest prints almost nothing (each console
# byte is a port-I/O exit).
# shellcheck disable=SC2016
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
nested_prerequisites
[ "$L2_VMM" = casulo ] || skip_or_fail "balloon.sh drives casulo's API: L2_VMM=qemu does not apply"

# The guest: two 140 MiB tmpfs files written a page at a time, alternately
# (each file system is 50% of RAM at most), then one removed.
guest='awk '\''BEGIN { s = sprintf("%4096s", ""); for (i = 0; i < 35840; i++) { printf "%s", s > "/tmp/a"; printf "%s", s > "/run/b" } }'\'
guest+='; rm /tmp/a; echo CASULO-TOUCHED; sleep 3600'

checklist_begin
cat >> "$CHECKLIST" <<EOF
GUEST_B64=$(printf '%s' "$guest" | base64 -w0)
EOF
cat >> "$CHECKLIST" <<'EOF'
SOCK=/tmp/balloon.sock
# wait_for SECONDS COMMAND...: polls COMMAND once a second, at most SECONDS times.
# (Its counter is not named n: check() in lib.sh keeps its check's name there.)
wait_for() {
    left=$1; shift
    while [ "$left" -gt 0 ]; do "$@" && return 0; sleep 1; left=$((left - 1)); done
    return 1
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
# field NAME: an integer or string field of GET /balloon (compact JSON, one line)
field() {
    casulo balloon --api "$SOCK" --json > /tmp/balloon.json 2>/dev/null || return 1
    sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" /tmp/balloon.json
}
actual_is() { [ "$(field actual_bytes)" = "$1" ]; }
stats_after() { t=$(field stats_updated_at); [ -n "$t" ] && [ "$t" != null ] && [ "$t" != "$1" ]; }
at_least() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -ge "$2" ]; }

echo "L2-BOOT balloon vmm=casulo cpus=1 memory=512M"
casulo run --kernel /l2/bzImage --initrd /l2/initramfs.cpio --cpus 1 --memory 512M \
    --balloon --api-socket "$SOCK" --cmdline "$L2_BASE casulo.runb64=$GUEST_B64" \
    < /dev/null > /tmp/balloon.out 2>&1 &
pid=$!
check balloon-guest-touched wait_for $((L2_TIMEOUT * 5)) grep -q '^CASULO-TOUCHED' /tmp/balloon.out
check balloon-driver-active equals "$(field driver_active)" true
# The Linux driver sends its statistics once when it starts.
check balloon-stats-reported grep -q '"free_memory":[0-9]' /tmp/balloon.json
refused_above_ram() {
    ! casulo balloon --api "$SOCK" --target 1G > /dev/null 2> /tmp/refused.err &&
        grep -q "is more than the guest's RAM (512M)" /tmp/refused.err
}
check balloon-target-above-ram-refused refused_above_ram
# Free page reporting of whatever else the guest freed is done within seconds.
sleep 5
rss0=$(rss_kb)
casulo balloon --api "$SOCK" --target 128M
check balloon-inflated wait_for $((L2_TIMEOUT * 3)) actual_is 134217728
rss1=$(rss_kb)
echo "BALLOON rss_before_kb=$rss0 rss_inflated_kb=$rss1 inflated=$(field inflated_bytes)"
check balloon-rss-drop-100M at_least "$((rss0 - rss1))" 102400
check balloon-device-freed-128M equals "$(field inflated_bytes)" 134217728

before=$(field stats_updated_at)
casulo balloon --api "$SOCK" --stats-interval 1
check balloon-stats-polled wait_for 60 stats_after "$before"
casulo balloon --api "$SOCK" --stats-interval 0

casulo balloon --api "$SOCK" --target 0
check balloon-deflated wait_for $((L2_TIMEOUT * 3)) actual_is 0
casulo balloon --api "$SOCK"
casulo stop --api "$SOCK"
wait_for 60 sh -c "! kill -0 $pid 2>/dev/null"
kill -9 "$pid" 2>/dev/null
wait "$pid"
rc=$?
echo "L2-EXIT balloon rc=$rc"
check balloon-vmm-exit-0 equals "$rc" 0
grep -v '^CASULO-' /tmp/balloon.out | tail -n 5 | sed 's/^/L2[balloon] /'
EOF
for c in guest-touched driver-active stats-reported target-above-ram-refused inflated rss-drop-100M \
         device-freed-128M stats-polled deflated vmm-exit-0; do
    expect_check balloon-$c
done
checklist_run
