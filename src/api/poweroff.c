// SPDX-License-Identifier: Apache-2.0
/*
 * The power-off watchdog: one thread per API server that sleeps until a
 * deadline is armed, then until it passes, and hard-stops the VM if the
 * guest has not powered off by then. A thread rather than a timer on the
 * HTTP thread because libmicrohttpd's loop has no timers of its own.
 */
#include "api/poweroff.h"

#include <errno.h>
#include <stdio.h>

static void deadline_after(struct timespec *ts, unsigned seconds)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += seconds;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *poweroff_thread(void *arg)
{
    struct api_poweroff *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->quit) {
        if (!p->armed) {
            pthread_cond_wait(&p->cond, &p->lock);
            continue;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (before(&now, &p->deadline)) {
            pthread_cond_timedwait(&p->cond, &p->lock, &p->deadline);
            continue;
        }
        p->armed = false;
        unsigned timeout = p->timeout_s;
        pthread_mutex_unlock(&p->lock);
        if (p->ops->state(p->vm) != API_VM_STOPPING) {
            char detail[128];
            snprintf(detail, sizeof(detail),
                     "stopped through the API: the guest did not power off within %u s of the ACPI power button",
                     timeout);
            p->ops->stop(p->vm, detail);
        }
        pthread_mutex_lock(&p->lock);
        p->fired++;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int api_poweroff_init(struct api_poweroff *p, const struct api_vm_ops *ops, void *vm)
{
    *p = (struct api_poweroff){ .ops = ops, .vm = vm };
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err)
        return -err;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    err = pthread_cond_init(&p->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (err)
        return -err;
    err = pthread_mutex_init(&p->lock, NULL);
    if (err)
        goto err_cond;
    err = pthread_create(&p->thread, NULL, poweroff_thread, p);
    if (err)
        goto err_lock;
    pthread_setname_np(p->thread, "api-poweroff");
    p->thread_started = true;
    return 0;
err_lock:
    pthread_mutex_destroy(&p->lock);
err_cond:
    pthread_cond_destroy(&p->cond);
    return -err;
}

void api_poweroff_destroy(struct api_poweroff *p)
{
    if (!p->thread_started)
        return;
    pthread_mutex_lock(&p->lock);
    p->quit = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    p->thread_started = false;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
}

void api_poweroff_arm(struct api_poweroff *p, unsigned timeout_s)
{
    struct timespec deadline;
    deadline_after(&deadline, timeout_s);
    pthread_mutex_lock(&p->lock);
    /* A second press must not give a guest that ignores the button more time. */
    if (!p->armed || before(&deadline, &p->deadline)) {
        p->deadline = deadline;
        p->timeout_s = timeout_s;
    }
    p->armed = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

unsigned api_poweroff_fired(struct api_poweroff *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->fired;
    pthread_mutex_unlock(&p->lock);
    return n;
}
