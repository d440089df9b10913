#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# virtio-rng end to end: the virtio guest reads 64 bytes twice through its
# polled virtio-pci driver (into a zeroed buffer each time); both reads must
# be complete, not all zero and different.
. "$(dirname "$0")/lib.sh"
kvm_require virtio.elf

casulo_run --kernel "$GUESTS/virtio.elf" --memory 128M --rng --cmdline "dev=rng"
expect_rc 0
expect_out "VIRTIO RNG DONE"
expect_value status 0xf
[ "$(grep -c '^rng_len=64$' "$T/out")" = 2 ] || fail "expected two 64-byte reads"
r1=$(out_value rng1)
r2=$(grep -oE 'rng2=[0-9a-f]*' "$T/out" | cut -d= -f2)
[ ${#r1} = 128 ] && [ ${#r2} = 128 ] || fail "expected 64 bytes per read: '$r1' '$r2'"
zero=$(printf '0%.0s' $(seq 128))
[ "$r1" != "$zero" ] || fail "first read is all zero"
[ "$r2" != "$zero" ] || fail "second read is all zero"
[ "$r1" != "$r2" ] || fail "both reads returned the same bytes"
echo "ok"
