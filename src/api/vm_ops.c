// SPDX-License-Identifier: Apache-2.0
/*
 * The API's view of a real struct vm (api_vm_ops_kvm). Everything here reads
 * state the VM already keeps or calls its thread-safe entry points; none of
 * it waits for guest I/O. vCPU CPU time comes from /proc (the thread named
 * "vcpuN"), not from pthread_getcpuclockid(), because a vCPU thread may be
 * joined while a metrics request runs and its pthread_t then dangles.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_vm.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "migration/migration.h"
#include "snapshot/snapshot.h"
#include "devices/acpi_pm.h"
#include "devices/platform_devices.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"

static enum api_vm_state kvm_state(void *opaque)
{
    struct vm *vm = opaque;
    if (atomic_load(&vm->stopping))
        return API_VM_STOPPING;
    return vm_is_paused(vm) ? API_VM_PAUSED : API_VM_RUNNING;
}

static int kvm_snapshot(void *opaque, const char *dir, char *err, size_t errlen)
{
    return snapshot_save(opaque, dir, err, errlen);
}

/* A migration pauses and resumes the VM itself (include/migration/migration.h). */
static int kvm_pause(void *opaque)
{
    return mig_source_active(opaque) ? -EBUSY : vm_pause(opaque);
}

static int kvm_resume(void *opaque)
{
    if (mig_source_active(opaque))
        return -EBUSY;
    char err[200];
    if (mig_source_before_resume(opaque, err, sizeof(err)))
        return -ENOLCK;
    return vm_resume(opaque);
}

static void kvm_stop(void *opaque, const char *detail)
{
    vm_request_stop(opaque, VM_EXIT_API_STOP, "%s", detail);
}

static int kvm_power_button(void *opaque)
{
    struct vm *vm = opaque;
    for (unsigned i = 0; i < vm->nr_devices; i++)
        if (vm->devices[i].ops == &acpi_pm_device && vm->devices[i].state)
            return acpi_pm_press_power_button(vm->devices[i].state) ? 1 : 0;
    return -ENODEV;
}

static uint64_t kvm_uptime_ns(void *opaque)
{
    struct vm *vm = opaque;
    if (!vm->started_at.tv_sec && !vm->started_at.tv_nsec)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = (int64_t)(now.tv_sec - vm->started_at.tv_sec) * 1000000000LL +
                 (now.tv_nsec - vm->started_at.tv_nsec);
    return ns > 0 ? (uint64_t)ns : 0;
}

static const struct vm_config *kvm_config(void *opaque)
{
    struct vm *vm = opaque;
    return vm->cfg;
}

/* The first field of /proc/self/task/TID/schedstat: nanoseconds on a CPU. */
static bool task_cpu_ns(long tid, uint64_t *ns)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fscanf(f, "%" SCNu64, ns) == 1;
    fclose(f);
    return ok;
}

static void vcpu_run_times(struct api_vm_stats *out)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return;
    struct dirent *de;
    while ((de = readdir(dir))) {
        char *end;
        long tid = strtol(de->d_name, &end, 10);
        if (*end || tid <= 0)
            continue;
        char path[64], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", tid);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        bool named = fgets(comm, sizeof(comm), f) != NULL;
        fclose(f);
        unsigned index;
        char extra;
        if (!named || sscanf(comm, "vcpu%u%c", &index, &extra) != 2 || extra != '\n' ||
            index >= out->nr_vcpus)
            continue;
        uint64_t ns;
        if (task_cpu_ns(tid, &ns)) {
            out->vcpus[index].run_ns = ns;
            out->vcpus[index].run_ns_known = true;
        }
    }
    closedir(dir);
}

static void net_device_stats(struct virtio_device *vdev, struct api_device_stats *d)
{
    struct net_stats ns;
    net_dev_get_stats(virtio_pci_dev(vdev), &ns);
    d->kind = "virtio-net";
    d->nr_ops = 2;
    d->ops[0] = (struct api_device_op_stats){ .op = "rx", .requests = ns.rx_packets,
        .bytes = ns.rx_bytes, .errors = ns.rx_errors, .dropped = ns.rx_dropped };
    d->ops[1] = (struct api_device_op_stats){ .op = "tx", .requests = ns.tx_packets,
        .bytes = ns.tx_bytes, .errors = ns.tx_errors, .dropped = ns.tx_dropped };
}

/* GET_ID and malformed requests are left out: the operations an operator watches. */
static void blk_device_stats(struct virtio_device *vdev, struct api_device_stats *d)
{
    static const struct { const char *op; enum vblk_stat_op idx; } ops[] = {
        { "read", VBLK_STAT_READ },
        { "write", VBLK_STAT_WRITE },
        { "flush", VBLK_STAT_FLUSH },
        { "discard", VBLK_STAT_DISCARD },
        { "write_zeroes", VBLK_STAT_WRITE_ZEROES },
    };
    _Static_assert(sizeof(ops) / sizeof(ops[0]) <= API_DEVICE_MAX_OPS, "API_DEVICE_MAX_OPS");
    struct vblk_stats bs;
    vblk_get_stats(virtio_pci_dev(vdev), &bs);
    d->kind = "virtio-blk";
    d->nr_ops = 0;
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        const struct vblk_op_stats *c = &bs.op[ops[i].idx];
        d->ops[d->nr_ops++] = (struct api_device_op_stats){ .op = ops[i].op,
            .requests = c->requests, .bytes = c->bytes, .errors = c->errors };
    }
}

