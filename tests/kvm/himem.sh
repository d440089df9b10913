#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Memory above 4 GiB: with --memory 5G, RAM is [1 MiB, 3 GiB) below the MMIO
# hole and [4 GiB, 6 GiB) above it. The himem guest finds both in e820, maps
# the high range itself, and writes and reads back patterns at both ends.
# --memory 4G puts 1 GiB above the hole, 3100M puts 28 MiB there; 3G
# puts nothing there.
. "$(dirname "$0")/lib.sh"
kvm_require himem.elf

casulo_run --kernel "$GUESTS/himem.elf" --memory 5G
expect_rc 0
expect_out "HIMEM OK"
expect_value lo_end 0xc0000000
expect_value hi_end 0x180000000
expect_no_out "HIMEM FAIL"
casulo_run --kernel "$GUESTS/himem.elf" --memory 4G
expect_rc 0
expect_value lo_end 0xc0000000
expect_value hi_end 0x140000000

casulo_run --kernel "$GUESTS/himem.elf" --memory 3100M
expect_rc 0
expect_value lo_end 0xc0000000
expect_value hi_end 0x101c00000

# No RAM above 4 GiB: the guest says so and stops with an error on purpose.
casulo_run --kernel "$GUESTS/himem.elf" --memory 3G
expect_out "HIMEM FAIL no e820 RAM entry holds 4 GiB"
expect_rc 3
echo "ok"
