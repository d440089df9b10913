/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The few numbers the daemon needs from a VMM's GET /metrics (Prometheus
 * text format 0.0.4, src/api/metrics.c): vCPU run time and the bytes its
 * disks and NICs moved, summed over vCPUs and devices.
 */
#ifndef CASULO_MANAGER_PROM_H
#define CASULO_MANAGER_PROM_H

#include <stdint.h>

struct mgr_vmm_metrics {
    double vcpu_seconds;
    double uptime_s;
    uint64_t memory_bytes;
    uint64_t disk_read_bytes;
    uint64_t disk_write_bytes;
    uint64_t net_rx_bytes;
    uint64_t net_tx_bytes;
    uint64_t balloon_actual_bytes;
};

/* Parses text (NUL-terminated); unknown or malformed lines are skipped. Returns the lines used. */
int mgr_prom_parse(const char *text, struct mgr_vmm_metrics *m);

#endif
