/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host resources and per-VM process figures: the host's memory, the
 * over-commit check made before a VM starts, and what /proc says about a
 * VMM process (CPU time, resident memory, start time).
 */
#ifndef CASULO_MANAGER_ACCOUNTING_H
#define CASULO_MANAGER_ACCOUNTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/compiler.h"

/* MemTotal from a /proc/meminfo-format file, in bytes. */
int mgr_host_memory_total(const char *meminfo_path, uint64_t *bytes) MUST_CHECK;

/*
 * May a VM of `want` bytes start when `committed` bytes are already given to
 * running VMs, on a host of `total` bytes allowed to be over-committed by
 * `ratio`? 0, or -ENOSPC with the numbers in err.
 */
int mgr_account_check(uint64_t total, double ratio, uint64_t committed, uint64_t want,
                      const char *name, char *err, size_t errlen);

/* CPU use over an interval: clock ticks used (utime+stime delta) against wall nanoseconds. */
double mgr_cpu_percent(uint64_t ticks, uint64_t wall_ns, long ticks_per_s);

struct mgr_proc_sample {
    uint64_t cpu_ticks;     /* utime + stime */
    uint64_t start_time;    /* field 22, clock ticks after boot */
    uint64_t rss_bytes;     /* VmRSS */
};

/* Parses the text of /proc/PID/stat (the command name may hold spaces and parentheses). */
int mgr_proc_parse_stat(const char *text, struct mgr_proc_sample *s) MUST_CHECK;
/* Reads /proc/PID/stat and /proc/PID/status; -ENOENT when the process is gone. */
int mgr_proc_sample(pid_t pid, struct mgr_proc_sample *s) MUST_CHECK;
/* Only the start time (for recognising a reused pid). */
int mgr_proc_start_time(pid_t pid, uint64_t *start) MUST_CHECK;

#endif
