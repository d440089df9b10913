// SPDX-License-Identifier: Apache-2.0
/*
 * The stats sampler: a thread that every MGR_STATS_PERIOD_MS asks the loop
 * for the VMs with a process, reads /proc/PID and each VMM's GET /metrics
 * (without holding anything, so a slow VMM delays only the sampler), and
 * hands the figures back to the loop, which keeps them in each VM's ring.
 */
#include "manager/manager.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/vm_config.h"
#include "manager/accounting.h"
#include "manager/prom.h"
#include "manager/vmm_client.h"

#define METRICS_TIMEOUT_MS 1000

struct mgr_sampler {
    pthread_t thread;
    int stop_fd;
};

void mgr_stats_push(struct mgr_stats *s, const struct mgr_stats_sample *x)
{
    s->ring[s->head] = *x;
    s->head = (s->head + 1) % MGR_STATS_HISTORY;
    if (s->count < MGR_STATS_HISTORY)
        s->count++;
}

const struct mgr_stats_sample *mgr_stats_latest(const struct mgr_stats *s)
{
    if (!s->count)
        return NULL;
    return &s->ring[(s->head + MGR_STATS_HISTORY - 1) % MGR_STATS_HISTORY];
}

json_t *mgr_stats_sample_json(const struct mgr_stats_sample *x)
{
    return json_pack("{s:I, s:f, s:I, s:f, s:I, s:I, s:I, s:I}",
                     "t_ms", (json_int_t)x->t_ms,
                     "cpu_percent", x->cpu_percent,
                     "rss_bytes", (json_int_t)x->rss_bytes,
                     "vcpu_seconds", x->vcpu_seconds,
                     "disk_read_bytes", (json_int_t)x->disk_read_bytes,
                     "disk_write_bytes", (json_int_t)x->disk_write_bytes,
                     "net_rx_bytes", (json_int_t)x->net_rx_bytes,
                     "net_tx_bytes", (json_int_t)x->net_tx_bytes);
}

json_t *mgr_stats_history_json(const struct mgr_stats *s)
{
    json_t *a = json_array();
    unsigned first = (s->head + MGR_STATS_HISTORY - s->count) % MGR_STATS_HISTORY;
    for (unsigned i = 0; i < s->count; i++)
        json_array_append_new(a, mgr_stats_sample_json(&s->ring[(first + i) % MGR_STATS_HISTORY]));
    return a;
}

struct target {
    char name[MGR_NAME_MAX + 1];
    pid_t pid;
    char api[VM_CONFIG_API_SOCKET_MAX];
    struct mgr_stats_sample sample;
    uint64_t ticks;
    uint64_t ns;
    bool ok;
};

struct batch {
    struct target *t;
    size_t n;
};

static void collect_targets(struct mgr *m, void *arg)
{
    struct batch *b = arg;
    size_t n = 0;
    for (struct mgr_vm *vm = m->vms; vm; vm = vm->next)
        n += mgr_vm_has_process(vm);
    b->t = n ? calloc(n, sizeof(*b->t)) : NULL;
    b->n = 0;
    if (!b->t)
        return;
    for (struct mgr_vm *vm = m->vms; vm && b->n < n; vm = vm->next) {
        if (!mgr_vm_has_process(vm))
            continue;
        struct target *t = &b->t[b->n++];
        snprintf(t->name, sizeof(t->name), "%s", vm->name);
        t->pid = vm->pid;
        mgr_vm_path(m, vm->name, "api.sock", t->api, sizeof(t->api));
    }
}

static void store_samples(struct mgr *m, void *arg)
{
    struct batch *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        struct target *t = &b->t[i];
        struct mgr_vm *vm = t->ok ? mgr_vm_find(m, t->name) : NULL;
        if (!vm || vm->pid != t->pid)
            continue;   /* gone or restarted meanwhile */
        struct mgr_stats *s = &vm->stats;
        if (s->prev_ns && t->ns > s->prev_ns && t->ticks >= s->prev_ticks)
            t->sample.cpu_percent = mgr_cpu_percent(t->ticks - s->prev_ticks, t->ns - s->prev_ns,
                                                    m->clk_tck);
        s->prev_ticks = t->ticks;
        s->prev_ns = t->ns;
        mgr_stats_push(s, &t->sample);
    }
}

static void sample_one(struct target *t)
{
    struct mgr_proc_sample ps;
    if (mgr_proc_sample(t->pid, &ps) < 0)
        return;
    struct timespec mono, real;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    t->ns = (uint64_t)mono.tv_sec * 1000000000ULL + (uint64_t)mono.tv_nsec;
    t->ticks = ps.cpu_ticks;
    t->sample.t_ms = (int64_t)real.tv_sec * 1000 + real.tv_nsec / 1000000;
    t->sample.rss_bytes = ps.rss_bytes;
    t->ok = true;
    struct mgr_vmm_reply reply;
    char err[MGR_ERR_MAX];
    if (mgr_vmm_request(t->api, "GET", "/metrics", NULL, METRICS_TIMEOUT_MS, &reply, err,
                        sizeof(err)) < 0)
        return;
    if (reply.status == 200 && reply.body) {
        struct mgr_vmm_metrics vmm;
        mgr_prom_parse(reply.body, &vmm);
        t->sample.vcpu_seconds = vmm.vcpu_seconds;
        t->sample.disk_read_bytes = vmm.disk_read_bytes;
        t->sample.disk_write_bytes = vmm.disk_write_bytes;
        t->sample.net_rx_bytes = vmm.net_rx_bytes;
        t->sample.net_tx_bytes = vmm.net_tx_bytes;
    }
    mgr_vmm_reply_free(&reply);
}

static void *sampler_main(void *arg)
{
    struct mgr *m = arg;
    struct pollfd p = { .fd = m->sampler->stop_fd, .events = POLLIN };
    for (;;) {
        int n = poll(&p, 1, MGR_STATS_PERIOD_MS);
        if (n > 0)
            break;
        struct batch b = { 0 };
        mgr_call(m, collect_targets, &b);
        for (size_t i = 0; i < b.n; i++)
            sample_one(&b.t[i]);
        if (b.n)
            mgr_call(m, store_samples, &b);
        free(b.t);
    }
    return NULL;
}

int mgr_sampler_start(struct mgr *m)
{
    struct mgr_sampler *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (s->stop_fd < 0) {
        int e = errno;
        free(s);
        return -e;
    }
    m->sampler = s;
    int ret = -pthread_create(&s->thread, NULL, sampler_main, m);
    if (ret) {
        close(s->stop_fd);
        free(s);
        m->sampler = NULL;
        return ret;
    }
    pthread_setname_np(s->thread, "sampler");
    return 0;
}

void mgr_sampler_stop(struct mgr *m)
{
    struct mgr_sampler *s = m->sampler;
    if (!s)
        return;
    uint64_t one = 1;
    ssize_t w = write(s->stop_fd, &one, sizeof(one));
    (void)w;
    pthread_join(s->thread, NULL);
    close(s->stop_fd);
    free(s);
    m->sampler = NULL;
}
