#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the default casulo test guest (copied into the initramfs by
# scripts/build-guest.sh; runs under busybox sh as PID 1). The same script is
# /sbin/init of rootfs.ext4, the tree as a disk image.
#
# It mounts the kernel file systems, loads the virtio modules listed in
# /etc/casulo-modules (already in dependency order; loaded ones are skipped),
# and, when it runs from the initramfs and the command line has root=DEV,
# mounts DEV on /newroot and switch_roots to its /sbin/init, which starts
# over from the top. Then it prints the readiness line
# "CASULO-GUEST-READY uptime=S", and either
#   - runs the command given on the kernel command line, prints
#     "CASULO-EXIT-STATUS=N" and powers off, or
#   - without a command, starts an interactive shell on the console and
#     powers off when it exits.
# Kernel command line words read here:
#   casulo.run=CMD      command for /bin/sh -c; %XX is URL-decoded, so a space
#                       is %20 and a literal % is %25
#   casulo.runb64=B64   the same command, base64-encoded (wins over casulo.run)
#   casulo.nomod=1      skip the module loading
#   root=DEV            the root file system's block device (e.g. /dev/vda);
#                       the kernel leaves it to an initramfs's /init
#   rootfstype=TYPE     its file system (default ext4)
#   ro / rw             mount it read-only / read-write (default rw)
# The dotted names make the kernel treat them as parameters of a module that
# does not exist: it neither complains nor hands them to init as arguments or
# environment, so /proc/cmdline is the one place to read them from.
export PATH=/bin:/sbin HOME=/root TERM="${TERM:-linux}"
# After switch_root the kernel file systems are already there (moved).
is_mounted() { [ -r /proc/mounts ] && awk -v d="$1" '$2 == d { f = 1 } END { exit !f }' /proc/mounts; }
mount_once() { is_mounted "$3" || mount -t "$1" "$2" "$3" 2>/dev/null; }
mount_once proc proc /proc
mount_once sysfs sysfs /sys
mount_once devtmpfs devtmpfs /dev
mkdir -p /dev/pts /tmp /run
mount_once devpts devpts /dev/pts
mount_once tmpfs tmpfs /tmp
mount_once tmpfs tmpfs /run

# URL-style decoding of %XX, done in awk because busybox sh has no byte
# arithmetic on characters.
urldecode() {
    printf '%s' "$1" | awk '{
        hex = "0123456789abcdef"; out = ""; s = $0
        while ((i = index(s, "%")) > 0) {
            out = out substr(s, 1, i - 1)
            h = tolower(substr(s, i + 1, 2))
            hi = index(hex, substr(h, 1, 1)); lo = index(hex, substr(h, 2, 1))
            if (length(h) == 2 && hi > 0 && lo > 0) {
                out = out sprintf("%c", (hi - 1) * 16 + lo - 1); s = substr(s, i + 3)
            } else {
                out = out "%"; s = substr(s, i + 1)
            }
        }
        printf "%s", out s
    }'
}

run="" run_b64="" nomod=0 root="" rootfstype=ext4 rootmode=rw
for w in $(cat /proc/cmdline); do
    case $w in
    casulo.run=*) run=${w#casulo.run=} ;;
    casulo.runb64=*) run_b64=${w#casulo.runb64=} ;;
    casulo.nomod=1) nomod=1 ;;
    root=*) root=${w#root=} ;;
    rootfstype=*) rootfstype=${w#rootfstype=} ;;
    ro | rw) rootmode=$w ;;
    esac
done

if [ "$nomod" = 0 ] && [ -f /etc/casulo-modules ]; then
    while read -r m; do
        if [ -z "$m" ] || [ -d "/sys/module/$m" ]; then continue; fi
        insmod "/lib/modules/$m.ko" 2>/dev/null || echo "casulo-init: insmod $m failed"
    done < /etc/casulo-modules
fi

leave() {
    sync
    # a disk root is left clean, so that the next boot need not replay the
    # journal (fails harmlessly on the initramfs)
    mount -o remount,ro / 2>/dev/null
    # Linux turns a power-off request into a halt, which leaves the VM
    # running, when nothing can power the machine off: without ACPI (no FADT)
    # reset instead; a VMM ends on reset too. If even that returns, ending
    # PID 1 panics the kernel, and panic=-1 resets.
    if [ -e /sys/firmware/acpi/tables/FACP ]; then poweroff -f; else reboot -f; fi
    exit "$1"
}

# The initramfs's root is "rootfs" in /proc/mounts; after switch_root it is root=.
root_type=$(awk '$2 == "/" { t = $3 } END { print t }' /proc/mounts)
if [ -n "$root" ] && [ "$root_type" = rootfs ]; then
    # virtio_blk probes the disk on insmod; a moment's grace all the same
    i=0
    while [ ! -b "$root" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    if mount -t "$rootfstype" -o "$rootmode" "$root" /newroot; then
        umount /dev/pts /tmp /run 2>/dev/null
        for d in /dev /proc /sys; do mount --move "$d" "/newroot$d"; done
        exec switch_root /newroot /sbin/init
    fi
    echo "casulo-init: cannot mount root=$root ($rootfstype, $rootmode)"
    leave 1
fi

read -r up _ < /proc/uptime
echo "CASULO-GUEST-READY uptime=$up"

if [ -n "$run_b64" ]; then
    cmd=$(printf '%s' "$run_b64" | base64 -d) || cmd="echo casulo-init: bad casulo.runb64; exit 126"
elif [ -n "$run" ]; then
    cmd=$(urldecode "$run")
else
    cmd=
fi

if [ -n "$cmd" ]; then
    cd /root 2>/dev/null || cd /
    /bin/sh -c "$cmd"
    rc=$?
    echo "CASULO-EXIT-STATUS=$rc"
    leave "$rc"
fi

# Interactive: cttyhack opens the real console device (ttyS0, hvc0, ...) as
# the shell's controlling terminal, so job control and Ctrl-C work; /dev/console
# itself cannot be a controlling terminal. The subshell keeps PID 1 alive:
# setsid would otherwise exec the shell in its place.
echo "casulo guest shell; 'exit' or Ctrl-D powers the guest off"
(setsid cttyhack /bin/sh -l)
leave 0
