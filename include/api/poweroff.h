/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hard stop that follows a graceful power-off: after the ACPI power
 * button is pressed, a small timer thread waits for the deadline and stops
 * the VM if it is still up. The request that armed it has long been
 * answered (202), so no HTTP request ever waits for the guest.
 */
#ifndef CASULO_API_POWEROFF_H
#define CASULO_API_POWEROFF_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "api/api_vm.h"
#include "util/compiler.h"

struct api_poweroff {
    const struct api_vm_ops *ops;
    void *vm;
    pthread_mutex_t lock;
    pthread_cond_t cond;          /* CLOCK_MONOTONIC */
    pthread_t thread;
    bool thread_started;
    bool armed;
    bool quit;
    struct timespec deadline;     /* CLOCK_MONOTONIC */
    unsigned timeout_s;           /* of the earliest pending deadline, for the stop message */
    unsigned fired;               /* hard stops done (tests) */
};

int api_poweroff_init(struct api_poweroff *p, const struct api_vm_ops *ops, void *vm) MUST_CHECK;
/* Joins the timer thread; a pending deadline is dropped. */
void api_poweroff_destroy(struct api_poweroff *p);
/* Arms (or keeps the earlier of) the deadline timeout_s seconds from now. */
void api_poweroff_arm(struct api_poweroff *p, unsigned timeout_s);
unsigned api_poweroff_fired(struct api_poweroff *p);

#endif
