#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# virtio.sh - the stock cloud kernel's virtio drivers against the L2 VMM's
# virtio-pci devices (casulo --disk/--net/--rng; L2_VMM=qemu for QEMU), all
# inside one nested L1, in three L2 boots:
#   v1  root=/dev/vda (rootfs.ext4), a data disk, a read-only disk, a NIC and
#       an entropy device: the drivers bind (virtio bus and PCI); the guest
#       writes a marker file to its root, 64 MiB of random data (md5 noted)
#       to the data disk (two queues, io_uring; two writers pinned to the two
#       vCPUs, so that both queues carry requests), and tries to write the
#       read-only disk
#   v2  root=/dev/vda and the data disk again (io=sync), with the
#       entropy device: the
#       marker is read back, the data disk's md5 matches, a discard of
#       MiB 1-2 reads back as zeroes (casulo punches a hole; QEMU is told
#       discard=unmap) in the guest and in L1, the rest unchanged, and two
#       4 KiB reads of /dev/hwrng are full, non-zero and different
#   n1  a NIC on a TAP in a network namespace of L1 (10.0.2.1 there, 10.0.2.2
#       in the guest): ping both ways, then 64 MiB each way with busybox nc,
#       md5 compared on both ends
# L1 checks the host side too: the data image's first 64 MiB have the md5 the
# guest computed, and the read-only image is unchanged (and read correctly).
# The guest commands are shell text for the guest: their $(...) stay unexpanded.
# shellcheck disable=SC2016
set -u
# 64 MiB each way through an emulator is slow, the more so on a loaded host
L2_TIMEOUT=${L2_TIMEOUT:-300}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
nested_prerequisites
[ -f "$REPO/out/guest/rootfs.ext4" ] ||
    skip_or_fail "no out/guest/rootfs.ext4 (scripts/build-guest.sh needs mkfs.ext4: e2fsprogs)"

