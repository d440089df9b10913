#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# virtio-net end to end on a TAP in a private network namespace: the virtio
# guest posts an RX buffer, sends one broadcast frame (ethertype 0x88b5) from
# the MAC it read in its config space, and waits for frames. A packet socket
# on the TAP (python3) captures that frame and answers with one addressed to
# the guest's MAC; the guest prints the bytes it received.
. "$(dirname "$0")/lib.sh"
kvm_require virtio.elf
command -v python3 >/dev/null || skip "python3 is needed for the packet socket"
command -v ip >/dev/null || skip "ip (iproute2) is needed"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"

NS=casulo-vnet-$$
TAP=cvt0
MAC=52:54:00:$(printf '%02x:%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)))
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace (needs root)"
net_cleanup() {
    [ -n "${PY_PID:-}" ] && kill "$PY_PID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    lib_cleanup
}
trap net_cleanup EXIT

ip -n "$NS" tuntap add "$TAP" mode tap || fail "ip tuntap add failed"
# No IPv6 on the TAP: its router solicitations would reach the guest too.
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$TAP.disable_ipv6=1"
ip -n "$NS" link set "$TAP" up || fail "cannot bring $TAP up"

cat >"$T/peer.py" <<'PY'
import socket, sys
ifname, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((ifname, 0))
s.settimeout(60)
open(out + '.ready', 'w').close()
while True:
    f, addr = s.recvfrom(65536)
    if addr[2] != socket.PACKET_OUTGOING and f[12:14] == b'\x88\xb5':
        break
open(out + '.tx', 'w').write(f.hex() + '\n')
reply = f[6:12] + bytes.fromhex('020000aabbcc') + b'\x88\xb5' + b'casulo host to guest rx'
reply += bytes(60 - len(reply))
s.send(reply)
open(out + '.rx', 'w').write(reply.hex() + '\n')
PY
# run_net GUEST_OPTIONS: one guest run against a fresh packet-socket peer.
run_net() {
    rm -f "$T/peer.ready" "$T/peer.tx" "$T/peer.rx"
    ip netns exec "$NS" python3 "$T/peer.py" "$TAP" "$T/peer" &
    PY_PID=$!
    for _ in $(seq 100); do [ -f "$T/peer.ready" ] && break; sleep 0.1; done
    [ -f "$T/peer.ready" ] || fail "the packet socket helper did not start"

    RUN_DESC="ip netns exec $NS casulo run ... --net tap=$TAP,mac=$MAC --cmdline dev=net $1"
    RC=
    timeout -k 5 "$RUN_TIMEOUT" ip netns exec "$NS" "$CASULO" run --kernel "$GUESTS/virtio.elf" \
        --memory 128M --net "tap=$TAP,mac=$MAC" --cmdline "dev=net $1" </dev/null >"$T/out" 2>"$T/err"
    RC=$?
    wait "$PY_PID"
    PY_PID=
    expect_rc 0
    expect_out "VIRTIO NET DONE"
    expect_value status 0xf
    expect_value mac "${MAC//:/}"
    expect_value tx_done 1
    [ -f "$T/peer.tx" ] || fail "no frame of type 0x88b5 from the guest on the TAP"
    tx=$(cat "$T/peer.tx")
    text=$(printf 'casulo tiny guest tx' | od -An -tx1 | tr -d ' \n')
    want_tx="ffffffffffff${MAC//:/}88b5${text}"
    [ "${tx:0:${#want_tx}}" = "$want_tx" ] || fail "frame on the TAP: $tx, expected $want_tx..."
    [ ${#tx} = 120 ] || fail "frame on the TAP is $(( ${#tx} / 2 )) bytes, expected 60"
    rx=$(cat "$T/peer.rx")
    # The guest's last rx_frame line is the injected frame (the first 64 bytes).
    got=$(grep -oE 'rx_frame=[0-9a-f]*' "$T/out" | tail -n1 | cut -d= -f2)
    [ "$got" = "$rx" ] || fail "guest received $got, injected $rx"
    last_len=$(grep -oE 'rx_len=[0-9]+' "$T/out" | tail -n1 | cut -d= -f2)
    [ "$last_len" = $((12 + 60)) ] || fail "guest's last rx_len is $last_len, expected 72 (header + 60)"
}

run_net ""

# Frames the device must drop (DATA_VALID from the driver, NEEDS_CSUM and
# GSO without the features, shorter than the header, 70000 bytes): none may
# reach the TAP (each carries ethertype 0x88b5, so a leak would be captured
# instead of the good frame), the device stays up, and a device-readable RX
# buffer posted before the good one comes back empty.
run_net netbad
expect_value after_bad_tx_status 0xf
expect_out "rx_len=0 "
echo "ok"
