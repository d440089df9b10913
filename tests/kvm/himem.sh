#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Memory above 4 GiB: with --memory 5G, RAM is [1 MiB, 3 GiB) below the MMIO
# hole and [4 GiB, 6 GiB) above it. The himem guest finds both in e820, maps
# the high range itself, and writes and reads back patterns at both ends.
. "$(dirname "$0")/lib.sh"
kvm_require himem.elf

casulo_run --kernel "$GUESTS/himem.elf" --memory 5G
expect_rc 0
expect_out "HIMEM OK"
expect_value lo_end 0xc0000000
expect_value hi_end 0x180000000
expect_no_out "HIMEM FAIL"
echo "ok"
