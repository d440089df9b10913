// SPDX-License-Identifier: Apache-2.0
/*
 * The source side's bookkeeping (include/migration/migration.h): starting
 * the migration thread, the progress GET /migrate reads, cancelling, and the
 * auto-converge throttle thread. The pre-copy itself is in send.c.
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/vcpu.h"
#include "core/vm.h"
#include "migration/sock.h"

uint64_t mig_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *mig_status_name(enum mig_status s)
{
    switch (s) {
    case MIG_NONE:
        return "none";
    case MIG_ACTIVE:
        return "active";
    case MIG_COMPLETED:
        return "completed";
    case MIG_FAILED:
        return "failed";
    case MIG_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

static void join_finished(struct mig_source *s)
{
    if (s->thread_started) {
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
}

int mig_source_start(struct vm *vm, const struct mig_params *p, char *err, size_t errlen)
{
    struct mig_addr addr;
    int ret = mig_parse_url(p->url, &addr, err, errlen);
    if (ret)
        return ret;
    if (p->max_downtime_ms > MIG_MAX_DOWNTIME_LIMIT_MS || p->bandwidth_mib_s > MIG_BANDWIDTH_LIMIT_MIB_S ||
        p->timeout_s > MIG_TIMEOUT_LIMIT_S) {
        snprintf(err, errlen, "max_downtime_ms must be at most %u, bandwidth_mib_s at most %u and "
                 "timeout_s at most %u", MIG_MAX_DOWNTIME_LIMIT_MS, MIG_BANDWIDTH_LIMIT_MIB_S,
                 MIG_TIMEOUT_LIMIT_S);
        return -EINVAL;
    }
    if (atomic_load(&vm->stopping)) {
        snprintf(err, errlen, "the VM is stopping");
        return -ESHUTDOWN;
    }
    if (vm_is_paused(vm)) {
        snprintf(err, errlen, "the VM is paused: resume it before migrating");
        return -EBUSY;
    }
    struct mig_source *s = vm->migration;
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        pthread_mutex_init(&s->lock, NULL);
        s->vm = vm;
        vm->migration = s;
    }
    pthread_mutex_lock(&s->lock);
    bool active = s->info.status == MIG_ACTIVE;
    pthread_mutex_unlock(&s->lock);
    if (active) {
        snprintf(err, errlen, "a migration is already in progress (DELETE /migrate cancels it)");
        return -EBUSY;
    }
    join_finished(s);
    pthread_mutex_lock(&s->lock);
    memset(&s->info, 0, sizeof(s->info));
    s->info.status = MIG_ACTIVE;
    s->info.params = *p;
    if (!s->info.params.max_downtime_ms)
        s->info.params.max_downtime_ms = MIG_DEFAULT_MAX_DOWNTIME_MS;
    snprintf(s->info.phase, sizeof(s->info.phase), "connecting");
    s->info.converging = true;
    s->started_ns = mig_now_ns();
    pthread_mutex_unlock(&s->lock);
    __atomic_store_n(&s->cancel, false, __ATOMIC_RELEASE);
    __atomic_store_n(&s->final_seen, false, __ATOMIC_RELEASE);
    ret = pthread_create(&s->thread, NULL, mig_send_thread, s);
    if (ret) {
        pthread_mutex_lock(&s->lock);
        s->info.status = MIG_FAILED;
        snprintf(s->info.error, sizeof(s->info.error), "cannot start the migration thread: %s",
                 strerror(ret));
        pthread_mutex_unlock(&s->lock);
        snprintf(err, errlen, "cannot start the migration thread: %s", strerror(ret));
        return -ret;
    }
    s->thread_started = true;
    pthread_setname_np(s->thread, "migrate");
    return 0;
}

void mig_source_info(struct vm *vm, struct mig_info *out)
{
    struct mig_source *s = vm->migration;
    if (!s) {
        memset(out, 0, sizeof(*out));
        out->status = MIG_NONE;
        return;
    }
    pthread_mutex_lock(&s->lock);
    *out = s->info;
    if (out->status == MIG_ACTIVE)
        out->elapsed_ms = (mig_now_ns() - s->started_ns) / 1000000;
    else
        out->elapsed_ms = s->info.elapsed_ms;
    pthread_mutex_unlock(&s->lock);
    if (out->status != MIG_ACTIVE)
        __atomic_store_n(&s->final_seen, true, __ATOMIC_RELEASE);
}

int mig_source_cancel(struct vm *vm, char *err, size_t errlen)
{
    struct mig_source *s = vm->migration;
    bool active = false;
    if (s) {
        pthread_mutex_lock(&s->lock);
        active = s->info.status == MIG_ACTIVE;
        pthread_mutex_unlock(&s->lock);
    }
    if (!active) {
        snprintf(err, errlen, "no migration is in progress");
        return -EALREADY;
    }
    __atomic_store_n(&s->cancel, true, __ATOMIC_RELEASE);
    return 0;
}

bool mig_source_active(struct vm *vm)
{
    struct mig_source *s = vm->migration;
    if (!s)
        return false;
    pthread_mutex_lock(&s->lock);
    bool active = s->info.status == MIG_ACTIVE;
    pthread_mutex_unlock(&s->lock);
    return active;
}

int mig_source_before_resume(struct vm *vm, char *err, size_t errlen)
{
    struct mig_source *s = vm->migration;
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    int ret = 0;
    if (s->disks_released) {
        ret = mig_disks_set_locked(vm, true, err, errlen);
        if (!ret)
            s->disks_released = false;
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

void mig_source_destroy(struct vm *vm)
{
    struct mig_source *s = vm->migration;
    if (!s)
        return;
    __atomic_store_n(&s->cancel, true, __ATOMIC_RELEASE);
    join_finished(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
    vm->migration = NULL;
}

/* ---- auto-converge ---- */

static void *throttle_thread(void *arg)
{
    struct mig_source *s = arg;
    struct vm *vm = s->vm;
    const struct timespec slice = { 0, (long)VM_THROTTLE_SLICE_NS };
    while (!__atomic_load_n(&s->throttle_stop, __ATOMIC_ACQUIRE)) {
        nanosleep(&slice, NULL);
        if (atomic_load(&vm->throttle_percent) && !atomic_load(&vm->pause_requested))
            for (unsigned i = 0; i < vm->nr_vcpus; i++)
                vcpu_kick(&vm->vcpus[i]);
    }
    return NULL;
}

int mig_throttle_set(struct mig_source *s, unsigned percent)
{
    atomic_store(&s->vm->throttle_percent, percent);
    if (!percent || s->throttle_started)
        return 0;
    __atomic_store_n(&s->throttle_stop, false, __ATOMIC_RELEASE);
    int ret = pthread_create(&s->throttle_thread, NULL, throttle_thread, s);
    if (ret) {
        atomic_store(&s->vm->throttle_percent, 0);
        return -ret;
    }
    s->throttle_started = true;
    pthread_setname_np(s->throttle_thread, "mig-throttle");
    return 0;
}

void mig_throttle_stop(struct mig_source *s)
{
    atomic_store(&s->vm->throttle_percent, 0);
    if (!s->throttle_started)
        return;
    __atomic_store_n(&s->throttle_stop, true, __ATOMIC_RELEASE);
    pthread_join(s->throttle_thread, NULL);
    s->throttle_started = false;
}
