#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# virtio-blk end to end: the virtio guest (tests/guest/virtio.S) drives the
# disk through its polled virtio-pci driver. It reads the GET_ID serial, reads
# a random sector of a random image and prints a checksum and the first 16
# bytes, writes a sector-derived pattern to another random sector, flushes,
# reads one sector past the end, moves BAR 4 while the device runs (a kick
# at the old notify address must do nothing, the read through the new one
# must work) and resets the device. In between, requests the device must
# refuse: past the end, wrapping, odd lengths, unknown types, DISCARD not
# negotiated, and a GET_ID into a short buffer must not write past it. The test compares
# what the guest printed with the image and, after casulo exited, checks that
# the image holds the pattern in that sector and nothing else changed. Runs
# on both I/O engines, with config mechanism #1 and with ECAM, on queue 3
# of a four-queue disk, and read-only.
. "$(dirname "$0")/lib.sh"
kvm_require virtio.elf
command -v python3 >/dev/null || skip "python3 is needed to check the image"

SECTORS=2048
head -c $((SECTORS * 512)) /dev/urandom >"$T/orig.img"

# sector_info FILE SECTOR: "sum head" as the guest prints them.
sector_info() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
s = int(sys.argv[2])
sec = d[s * 512:(s + 1) * 512]
print(hex(sum(struct.unpack('<64Q', sec)) & (2**64 - 1)), sec[:16].hex())
PY
}

# check_image IMG ORIG WR: IMG is ORIG with the guest's pattern in sector WR.
check_image() {
    python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
new = open(sys.argv[1], 'rb').read()
old = open(sys.argv[2], 'rb').read()
wr = int(sys.argv[3])
pat = b''.join(struct.pack('<Q', 0x5a5a000000000000 + (wr << 16) + k) for k in range(64))
if len(new) != len(old):
    sys.exit('image size changed: %d -> %d' % (len(old), len(new)))
if new[wr * 512:(wr + 1) * 512] != pat:
    sys.exit('sector %d does not hold the pattern: %s...' % (wr, new[wr * 512:wr * 512 + 16].hex()))
for i in range(len(old) // 512):
    if i != wr and new[i * 512:(i + 1) * 512] != old[i * 512:(i + 1) * 512]:
        sys.exit('sector %d changed' % i)
PY
}

run_case() {   # IO GUEST_OPTIONS [QUEUES]
    local io=$1 cfg=$2 queues=${3:-1} rd wr serial sum headb
    rd=$((RANDOM % SECTORS))
    wr=$(((rd + 1 + RANDOM % (SECTORS - 1)) % SECTORS))
    serial="tv-$io-$RANDOM"
    cp "$T/orig.img" "$T/disk.img"
    casulo_run --kernel "$GUESTS/virtio.elf" --memory 128M \
        --disk "path=$T/disk.img,serial=$serial,io=$io,queues=$queues" \
        --cmdline "dev=blk rd=$rd wr=$wr $cfg"
    expect_rc 0
    expect_out "VIRTIO BLK DONE"
    expect_value num_queues "$queues"
    expect_value status 0xf
    expect_value capacity $SECTORS
    expect_value id_status 0x0
    expect_value serial "$serial"
    read -r sum headb < <(sector_info "$T/orig.img" "$rd")
    expect_value rd_status 0x0
    expect_value rd_sum "$sum"
    expect_value rd_head "$headb"
    expect_value wr_status 0x0
    expect_value flush_status 0x0
    expect_value isr1 0x1                 # INTx mode: a used-buffer interrupt, cleared by the read
    expect_value isr2 0x0
    expect_value oob_status 0x1           # VIRTIO_BLK_S_IOERR
    expect_value cross_status 0x1         # last sector + 1 more
    expect_value wrap_status 0x1          # sector 2^64 - 1
    expect_value odd_status 0x1           # 100 bytes
    expect_value unknown_status 0x2       # VIRTIO_BLK_S_UNSUPP
    expect_value discard_status 0x2       # DISCARD not negotiated
    # GET_ID into a 4-byte buffer: 4 bytes of the serial, the next 4 untouched.
    expect_value id4_status 0x0
    expect_value id4 "$(printf '%s' "${serial:0:4}" | od -An -tx1 | tr -d ' \n')ffffffff"
    # BAR 4 read through the PCI configuration access capability.
    expect_value pcicfg_status 0xf
    expect_value pcicfg_capacity $SECTORS
    # BAR 4 moved while running: the old notify address is dead, the new one works.
    expect_value bar_moved_by 0x80000
    expect_value stale_kick_completed 0x0
    expect_value moved_rd_status 0x0
    expect_value moved_rd_sum "$sum"
    expect_value reset_status 0x0
    expect_no_err_re "needs reset|warning"
    local why
    why=$(check_image "$T/disk.img" "$T/orig.img" "$wr" 2>&1) ||
        fail "image after the run (io=$io): $why"
}

run_case sync ""
run_case uring ""
run_case sync "cfg=ecam"
# Four queues: with VIRTIO_BLK_F_MQ negotiated, everything on queue 3.
run_case uring "q=3" 4
expect_value features0 0x1000

# EVENT_IDX: no interrupt while used_event is ahead, one when it is due,
# and the device publishes avail_event (2 after two requests).
casulo_run --kernel "$GUESTS/virtio.elf" --memory 128M \
    --disk "path=$T/orig.img,readonly=on" --cmdline "dev=blk eventidx"
expect_rc 0
expect_out "VIRTIO BLK DONE"
expect_value features0 0x20000000
expect_value status 0xf
expect_value ev_rd1_status 0x0
expect_value ev_isr_far 0x0
expect_value ev_rd2_status 0x0
expect_value ev_isr_due 0x1
expect_value ev_avail_event 0x2

# Read-only: reads work, the write fails with IOERR and the image is untouched.
cp "$T/orig.img" "$T/disk.img"
casulo_run --kernel "$GUESTS/virtio.elf" --memory 128M \
    --disk "path=$T/disk.img,readonly=on,serial=ro" --cmdline "dev=blk rd=7 wr=8"
expect_rc 0
expect_out "VIRTIO BLK DONE"
read -r sum headb < <(sector_info "$T/orig.img" 7)
expect_value rd_sum "$sum"
expect_value wr_status 0x1
cmp -s "$T/disk.img" "$T/orig.img" || fail "a read-only image changed"
echo "ok"
