#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A host without a usable /dev/kvm (faked with CASULO_KVM_DEVICE): casulo
# must exit 1 with one line naming the device, for a path that does not
# exist and for a device that is not KVM (/dev/null).
. "$(dirname "$0")/../kvm/lib.sh"
cli_require
[ -f "$GUESTS/hello.elf" ] || skip "guests not built (make guests)"

CASULO_KVM_DEVICE=/nonexistent/kvm expect_rejected 1 "/nonexistent/kvm" --kernel "$GUESTS/hello.elf"
CASULO_KVM_DEVICE=/dev/null expect_rejected 1 "/dev/null|kvm" --kernel "$GUESTS/hello.elf"
echo "ok"