/* "short" counts requests given fewer bytes than asked for (a failing host source). */
static void rng_device_stats(struct virtio_device *vdev, struct api_device_stats *d)
{
    struct virtio_rng_stats rs;
    virtio_rng_get_stats(virtio_pci_dev(vdev), &rs);
    d->kind = "virtio-rng";
    d->nr_ops = 1;
    d->ops[0] = (struct api_device_op_stats){ .op = "fill", .requests = rs.requests,
        .bytes = rs.bytes, .errors = rs.short_fills };
}

/* Counters of the devices that keep them: virtio-net, virtio-blk and virtio-rng. */
static int device_stats(struct vm *vm, struct api_vm_stats *out)
{
    if (!vm->nr_virtio)
        return 0;
    out->devices = calloc(vm->nr_virtio, sizeof(*out->devices));
    if (!out->devices)
        return -ENOMEM;
    for (unsigned i = 0; i < vm->nr_virtio; i++) {
        struct virtio_device *vdev = vm->virtio[i];
        const struct virtio_device_ops *ops = virtio_pci_ops(vdev);
        struct api_device_stats *d = &out->devices[out->nr_devices];
        if (ops == &net_device_ops)
            net_device_stats(vdev, d);
        else if (ops == &vblk_ops)
            blk_device_stats(vdev, d);
        else if (ops == &virtio_rng_ops)
            rng_device_stats(vdev, d);
        else
            continue;
        snprintf(d->name, sizeof(d->name), "%s", virtio_pci_name(vdev));
        out->nr_devices++;
    }
    return 0;
}

static int kvm_stats(void *opaque, struct api_vm_stats *out)
{
    struct vm *vm = opaque;
    *out = (struct api_vm_stats){
        .memory_bytes = vm->mem.ram_size,
        .memory_touched_bytes = guest_mem_resident_bytes(&vm->mem),
    };
    if (vm->nr_vcpus) {
        out->vcpus = calloc(vm->nr_vcpus, sizeof(*out->vcpus));
        if (!out->vcpus)
            return -ENOMEM;
        out->nr_vcpus = vm->nr_vcpus;
    }
    /* Plain loads of counters another thread increments: a metrics read may lag by an exit. */
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        out->vcpus[i].exits_io = __atomic_load_n(&vm->vcpus[i].exits_io, __ATOMIC_RELAXED);
        out->vcpus[i].exits_mmio = __atomic_load_n(&vm->vcpus[i].exits_mmio, __ATOMIC_RELAXED);
    }
    vcpu_run_times(out);
    return device_stats(vm, out);
}

/*
 * vm->balloon is set while the VM is built and cleared only by vm_destroy,
 * which runs after the API server has stopped, so it needs no lock here.
 */
static int kvm_balloon_info(void *opaque, struct balloon_info *out)
{
    struct vm *vm = opaque;
    if (!vm->balloon)
        return -ENODEV;
    balloon_get_info(vm->balloon, out);
    return 0;
}

static int kvm_balloon_set_target(void *opaque, uint64_t bytes)
{
    struct vm *vm = opaque;
    if (!vm->balloon)
        return -ENODEV;
    if (bytes > vm->mem.ram_size)
        return -EINVAL;
    return balloon_set_target(vm->balloon, bytes);
}

static int kvm_balloon_set_stats_interval(void *opaque, unsigned seconds)
{
    struct vm *vm = opaque;
    if (!vm->balloon)
        return -ENODEV;
    return balloon_set_stats_interval(vm->balloon, seconds);
}

static int kvm_migrate_start(void *opaque, const struct mig_params *p, char *err, size_t errlen)
{
    return mig_source_start(opaque, p, err, errlen);
}

static void kvm_migrate_info(void *opaque, struct mig_info *out)
{
    mig_source_info(opaque, out);
}

static int kvm_migrate_cancel(void *opaque, char *err, size_t errlen)
{
    return mig_source_cancel(opaque, err, errlen);
}

const struct api_vm_ops api_vm_ops_kvm = {
    .state = kvm_state,
    .pause = kvm_pause,
    .snapshot = kvm_snapshot,
    .resume = kvm_resume,
    .stop = kvm_stop,
    .power_button = kvm_power_button,
    .uptime_ns = kvm_uptime_ns,
    .config = kvm_config,
    .stats = kvm_stats,
    .balloon_info = kvm_balloon_info,
    .balloon_set_target = kvm_balloon_set_target,
    .balloon_set_stats_interval = kvm_balloon_set_stats_interval,
    .migrate_start = kvm_migrate_start,
    .migrate_info = kvm_migrate_info,
    .migrate_cancel = kvm_migrate_cancel,
};
