#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A KVM internal error: int3 at CPL0, which the PVM host's instruction
# emulator cannot run, must stop casulo with exit status 3 and a line saying
# "internal error". Under hardware KVM int3 reaches the guest's IDT and the
# guest triple-faults on purpose, which must also give status 3.
. "$(dirname "$0")/lib.sh"
kvm_require emulfail.elf

casulo_run --kernel "$GUESTS/emulfail.elf"
expect_rc 3
expect_out "emulfail guest: int3 at CPL0"
if is_pvm_host; then
    expect_err_re "internal error"
    expect_err_re "rip"
else
    expect_err_re "internal error|triple fault|shutdown"
fi
echo "ok"
