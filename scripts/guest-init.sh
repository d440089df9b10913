#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the default casulo test guest (copied into the initramfs by
# scripts/build-guest.sh; runs under busybox sh as PID 1).
#
# It mounts the kernel file systems, loads the virtio modules listed in
# /etc/casulo-modules (already in dependency order), prints the readiness
# line "CASULO-GUEST-READY uptime=S", and then either
#   - runs the command given on the kernel command line, prints
#     "CASULO-EXIT-STATUS=N" and powers off, or
#   - without a command, starts an interactive shell on the console and
#     powers off when it exits.
# Kernel command line words read here:
#   casulo.run=CMD      command for /bin/sh -c; %XX is URL-decoded, so a space
#                       is %20 and a literal % is %25
#   casulo.runb64=B64   the same command, base64-encoded (wins over casulo.run)
#   casulo.nomod=1      skip the module loading
# The dotted names make the kernel treat them as parameters of a module that
# does not exist: it neither complains nor hands them to init as arguments or
# environment, so /proc/cmdline is the one place to read them from.
export PATH=/bin:/sbin HOME=/root TERM="${TERM:-linux}"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /tmp /run
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

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

run="" run_b64="" nomod=0
for w in $(cat /proc/cmdline); do
    case $w in
    casulo.run=*) run=${w#casulo.run=} ;;
    casulo.runb64=*) run_b64=${w#casulo.runb64=} ;;
    casulo.nomod=1) nomod=1 ;;
    esac
done

if [ "$nomod" = 0 ] && [ -f /etc/casulo-modules ]; then
    while read -r m; do
        [ -n "$m" ] || continue
        insmod "/lib/modules/$m.ko" 2>/dev/null || echo "casulo-init: insmod $m failed"
    done < /etc/casulo-modules
fi

read -r up _ < /proc/uptime
echo "CASULO-GUEST-READY uptime=$up"

leave() {
    sync
    # Linux turns a power-off request into a halt, which leaves the VM
    # running, when nothing can power the machine off: without ACPI (no FADT)
    # reset instead; a VMM ends on reset too. If even that returns, ending
    # PID 1 panics the kernel, and panic=-1 resets.
    if [ -e /sys/firmware/acpi/tables/FACP ]; then poweroff -f; else reboot -f; fi
    exit "$1"
}

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
