#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the nested tier's L1 VM (copied into the L1 initramfs by
# scripts/nested.sh; runs under busybox sh as PID 1 inside QEMU TCG).
#
# It loads kvm and kvm_amd (or kvm_intel) so that L1 has a /dev/kvm with
# hardware-virtualisation semantics, and tun (/dev/net/tun), then runs the command from
# /etc/nested-cmd through /bin/sh -c in /payload, prints
# "L1-CMD-EXIT rc=N" and powers L1 off. nested.sh reads that line to
# return the command's status. Every line L1 itself prints starts with "L1-"
# so that it stands out from the command's and the L2 guest's output.
export PATH=/payload:/bin HOME=/root TERM="${TERM:-linux}"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
read -r up _ < /proc/uptime
echo "L1-INIT uptime=$up cpus=$(grep -c ^processor /proc/cpuinfo)"

flags=$(grep -o -w -E 'svm|vmx|npt' /proc/cpuinfo | sort -u | tr '\n' ' ')
case $flags in
*svm*) vendor=amd ;;
*vmx*) vendor=intel ;;
*) vendor=none ;;
esac
# /lib/modules/<vendor>.order lists the modules in dependency order.
if [ -f "/lib/modules/$vendor.order" ]; then
    while read -r m; do
        insmod "/lib/modules/$m.ko" || echo "L1-WARN insmod $m failed"
    done < "/lib/modules/$vendor.order"
fi
if [ -f /lib/modules/extra.order ]; then
    while read -r m; do
        insmod "/lib/modules/$m.ko" || echo "L1-WARN insmod $m failed"
    done < /lib/modules/extra.order
fi
vm=kvm_$vendor
params=
for p in nested npt nrips avic vgif ept; do
    [ -f "/sys/module/$vm/parameters/$p" ] &&
        params="$params $p=$(cat "/sys/module/$vm/parameters/$p")"
done
read -r up _ < /proc/uptime
if [ -c /dev/kvm ]; then kvm=yes; else kvm=no; fi
echo "L1-KVM uptime=$up cpu_flags=[${flags% }] module=$vm dev_kvm=$kvm$params"
[ $kvm = yes ] || dmesg | grep -i -E 'kvm|svm|vmx' | sed 's/^/L1-DMESG /'

cd /payload || exit 1
cmd=$(cat /etc/nested-cmd)
if [ -f /etc/nested-interactive ]; then
    # The console becomes the command's controlling terminal, so Ctrl-C and
    # raw-mode programs (a VMM's serial console) work. The subshell keeps
    # PID 1 alive: setsid would otherwise exec in its place.
    (setsid cttyhack /bin/sh -c "$cmd")
else
    /bin/sh -c "$cmd" < /dev/null
fi
rc=$?
read -r up _ < /proc/uptime
echo "L1-CMD-EXIT rc=$rc uptime=$up"
poweroff -f
