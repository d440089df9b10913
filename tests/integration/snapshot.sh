#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# snapshot.sh - snapshot and restore of a running Linux guest, driven
# through the API, inside one nested L1. casulo boots the default guest with
# 512M, a data disk and --api-socket. The guest writes 1 MiB of random bytes
# to a tmpfs file (guest RAM) and another 1 MiB straight to the disk, then
# loops, printing "TICK i ram-md5 disk-md5 uptime kernel-errors" about once
# a second (the disk read with iflag=direct, so that it reaches the device).
# From L1: wait for a few ticks, `casulo pause`, `casulo snapshot`, `casulo
# stop`; then `casulo run --restore` with the same disk image and a new API
# socket. The restored guest must go on where it was: no second boot, the
# tick counter continuing (the first whole tick line after the restore is
# the last one before plus 1, or plus 2 when the pause cut a line in two),
# the same RAM checksum (the tmpfs survived), the same disk checksum read
# through the restored virtio-blk device (which L1 also finds in the image),
# an uptime that does not go back, and a clean kernel log. Then `casulo stop`
# must end the restored VM with status 0.
# SNAPSHOT_AFTER_TICKS (default 4) sets how many ticks the guest prints
# before the snapshot.
# L2 runs in an emulator, so the guest prints little (each console byte is
# a port-I/O exit).
# shellcheck disable=SC2016
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
nested_prerequisites
[ "$L2_VMM" = casulo ] || skip_or_fail "snapshot.sh drives casulo's API: L2_VMM=qemu does not apply"

# The guest's kernel-error count covers oopses, warnings, stalls, I/O and
# virtio errors and a clocksource marked unstable (the watchdog comparing
# the TSC with kvm-clock: a restore must keep the two consistent); it
# ignores the XSAVE warning every L2 kernel prints in this tier
# (docs/guests.md). The first time the count is not 0,
# the kernel log's tail is printed (DMESG lines) as evidence.
guest='head -c 1048576 /dev/urandom >/tmp/f;head -c 1048576 /dev/urandom >/tmp/g
dd if=/tmp/g of=/dev/vda bs=1M count=1 oflag=direct conv=fsync 2>/dev/null;w=$?;rm /tmp/g
echo CASULO-WROTE rc=$w
i=0;s=
while :;do i=$((i+1))
ke=$(dmesg|sed "/XSAVE consistency proble[m]/,/end trac[e]/d"|grep -c -i -E "Call Trac[e]|BU[G]:|WARNING: CP[U]|rcu.*stal[l]|virtio.*erro[r]|I/O erro[r]|hung_tas[k]|soft lockup|clocksource.*unstabl[e]")
echo TICK $i $(md5sum </tmp/f|cut -c1-8) $(dd if=/dev/vda bs=1M count=1 iflag=direct 2>/dev/null|md5sum|cut -c1-8) $(cut -d. -f1 /proc/uptime) $ke
[ $ke = 0 ]||[ -n "$s" ]||{ dmesg|tail -n 25|sed "s/^/DMESG /";s=1;}
sleep 1;done'

checklist_begin
cat >> "$CHECKLIST" <<EOF
GUEST_B64=$(printf '%s' "$guest" | base64 -w0)
BEFORE_TICKS=${SNAPSHOT_AFTER_TICKS:-4}
EOF
cat >> "$CHECKLIST" <<'EOF'
SOCK=/tmp/snap1.sock SOCK2=/tmp/snap2.sock SNAP=/tmp/snap DISK=/tmp/d.img
# wait_for SECONDS COMMAND...: polls COMMAND once a second, at most SECONDS times.
wait_for() {
    left=$1; shift
    while [ "$left" -gt 0 ]; do "$@" && return 0; sleep 1; left=$((left - 1)); done
    return 1
}
# ticks FILE: the whole TICK lines of a console log (a line cut by the pause
# has a part in each log and is whole in neither)
ticks() { tr -d '\r' < "$1" | grep -E '^TICK [0-9]+ [0-9a-f]{8} [0-9a-f]{8} [0-9]+ [0-9]+$'; }
ticks_at_least() { [ "$(ticks "$1" | wc -l)" -ge "$2" ]; }
# tick_field FILE first|last FIELD
tick_field() {
    if [ "$2" = first ]; then ticks "$1" | head -n 1; else ticks "$1" | tail -n 1; fi |
        cut -d' ' -f"$3"
}
# all_equal FILE FIELD VALUE: FIELD is VALUE on every whole tick line
all_equal() { [ -n "$3" ] && ticks "$1" | awk -v f="$2" -v v="$3" '$f != v { bad = 1 } END { exit bad }'; }
# consecutive FILE: the counters go up by one from line to line
consecutive() { ticks "$1" | awk 'NR > 1 && $2 != p + 1 { bad = 1 } { p = $2 } END { exit bad }'; }
one_or_two_more() { [ -n "$1" ] && [ -n "$2" ] && { [ "$2" = $(($1 + 1)) ] || [ "$2" = $(($1 + 2)) ]; }; }
not_less() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -ge "$2" ]; }
no_line() { ! tr -d '\r' < "$1" | grep -q -e "$2"; }
files_there() { [ -s "$SNAP/memory" ] && [ -s "$SNAP/state" ]; }
# stop_vm PID SOCK NAME: casulo stop (its answer checked), then the
# process's exit status (killed after a minute: 137)
stop_vm() {
    check "snapshot-$3-stop-answered" casulo stop --api "$2"
    wait_for 60 sh -c "! kill -0 $1 2>/dev/null"
    kill -9 "$1" 2>/dev/null
    wait "$1"
}

