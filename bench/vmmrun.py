#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# bench/vmmrun.py OUTFILE CMD...: runs one VMM for bench/io.sh and prints
# "loop_s loop_cpu_s loop_vcpu_cpu_s loop_guest_s total_cpu_s rc". loop_s is
# the host time between the guest's "BENCH START" and "BENCH END" lines on
# the command's stdout (timestamped as they arrive); loop_cpu_s is the CPU
# time the command's process tree (the VMM with all its threads: vCPU, I/O,
# io_uring workers; a wrapper such as perf or `ip netns exec` included,
# idle) spent between those two lines, so start-up and firmware time are
# left out. It is the sum of the threads' on-CPU time from
# /proc/PID/task/TID/schedstat (nanoseconds; the utime/stime of
# /proc/PID/stat come in ticks, 4 ms here, too coarse for an I/O thread
# that runs a few microseconds per request); the time of a thread that
# exits between the two lines is missed. loop_vcpu_cpu_s is the part of it
# spent by vCPU threads (named vcpuN by casulo, "CPU N/KVM" by QEMU with
# -name debug-threads=on), which includes the guest's own code.
# loop_guest_s is the guest time of the same threads over the same
# interval: field 43 (guest_time) of /proc/PID/task/TID/stat, the time the
# kernel saw the thread running guest code natively (on a KVM-PVM host:
# guest CPL3; guest CPL0 is emulated by KVM and counts as the thread's
# system time instead). It is in clock ticks (1/100 s) and, with tick-based
# accounting, a sample of which mode each scheduler tick found the thread
# in, so it is exact only over many ticks: bench/io.sh runs long loops.
# total_cpu_s is the whole run's (wait4). stdout and stderr go to OUTFILE.
import os
import re
import subprocess
import sys
import time

# vCPU thread names: casulo's, and QEMU's with -name debug-threads=on.
VCPU_RE = re.compile(r'^(vcpu\d+|CPU \d+/KVM)$')


def stat_ppid(path):
    """The parent pid from a /proc stat file."""
    with open(path) as f:
        return int(f.read().rsplit(')', 1)[1].split()[1])


TICK = os.sysconf('SC_CLK_TCK')


def tree_cpu(root):
    """(all, vcpu, guest): on-CPU seconds of the live threads of root and
    its descendants, of their vCPU threads alone, and their guest time."""
    parent = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            parent[int(name)] = stat_ppid('/proc/%s/stat' % name)
        except OSError:
            continue
    total = vcpu = guest = 0.0
    for pid in parent:
        p = pid
        while p > 1 and p != root:
            p = parent.get(p, 0)
        if p != root:
            continue
        try:
            tids = os.listdir('/proc/%d/task' % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as f:
                    t = int(f.read().split()[0]) / 1e9
                with open('/proc/%d/task/%s/comm' % (pid, tid)) as f:
                    comm = f.read().strip()
                with open('/proc/%d/task/%s/stat' % (pid, tid)) as f:
                    # Fields after "(comm)" start at field 3; guest_time is 43.
                    g = int(f.read().rsplit(')', 1)[1].split()[40]) / TICK
            except OSError:
                continue
            total += t
            guest += g
            if VCPU_RE.match(comm):
                vcpu += t
    return total, vcpu, guest


def main():
    out, cmd = sys.argv[1], sys.argv[2:]
    start = end = None
    cpu_start = cpu_end = None
    with open(out, 'wb') as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                                stdin=subprocess.DEVNULL)
        for line in proc.stdout:
            now = time.monotonic()
            if b'BENCH START' in line:
                start, cpu_start = now, tree_cpu(proc.pid)
            elif b'BENCH END' in line:
                end, cpu_end = now, tree_cpu(proc.pid)
            log.write(line)
        _, status, ru = os.wait4(proc.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    nan = float('nan')
    loop = end - start if start is not None and end is not None else nan
    loop_cpu = vcpu_cpu = guest = nan
    if cpu_start is not None and cpu_end is not None:
        loop_cpu = cpu_end[0] - cpu_start[0]
        vcpu_cpu = cpu_end[1] - cpu_start[1]
        guest = cpu_end[2] - cpu_start[2]
    print('%.6f %.6f %.6f %.6f %.6f %d' % (loop, loop_cpu, vcpu_cpu, guest,
                                           ru.ru_utime + ru.ru_stime, rc))


if __name__ == '__main__':
    main()
