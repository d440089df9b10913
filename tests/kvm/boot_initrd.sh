#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# --initrd: the guest finds the ramdisk through boot_params (ramdisk_image,
# ramdisk_size) and prints its size, address and first 16 bytes; the bytes
# must be the file's, the size exact, the address page aligned and inside
# RAM. Checked for both the ELF and the bzImage loader.
. "$(dirname "$0")/lib.sh"
kvm_require hello.elf bz_hello.bzImage

initrd=$T/initrd.img
{ printf 'CASULO-INITRD-01'; head -c 12345 /dev/urandom; } >"$initrd"
size=$(stat -c %s "$initrd")

for kernel in hello.elf bz_hello.bzImage; do
    casulo_run --kernel "$GUESTS/$kernel" --memory 64M --initrd "$initrd"
    expect_rc 0
    expect_out "initrd: size=$size "
    expect_out "head=[CASULO-INITRD-01]"
    addr=$(grep -oE 'initrd: size=[0-9]+ addr=0x[0-9a-f]+' "$T/out" | sed 's/.*addr=//')
    [ -n "$addr" ] || fail "no initrd address reported"
    [ $((addr % 4096)) = 0 ] || fail "initrd address $addr is not page aligned"
    [ $((addr + size)) -le $((64 << 20)) ] || fail "initrd [$addr, +$size) is not inside 64 MiB of RAM"
    [ $((addr)) -ge $((0x100000)) ] || fail "initrd at $addr, below 1 MiB"
done

# No --initrd: nothing reported.
casulo_run --kernel "$GUESTS/hello.elf"
expect_rc 0
expect_out "initrd: none"
echo "ok"
