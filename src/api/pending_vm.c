// SPDX-License-Identifier: Apache-2.0
/*
 * api_vm_ops_pending: the API's view of a VM that waits for PUT /vm/start
 * (include/api/pending_vm.h). Before the start it answers from the pending
 * configuration; after it every call is passed to api_vm_ops_kvm under
 * vm_lock's read side, so the main thread can take the VM away (write side)
 * before destroying it.
 */
#include "api/pending_vm.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cli/config_file.h"
#include "core/vm.h"
#include "virtio/balloon.h"

int api_pending_vm_init(struct api_pending_vm *p, struct run_options *opts)
{
    *p = (struct api_pending_vm){ .opts = opts };
    p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->wake_fd < 0)
        return -errno;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->answered, NULL);
    pthread_rwlock_init(&p->vm_lock, NULL);
    return 0;
}

void api_pending_vm_destroy(struct api_pending_vm *p)
{
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    p->wake_fd = -1;
    pthread_rwlock_destroy(&p->vm_lock);
    pthread_cond_destroy(&p->answered);
    pthread_mutex_destroy(&p->lock);
}

static void wake_main(struct api_pending_vm *p)
{
    uint64_t one = 1;
    ssize_t w = write(p->wake_fd, &one, sizeof(one));
    (void)w;   /* the counter is already non-zero: the main thread is woken anyway */
}

/* Returns the attached VM with vm_lock read-held; the caller calls put_vm. */
static struct vm *get_vm(struct api_pending_vm *p)
{
    pthread_rwlock_rdlock(&p->vm_lock);
    return p->vm;
}

static void put_vm(struct api_pending_vm *p)
{
    pthread_rwlock_unlock(&p->vm_lock);
}

/* The VM stops only to be built again (--on-reboot restart): to a client it keeps running. */
static bool restarting(struct api_pending_vm *p, struct vm *vm)
{
    return atomic_load(&vm->stopping) && vm->exit_reason == VM_EXIT_REBOOT &&
           p->opts->cfg.on_reboot == REBOOT_RESTART && !atomic_load(&vm->stop_signal_seen);
}

static enum api_vm_state pending_state(void *opaque)
{
    struct api_pending_vm *p = opaque;
    pthread_mutex_lock(&p->lock);
    bool started = p->started, stopping = p->stop_requested;
    pthread_mutex_unlock(&p->lock);
    if (!started)
        return stopping ? API_VM_STOPPING : API_VM_NOT_STARTED;
    if (stopping)
        return API_VM_STOPPING;
    /* Between two VMs of a restart there is none; it still counts as running. */
    struct vm *vm = get_vm(p);
    enum api_vm_state s = vm && !restarting(p, vm) ? api_vm_ops_kvm.state(vm) : API_VM_RUNNING;
    put_vm(p);
    return s;
}

static int pending_snapshot(void *opaque, const char *dir, char *err, size_t errlen)
{
    struct api_pending_vm *p = opaque;
    struct vm *vm = get_vm(p);
    int ret = -EBUSY;
    if (vm)
        ret = api_vm_ops_kvm.snapshot(vm, dir, err, errlen);
    else
        snprintf(err, errlen, "the VM is not running");
    put_vm(p);
    return ret;
}

/* Calls `fn` on the attached VM, or returns `none` when there is none. */
#define PENDING_CALL(p, none, call)                                                            \
    ({                                                                                         \
        struct vm *vm_ = get_vm(p);                                                            \
        __typeof__(none) r_ = vm_ ? api_vm_ops_kvm.call : (none);                              \
        put_vm(p);                                                                             \
        r_;                                                                                    \
    })

/* No VM here means one being rebuilt after a reboot: "the VM is stopping" (409) for now. */
static int pending_pause(void *opaque)
{
    struct api_pending_vm *p = opaque;
    return PENDING_CALL(p, -ESHUTDOWN, pause(vm_));
}

static int pending_resume(void *opaque)
{
    struct api_pending_vm *p = opaque;
    return PENDING_CALL(p, -ESHUTDOWN, resume(vm_));
}

static void pending_stop(void *opaque, const char *detail)
{
    struct api_pending_vm *p = opaque;
    pthread_mutex_lock(&p->lock);
    p->stop_requested = true;
    /* Before the start the main thread exits at once: it is woken once the answer is out. */
    if (!p->started)
        p->stop_unannounced = true;
    pthread_mutex_unlock(&p->lock);
    struct vm *vm = get_vm(p);
    if (vm)
        api_vm_ops_kvm.stop(vm, detail);
    put_vm(p);
}

static void pending_request_done(void *opaque)
{
    struct api_pending_vm *p = opaque;
    pthread_mutex_lock(&p->lock);
    bool wake = p->stop_unannounced;
    p->stop_unannounced = false;
    pthread_mutex_unlock(&p->lock);
    if (wake)
        wake_main(p);
}

static int pending_power_button(void *opaque)
{
    struct api_pending_vm *p = opaque;
    return PENDING_CALL(p, -ENODEV, power_button(vm_));
}

static uint64_t pending_uptime_ns(void *opaque)
{
    struct api_pending_vm *p = opaque;
    return PENDING_CALL(p, (uint64_t)0, uptime_ns(vm_));
}

/* The VM is built from this same configuration, so it is the answer before and after. */
static const struct vm_config *pending_config(void *opaque)
{
    struct api_pending_vm *p = opaque;
    return &p->opts->cfg;
}

static int pending_stats(void *opaque, struct api_vm_stats *out)
{
    struct api_pending_vm *p = opaque;
    struct vm *vm = get_vm(p);
    int ret = 0;
    if (vm)
        ret = api_vm_ops_kvm.stats(vm, out);
    else
        *out = (struct api_vm_stats){ .memory_bytes = p->opts->cfg.memory };
    put_vm(p);
    return ret;
}

