/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake VM behind struct api_vm_ops for the API tests and the fuzzer: it
 * keeps a state machine like the real VM's (pause/resume/stop with the same
 * errnos) and records every call, so tests can check what a request did.
 * Stop may come from the power-off timer thread, hence the lock.
 */
#ifndef CASULO_TESTS_API_FAKE_H
#define CASULO_TESTS_API_FAKE_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_vm.h"
#include "core/vm_config.h"
#include "virtio/balloon.h"

struct fake_vm {
    pthread_mutex_t lock;
    enum api_vm_state state;
    unsigned pause_calls, resume_calls, stop_calls, button_calls;
    char last_snapshot[256];
    int button_result;           /* what power_button returns */
    int stats_result;            /* 0, or -ENOMEM to fail */
    char stop_detail[256];
    struct vm_config cfg;
    struct disk_config disk;
    struct net_config net;
    bool has_balloon;            /* the VM was started with --balloon */
    struct balloon_info balloon; /* what balloon_info reports; set_target writes target_bytes */
    unsigned balloon_set_calls, balloon_interval_calls;
    unsigned balloon_interval_s;
    int balloon_interval_result; /* what set_stats_interval returns when there is a balloon */
};

static enum api_vm_state fake_state(void *opaque)
{
    struct fake_vm *f = opaque;
    pthread_mutex_lock(&f->lock);
    enum api_vm_state s = f->state;
    pthread_mutex_unlock(&f->lock);
    return s;
}

