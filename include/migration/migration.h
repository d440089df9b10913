/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live migration of a running VM to another casulo process (docs/migration.md).
 * Source: mig_source_start() runs pre-copy on a thread of its own, and
 * GET/DELETE /migrate read and cancel it; the process exits once the
 * destination says it runs the VM. Destination: `casulo run --incoming
 * tcp:ADDR:PORT` builds the VM without booting it and mig_incoming() fills
 * it from one connection.
 */
#ifndef CASULO_MIGRATION_MIGRATION_H
#define CASULO_MIGRATION_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct vm;

#define MIG_DEFAULT_MAX_DOWNTIME_MS 300
#define MIG_MAX_DOWNTIME_LIMIT_MS 600000
#define MIG_BANDWIDTH_LIMIT_MIB_S 1048576
#define MIG_TIMEOUT_LIMIT_S 86400

struct mig_params {
    char url[256];              /* tcp:HOST:PORT */
    uint32_t max_downtime_ms;   /* 0: MIG_DEFAULT_MAX_DOWNTIME_MS */
    uint32_t bandwidth_mib_s;   /* 0: unlimited */
    bool auto_converge;         /* throttle the vCPUs when the guest dirties too fast */
    uint32_t timeout_s;         /* 0: keep trying until cancelled */
    bool no_compress;           /* don't offer zstd page batches (default: offer them) */
};

enum mig_status { MIG_NONE = 0, MIG_ACTIVE, MIG_COMPLETED, MIG_FAILED, MIG_CANCELLED };

const char *mig_status_name(enum mig_status s);

/* A consistent copy of a migration's progress (GET /migrate). */
struct mig_info {
    enum mig_status status;
    char phase[16];             /* connecting, precopy, switchover, done */
    struct mig_params params;
    uint32_t iteration;
    uint64_t bytes_sent, bytes_remaining;
    uint64_t pages_sent, zero_pages;
    bool compressing;           /* the destination took zstd page batches */
    uint64_t page_bytes;        /* data pages sent, before compression */
    uint64_t page_wire_bytes;   /* what they took on the wire (payload) */
    double dirty_rate_mib_s, bandwidth_mib_s;
    uint64_t expected_downtime_ms;
    bool converging;
    unsigned throttle_percent;
    uint64_t downtime_ms, total_ms;   /* measured, once completed */
    uint64_t elapsed_ms;
    char error[400];
};

/*
 * Starts migrating a running VM: -EBUSY when a migration is active,
 * -EALREADY/-ESHUTDOWN when the VM is paused or stopping, -EINVAL for a
 * bad address. Returns once the thread runs; progress is in mig_source_info.
 */
int mig_source_start(struct vm *vm, const struct mig_params *p, char *err, size_t errlen) MUST_CHECK;
void mig_source_info(struct vm *vm, struct mig_info *out);
/* Cancels an active migration (-EALREADY when none); the VM keeps running. */
int mig_source_cancel(struct vm *vm, char *err, size_t errlen) MUST_CHECK;
/*
 * Whether a migration is active: the API refuses pause and resume then (the
 * migration pauses and resumes the VM itself, and a resume during the
 * switch-over would let the guest change memory already sent).
 */
bool mig_source_active(struct vm *vm);
/*
 * Before the API resumes a VM whose migration ended with an unknown outcome
 * (RUNNING lost after COMMIT): takes the disks' locks back from the
 * destination; -EBUSY with err set while the destination holds one (then it
 * runs the VM, and this one must not).
 */
int mig_source_before_resume(struct vm *vm, char *err, size_t errlen) MUST_CHECK;
/* Cancels, joins and frees; for vm_destroy. */
void mig_source_destroy(struct vm *vm);

/*
 * Read-write disks on shared storage are locked by one VM at a time
 * (src/migration/disks.c): set_locked takes or drops every disk's lock,
 * rolling back on failure; relock retries while another VM still holds one
 * (a destination that is exiting).
 */
int mig_disks_set_locked(struct vm *vm, bool locked, char *err, size_t errlen) MUST_CHECK;
int mig_disks_relock(struct vm *vm, char *err, size_t errlen) MUST_CHECK;

/*
 * Destination, in two steps around vm_create:
 *   mig_incoming_accept   before the VM exists: listens on `url`, takes one
 *                         connection and checks the stream's header against
 *                         cfg (a mismatch is refused with one line, to the
 *                         source too)
 *   mig_incoming_receive  on a VM built for it (cfg->incoming: not booted):
 *                         fills RAM, loads the state, waits for COMMIT and
 *                         confirms; 0 means the caller must now run the VM
 * On any failure the VM must not run; err holds one line and the source is
 * told why. mig_incoming_fail sends a reason of the caller's (vm_create failed).
 */
struct vm_config;
struct mig_incoming;
int mig_incoming_accept(struct mig_incoming **out, const char *url, const struct vm_config *cfg,
                        char *err, size_t errlen) MUST_CHECK;
int mig_incoming_receive(struct mig_incoming *in, struct vm *vm, char *err, size_t errlen) MUST_CHECK;
void mig_incoming_fail(struct mig_incoming *in, const char *why);
void mig_incoming_close(struct mig_incoming *in);

#endif