static int pending_balloon_info(void *opaque, struct balloon_info *out)
{
    struct api_pending_vm *p = opaque;
    return PENDING_CALL(p, -ENODEV, balloon_info(vm_, out));
}

static int pending_balloon_set_target(void *opaque, uint64_t bytes)
{
    struct api_pending_vm *p = opaque;
    return PENDING_CALL(p, -ENODEV, balloon_set_target(vm_, bytes));
}

static int pending_balloon_set_stats_interval(void *opaque, unsigned seconds)
{
    struct api_pending_vm *p = opaque;
    return PENDING_CALL(p, -ENODEV, balloon_set_stats_interval(vm_, seconds));
}

/* Why the pending configuration cannot change or start now; 0 when it can. Lock held. */
static int not_pending(struct api_pending_vm *p, char *err, size_t errlen)
{
    if (p->started) {
        snprintf(err, errlen, "the VM has already started");
        return -EALREADY;
    }
    if (p->stop_requested) {
        snprintf(err, errlen, "the VM is stopping");
        return -ESHUTDOWN;
    }
    if (p->start_waiting) {
        snprintf(err, errlen, "the VM is starting");
        return -EBUSY;
    }
    return 0;
}

static int pending_configure(void *opaque, const char *body, size_t len, char *err, size_t errlen)
{
    struct api_pending_vm *p = opaque;
    pthread_mutex_lock(&p->lock);
    int ret = not_pending(p, err, errlen);
    pthread_mutex_unlock(&p->lock);
    /*
     * Outside the lock: the main thread reads the configuration only during
     * a start, and starts are requested from this same (single) API thread.
     */
    if (!ret)
        ret = config_file_merge("request body", body, len, p->opts, err, errlen);
    return ret;
}

static int pending_start(void *opaque, char *err, size_t errlen)
{
    struct api_pending_vm *p = opaque;
    pthread_mutex_lock(&p->lock);
    int ret = not_pending(p, err, errlen);
    if (ret) {
        pthread_mutex_unlock(&p->lock);
        return ret;
    }
    p->start_waiting = true;
    p->start_done = false;
    wake_main(p);
    while (!p->start_done)
        pthread_cond_wait(&p->answered, &p->lock);
    p->start_waiting = false;
    ret = p->start_ret;
    if (ret)
        snprintf(err, errlen, "%s", p->start_err);
    pthread_mutex_unlock(&p->lock);
    return ret;
}

const struct api_vm_ops api_vm_ops_pending = {
    .state = pending_state,
    .snapshot = pending_snapshot,
    .pause = pending_pause,
    .resume = pending_resume,
    .stop = pending_stop,
    .power_button = pending_power_button,
    .uptime_ns = pending_uptime_ns,
    .config = pending_config,
    .stats = pending_stats,
    .balloon_info = pending_balloon_info,
    .balloon_set_target = pending_balloon_set_target,
    .balloon_set_stats_interval = pending_balloon_set_stats_interval,
    .configure = pending_configure,
    .start = pending_start,
    .request_done = pending_request_done,
};

enum api_pending_request api_pending_vm_take(struct api_pending_vm *p)
{
    uint64_t v;
    ssize_t r = read(p->wake_fd, &v, sizeof(v));
    (void)r;   /* EAGAIN: nothing new; the flags below are the truth */
    pthread_mutex_lock(&p->lock);
    enum api_pending_request req = API_PENDING_NONE;
    if (p->stop_requested && !p->started && !p->stop_unannounced)
        req = API_PENDING_STOP;
    else if (p->start_waiting && !p->start_done)
        req = API_PENDING_START;
    pthread_mutex_unlock(&p->lock);
    return req;
}

/* Lock held. */
static void answer(struct api_pending_vm *p, int ret, const char *err)
{
    p->start_ret = ret;
    snprintf(p->start_err, sizeof(p->start_err), "%s", err ? err : "");
    p->start_done = true;
    pthread_cond_broadcast(&p->answered);
}

void api_pending_vm_start_failed(struct api_pending_vm *p, int ret, const char *err)
{
    pthread_mutex_lock(&p->lock);
    if (p->start_waiting && !p->start_done)
        answer(p, ret < 0 ? ret : -EIO, err);
    pthread_mutex_unlock(&p->lock);
}

void api_pending_vm_started(struct api_pending_vm *p, struct vm *vm)
{
    api_pending_vm_attach(p, vm);
    pthread_mutex_lock(&p->lock);
    p->started = true;
    if (p->start_waiting && !p->start_done)
        answer(p, 0, NULL);
    pthread_mutex_unlock(&p->lock);
}

void api_pending_vm_detach(struct api_pending_vm *p)
{
    pthread_rwlock_wrlock(&p->vm_lock);
    p->vm = NULL;
    pthread_rwlock_unlock(&p->vm_lock);
}

void api_pending_vm_attach(struct api_pending_vm *p, struct vm *vm)
{
    pthread_rwlock_wrlock(&p->vm_lock);
    p->vm = vm;
    pthread_rwlock_unlock(&p->vm_lock);
}

bool api_pending_vm_stop_requested(struct api_pending_vm *p)
{
    pthread_mutex_lock(&p->lock);
    bool stop = p->stop_requested;
    pthread_mutex_unlock(&p->lock);
    return stop;
}

void api_pending_vm_shutdown(struct api_pending_vm *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop_requested = true;
    if (p->start_waiting && !p->start_done)
        answer(p, -ESHUTDOWN, "casulo is exiting");
    pthread_mutex_unlock(&p->lock);
}
