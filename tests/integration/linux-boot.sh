#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# linux-boot.sh - boots Debian's stock cloud kernel with the default guest
# (scripts/build-guest.sh) under the L2 VMM (casulo; L2_VMM=qemu for QEMU)
# inside one nested L1, twice:
#   c1: --cpus 1 --memory 256M, command passed URL-encoded (casulo.run=)
#   c4: --cpus 4 --memory 4G,   command passed base64 (casulo.runb64=) and
#       ending with "exit 7"
# and checks that the guest came up, saw the vCPUs and memory it was given,
# logged no oops, warning or ACPI error, ran the command, reported its
# status and powered off so that the VMM exited 0.
#
# Memory: "Memory: A/TK available" from the kernel log counts the RAM the VMM
# described (e820), so T must be within 5% of the request. MemTotal also
# excludes the kernel image and struct page arrays, tens of MiB whatever the
# size: within 5% of 4G, but only within 20% of 256M.
# The guest probe below is shell text for the guest: its $(...) stay unexpanded.
# shellcheck disable=SC2016
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
nested_prerequisites

urlencode() {  # bytes the kernel command line or the decoder treat specially
    local s=$1
    s=${s//%/%25}; s=${s// /%20}; s=${s//\"/%22}; s=${s//\'/%27}; s=${s//$'\t'/%09}; s=${s//$'\n'/%0a}
    printf '%s' "$s"
}
probe='echo "CASULO-RESULT cpus=$(grep -c ^processor /proc/cpuinfo)'
probe+=' online=$(cat /sys/devices/system/cpu/online)'
probe+=' memtotal_kb=$(awk "/^MemTotal:/ {print \$2}" /proc/meminfo)'
probe+=' e820_kb=$(dmesg | sed -n "s|.*Memory: [0-9]*K/\([0-9]*\)K available.*|\1|p")'
probe+=' virtio_devices=$(ls /sys/bus/virtio/devices | wc -l)'
# Kernel oopses, warnings and ACPI errors. Bracketed so that the pattern does
# not match itself in the logged command line. The nested tier's L1 KVM offers
# an XSAVE leaf that disagrees with its feature bits, and every L2 kernel warns
# about that at boot, under QEMU too: that one warning is not counted.
errors='Call Trac[e]|BU[G]:|WARNING: CP[U]|ACPI BIOS Erro[r]|ACPI Erro[r]'
kernel_log="dmesg | sed '/XSAVE consistency proble[m]/,/end trac[e]/d'"
probe+=" kernel_errors=\$($kernel_log | grep -c -E '$errors')\""
# the offending kernel lines, for the test log (console output is costly in L2)
probe+="; $kernel_log | grep -E -B2 -A2 '$errors' | head -n 30 | sed 's/^/KERNEL-ERROR /'"

checklist_begin
cat >> "$CHECKLIST" <<EOF
l2_boot c1 1 256M 'casulo.run=$(urlencode "$probe")'
l2_boot c4 4 4G 'casulo.runb64=$(printf '%s; exit 7' "$probe" | base64 -w0)'
EOF
cat >> "$CHECKLIST" <<'EOF'
for b in c1 c4; do
    check $b-vmm-exit-0 vmm_rc_is $b 0
    check $b-guest-ready grep -q '^CASULO-GUEST-READY uptime=' /tmp/$b.out
    check $b-result-line grep -q '^CASULO-RESULT ' /tmp/$b.out
done
check c1-no-kernel-errors equals "$(result c1 kernel_errors)" 0
check c4-no-kernel-errors equals "$(result c4 kernel_errors)" 0
check c1-exit-status-0 has_line c1 CASULO-EXIT-STATUS=0
check c4-exit-status-7 has_line c4 CASULO-EXIT-STATUS=7
check c1-cpus-1 equals "$(result c1 cpus)" 1
check c4-cpus-4 equals "$(result c4 cpus)" 4
check c4-online-0-3 equals "$(result c4 online)" 0-3
check c1-e820-256M within_pct "$(result c1 e820_kb)" "$(kib 256M)" 5
check c4-e820-4G within_pct "$(result c4 e820_kb)" "$(kib 4G)" 5
check c1-memtotal-256M within_pct "$(result c1 memtotal_kb)" "$(kib 256M)" 20
check c4-memtotal-4G within_pct "$(result c4 memtotal_kb)" "$(kib 4G)" 5
EOF
for b in c1 c4; do
    expect_check $b-vmm-exit-0; expect_check $b-guest-ready; expect_check $b-result-line
done
for c in c1-no-kernel-errors c4-no-kernel-errors c1-exit-status-0 c4-exit-status-7 c1-cpus-1 c4-cpus-4 c4-online-0-3 \
         c1-e820-256M c4-e820-4G c1-memtotal-256M c4-memtotal-4G; do
    expect_check $c
done
checklist_run
