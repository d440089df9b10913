#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# migrate.sh - live migration of a running Linux guest with an open TCP
# connection, between two casulo processes inside one nested L1.
#
# Topology in L1 (all on one L1 kernel):
#
#   source casulo --net tap=mtapS --+
#                                     +-- br0 (bridge, no address) -- mpeer ==veth== peer end
#   dest.  casulo --net tap=mtapD --+                                  (netns "peer": 10.0.2.1)
#
# Both VMs have the same MAC and the guest is 10.0.2.2; the peer lives in a
# third network namespace (held by an `unshare -n sleep`, entered with
# nsenter) behind a veth whose other end is a bridge port, so that a move of
# the guest from mtapS to mtapD is a move between two bridge ports, as
# between two hosts on one LAN. The migration stream itself goes over L1's
# loopback (destination: casulo run --incoming tcp:127.0.0.1:PORT). L1 has no
# bridge or veth module by default: this test ships llc, stp, bridge and
# veth from the same Debian kernel package in its payload and insmods them.
#
# The guest (the default L2 guest, casulo.runb64) opens a TCP connection to
# the peer with busybox nc and sends "SEQ n uptime" every ~100 ms. Once the
# peer has some lines, `casulo migrate --watch` moves the VM. Checks:
#   - the migration completes and the source exits 0 after saying it migrated;
#   - the peer keeps receiving after the move (30 more lines), on the same
#     connection: the peer's nc is still running, the guest's nc never
#     exited, and the received SEQ numbers go 1, 2, 3 ... without a gap or a
#     repeat (a reset or a reconnect would restart or break them);
#   - the uptime in the lines never goes back and the destination's console
#     shows no boot (the guest was not restarted);
#   - the guest announced itself (VIRTIO_NET_S_ANNOUNCE -> gratuitous ARP):
#     garpwatch (garpwatch.c, built static here) sees a gratuitous ARP from
#     the guest's MAC arriving on mtapD, and the bridge's forwarding table
#     has the MAC on mtapD's port (before the move: on mtapS's, the control);
#   - `casulo stop` ends the destination with status 0.
# Nothing is timed: every wait is a generous upper bound for the emulator.
# shellcheck disable=SC2016
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
nested_prerequisites
[ "$L2_VMM" = casulo ] || skip_or_fail "migrate.sh drives casulo's migration: L2_VMM=qemu does not apply"
command -v cc >/dev/null || skip_or_fail "no C compiler for garpwatch"

guest='ip link set eth0 up&&ip addr add 10.0.2.2/24 dev eth0
i=0;until ping -c1 -W1 10.0.2.1 >/dev/null 2>&1;do i=$((i+1));[ $i -lt 60 ]||break;done
echo STREAM-START ping_tries=$i
i=0;while :;do i=$((i+1));read u _ </proc/uptime;echo "SEQ $i $u";usleep 100000;done|nc 10.0.2.1 5000
echo NC-EXIT rc=$?'

checklist_begin
KO=$TEST_WORK/payload/ko
mkdir -p "$KO"
deb=$("$REPO/scripts/fetch-debs.sh" linux-image-amd64 | grep '/linux-image-[^/]*\.deb$' | head -n1)
[ -n "$deb" ] || skip_or_fail "cannot download the L1 kernel package"
dpkg-deb --fsys-tarfile "$deb" |
    tar -x -C "$KO" --wildcards '*/net/llc/llc.ko' '*/net/802/stp.ko' '*/net/bridge/bridge.ko' '*/drivers/net/veth.ko' ||
    skip_or_fail "no bridge/veth modules in $deb"
find "$KO" -name '*.ko' -exec mv {} "$KO" \;
for m in llc stp bridge veth; do [ -f "$KO/$m.ko" ] || skip_or_fail "no $m.ko in $deb"; done
cc -static -O2 -std=gnu11 -Wall -Wextra -Werror -o "$TEST_WORK/payload/garpwatch" "$REPO/tests/integration/garpwatch.c" ||
    { echo "FAIL: cannot build garpwatch"; exit 1; }

