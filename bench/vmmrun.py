#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# bench/vmmrun.py OUTFILE CMD...: runs one VMM for bench/io.sh and prints
# "loop_s loop_cpu_s total_cpu_s rc". loop_s is the host time between the
# guest's "BENCH START" and "BENCH END" lines on the command's stdout
# (timestamped as they arrive); loop_cpu_s is the user + system CPU time the
# command's process tree (the VMM with all its threads: vCPU, I/O, io_uring
# workers; a wrapper such as perf or `ip netns exec` included, idle) spent
# between those two lines, from /proc/PID/stat, so start-up and firmware
# time are left out; total_cpu_s is the whole run's (wait4). stdout and
# stderr go to OUTFILE.
import os
import subprocess
import sys
import time

TICK = os.sysconf('SC_CLK_TCK')


def tree_cpu(root):
    """User + system seconds of root and its descendants, dead threads included."""
    parent, cpu = {}, {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        pid = int(name)
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / TICK
    total = 0.0
    for pid, c in cpu.items():
        p = pid
        while p > 1:
            if p == root:
                total += c
                break
            p = parent.get(p, 0)
    return total


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
    loop_cpu = cpu_end - cpu_start if cpu_start is not None and cpu_end is not None else nan
    print('%.6f %.6f %.6f %d' % (loop, loop_cpu, ru.ru_utime + ru.ru_stime, rc))


if __name__ == '__main__':
    main()
