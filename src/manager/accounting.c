// SPDX-License-Identifier: Apache-2.0
/*
 * Resource accounting (see accounting.h). Over-commit is judged on guest
 * RAM as configured, not on what the guests touched so far: a guest may
 * touch all of it at any time, and the ratio is the operator's bet on how
 * much of it they will.
 */
#include "manager/accounting.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


int mgr_host_memory_total(const char *meminfo_path, uint64_t *bytes)
{
    FILE *f = fopen(meminfo_path, "re");
    if (!f)
        return -errno;
    char line[256];
    int ret = -ENODATA;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long kib;
        if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
            *bytes = (uint64_t)kib * 1024;
            ret = 0;
            break;
        }
    }
    fclose(f);
    return ret;
}

/* 512M, 1.5G, 23.5G: exact when round, else one decimal. */
static void human(uint64_t bytes, char *buf, size_t len)
{
    static const char units[] = "KMGT";
    double v = (double)bytes;
    int u = -1;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, len, "%llu", (unsigned long long)bytes);
    else if (v == (double)(uint64_t)v)
        snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
    else
        snprintf(buf, len, "%.1f%c", v, units[u]);
}

int mgr_account_check(uint64_t total, double ratio, uint64_t committed, uint64_t want,
                      const char *name, char *err, size_t errlen)
{
    double limit = (double)total * ratio;
    if ((double)committed + (double)want <= limit)
        return 0;
    char w[32], c[32], t[32], l[32];
    human(want, w, sizeof(w));
    human(committed, c, sizeof(c));
    human(total, t, sizeof(t));
    human(limit > 1.8e19 ? UINT64_MAX : (uint64_t)limit, l, sizeof(l));
    snprintf(err, errlen, "starting '%s' (%s) would over-commit host memory: %s already committed, "
             "limit %s (%s MemTotal x overcommit %.2f)", name, w, c, l, t, ratio);
    return -ENOSPC;
}

double mgr_cpu_percent(uint64_t ticks, uint64_t wall_ns, long ticks_per_s)
{
    if (!wall_ns || ticks_per_s <= 0)
        return 0;
    return (double)ticks * 1e9 / (double)ticks_per_s / (double)wall_ns * 100.0;
}

int mgr_proc_parse_stat(const char *text, struct mgr_proc_sample *s)
{
    const char *p = strrchr(text, ')');
    if (!p)
        return -EINVAL;
    p++;
    /* After the name, field 3 (state) onward; we want 14, 15 (utime, stime) and 22. */
    unsigned long long utime = 0, stime = 0, start = 0;
    int field = 2;
    while (*p && field < 22) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        field++;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (field == 14)
            utime = v;
        else if (field == 15)
            stime = v;
        else if (field == 22)
            start = v;
        while (*end && *end != ' ')
            end++;
        p = end;
    }
    if (field < 22)
        return -EINVAL;
    s->cpu_ticks = utime + stime;
    s->start_time = start;
    return 0;
}

static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return e == ESRCH ? -ENOENT : -e;
    buf[n] = '\0';
    return 0;
}

int mgr_proc_start_time(pid_t pid, uint64_t *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int ret = read_small(path, buf, sizeof(buf));
    if (ret)
        return ret;
    struct mgr_proc_sample s;
    ret = mgr_proc_parse_stat(buf, &s);
    if (!ret)
        *start = s.start_time;
    return ret;
}

int mgr_proc_sample(pid_t pid, struct mgr_proc_sample *s)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int ret = read_small(path, buf, sizeof(buf));
    if (!ret)
        ret = mgr_proc_parse_stat(buf, s);
    if (ret)
        return ret;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    s->rss_bytes = 0;
    if (read_small(path, buf, sizeof(buf)) == 0) {
        const char *r = strstr(buf, "\nVmRSS:");
        unsigned long long kib;
        if (r && sscanf(r + 7, " %llu kB", &kib) == 1)
            s->rss_bytes = (uint64_t)kib * 1024;
    }
    return 0;
}