cat >> "$CHECKLIST" <<EOF
GUEST_B64=$(printf '%s' "$guest" | base64 -w0)
EOF
cat >> "$CHECKLIST" <<'EOF'
MAC=52:54:00:12:34:77 PORT=4477
SRC_SOCK=/tmp/msrc.sock DST_SOCK=/tmp/mdst.sock RX=/tmp/peer.rx
wait_for() {
    left=$1; shift
    while [ "$left" -gt 0 ]; do "$@" && return 0; sleep 1; left=$((left - 1)); done
    return 1
}
lines() { wc -l < "$RX"; }
lines_at_least() { [ "$(lines)" -ge "$1" ]; }
# whole() prints the received lines but the last, which may still be partial
whole() { sed '$d' "$RX"; }
unbroken() { whole | awk '$1 != "SEQ" || $2 != NR { bad = 1; print "BROKEN line " NR ": " $0 } END { exit bad || NR == 0 }'; }
uptime_never_back() { whole | awk 'NR > 1 && $3 < p { bad = 1; print "UPTIME-BACK line " NR ": " p " then " $3 } { p = $3 } END { exit bad }'; }
no_line() { ! tr -d '\r' < "$1" | grep -q -e "$2"; }
# fdb_port MAC: the bridge port on which br0 has learned MAC
fdb_port() {
    hexdump -v -e '16/1 "%02x " "\n"' /sys/class/net/br0/brforward |
        while read -r a b c d e f p _ _ _ _ _ ph _; do
            [ "$a:$b:$c:$d:$e:$f" = "$1" ] && echo $((0x$ph * 256 + 0x$p))
        done
}
port_of() { echo $(($(cat "/sys/class/net/$1/brport/port_no"))); }
learned_on() { [ "$(fdb_port "$MAC")" = "$(port_of "$1")" ]; }
garp_seen() { grep -q "^GARP $MAC 10.0.2.2$" /tmp/garp.log; }
alive() { kill -0 "$1" 2>/dev/null; }
# gone PID: exited (a zombie not yet reaped by this shell counts)
gone() { ! kill -0 "$1" 2>/dev/null || grep -q ') Z ' "/proc/$1/stat" 2>/dev/null; }

for m in llc stp bridge veth; do insmod "/payload/ko/$m.ko" || echo "L1-WARN insmod $m failed"; done
ip link set lo up
brctl addbr br0 && ip link set br0 up
for t in mtapS mtapD; do tunctl -t $t >/dev/null && brctl addif br0 $t && ip link set $t up; done
# The peer's namespace, and a veth into it (busybox names the other end itself).
unshare -n sleep 100000 & holder=$!
ip link add name mpeer type veth
peerif=
for d in /sys/class/net/*; do
    [ "$(cat "$d/ifindex")" = "$(cat /sys/class/net/mpeer/iflink)" ] && peerif=${d##*/}
done
echo "MIG-TOPOLOGY veth mpeer <-> $peerif, namespace holder $holder"
ip link set "$peerif" netns "$holder"
brctl addif br0 mpeer && ip link set mpeer up
nsenter -t "$holder" -n sh -c "ip link set lo up && ip link set $peerif up && ip addr add 10.0.2.1/24 dev $peerif"
check mig-topology nsenter -t "$holder" -n ip addr show dev "$peerif"
mkfifo /tmp/hold; exec 3<>/tmp/hold
: > "$RX"
nsenter -t "$holder" -n nc -l -p 5000 <&3 > "$RX" & peernc=$!
/payload/garpwatch mtapD "$MAC" > /tmp/garp.log 2> /tmp/garp.err & watcher=$!

echo "L2-BOOT msrc vmm=casulo cpus=1 memory=256M devices=net:mtapS:$MAC"
casulo run --kernel /l2/bzImage --initrd /l2/initramfs.cpio --cpus 1 --memory 256M \
    --net "tap=mtapS,mac=$MAC" --api-socket "$SRC_SOCK" --cmdline "$L2_BASE casulo.runb64=$GUEST_B64" \
    < /dev/null > /tmp/msrc.out 2> /tmp/msrc.err &
src=$!
casulo run --incoming "tcp:127.0.0.1:$PORT" --cpus 1 --memory 256M \
    --net "tap=mtapD,mac=$MAC" --api-socket "$DST_SOCK" \
    < /dev/null > /tmp/mdst.out 2> /tmp/mdst.err &
