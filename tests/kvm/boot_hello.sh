#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 64-bit boot protocol entry with an ELF64 kernel: the hello guest reports
# its entry registers, the zero page's "HdrS", the command line it found
# through boot_params.cmd_line_ptr, and the e820 map; all must match what
# casulo was asked for and the contract in include/arch/x86/layout.h.
. "$(dirname "$0")/lib.sh"
kvm_require hello.elf

cmdline="casulo-test answer=42 path=/a/b   spaced"
casulo_run --kernel "$GUESTS/hello.elf" --memory 256M --cmdline "$cmdline"
expect_rc 0
expect_out "hello from casulo guest"
expect_value rsi 0x7000
expect_value rsp 0x8ff0
expect_value cs 0x10
expect_value ds 0x18
expect_value if 0x0
expect_out "hdr=HdrS"
expect_out "cmdline=[$cmdline]"
# 256 MiB of RAM: [0, EBDA) and [1 MiB, 256 MiB) usable.
expect_out "e820: addr=0x0 size=0x9fc00 type=1"
expect_out "e820: addr=0x100000 size=0xff00000 type=1"
expect_no_out "GUEST FAIL"
expect_out "bye"

# Without --cmdline the guest sees casulo's default command line.
casulo_run --kernel "$GUESTS/hello.elf"
expect_rc 0
expect_out "cmdline=[console=ttyS0"
# Default memory is 512 MiB.
expect_out "e820: addr=0x100000 size=0x1ff00000 type=1"
echo "ok"
