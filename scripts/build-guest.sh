#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# build-guest.sh OUTDIR : build the default Linux test guest of casulo from
# Debian packages, installing nothing into the host: Debian's stock cloud
# kernel (linux-image-cloud-amd64) and a busybox-static initramfs whose /init
# is scripts/guest-init.sh (see there for the kernel command line it obeys),
# plus the same tree as an ext4 image for booting with root=/dev/vda.
#
# Writes into OUTDIR:
#   bzImage              the kernel, as shipped in /boot/vmlinuz-*
#   initramfs.cpio       newc archive written by busybox's own cpio
#   initramfs.cpio.gz    the same, gzip -9 -n
#   vmlinux              the kernel as an ELF (PVH entry), when the bzImage
#                        payload can be decompressed on this host
#   rootfs.ext4          the initramfs tree as an ext4 file system
#                        (ROOTFS_SIZE, default 32M; needs mkfs.ext4 from
#                        e2fsprogs, skipped with a note without it); its
#                        /sbin/init is guest-init.sh as well
#   config               the kernel's config
#   manifest.txt         packages, module load order, checksums, cache stamp
#
# A rerun with the same inputs (this script, guest-init.sh, the settings
# below and the .deb files) does nothing. FORCE=1 rebuilds anyway; a newer
# Debian kernel is picked up only when apt's lists change.
#
# Settings (environment):
#   KERNEL_FLAVOUR   cloud-amd64 (default) or amd64
#   GUEST_MODULES    modules to ship and load (dependencies are added)
#   SOURCE_DATE_EPOCH  mtime of every archive entry (default 0)
#   ROOTFS_SIZE      size of rootfs.ext4 (mkfs.ext4 syntax, default 32M)
set -euo pipefail

