#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# nested.sh - the nested test tier's L1 runner. It boots an "L1" Debian Linux
# in QEMU with pure software emulation (TCG) of an AMD CPU that has SVM, loads
# kvm_amd inside it and runs a command there. That gives casulo a /dev/kvm with
# real hardware-virtualisation semantics on hosts whose own /dev/kvm cannot run
# ordinary kernels (KVM-PVM) or that have no VT-x/AMD-V at all. Only the
# semantics are real: every cost is that of an emulator.
#
# Usage: scripts/nested.sh [options] [--] [COMMAND [ARGS...]]
#
# COMMAND runs in L1 as root, in /payload, through /bin/sh -c (the arguments
# are joined with spaces, so quote shell syntax as one argument). Default:
# a shell. Inside L1:
#   /bin/casulo                   build/casulo with its shared libraries
#   /l2/bzImage /l2/initramfs.cpio  the default guest (scripts/build-guest.sh)
#   /l2/rootfs.ext4               its root file system image, when built
#   /payload                      the -p directories
# nested.sh exits with COMMAND's status, 124 on timeout, 125 when L1 gave no
# status (L1 panicked or was killed).
#
# Options:
#   -i        interactive: the terminal is L1's console (stdin passed through,
#             Ctrl-C goes to L1, not to QEMU)
#   -b FILE   also ship executable FILE (with its ldd libraries) in /bin
#   -p DIR    copy DIR's contents into /payload (repeatable)
#   -q        ship this host's qemu-system-x86_64 and firmware, to run L2
#             with QEMU for comparison with casulo
#   -G DIR    the L2 guest directory (default out/guest; "none" ships none)
#   -t SEC    time limit for the whole L1 run (default 900)
#   -m MEM    L1 memory (default 6G)      -s N   L1 vCPUs (default 2)
#   -a ARGS   extra L1 kernel command-line words
#   -l FILE   console log (default: DIR/last-run.log)
#   -w DIR    cache directory (default out/nested)
#
# Needs qemu-system-x86_64 and what scripts/build-guest.sh needs.
set -euo pipefail

die() { echo "nested: $*" >&2; exit 125; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

WORK=$REPO/out/nested GUEST=$REPO/out/guest BINS=() PAYLOADS=()
LOG="" INTERACTIVE=0 WITH_QEMU=0 TIMEOUT=900 MEM=6G SMP=2 EXTRA_APPEND=
while getopts "ib:p:qG:t:m:s:a:l:w:h" o; do
    case $o in
    i) INTERACTIVE=1 ;;
    b) BINS+=("$OPTARG") ;;
    p) PAYLOADS+=("$OPTARG") ;;
    q) WITH_QEMU=1 ;;
    G) GUEST=$OPTARG ;;
    t) TIMEOUT=$OPTARG ;;
    m) MEM=$OPTARG ;;
    s) SMP=$OPTARG ;;
    a) EXTRA_APPEND=$OPTARG ;;
    l) LOG=$OPTARG ;;
    w) WORK=$OPTARG ;;
    h) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "bad option (-h for help)" ;;
    esac
done
shift $((OPTIND - 1))
QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || die "no $QEMU on this host (Debian: apt-get install qemu-system-x86)"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# ---- L1 kernel, kvm modules and busybox (cached in $WORK/l1) ----
mapfile -t DEBS < <("$HERE/fetch-debs.sh" linux-image-amd64 busybox-static) ||
    die "cannot download the L1 packages"
