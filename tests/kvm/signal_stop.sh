#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SIGTERM and SIGINT stop a running guest cleanly: casulo exits 0, and
# nothing of its process group is left behind. Covered: a vCPU spinning at
# CPL3 (inside KVM_RUN, must be kicked), one halted at CPL0, and a VM whose
# second vCPU was never started (waiting for SIPI).
. "$(dirname "$0")/lib.sh"
kvm_require spin.elf

check_stop() {   # SIGNAL ARGS...
    local sig=$1; shift
    casulo_start --kernel "$GUESTS/spin.elf" "$@"
    wait_out SPINNING
    stop_with "$sig"
    expect_rc 0
    expect_no_out "GUEST FAIL"
}

check_stop TERM
check_stop TERM --cmdline mode=hlt
check_stop TERM --cpus 2
check_stop INT
check_stop INT --cmdline mode=hlt --cpus 3
echo "ok"