dd if=/dev/zero of="$DISK" bs=1M count=8 2>/dev/null
rm -rf "$SNAP"; mkdir -p "$SNAP"
echo "L2-BOOT snap1 vmm=casulo cpus=1 memory=512M devices=disk:$DISK"
casulo run --kernel /l2/bzImage --initrd /l2/initramfs.cpio --cpus 1 --memory 512M \
    --disk "path=$DISK" --api-socket "$SOCK" --cmdline "$L2_BASE casulo.runb64=$GUEST_B64" \
    < /dev/null > /tmp/snap1.out 2> /tmp/snap1.err &
pid=$!
check snapshot-guest-ticking wait_for $((L2_TIMEOUT * 3)) ticks_at_least /tmp/snap1.out "$BEFORE_TICKS"
check snapshot-guest-disk-write-ok grep -q '^CASULO-WROTE rc=0' /tmp/snap1.out
check snapshot-pause casulo pause --api "$SOCK"
# Paused: the guest prints nothing more, so the last tick is final.
last=$(tick_field /tmp/snap1.out last 2)
ram=$(tick_field /tmp/snap1.out last 3)
dsk=$(tick_field /tmp/snap1.out last 4)
up=$(tick_field /tmp/snap1.out last 5)
echo "SNAPSHOT before: last_tick=$last ram_md5=$ram disk_md5=$dsk uptime=$up"
# The control for the check after the restore: the guest's kernel log was
# clean until the snapshot.
check snapshot-kernel-clean-before all_equal /tmp/snap1.out 6 0
check snapshot-disk-image-has-guest-data equals "$(head -c 1048576 "$DISK" | md5sum | cut -c1-8)" "$dsk"
check snapshot-saved casulo snapshot --api "$SOCK" "$SNAP"
check snapshot-files files_there
ls -l "$SNAP" | sed 's/^/SNAPSHOT-DIR /'
stop_vm "$pid" "$SOCK" original
rc=$?
echo "L2-EXIT snap1 rc=$rc"
check snapshot-original-exit-0 equals "$rc" 0
tr -d '\r' < /tmp/snap1.out | tail -n 8 | sed 's/^/L2[snap1] /'
sed 's/^/L2-STDERR[snap1] /' /tmp/snap1.err | tail -n 5

echo "L2-RESTORE snap2 from $SNAP disk=$DISK"
casulo run --restore "$SNAP" --disk "path=$DISK" --api-socket "$SOCK2" \
    < /dev/null > /tmp/snap2.out 2> /tmp/snap2.err &
pid2=$!
check snapshot-restored-ticking wait_for $((L2_TIMEOUT * 2)) ticks_at_least /tmp/snap2.out 4
first=$(tick_field /tmp/snap2.out first 2)
up2=$(tick_field /tmp/snap2.out first 5)
echo "SNAPSHOT after: first_tick=$first uptime=$up2 ticks=$(ticks /tmp/snap2.out | wc -l)"
check snapshot-no-reboot no_line /tmp/snap2.out 'CASULO-GUEST-READY\|Linux version'
check snapshot-tick-continues one_or_two_more "$last" "$first"
check snapshot-ticks-consecutive consecutive /tmp/snap2.out
check snapshot-ram-survived all_equal /tmp/snap2.out 3 "$ram"
check snapshot-disk-after-restore all_equal /tmp/snap2.out 4 "$dsk"
check snapshot-uptime-not-back not_less "$up2" "$up"
check snapshot-kernel-clean all_equal /tmp/snap2.out 6 0
stop_vm "$pid2" "$SOCK2" restored
rc=$?
echo "L2-EXIT snap2 rc=$rc"
check snapshot-restored-exit-0 equals "$rc" 0
# The evidence: the restored console (ticks, any DMESG lines) and stderr.
tr -d '\r' < /tmp/snap2.out | tail -n 40 | sed 's/^/L2[snap2] /'
sed 's/^/L2-STDERR[snap2] /' /tmp/snap2.err | tail -n 10
EOF
for c in guest-ticking guest-disk-write-ok pause kernel-clean-before disk-image-has-guest-data saved files \
         original-stop-answered original-exit-0 restored-ticking no-reboot tick-continues ticks-consecutive ram-survived disk-after-restore \
         uptime-not-back kernel-clean restored-stop-answered restored-exit-0; do
    expect_check snapshot-$c
done
checklist_run