[ ${#DEBS[@]} = 2 ] || die "cannot download the L1 packages"
L1=$WORK/l1
STAMP=$({ echo "${DEBS[*]}"; cat "$0"; } | sha256sum | cut -c1-16)
if ! grep -qx "$STAMP" "$L1/stamp" 2>/dev/null; then
    echo "nested: unpacking $(basename "${DEBS[0]}")" >&2
    rm -rf "$L1" "$L1.tmp"
    mkdir -p "$L1.tmp/pkg" "$L1.tmp/modules"
    for d in "${DEBS[@]}"; do dpkg-deb -x "$d" "$L1.tmp/pkg"; done
    modroot=$(ls -d "$L1.tmp"/pkg/lib/modules/*)
    ko_path() { find "$modroot/kernel" \( -name "$1.ko" -o -name "${1//_/-}.ko" \) -print -quit; }
    ko_deps() { grep -a -o -m1 'depends=[^[:cntrl:]]*' "$1" | sed -n 1p | cut -d= -f2 | tr ',' ' '; }
    order_of() {  # prints module names, dependencies first
        local f d
        f=$(ko_path "$1")
        [ -n "$f" ] || return 0
        for d in $(ko_deps "$f"); do order_of "$d"; done
        cp "$f" "$L1.tmp/modules/$1.ko"
        echo "$1"
    }
    order_of kvm_amd | awk '!seen[$0]++' > "$L1.tmp/modules/amd.order"
    order_of kvm_intel | awk '!seen[$0]++' > "$L1.tmp/modules/intel.order"
    # tun: /dev/net/tun, for TAP devices behind casulo's --net
    order_of tun | awk '!seen[$0]++' > "$L1.tmp/modules/extra.order"
    grep -qx kvm "$L1.tmp/modules/amd.order" || die "no kvm module in ${DEBS[0]}"
    cp "$(ls "$L1.tmp"/pkg/boot/vmlinuz-*)" "$L1.tmp/bzImage"
    cp "$L1.tmp/pkg/bin/busybox" "$L1.tmp/busybox"
    rm -rf "$L1.tmp/pkg"
    echo "$STAMP" > "$L1.tmp/stamp"
    mv "$L1.tmp" "$L1"
fi

# ---- the L2 guest (cached by build-guest.sh itself) ----
if [ "$GUEST" != none ]; then
    "$HERE/build-guest.sh" "$GUEST" >&2 || die "cannot build the L2 guest"
fi

# ---- L1 initramfs ----
# Per run, so that several runs may share the cache.
RUN=$(mktemp -d "$WORK/run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
R=$RUN/root
mkdir -p "$R"/{bin,dev,proc,sys,tmp,root,etc,payload,l2,usr/share/qemu,lib/modules}
ln -s ../bin "$R/usr/bin"
ln -s bin "$R/sbin"
cp "$L1/busybox" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
cp "$L1"/modules/* "$R/lib/modules/"
cp "$HERE/nested-init.sh" "$R/init"
chmod 755 "$R/init"

ship_bin() {  # executable + the libraries ldd lists for it
    local f=$1 lib
    [ -f "$f" ] || f=$(command -v "$f") || die "no executable $1"
    rm -f "$R/bin/$(basename "$f")"   # may be a busybox applet link
    cp -L "$f" "$R/bin/"
    for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*'); do
        [ -e "$R$lib" ] || { mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; }
    done
}
ship_lib() {  # a library casulo dlopen()s (lazylib.h), with what ldd lists for it
    local path
    # no early exit in awk: under pipefail, ldconfig would die of SIGPIPE once
    # its listing outgrows a pipe buffer (64 KiB, a host with many libraries)
    path=$(ldconfig -p | awk -v n="$1" '$1 == n && /x86-64/ && !p { p = $NF } END { print p }')
    [ -n "$path" ] || { echo "nested: warning: $1 not found; the API will not work in L1" >&2; return 0; }
    mkdir -p "$R$(dirname "$path")"
    cp -L "$path" "$R$path"
    for lib in $(ldd "$path" 2>/dev/null | grep -o '/[^ ]*'); do
        [ -e "$R$lib" ] || { mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; }
    done
}
if [ -x "$REPO/build/casulo" ]; then
    ship_bin "$REPO/build/casulo"
    ship_lib libmicrohttpd.so.12
    ship_lib libcurl.so.4
fi
for b in "${BINS[@]}"; do ship_bin "$b"; done
if [ $WITH_QEMU = 1 ]; then
    ship_bin "$(command -v "$QEMU")"
    for fw in /usr/share/qemu/{bios-microvm.bin,qboot.rom,linuxboot_dma.bin,pvh.bin,kvmvapic.bin} \
              /usr/share/seabios/bios-256k.bin; do
        [ ! -e "$fw" ] || cp -L "$fw" "$R/usr/share/qemu/"
    done
fi
if [ "$GUEST" != none ]; then
    cp "$GUEST/bzImage" "$GUEST/initramfs.cpio" "$R/l2/"
    [ ! -f "$GUEST/rootfs.ext4" ] || cp "$GUEST/rootfs.ext4" "$R/l2/"
fi
for p in "${PAYLOADS[@]}"; do cp -a "$p/." "$R/payload/"; done
if [ $# -gt 0 ]; then echo "$*" > "$R/etc/nested-cmd"; else echo "sh -l" > "$R/etc/nested-cmd"; fi
[ $INTERACTIVE = 0 ] || touch "$R/etc/nested-interactive"
[ $# -gt 0 ] || [ $INTERACTIVE = 1 ] || die "no COMMAND given and not interactive (-i)"
echo 'PS1="casulo-L1:\w# "' > "$R/etc/profile"
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | "$R/bin/busybox" cpio -o -H newc -R 0:0 2>/dev/null) \
    > "$RUN/l1.cpio"
rm -rf "$R"

# ---- boot L1 ----
LOG=${LOG:-$WORK/last-run.log}
QEMU_ERR=$RUN/qemu-stderr.log
mkdir -p "$(dirname "$LOG")"
# shellcheck disable=SC2054 # the commas are QEMU option syntax
qemu_args=(-accel tcg,thread=multi -cpu EPYC,+svm -smp "$SMP" -m "$MEM"
    -display none -monitor none -no-reboot -nodefaults -no-user-config
    -kernel "$L1/bzImage" -initrd "$RUN/l1.cpio"
    -append "console=ttyS0 reboot=k panic=-1 loglevel=4 $EXTRA_APPEND")
echo "nested: booting L1 (QEMU TCG, EPYC+svm, $SMP vCPUs, $MEM, $(du -h "$RUN/l1.cpio" | cut -f1) initramfs); log: $LOG" >&2
start=$SECONDS
set +e
if [ $INTERACTIVE = 1 ]; then
    # signal=off: Ctrl-C is a byte for L1, not a signal that kills QEMU.
    timeout --foreground -k 5 "$TIMEOUT" "$QEMU" "${qemu_args[@]}" \
        -chardev stdio,id=con,signal=off -serial chardev:con 2>"$QEMU_ERR" | tee "$LOG"
    qrc=${PIPESTATUS[0]}
    [ ! -t 0 ] || stty sane 2>/dev/null
else
    timeout -k 5 "$TIMEOUT" "$QEMU" "${qemu_args[@]}" -serial stdio </dev/null 2>"$QEMU_ERR" |
        sed -u 's/\r$//' | tee "$LOG"
    qrc=${PIPESTATUS[0]}
fi
set -e
# TCG warns about every EPYC feature it does not emulate; keep the rest.
grep -v "TCG doesn't support requested feature" "$QEMU_ERR" >&2 || true
echo "nested: L1 ran $((SECONDS - start)) s (qemu exit $qrc)" >&2
[ "$qrc" != 124 ] || { echo "nested: timed out after $TIMEOUT s" >&2; exit 124; }
rc=$(tr -d '\r' < "$LOG" | sed -n 's/^L1-CMD-EXIT rc=\([0-9]*\).*/\1/p' | tail -n1)
[ -n "$rc" ] || echo "nested: L1 reported no exit status (see $LOG)" >&2
exit "${rc:-125}"
