// SPDX-License-Identifier: Apache-2.0
/*
 * GET /metrics: the VM's counters in the Prometheus text exposition format
 * (0.0.4). Everything comes from one api_vm_stats snapshot taken through
 * the VM ops, so reading metrics never touches a device's queues.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/actions.h"
#include "cli/commands.h"
#include "virtio/balloon.h"

void api_vm_stats_free(struct api_vm_stats *stats)
{
    free(stats->vcpus);
    free(stats->devices);
    stats->vcpus = NULL;
    stats->devices = NULL;
    stats->nr_vcpus = stats->nr_devices = 0;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void vm_metrics(FILE *f, struct api_ctx *ctx, const struct api_vm_stats *st)
{
    family(f, "casulo_build_info", "gauge", "casulo's version.");
    fprintf(f, "casulo_build_info{version=\"%s\"} 1\n", CASULO_VERSION);

    static const enum api_vm_state states[] = { API_VM_RUNNING, API_VM_PAUSED, API_VM_STOPPING,
                                                API_VM_NOT_STARTED };
    enum api_vm_state now = ctx->ops->state(ctx->vm);
    family(f, "casulo_vm_state", "gauge", "1 for the state the VM is in, 0 for the others.");
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        fprintf(f, "casulo_vm_state{state=\"%s\"} %d\n", api_state_name(states[i]),
                states[i] == now);

    family(f, "casulo_uptime_seconds", "gauge", "Seconds since the VM started running.");
    fprintf(f, "casulo_uptime_seconds %.3f\n", (double)ctx->ops->uptime_ns(ctx->vm) / 1e9);

    family(f, "casulo_guest_memory_bytes", "gauge", "Guest RAM configured.");
    fprintf(f, "casulo_guest_memory_bytes %llu\n", (unsigned long long)st->memory_bytes);
    family(f, "casulo_guest_memory_touched_bytes", "gauge",
           "Guest RAM backed by host memory (pages the guest has touched).");
    fprintf(f, "casulo_guest_memory_touched_bytes %llu\n",
            (unsigned long long)st->memory_touched_bytes);
}

static void vcpu_metrics(FILE *f, const struct api_vm_stats *st)
{
    family(f, "casulo_vcpu_exits_total", "counter",
           "Exits of a vCPU to casulo, by reason (port I/O, MMIO).");
    for (unsigned i = 0; i < st->nr_vcpus; i++) {
        fprintf(f, "casulo_vcpu_exits_total{vcpu=\"%u\",reason=\"io\"} %llu\n", i,
                (unsigned long long)st->vcpus[i].exits_io);
        fprintf(f, "casulo_vcpu_exits_total{vcpu=\"%u\",reason=\"mmio\"} %llu\n", i,
                (unsigned long long)st->vcpus[i].exits_mmio);
    }
    family(f, "casulo_vcpu_run_seconds_total", "counter",
           "CPU time of a vCPU thread: guest code plus exit handling.");
    for (unsigned i = 0; i < st->nr_vcpus; i++)
        if (st->vcpus[i].run_ns_known)
            fprintf(f, "casulo_vcpu_run_seconds_total{vcpu=\"%u\"} %.6f\n", i,
                    (double)st->vcpus[i].run_ns / 1e9);
}

/* Only for a VM with a balloon: a missing family says "no balloon" better than zeros. */
static void balloon_metrics(FILE *f, struct api_ctx *ctx)
{
    struct balloon_info info;
    if (!ctx->ops->balloon_info || ctx->ops->balloon_info(ctx->vm, &info) < 0)
        return;
    family(f, "casulo_balloon_target_bytes", "gauge", "Memory the balloon should take from the guest.");
    fprintf(f, "casulo_balloon_target_bytes %llu\n", (unsigned long long)info.target_bytes);
    family(f, "casulo_balloon_actual_bytes", "gauge", "Memory the guest has put in the balloon.");
    fprintf(f, "casulo_balloon_actual_bytes %llu\n", (unsigned long long)info.actual_bytes);
    family(f, "casulo_balloon_inflated_bytes_total", "counter",
           "Guest memory handed to the balloon and freed on the host.");
    fprintf(f, "casulo_balloon_inflated_bytes_total %llu\n",
            (unsigned long long)info.inflated_pages << BALLOON_PAGE_SHIFT);
    family(f, "casulo_balloon_deflated_bytes_total", "counter",
           "Guest memory the guest took back from the balloon.");
    fprintf(f, "casulo_balloon_deflated_bytes_total %llu\n",
            (unsigned long long)info.deflated_pages << BALLOON_PAGE_SHIFT);
    family(f, "casulo_balloon_reported_bytes_total", "counter",
           "Guest memory freed on the host through free page reporting.");
    fprintf(f, "casulo_balloon_reported_bytes_total %llu\n",
            (unsigned long long)info.reported_bytes);
}

/* A label value: backslash, double quote and newline escaped as the format requires. */
static void label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

/* One counter family over every device op: `field` picks the counter. */
static void device_family(FILE *f, const struct api_vm_stats *st, const char *name,
                          const char *help, size_t field)
{
    family(f, name, "counter", help);
    for (unsigned d = 0; d < st->nr_devices; d++) {
        const struct api_device_stats *dev = &st->devices[d];
        for (unsigned o = 0; o < dev->nr_ops && o < API_DEVICE_MAX_OPS; o++) {
            const uint64_t *v = (const uint64_t *)((const char *)&dev->ops[o] + field);
            fprintf(f, "%s{device=\"", name);
            label_value(f, dev->name);
            fprintf(f, "\",kind=\"%s\",op=\"%s\"} %llu\n", dev->kind, dev->ops[o].op,
                    (unsigned long long)*v);
        }
    }
}

char *api_action_metrics(struct api_ctx *ctx)
{
    struct api_vm_stats st = { 0 };
    if (ctx->ops->stats(ctx->vm, &st) < 0) {
        api_vm_stats_free(&st);   /* what was filled before the failure */
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        api_vm_stats_free(&st);
        return NULL;
    }
    vm_metrics(f, ctx, &st);
    vcpu_metrics(f, &st);
    balloon_metrics(f, ctx);
    device_family(f, &st, "casulo_device_requests_total", "Requests (packets, I/O requests) a device handled.",
                  offsetof(struct api_device_op_stats, requests));
    device_family(f, &st, "casulo_device_bytes_total", "Bytes a device moved.",
                  offsetof(struct api_device_op_stats, bytes));
    device_family(f, &st, "casulo_device_errors_total", "Requests that failed (malformed or I/O error).",
                  offsetof(struct api_device_op_stats, errors));
    device_family(f, &st, "casulo_device_dropped_total", "Requests dropped (no room, too big).",
                  offsetof(struct api_device_op_stats, dropped));
    api_vm_stats_free(&st);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
