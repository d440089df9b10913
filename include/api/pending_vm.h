/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VM that is configured through the API before it exists (`casulo run
 * --no-start`, or "start": false in the config file). The API server is
 * started on this wrapper, not on a struct vm: until PUT /vm/start it holds
 * only the pending configuration; the main thread builds the VM when asked
 * and attaches it, and from then on every call goes to api_vm_ops_kvm.
 *
 * Threads: PUT /vm/config and PUT /vm/start run on the API thread; the start
 * is handed to the main thread (which owns /dev/kvm work and opens the files
 * the configuration names) through wake_fd, and the request waits for its
 * answer. The pending configuration is changed only by the API thread and
 * only while no start is in progress; the main thread reads it only during
 * one. vm_lock keeps a VM from being destroyed under an API call.
 */
#ifndef CASULO_API_PENDING_VM_H
#define CASULO_API_PENDING_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/api_vm.h"
#include "cli/run_options.h"
#include "util/compiler.h"

struct vm;

struct api_pending_vm {
    struct run_options *opts;     /* the pending configuration; the caller's */
    int wake_fd;                  /* eventfd the main thread polls */
    pthread_mutex_t lock;
    pthread_cond_t answered;      /* start_done became true */
    bool start_waiting;           /* PUT /vm/start waits for the main thread */
    bool start_done;
    int start_ret;
    char start_err[512];
    bool started;                 /* a VM was built (it may have stopped since) */
    bool stop_requested;
    bool stop_unannounced;        /* PUT /vm/stop before the start, its answer not yet sent */
    pthread_rwlock_t vm_lock;     /* read: an API call into vm; write: attach/detach */
    struct vm *vm;                /* NULL before the start and between reboots */
};

/* What the main thread is asked to do next. */
enum api_pending_request { API_PENDING_NONE, API_PENDING_START, API_PENDING_STOP };

int api_pending_vm_init(struct api_pending_vm *p, struct run_options *opts) MUST_CHECK;
void api_pending_vm_destroy(struct api_pending_vm *p);

/* `vm` for api_server_start* is the struct api_pending_vm *. */
extern const struct api_vm_ops api_vm_ops_pending;

/* Main thread, after wake_fd polled readable: which request is waiting. */
enum api_pending_request api_pending_vm_take(struct api_pending_vm *p);

/* Main thread: answers the waiting PUT /vm/start with an error (it stays NotStarted). */
void api_pending_vm_start_failed(struct api_pending_vm *p, int ret, const char *err);

/* Main thread: the VM is built; the waiting PUT /vm/start gets 202. */
void api_pending_vm_started(struct api_pending_vm *p, struct vm *vm);

/* Main thread: before destroying the VM (reboot or exit), waits out API calls into it. */
void api_pending_vm_detach(struct api_pending_vm *p);
/* Main thread: the VM rebuilt after a reboot. */
void api_pending_vm_attach(struct api_pending_vm *p, struct vm *vm);

/* PUT /vm/stop arrived (before the start or between reboots). */
bool api_pending_vm_stop_requested(struct api_pending_vm *p);

/*
 * Main thread, before stopping the API server: casulo is exiting, so a start
 * still waiting is refused (it would otherwise wait forever) and later calls
 * see the VM as stopping.
 */
void api_pending_vm_shutdown(struct api_pending_vm *p);

#endif
