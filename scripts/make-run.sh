#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make-run.sh - what `make run` does: build the default guest (Debian cloud
# kernel + busybox initramfs, scripts/build-guest.sh) and boot it with
# build/casulo, the console attached to this terminal, into an interactive
# shell ('exit' powers the guest off).
#
# When this host's /dev/kvm cannot boot an ordinary kernel (KVM-PVM, or no
# VT-x/AMD-V at all), the same demo runs one level down, inside a nested L1 VM
# (scripts/nested.sh: QEMU TCG with an SVM CPU and kvm_amd). That is slow, but
# its KVM semantics are real.
#
# Environment: CPUS (default 2), MEMORY (default 512M), GUEST_CMD (a command
# to run instead of the shell; the guest powers off after it).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CPUS=${CPUS:-2} MEMORY=${MEMORY:-512M} GUEST_CMD=${GUEST_CMD:-}
CASULO=$REPO/build/casulo
[ -x "$CASULO" ] || { echo "make-run: $CASULO is not built (make casulo)" >&2; exit 1; }
"$HERE/build-guest.sh" "$REPO/out/guest" >&2

cmdline="console=ttyS0 reboot=k panic=-1"
[ -z "$GUEST_CMD" ] || cmdline+=" casulo.runb64=$(printf '%s' "$GUEST_CMD" | base64 -w0)"

why=
if [ -d /sys/module/kvm_pvm ]; then
    why="this host's /dev/kvm is KVM-PVM, which cannot boot an ordinary Linux kernel"
elif ! grep -q -w -E 'vmx|svm' /proc/cpuinfo; then
    why="this host's CPU has no VT-x/AMD-V (no vmx/svm in /proc/cpuinfo)"
elif [ ! -c /dev/kvm ]; then
    why="this host has no /dev/kvm"
fi

if [ -z "$why" ]; then
    exec "$CASULO" run --kernel "$REPO/out/guest/bzImage" --initrd "$REPO/out/guest/initramfs.cpio" \
        --cpus "$CPUS" --memory "$MEMORY" --cmdline "$cmdline"
fi

echo "casulo: $why; running the demo inside a nested L1 VM (QEMU TCG + kvm_amd)"
# In L2 every console byte is a port-I/O exit of ~0.1 ms and the rtc_cmos
# probe takes seconds: keep the kernel quiet and skip that probe. The L1
# terminal goes raw so that keys such as Ctrl-C reach the guest.
cmdline+=" quiet initcall_blacklist=cmos_init"
l1_cmd="stty raw -echo 2>/dev/null; casulo run --kernel /l2/bzImage --initrd /l2/initramfs.cpio"
l1_cmd+=" --cpus $CPUS --memory $MEMORY --cmdline '$cmdline'; rc=\$?; stty sane 2>/dev/null; exit \$rc"
exec "$HERE/nested.sh" -i -t "${NESTED_TIMEOUT:-3600}" -- "$l1_cmd"
