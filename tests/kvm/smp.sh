#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SMP start-up: with --cpus 4 the BSP starts the APs with INIT-SIPI-SIPI and
# each reports its APIC id; all four must answer with distinct ids 0..3, and
# the MADT must list four enabled CPUs. --cpus 1 gives the BSP alone. With
# ap=spin the APs keep running while the BSP powers off: casulo must still
# stop them all and exit 0.
. "$(dirname "$0")/lib.sh"
kvm_require smp.elf

casulo_run --kernel "$GUESTS/smp.elf" --cpus 4
expect_rc 0
expect_out "bsp apic id=0"
expect_out "madt cpus=4"
expect_out "cpus=4"
expect_out "apic ids=0,1,2,3"
expect_no_out "GUEST FAIL"

casulo_run --kernel "$GUESTS/smp.elf" --cpus 8
expect_rc 0
expect_out "madt cpus=8"
expect_out "cpus=8"
expect_out "apic ids=0,1,2,3,4,5,6,7"

casulo_run --kernel "$GUESTS/smp.elf" --cpus 1
expect_rc 0
expect_out "madt cpus=1"
expect_out "cpus=1"
expect_out "apic ids=0"
casulo_run --kernel "$GUESTS/smp.elf" --cpus 3 --cmdline ap=spin
expect_rc 0
expect_out "cpus=3"
expect_out "apic ids=0,1,2"
echo "ok"