die() { echo "build-guest: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 OUTDIR"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
KERNEL_FLAVOUR=${KERNEL_FLAVOUR:-cloud-amd64}
# Every virtio driver a casulo device may need. The Debian 6.1 kernels build
# them as modules; absent ones are reported and skipped.
GUEST_MODULES=${GUEST_MODULES:-"virtio virtio_ring virtio_pci virtio_mmio virtio_blk virtio_net \
virtio_rng virtio_console virtio_balloon vmw_vsock_virtio_transport"}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
export SOURCE_DATE_EPOCH  # mkfs.ext4 stamps the file system with it
ROOTFS_SIZE=${ROOTFS_SIZE:-32M}
# mkfs.ext4 lives in /sbin, which an ordinary user's PATH may lack.
MKFS_EXT4=$(PATH=$PATH:/sbin:/usr/sbin command -v mkfs.ext4 || true)

for t in dpkg-deb gzip sha256sum od dd find sort; do
    command -v "$t" >/dev/null || die "missing host tool: $t"
done

mapfile -t DEBS < <("$HERE/fetch-debs.sh" "linux-image-$KERNEL_FLAVOUR" busybox-static) ||
    die "cannot download the guest packages"
[ ${#DEBS[@]} = 2 ] || die "cannot download the guest packages"
KDEB=${DEBS[0]} BDEB=${DEBS[1]}

STAMP=$( { cat "$0" "$HERE/guest-init.sh"
           echo "$KERNEL_FLAVOUR|$GUEST_MODULES|$SOURCE_DATE_EPOCH|$KDEB|$BDEB|$ROOTFS_SIZE|$MKFS_EXT4"; } |
         sha256sum | cut -c1-16)
if [ "${FORCE:-0}" != 1 ] && [ -f "$OUT/bzImage" ] && [ -f "$OUT/initramfs.cpio" ] &&
   grep -qx "stamp=$STAMP" "$OUT/manifest.txt" 2>/dev/null; then
    echo "build-guest: $OUT is up to date"
    exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/casulo-guest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$KDEB" "$WORK/kernel"
dpkg-deb -x "$BDEB" "$WORK/busybox"
KVER=$(basename "$(ls -d "$WORK"/kernel/lib/modules/*)")
MODROOT=$WORK/kernel/lib/modules/$KVER
BB=$WORK/busybox/bin/busybox
[ -x "$BB" ] || die "busybox-static has no bin/busybox"

# ---- modules, dependencies first (from each .ko's modinfo "depends=") ----
# A module's file may spell its name with dashes (virtio-rng.ko is virtio_rng).
ko_path() { find "$MODROOT/kernel" \( -name "$1.ko" -o -name "${1//_/-}.ko" \) -print -quit; }
ko_deps() { grep -a -o -m1 'depends=[^[:cntrl:]]*' "$1" | sed -n 1p | cut -d= -f2 | tr ',' ' '; }
ORDER=()
declare -A SEEN=()
add_module() {
    local m=$1 f d
    [ -z "${SEEN[$m]:-}" ] || return 0
    SEEN[$m]=1
    f=$(ko_path "$m")
    if [ -z "$f" ]; then
        grep -q -e "/$m.ko$" -e "/${m//_/-}.ko$" "$MODROOT/modules.builtin" ||
            echo "build-guest: note: $m is neither a module nor built into $KVER" >&2
        return 0
    fi
    for d in $(ko_deps "$f"); do add_module "$d"; done
    ORDER+=("$m")
}
for m in $GUEST_MODULES; do add_module "$m"; done

# ---- initramfs tree ----
R=$WORK/root
mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,run,root,etc,newroot,lib/modules}
cp "$BB" "$R/bin/busybox"
for a in $("$BB" --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
mkdir -p "$R/usr" && ln -s ../bin "$R/usr/bin" && ln -s ../bin "$R/usr/sbin"
for m in "${ORDER[@]}"; do cp "$(ko_path "$m")" "$R/lib/modules/$m.ko"; done
printf '%s\n' "${ORDER[@]}" > "$R/etc/casulo-modules"
cp "$HERE/guest-init.sh" "$R/init"
# the same script is the root file system's init after switch_root
cp "$HERE/guest-init.sh" "$R/sbin/init"
chmod 755 "$R/init" "$R/sbin/init"
echo 'PS1="casulo-guest:\w# "' > "$R/etc/profile"
# The kernel's built-in initramfs normally provides /dev/console; ship one
# too when we may create device nodes, for kernels built without it.
[ "$(id -u)" != 0 ] || mknod -m 600 "$R/dev/console" c 5 1

find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort |
    "$BB" cpio -o -H newc -R 0:0 2>/dev/null) > "$WORK/initramfs.cpio"
gzip -9 -n -c "$WORK/initramfs.cpio" > "$WORK/initramfs.cpio.gz"

# ---- rootfs.ext4: the same tree, no root or loop mount needed (-d). A fixed
# UUID and hash seed; not bit-for-bit reproducible all the same, since
# e2fsprogs 1.47.0 copies each file's ctime from the build tree. ----
rootfs="no (mkfs.ext4 not installed: e2fsprogs)"
if [ -n "$MKFS_EXT4" ]; then
    E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH \
        "$MKFS_EXT4" -q -F -t ext4 -L casulo-root -U 5ca5c0de-0000-4000-8000-000000000001 \
        -E root_owner=0:0,hash_seed=5ca5c0de-0000-4000-8000-000000000002 -m 0 \
        -d "$R" "$WORK/rootfs.ext4" "$ROOTFS_SIZE" >/dev/null || die "mkfs.ext4 -d failed"
    rootfs="yes ($ROOTFS_SIZE)"
fi
cp "$WORK/kernel/boot/vmlinuz-$KVER" "$WORK/bzImage"
cp "$WORK/kernel/boot/config-$KVER" "$WORK/config"

# ---- vmlinux: the bzImage's compressed payload, located through the setup
# header fields payload_offset (0x248) and payload_length (0x24c) ----
u32_at() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
setup_sects=$(od -An -t u1 -j $((0x1f1)) -N 1 "$WORK/bzImage" | tr -d ' ')
[ "$setup_sects" != 0 ] || setup_sects=4
dd if="$WORK/bzImage" of="$WORK/payload" bs=64K iflag=skip_bytes,count_bytes status=none \
    skip=$(( (setup_sects + 1) * 512 + $(u32_at "$WORK/bzImage" $((0x248))) )) \
    count="$(u32_at "$WORK/bzImage" $((0x24c)))"
case $(od -An -t x1 -N 4 "$WORK/payload" | tr -d ' ') in
02214c18) dec=lz4 ;;
fd377a58) dec=xz ;;
1f8b*) dec=gzip ;;
28b52ffd) dec=zstd ;;
*) dec= ;;
esac
vmlinux="no (unknown payload)"
if [ -n "$dec" ] && command -v "$dec" >/dev/null; then
    # the payload ends with a size word that some decoders complain about
    "$dec" -dc < "$WORK/payload" > "$WORK/vmlinux" 2>/dev/null || true
    if [ "$(od -An -t x1 -N 4 "$WORK/vmlinux" | tr -d ' ')" = 7f454c46 ]; then
        vmlinux="yes ($dec)"
    else
        rm -f "$WORK/vmlinux"; vmlinux="no ($dec failed)"
    fi
elif [ -n "$dec" ]; then
    vmlinux="no ($dec not installed)"
fi

files=(bzImage initramfs.cpio initramfs.cpio.gz config)
[ -f "$WORK/vmlinux" ] && files+=(vmlinux)
[ -f "$WORK/rootfs.ext4" ] && files+=(rootfs.ext4)
rm -f "$OUT/vmlinux" "$OUT/rootfs.ext4" "$OUT/manifest.txt"
for f in "${files[@]}"; do mv "$WORK/$f" "$OUT/$f"; done
{
    echo "kernel_deb=$(basename "$KDEB")"
    echo "kernel_release=$KVER"
    echo "busybox_deb=$(basename "$BDEB")"
    echo "modules=${ORDER[*]}"
    echo "vmlinux=$vmlinux"
    echo "rootfs=$rootfs"
    (cd "$OUT" && sha256sum "${files[@]}")
    # last, so that an interrupted build never looks up to date
    echo "stamp=$STAMP"
} > "$OUT/manifest.tmp"
mv "$OUT/manifest.tmp" "$OUT/manifest.txt"
echo "build-guest: $KVER -> $OUT (modules: ${ORDER[*]})"