dst=$!
check mig-stream-flowing wait_for $((L2_TIMEOUT * 3)) lines_at_least 20
# show() prints the evidence: consoles, VMM messages, what garpwatch saw
show() {
    tr -d '\r' < /tmp/msrc.out | tail -n 8 | sed 's/^/L2[msrc] /'
    tr -d '\r' < /tmp/mdst.out | tail -n 5 | sed 's/^/L2[mdst] /'
    sed 's/^/L2-STDERR[msrc] /' /tmp/msrc.err | tail -n 5
    sed 's/^/L2-STDERR[mdst] /' /tmp/mdst.err | tail -n 5
    sed 's/^/GARPWATCH /' /tmp/garp.log /tmp/garp.err | tail -n 5
}
# Without a stream there is nothing to migrate: stop here (the checks left are missing, so FAIL).
lines_at_least 20 || { show; kill -9 "$src" "$dst" "$peernc" "$watcher" "$holder" 2>/dev/null; exit 1; }
check mig-learned-on-source-before learned_on mtapS
check mig-no-garp-before no_line /tmp/garp.log GARP
echo "MIG-BEFORE lines=$(lines) last=$(tail -n 1 "$RX")"

read -r t0 _ < /proc/uptime
timeout -s KILL 900 casulo migrate --api "$SRC_SOCK" "tcp:127.0.0.1:$PORT" --watch > /tmp/mwatch.out 2>&1
wrc=$?
read -r t1 _ < /proc/uptime
sed 's/^/MIG-WATCH /' /tmp/mwatch.out | tail -n 6
echo "MIG-MOVED watch_rc=$wrc seconds=$(awk "BEGIN{print $t1-$t0}") lines=$(lines)"
check mig-watch-ok equals "$wrc" 0
check mig-completed grep -q '^completed: downtime [0-9]* ms, total [0-9]* ms' /tmp/mwatch.out
[ "$wrc" = 0 ] || { show; kill -9 "$src" "$dst" "$peernc" "$watcher" "$holder" 2>/dev/null; exit 1; }
n0=$(lines)
check mig-source-exited wait_for 60 gone "$src"
wait "$src"; src_rc=$?
echo "L2-EXIT msrc rc=$src_rc"
check mig-source-exit-0 equals "$src_rc" 0
check mig-source-said-migrated grep -q "migrated to tcp:127.0.0.1:$PORT" /tmp/msrc.err
check mig-destination-running alive "$dst"
check mig-stream-continues wait_for 300 lines_at_least $((n0 + 30))
check mig-garp-on-destination-tap wait_for 30 garp_seen
check mig-learned-on-destination learned_on mtapD
echo "MIG-TAPS mtapD rx_packets=$(cat /sys/class/net/mtapD/statistics/rx_packets) fdb_port=$(fdb_port "$MAC") mtapS_port=$(port_of mtapS) mtapD_port=$(port_of mtapD)"
check mig-peer-connection-open alive "$peernc"
check mig-guest-nc-running no_line /tmp/mdst.out NC-EXIT
check mig-sequence-unbroken unbroken
check mig-uptime-never-back uptime_never_back
check mig-no-reboot no_line /tmp/mdst.out 'CASULO-GUEST-READY\|Linux version'
echo "MIG-AFTER lines=$(lines) first=$(head -n 1 "$RX") last=$(whole | tail -n 1)"

check mig-destination-stop-answered casulo stop --api "$DST_SOCK"
wait_for 60 gone "$dst"
kill -9 "$dst" 2>/dev/null
wait "$dst"; dst_rc=$?
echo "L2-EXIT mdst rc=$dst_rc"
check mig-destination-exit-0 equals "$dst_rc" 0
kill "$peernc" "$watcher" "$holder" 2>/dev/null
show
EOF
for c in topology stream-flowing learned-on-source-before no-garp-before watch-ok completed source-exited \
         source-exit-0 source-said-migrated destination-running stream-continues garp-on-destination-tap \
         learned-on-destination peer-connection-open guest-nc-running sequence-unbroken uptime-never-back \
         no-reboot destination-stop-answered destination-exit-0; do
    expect_check mig-$c
done
checklist_run
