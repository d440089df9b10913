/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/migration/: the state of the outgoing migration that
 * hangs off struct vm, shared by source.c (API side) and send.c (thread).
 */
#ifndef CASULO_MIGRATION_SOURCE_H
#define CASULO_MIGRATION_SOURCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "migration/migration.h"

struct mig_source {
    struct vm *vm;
    pthread_t thread;
    bool thread_started;        /* owned by the API thread */
    pthread_mutex_t lock;       /* guards info */
    struct mig_info info;
    uint64_t started_ns;
    bool cancel;                /* atomic: DELETE /migrate, or teardown */
    bool final_seen;            /* atomic: a GET /migrate has reported the outcome */
    /*
     * Outcome unknown after COMMIT: the disks' locks went to the destination.
     * A resume must take them back first, which fails while the destination
     * runs the VM: the lock is what keeps two copies from running.
     */
    bool disks_released;        /* guarded by lock */
    pthread_t throttle_thread;  /* owned by the migration thread */
    bool throttle_started;
    bool throttle_stop;         /* atomic */
};

void *mig_send_thread(void *arg);
uint64_t mig_now_ns(void);
/* Sets the vCPU throttle (0 turns it off) and starts the kicking thread when needed. */
int mig_throttle_set(struct mig_source *s, unsigned percent);
void mig_throttle_stop(struct mig_source *s);

#endif