# A fresh marker per run, so that v2 can only pass by reading what v1 wrote.
token=$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')
b64() {  # the kernel command line holds 2048 bytes, the base64 word included
    local w
    w=$(printf '%s' "$1" | base64 -w0)
    [ ${#w} -le 1700 ] || { echo "FAIL: guest command for $2 is too long (${#w} bytes base64)"; exit 1; }
    printf '%s' "$w"
}
# s NAME: the disk whose serial (casulo id=, GET_ID) is NAME
disk_of='s(){ for b in /sys/block/vd*;do [ "$(cat $b/serial)" = $1 ]&&echo /dev/${b##*/};done;}'
rootdev='root=$(awk '\''$2=="/"{d=$1":"$3}END{print d}'\'' /proc/mounts)'
kerr='ke=$(dmesg|sed "/XSAVE consistency proble[m]/,/end trac[e]/d"|grep -c -E "Call Trac[e]|BU[G]:|WARNING: CP[U]|ACPI Erro[r]")'

g1="$disk_of;D=\$(s data);R=\$(s ro)
echo $token >/casulo-marker&&sync;mk=\$?"'
v=/sys/bus/virtio/drivers;drv=
for d in virtio_blk virtio_net virtio_rng;do drv=$drv$d:$(ls -d $v/$d/virtio* 2>/dev/null|wc -l),;done
pci=$(for p in /sys/bus/pci/devices/*;do [ $(cat $p/vendor) = 0x1af4 ]&&basename $(readlink $p/driver);done|sort|uniq -c|awk '\''{printf "%s:%s,",$2,$1}'\'')
head -c 67108864 /dev/urandom >/tmp/p;pm=$(md5sum </tmp/p|cut -c1-32)
taskset 1 dd if=/tmp/p of=$D bs=1M count=32 conv=fsync 2>/dev/null&a=$!
taskset 2 dd if=/tmp/p of=$D bs=1M skip=32 seek=32 count=32 conv=fsync 2>/dev/null;dw=$?;wait $a;dw=$dw$?;rm /tmp/p
dd if=/dev/zero of=$R bs=4k count=1 conv=fsync 2>/dev/null;rw=$?
'"$kerr;$rootdev"'
echo CASULO-RESULT root=$root marker_rc=$mk drivers=$drv pci=$pci data=$D mq=$(ls /sys/block/${D#/dev/}/mq|wc -l) pat_md5=$pm data_write_rc=$dw ro=$R ro_flag=$(cat /sys/block/${R#/dev/}/ro) ro_write_rc=$rw ro_md5=$(md5sum <$R|cut -c1-32) kernel_errors=$ke'

g2="$disk_of;D=\$(s data)"'
m=$(cat /casulo-marker);dm=$(head -c 67108864 $D|md5sum|cut -c1-32)
rc=$(cat /sys/class/misc/hw_random/rng_current)
head -c 4096 /dev/hwrng >/tmp/a;ra=$?;head -c 4096 /dev/hwrng >/tmp/b
blkdiscard -o 1048576 -l 2097152 $D;dc=$?;dz=$(dd if=$D bs=1M skip=1 count=2 2>/dev/null|md5sum|cut -c1-32)
[ $ra = 0 ]||dmesg|grep -i -E "rng|virtio"|tail -n 8|sed "s/^/RNG-DMESG /"
'"$kerr;$rootdev"'
echo CASULO-RESULT root=$root marker=$m data_md5=$dm discard_rc=$dc discard_md5=$dz rng_current=$rc rng_rc=$ra rng_bytes=$(cat /tmp/a /tmp/b|wc -c) rng_a=$(md5sum </tmp/a|cut -c1-32) rng_b=$(md5sum </tmp/b|cut -c1-32) zero_md5=$(head -c 4096 /dev/zero|md5sum|cut -c1-32) kernel_errors=$ke'

# The receiving nc keeps its stdin open (a FIFO held by the shell): busybox
# nc quits as soon as its stdin ends and the peer has sent nothing yet.
n1='t(){ cut -d" " -f1 /proc/uptime;}
ip link set eth0 up&&ip addr add 10.0.2.2/24 dev eth0
p=fail;i=0;while [ $i -lt 30 ];do ping -c1 -W1 10.0.2.1 >/dev/null&&{ p=ok;break;};i=$((i+1));done
mkfifo /tmp/f;exec 3<>/tmp/f
a=$(t);i=0;until nc 10.0.2.1 5002 <&3 >/tmp/x;do i=$((i+1));[ $i -lt 10 ]||break;sleep 1;done
b=$(t);hm=$(md5sum </tmp/x|cut -c1-32);hb=$(wc -c </tmp/x);rm /tmp/x
head -c 67108864 /dev/urandom >/tmp/y;gm=$(md5sum </tmp/y|cut -c1-32)
c=$(t);nc 10.0.2.1 5001 </tmp/y;gs=$?;d=$(t)
'"$kerr"'
echo CASULO-RESULT mac=$(cat /sys/class/net/eth0/address) ping=$p h2g_md5=$hm h2g_bytes=$hb g2h_md5=$gm g2h_rc=$gs h2g_s=$(echo $b $a|awk "{print \$1-\$2}") g2h_s=$(echo $d $c|awk "{print \$1-\$2}") kernel_errors=$ke'

w1=$(b64 "$g1" v1) || { echo "$w1"; exit 1; }
w2=$(b64 "$g2" v2) || { echo "$w2"; exit 1; }
wn=$(b64 "$n1" n1) || { echo "$wn"; exit 1; }
MAC=52:54:00:ca:50:10

checklist_begin
# n1 runs in its own network namespace: a second script with the same helpers.
NETLIST=$TEST_WORK/payload/net.sh
cp "$CHECKLIST" "$NETLIST"
cat >> "$CHECKLIST" <<EOF
token=$token
EOF
cat >> "$CHECKLIST" <<'EOF'
md5() { md5sum | cut -c1-32; }
cp /l2/rootfs.ext4 /tmp/root.img
truncate -s 80M /tmp/data.img
head -c 4194304 /dev/urandom > /tmp/ro.img
ro_before=$(md5 < /tmp/ro.img)
EOF
cat >> "$CHECKLIST" <<EOF
l2_boot v1 2 512M 'root=/dev/vda casulo.runb64=$w1' disk:/tmp/root.img:root disk:/tmp/data.img:data,queues=2,io=uring \
    disk-ro:/tmp/ro.img:ro net:vtap1:$MAC rng
EOF
cat >> "$CHECKLIST" <<'EOF'
data_host=$(head -c 67108864 /tmp/data.img | md5)
ro_after=$(md5 < /tmp/ro.img)
echo "L1-HOST data_md5=$data_host ro_before=$ro_before ro_after=$ro_after"
region() { dd if=/tmp/data.img bs=1M skip=$1 count=$2 2>/dev/null | md5; }
head_before=$(region 0 1) tail_before=$(region 3 77)
EOF
cat >> "$CHECKLIST" <<EOF
l2_boot v2 1 512M 'root=/dev/vda casulo.runb64=$w2' disk:/tmp/root.img:root disk:/tmp/data.img:data,io=sync rng
EOF
cat >> "$CHECKLIST" <<'EOF'
zero2m=$(head -c 2097152 /dev/zero | md5)
check data-discard-rc equals "$(result v2 discard_rc)" 0
check data-discard-guest-zeroes equals "$(result v2 discard_md5)" "$zero2m"
check data-discard-host-zeroes equals "$(region 1 2)" "$zero2m"
check data-discard-rest-unchanged equals "$(region 0 1)/$(region 3 77)" "$head_before/$tail_before"
for b in v1 v2; do
    check $b-vmm-exit-0 vmm_rc_is $b 0
    check $b-guest-ready grep -q '^CASULO-GUEST-READY uptime=' /tmp/$b.out
    check $b-exit-status-0 has_line $b CASULO-EXIT-STATUS=0
    check $b-no-kernel-errors equals "$(result $b kernel_errors)" 0
    check $b-root-vda-ext4 equals "$(result $b root)" /dev/vda:ext4
done
check drivers-virtio-bus equals "$(result v1 drivers)" virtio_blk:3,virtio_net:1,virtio_rng:1,
check drivers-pci equals "$(result v1 pci)" virtio-pci:5,
check rootfs-write equals "$(result v1 marker_rc)" 0
check rootfs-persists equals "$(result v2 marker)" "$token"
check data-two-queues equals "$(result v1 mq)" 2
check data-write equals "$(result v1 data_write_rc)" 00
check data-host-md5 equals "$data_host" "$(result v1 pat_md5)"
check data-reboot-md5 equals "$(result v2 data_md5)" "$(result v1 pat_md5)"
check ro-flag equals "$(result v1 ro_flag)" 1
check ro-write-refused eval '[ -n "$(result v1 ro_write_rc)" ] && [ "$(result v1 ro_write_rc)" != 0 ]'
check ro-host-unchanged equals "$ro_after" "$ro_before"
check ro-guest-read equals "$(result v1 ro_md5)" "$ro_before"
check rng-current eval 'result v2 rng_current | grep -q ^virtio_rng'
check rng-read equals "$(result v2 rng_rc)/$(result v2 rng_bytes)" 0/8192
check rng-nonzero eval '[ -n "$(result v2 rng_a)" ] && [ "$(result v2 rng_a)" != "$(result v2 zero_md5)" ] &&
    [ "$(result v2 rng_b)" != "$(result v2 zero_md5)" ]'
check rng-differs eval '[ -n "$(result v2 rng_a)" ] && [ "$(result v2 rng_a)" != "$(result v2 rng_b)" ]'
unshare -n sh /payload/net.sh
EOF

# ---- n1, in a network namespace of L1 ----
cat >> "$NETLIST" <<'EOF'
md5() { md5sum | cut -c1-32; }
ip link set lo up
# a persistent TAP made in L1; casulo attaches to it
tunctl -t vtap0 >/dev/null && ip addr add 10.0.2.1/24 dev vtap0 && ip link set vtap0 up
head -c 67108864 /dev/urandom > /tmp/h2g.bin
h2g=$(md5 < /tmp/h2g.bin)
mkfifo /tmp/hold; exec 3<>/tmp/hold
nc -l -p 5002 < /tmp/h2g.bin > /dev/null & nc1=$!
nc -l -p 5001 <&3 > /tmp/g2h.bin & nc2=$!
rm -f /tmp/ping-h2g
( i=0; while [ $i -lt 90 ]; do
      if ping -c1 -W1 10.0.2.2 > /dev/null 2>&1; then echo ok > /tmp/ping-h2g; break; fi
      i=$((i + 1)); done ) & pinger=$!
EOF
cat >> "$NETLIST" <<EOF
l2_boot n1 2 512M 'casulo.runb64=$wn' net:vtap0:$MAC
EOF
cat >> "$NETLIST" <<'EOF'
kill $nc1 $nc2 $pinger 2>/dev/null
g2h=$(md5 < /tmp/g2h.bin)
echo "L1-HOST h2g_md5=$h2g g2h_md5=$g2h g2h_bytes=$(wc -c < /tmp/g2h.bin)"
rm -f /tmp/h2g.bin /tmp/g2h.bin
check n1-vmm-exit-0 vmm_rc_is n1 0
check n1-exit-status-0 has_line n1 CASULO-EXIT-STATUS=0
check n1-no-kernel-errors equals "$(result n1 kernel_errors)" 0
EOF
cat >> "$NETLIST" <<EOF
check net-mac equals "\$(result n1 mac)" $MAC
EOF
cat >> "$NETLIST" <<'EOF'
check net-ping-guest-to-host equals "$(result n1 ping)" ok
check net-ping-host-to-guest [ -f /tmp/ping-h2g ]
check net-host-to-guest-64M equals "$(result n1 h2g_md5)" "$h2g"
check net-guest-to-host-64M equals "$g2h" "$(result n1 g2h_md5)"
check net-guest-send-rc equals "$(result n1 g2h_rc)" 0
EOF

for b in v1 v2; do
    for c in vmm-exit-0 guest-ready exit-status-0 no-kernel-errors root-vda-ext4; do expect_check $b-$c; done
done
for c in drivers-virtio-bus drivers-pci rootfs-write rootfs-persists data-two-queues data-write data-host-md5 \
         data-reboot-md5 ro-flag ro-write-refused ro-host-unchanged ro-guest-read rng-current \
         rng-read rng-nonzero rng-differs data-discard-rc data-discard-guest-zeroes data-discard-host-zeroes \
         data-discard-rest-unchanged n1-vmm-exit-0 n1-exit-status-0 n1-no-kernel-errors \
         net-mac net-ping-guest-to-host net-ping-host-to-guest net-host-to-guest-64M \
         net-guest-to-host-64M net-guest-send-rc; do
    expect_check $c
done
checklist_run
