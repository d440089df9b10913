#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Initrd files casulo must refuse with exit status 1 and one line naming the
# problem: missing, a directory, a FIFO (the open must not block), larger
# than guest memory.
. "$(dirname "$0")/../kvm/lib.sh"
cli_require
[ -f "$GUESTS/hello.elf" ] || skip "guests not built (make guests)"
k=$GUESTS/hello.elf

expect_rejected 1 "/nonexistent/initrd" --kernel "$k" --initrd /nonexistent/initrd
expect_rejected 1 "initrd|$T" --kernel "$k" --initrd "$T"
mkfifo "$T/fifo"
expect_rejected 1 "fifo" --kernel "$k" --initrd "$T/fifo"
truncate -s 64M "$T/huge-initrd"
expect_rejected 1 "initrd" --kernel "$k" --initrd "$T/huge-initrd" --memory 32M
echo "ok"
