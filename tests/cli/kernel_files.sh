#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kernel files casulo must refuse with exit status 1 and one line naming the
# problem, before any guest runs: missing, unreadable (a directory, a FIFO
# that must not block the open, mode 000 when not root), not a kernel at
# all, ELF32, ELF64 for another machine, bzImages cut short, a kernel that
# does not fit in guest memory.
. "$(dirname "$0")/../kvm/lib.sh"
cli_require
[ -f "$GUESTS/hello.elf" ] && [ -f "$GUESTS/bz_hello.bzImage" ] && [ -f "$GUESTS/bigbss.elf" ] ||
    skip "guests not built (make guests)"

expect_rejected 1 "/nonexistent/kernel" --kernel /nonexistent/kernel
expect_rejected 1 "$T" --kernel "$T"
mkfifo "$T/fifo"
expect_rejected 1 "fifo" --kernel "$T/fifo"
if [ "$(id -u)" != 0 ]; then
    cp "$GUESTS/hello.elf" "$T/noread.elf"
    chmod 000 "$T/noread.elf"
    expect_rejected 1 "noread.elf" --kernel "$T/noread.elf"
fi
: >"$T/empty"
expect_rejected 1 "empty" --kernel "$T/empty"
printf 'this is not a kernel, just some text\n' >"$T/text"
expect_rejected 1 "text" --kernel "$T/text"

# A minimal ELF32 executable for i386: ELF header plus one PT_LOAD.
printf '\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00' >"$T/elf32"
printf '\x02\x00\x03\x00\x01\x00\x00\x00\x00\x00\x10\x00\x34\x00\x00\x00' >>"$T/elf32"
printf '\x00\x00\x00\x00\x00\x00\x00\x00\x34\x00\x20\x00\x01\x00\x00\x00\x00\x00\x00\x00' >>"$T/elf32"
printf '\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x10\x00' >>"$T/elf32"
printf '\x54\x00\x00\x00\x54\x00\x00\x00\x05\x00\x00\x00\x00\x10\x00\x00' >>"$T/elf32"
expect_rejected 1 "elf" --kernel "$T/elf32"

# ELF64 for aarch64 (e_machine 183 at offset 18).
cp "$GUESTS/hello.elf" "$T/arm64.elf"
printf '\xb7\x00' | dd of="$T/arm64.elf" bs=1 seek=18 conv=notrunc status=none
expect_rejected 1 "elf|machine|x86|arch" --kernel "$T/arm64.elf"

# bzImages cut short: inside the setup header, and inside the protected-mode part.
head -c 600 "$GUESTS/bz_hello.bzImage" >"$T/bz-setup-cut"
expect_rejected 1 "bz-setup-cut" --kernel "$T/bz-setup-cut"
head -c 2048 "$GUESTS/bz_hello.bzImage" >"$T/bz-pm-cut"
expect_rejected 1 "bz-pm-cut" --kernel "$T/bz-pm-cut"

# Kernels larger than guest memory: a bzImage whose protected-mode part is
# 8 MiB (syssize patched to match) with 4 MiB of RAM, and an ELF whose bss
# is 64 MiB with 16 MiB of RAM.
cp "$GUESTS/bz_hello.bzImage" "$T/bz-big"
truncate -s $((8 << 20)) "$T/bz-big"
syssize=$((((8 << 20) - 1024) / 16))
printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((syssize & 255)) $((syssize >> 8 & 255)) \
    $((syssize >> 16 & 255)) $((syssize >> 24)))" |
    dd of="$T/bz-big" bs=1 seek=$((0x1f4)) conv=notrunc status=none
expect_rejected 1 "memory|fit|large|big" --kernel "$T/bz-big" --memory 4M
expect_rejected 1 "memory|fit|large|big" --kernel "$GUESTS/bigbss.elf" --memory 16M
echo "ok"
