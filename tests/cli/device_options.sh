#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad --disk and --net input casulo must refuse with exit status 1 and one
# line naming the problem: a missing image, an image another VM holds
# read-write, an unknown --disk key, a bad MAC, and a TAP the user may not
# open (CAP_NET_ADMIN dropped with setpriv).
. "$(dirname "$0")/../kvm/lib.sh"
kvm_require
[ -f "$GUESTS/oneline.elf" ] && [ -f "$GUESTS/spin.elf" ] || skip "guests not built (make guests)"
k=$GUESTS/oneline.elf
img=$T/disk.img
truncate -s 16M "$img"

expect_rejected 1 "cannot open disk '$T/missing.img'" --kernel "$k" --disk "path=$T/missing.img"
expect_rejected 1 "unknown --disk key 'colour'" --kernel "$k" --disk "path=$img,colour=blue"
expect_rejected 1 "--disk" --kernel "$k" --disk "readonly=on"
expect_rejected 1 "mac.*(not a|multicast)" --kernel "$k" --net "tap=cstest0,mac=01:00:5e:00:00:01"
expect_rejected 1 "mac" --kernel "$k" --net "tap=cstest0,mac=zz:00:00:00:00:01"
expect_rejected 1 "--net: unknown key .speed." --kernel "$k" --net "tap=cstest0,speed=10G"

# An image held read-write by a running VM: a second read-write open is refused.
"$CASULO" run --kernel "$GUESTS/spin.elf" --console off --disk "path=$img" >"$T/holder.out" 2>&1 &
holder=$!
for _ in $(seq 100); do
    grep -q "$img" "/proc/$holder/fdinfo/"* 2>/dev/null && break
    [ -n "$(ls -l "/proc/$holder/fd" 2>/dev/null | grep -F "$img")" ] && break
    sleep 0.05
done
expect_rejected 1 "disk '$img' is (already in use|open read-write elsewhere)" --kernel "$k" --disk "path=$img"
kill -TERM "$holder"
wait "$holder" || fail "the VM holding the image exited with $?"
# Released with the VM: the image opens again.
casulo_run --kernel "$k" --disk "path=$img"
expect_rc 0

# A TAP the user may not open: no CAP_NET_ADMIN.
if command -v setpriv >/dev/null && [ -c /dev/net/tun ]; then
    setpriv --bounding-set=-net_admin --inh-caps=-net_admin -- \
        "$CASULO" run --kernel "$k" --net tap=cstestperm0 >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = 1 ] || fail "TAP without CAP_NET_ADMIN: expected exit 1, got $rc: $(cat "$T/err")"
    [ "$(wc -l <"$T/err")" = 1 ] || fail "TAP without CAP_NET_ADMIN: expected one stderr line: $(cat "$T/err")"
    grep -q "cannot open TAP 'cstestperm0': permission denied" "$T/err" ||
        fail "TAP without CAP_NET_ADMIN: unexpected message: $(cat "$T/err")"
elif [ "${CI:-}" = true ]; then
    fail "setpriv or /dev/net/tun missing: cannot check the TAP permission error"
fi
echo "ok"