static int fake_pause(void *opaque)
{
    struct fake_vm *f = opaque;
    pthread_mutex_lock(&f->lock);
    f->pause_calls++;
    int ret = f->state == API_VM_STOPPING ? -ESHUTDOWN : f->state == API_VM_PAUSED ? -EALREADY : 0;
    if (!ret)
        f->state = API_VM_PAUSED;
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static int fake_resume(void *opaque)
{
    struct fake_vm *f = opaque;
    pthread_mutex_lock(&f->lock);
    f->resume_calls++;
    int ret = f->state == API_VM_STOPPING ? -ESHUTDOWN : f->state == API_VM_RUNNING ? -EALREADY : 0;
    if (!ret)
        f->state = API_VM_RUNNING;
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static void fake_stop(void *opaque, const char *detail)
{
    struct fake_vm *f = opaque;
    pthread_mutex_lock(&f->lock);
    f->stop_calls++;
    if (f->state != API_VM_STOPPING)
        snprintf(f->stop_detail, sizeof(f->stop_detail), "%s", detail);
    f->state = API_VM_STOPPING;
    pthread_mutex_unlock(&f->lock);
}

static int fake_power_button(void *opaque)
{
    struct fake_vm *f = opaque;
    pthread_mutex_lock(&f->lock);
    f->button_calls++;
    int ret = f->button_result;
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static uint64_t fake_uptime_ns(void *opaque)
{
    return 2500000000ULL;
}

static const struct vm_config *fake_config(void *opaque)
{
    struct fake_vm *f = opaque;
    return &f->cfg;
}

static int fake_stats(void *opaque, struct api_vm_stats *out)
{
    struct fake_vm *f = opaque;
    *out = (struct api_vm_stats){ .memory_bytes = f->cfg.memory, .memory_touched_bytes = 12288 };
    if (f->stats_result)
        return f->stats_result;
    out->vcpus = calloc(2, sizeof(*out->vcpus));
    out->devices = calloc(2, sizeof(*out->devices));
    if (!out->vcpus || !out->devices) {
        api_vm_stats_free(out);
        return -ENOMEM;
    }
    out->nr_vcpus = 2;
    out->vcpus[0] = (struct api_vcpu_stats){ .exits_io = 11, .exits_mmio = 3, .run_ns = 1500000000, .run_ns_known = true };
    out->vcpus[1] = (struct api_vcpu_stats){ .exits_io = 7, .exits_mmio = 0 };
    out->nr_devices = 2;
    struct api_device_stats *d = &out->devices[0];
    snprintf(d->name, sizeof(d->name), "ne\"t0");
    d->kind = "virtio-net";
    d->nr_ops = 2;
    d->ops[0] = (struct api_device_op_stats){ .op = "rx", .requests = 5, .bytes = 640, .errors = 1, .dropped = 2 };
    d->ops[1] = (struct api_device_op_stats){ .op = "tx", .requests = 4, .bytes = 512 };
    /* Five ops, as virtio-blk reports: the last must not be cut off. */
    d = &out->devices[1];
    snprintf(d->name, sizeof(d->name), "blk0");
    d->kind = "virtio-blk";
    d->nr_ops = 5;
    static const char *const blk_ops[] = { "read", "write", "flush", "discard", "write_zeroes" };
    for (unsigned i = 0; i < 5; i++)
        d->ops[i] = (struct api_device_op_stats){ .op = blk_ops[i], .requests = 10 + i,
            .bytes = 4096 * (i + 1), .errors = i };
    return 0;
}

static int fake_snapshot(void *opaque, const char *dir, char *err, size_t errlen)
{
    struct fake_vm *f = opaque;
    pthread_mutex_lock(&f->lock);
    int ret = 0;
    if (f->state != API_VM_PAUSED) {
        snprintf(err, errlen, "the VM must be paused for a snapshot");
        ret = -EALREADY;
    } else if (strcmp(dir, "/nonexistent/dir") == 0) {
        snprintf(err, errlen, "cannot create snapshot directory '%s': No such file or directory", dir);
        ret = -ENOENT;
    } else {
        snprintf(f->last_snapshot, sizeof(f->last_snapshot), "%s", dir);
    }
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static int fake_balloon_info(void *opaque, struct balloon_info *out)
{
    struct fake_vm *f = opaque;
    pthread_mutex_lock(&f->lock);
    int ret = f->has_balloon ? 0 : -ENODEV;
    if (!ret)
        *out = f->balloon;
    pthread_mutex_unlock(&f->lock);
    return ret;
}

/* Like the device: rounds down to 4 KiB pages. */
static int fake_balloon_set_target(void *opaque, uint64_t bytes)
{
    struct fake_vm *f = opaque;
    pthread_mutex_lock(&f->lock);
    f->balloon_set_calls++;
    int ret = f->has_balloon ? 0 : -ENODEV;
    if (!ret)
        f->balloon.target_bytes = bytes & ~(uint64_t)(BALLOON_PAGE_SIZE - 1);
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static int fake_balloon_set_stats_interval(void *opaque, unsigned seconds)
{
    struct fake_vm *f = opaque;
    pthread_mutex_lock(&f->lock);
    f->balloon_interval_calls++;
    int ret = f->has_balloon ? f->balloon_interval_result : -ENODEV;
    if (!ret)
        f->balloon_interval_s = seconds;
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static const struct api_vm_ops fake_vm_ops = {
    .snapshot = fake_snapshot,
    .state = fake_state,
    .pause = fake_pause,
    .resume = fake_resume,
    .stop = fake_stop,
    .power_button = fake_power_button,
    .uptime_ns = fake_uptime_ns,
    .config = fake_config,
    .stats = fake_stats,
    .balloon_info = fake_balloon_info,
    .balloon_set_target = fake_balloon_set_target,
    .balloon_set_stats_interval = fake_balloon_set_stats_interval,
};

/*
 * A running VM with 2 vCPUs, 256 MiB, one read-only disk, one NIC and a
 * balloon whose driver is up and has sent two statistics.
 */
static void fake_vm_init(struct fake_vm *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->state = API_VM_RUNNING;
    f->button_result = 1;
    vm_config_init(&f->cfg);
    f->cfg.kernel_path = (char *)"/images/vmlinux";
    f->cfg.cpus = 2;
    f->cfg.memory = 256ULL << 20;
    f->cfg.console = CONSOLE_OFF;
    snprintf(f->disk.path, sizeof(f->disk.path), "/images/root.img");
    f->disk.readonly = true;
    f->disk.queues = 1;
    snprintf(f->disk.id, sizeof(f->disk.id), "root");
    f->cfg.disks = &f->disk;
    f->cfg.nr_disks = 1;
    snprintf(f->net.tap, sizeof(f->net.tap), "tap7");
    const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    memcpy(f->net.mac, mac, 6);
    f->cfg.nets = &f->net;
    f->cfg.nr_nets = 1;
    f->has_balloon = true;
    f->balloon.active = true;
    f->balloon.stats_enabled = true;
    f->balloon.deflate_on_oom = true;
    f->balloon.stats[BALLOON_S_MEMFREE] = 100ULL << 20;
    f->balloon.stats[BALLOON_S_MEMTOT] = 240ULL << 20;
    f->balloon.stats_valid = (1u << BALLOON_S_MEMFREE) | (1u << BALLOON_S_MEMTOT);
    f->balloon.stats_updated_at = 1700000000123456789ULL;   /* 2023-11-14T22:13:20.123Z */
    f->balloon.inflated_pages = 3;
}

static void fake_vm_destroy(struct fake_vm *f)
{
    pthread_mutex_destroy(&f->lock);
}

#endif
