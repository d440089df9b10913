#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile virtio drivers: the virtio guest breaks the first disk's queue in
# one way per run (bad=CASE on its command line). casulo must keep running,
# the disk must report DEVICE_NEEDS_RESET (status bit 0x40) as read by the
# guest, the virtio-rng beside it must still work, and after a reset the
# disk must serve a read of sector 0 again. A kick before DRIVER_OK must be
# ignored without breaking the device.
. "$(dirname "$0")/lib.sh"
kvm_require virtio.elf
command -v python3 >/dev/null || skip "python3 is needed to check the image"

head -c $((512 * 1024)) /dev/urandom >"$T/disk.img"
sum0=$(python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read(512)
print(hex(sum(struct.unpack("<64Q", d)) & (2**64 - 1)))' "$T/disk.img")
zero=$(printf '0%.0s' $(seq 128))

check_survivors() {
    expect_rc 0
    expect_out "VIRTIO BAD DONE"
    expect_value rng_status 0xf
    expect_value rng_len 64
    local r
    r=$(out_value rng1)
    [ ${#r} = 128 ] && [ "$r" != "$zero" ] || fail "rng after the attack: '$r'"
    expect_value again_status 0xf
    expect_value again_rd_status 0x0
    expect_value again_rd_sum "$sum0"
}

# loop: a descriptor whose next is itself; next: index 200 of 16; head: an
# available entry of 100; hole/oob/straddle: a buffer in the MMIO hole, at
# 1 TiB, across the end of RAM; huge: a 4 GiB - 512 length; avail: the
# available index 17 ahead; qsize3: queue_size 3; ringaddr: a descriptor
# table in the MMIO hole; qsize0: queue_size 0; nofeat: DRIVER_OK without
# FEATURES_OK; nostatus: a request with nothing device-writable; indirect:
# an indirect descriptor without VIRTIO_F_INDIRECT_DESC.
for c in loop next head hole oob straddle huge avail qsize3 ringaddr qsize0 \
         nofeat nostatus indirect; do
    casulo_run --kernel "$GUESTS/virtio.elf" --memory 512M \
        --disk "path=$T/disk.img" --rng --cmdline "bad=$c"
    RUN_DESC="$RUN_DESC [case $c]"
    st=$(out_value bad_status)
    [ -n "$st" ] && (( st & 0x40 )) || fail "bad=$c: device_status $st lacks NEEDS_RESET (0x40)"
    isr=$(out_value isr)
    [ -n "$isr" ] && (( isr & 2 )) || fail "bad=$c: ISR $isr lacks the configuration-change bit (0x2)"
    expect_err_re "needs reset"
    case $c in
    qsize3 | qsize0) expect_value queue_enable 0x0 ;;
    ringaddr) expect_value desc_after_enable 0x400000 ;;
    esac
    check_survivors
done

casulo_run --kernel "$GUESTS/virtio.elf" --memory 512M \
    --disk "path=$T/disk.img" --rng --cmdline "bad=early"
expect_value early_status 0xb
expect_value up_status 0xf
expect_value early_rd_status 0x0
expect_value status 0xf
expect_no_err_re "needs reset"
check_survivors

# Kicks of queues the disk lacks (and a misaligned one), a write to its
# read-only config space: ignored, the disk goes on.
casulo_run --kernel "$GUESTS/virtio.elf" --memory 512M \
    --disk "path=$T/disk.img" --rng --cmdline "bad=notify"
expect_value capacity_after 1024
expect_value status_after_clear 0xf
expect_value notify_rd_status 0x0
expect_value bad_status 0xf
expect_no_err_re "needs reset"
check_survivors

# A driver asking for features outside the offer (bit 63): FEATURES_OK
# must not stick; no reset needed.
casulo_run --kernel "$GUESTS/virtio.elf" --memory 512M \
    --disk "path=$T/disk.img" --rng --cmdline "bad=features"
expect_value feat_status 0x3
check_survivors

# A read into the queue's own descriptor table: legal, if unwise.
casulo_run --kernel "$GUESTS/virtio.elf" --memory 512M \
    --disk "path=$T/disk.img" --rng --cmdline "bad=selfdma"
expect_value selfdma_rd_status 0x0
expect_value bad_status 0xf
check_survivors

# The rng attacked instead: a device-readable buffer, then a 1 MiB one
# (the device may fill less). It must work again after a reset.
casulo_run --kernel "$GUESTS/virtio.elf" --memory 512M \
    --disk "path=$T/disk.img" --rng --cmdline "bad=rng"
big=$(out_value rng_big_len)
[ -n "$big" ] && (( big > 0 && big <= 0x100000 )) || fail "rng filled $big bytes of a 1 MiB buffer"
check_survivors

# A reset while a 64 KiB read may still be in flight must finish (status 0).
casulo_run --kernel "$GUESTS/virtio.elf" --memory 512M \
    --disk "path=$T/disk.img" --rng --cmdline "bad=inflight"
expect_value reset_status 0x0
check_survivors
echo "ok"
