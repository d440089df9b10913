#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Option values casulo must refuse with exit status 1 and one line naming the
# option: memory sizes that are zero, not sizes, or more than the host has;
# CPU counts that are zero, not numbers or beyond KVM's limit; unknown
# console and reboot modes.
. "$(dirname "$0")/../kvm/lib.sh"
cli_require
[ -f "$GUESTS/hello.elf" ] || skip "guests not built (make guests)"
k=$GUESTS/hello.elf

expect_rejected 1 "memory" --kernel "$k" --memory 0
expect_rejected 1 "memory" --kernel "$k" --memory abc
expect_rejected 1 "memory" --kernel "$k" --memory -5M
expect_rejected 1 "memory" --kernel "$k" --memory 12Q
host_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
if [ "$host_kib" -lt $((1 << 30)) ]; then
    expect_rejected 1 "memory" --kernel "$k" --memory 1T
fi
expect_rejected 1 "memory" --kernel "$k" --memory 99999999999999999999
expect_rejected 1 "cpus" --kernel "$k" --cpus 0
expect_rejected 1 "cpus" --kernel "$k" --cpus 5000
expect_rejected 1 "cpus" --kernel "$k" --cpus two
expect_rejected 1 "cpus" --kernel "$k" --cpus -1
expect_rejected 1 "console" --kernel "$k" --console tty
expect_rejected 1 "console" --kernel "$k" --console file=
expect_rejected 1 "reboot" --kernel "$k" --on-reboot sometimes
echo "ok"
