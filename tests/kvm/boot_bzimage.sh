#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A real boot through the bzImage loader: bz_hello is the hello guest behind
# a protocol 2.15 setup header (64-bit entry at +0x200 of the protected-mode
# part). Its zero page must carry the kernel's setup header (magic, version)
# with the loader's command line pointer filled in.
. "$(dirname "$0")/lib.sh"
kvm_require bz_hello.bzImage

cmdline="bzimage-test token=$$"
casulo_run --kernel "$GUESTS/bz_hello.bzImage" --memory 128M --cmdline "$cmdline"
expect_rc 0
expect_out "hello from casulo guest"
expect_value rsi 0x7000
expect_value cs 0x10
expect_value if 0x0
expect_out "hdr=HdrS"
expect_out "hdr version=0x20f"
expect_out "cmdline=[$cmdline]"
expect_out "e820: addr=0x100000 size=0x7f00000 type=1"
expect_no_out "GUEST FAIL"
expect_out "bye"
echo "ok"
