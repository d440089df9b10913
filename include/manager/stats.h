/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-VM resource figures, sampled every MGR_STATS_PERIOD_MS by a sampler
 * thread from /proc/PID and the VMM's GET /metrics, and kept in memory (the
 * last MGR_STATS_HISTORY samples) for the dashboard's graphs.
 */
#ifndef CASULO_MANAGER_STATS_H
#define CASULO_MANAGER_STATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

#define MGR_STATS_HISTORY   60
#define MGR_STATS_PERIOD_MS 2000

struct mgr_stats_sample {
    int64_t t_ms;               /* Unix time in ms */
    double cpu_percent;         /* of one host CPU, over the last period */
    uint64_t rss_bytes;
    double vcpu_seconds;
    uint64_t disk_read_bytes;
    uint64_t disk_write_bytes;
    uint64_t net_rx_bytes;
    uint64_t net_tx_bytes;
};

struct mgr_stats {
    struct mgr_stats_sample ring[MGR_STATS_HISTORY];
    unsigned head;              /* next slot */
    unsigned count;
    uint64_t prev_ticks;        /* CPU ticks and monotonic ns at the previous sample */
    uint64_t prev_ns;
};

void mgr_stats_push(struct mgr_stats *s, const struct mgr_stats_sample *x);
/* NULL before the first sample. */
const struct mgr_stats_sample *mgr_stats_latest(const struct mgr_stats *s);
json_t *mgr_stats_sample_json(const struct mgr_stats_sample *x);
/* Oldest first. */
json_t *mgr_stats_history_json(const struct mgr_stats *s);

struct mgr;
int mgr_sampler_start(struct mgr *m) MUST_CHECK;
void mgr_sampler_stop(struct mgr *m);

#endif
