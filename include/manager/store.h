/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's SQLite store: VM definitions (vms) and the VMM processes run
 * for them (runs). WAL journal, schema versions in PRAGMA user_version, one
 * connection used only by the daemon's loop thread (the one writer), each
 * change one transaction, so a crash at any point leaves either the old or
 * the new row, never half of one.
 */
#ifndef CASULO_MANAGER_STORE_H
#define CASULO_MANAGER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/compiler.h"

/* The schema version this build writes (the number of migrations). */
#define MGR_STORE_SCHEMA_VERSION 1

struct sqlite3;

struct mgr_store {
    struct sqlite3 *db;
};

/* One vms row. Strings point into the store's statement: valid during the callback only. */
struct mgr_store_vm {
    const char *name;
    const char *config;     /* JSON object: the definition */
    const char *desired;    /* "running" or "stopped" */
    const char *restart;    /* "no", "on-failure", "always" */
    int64_t created;        /* Unix time */
};

/* One runs row: a VMM process started (or adopted) for a VM. */
struct mgr_store_run {
    int64_t id;
    pid_t pid;
    uint64_t pid_start;     /* /proc/PID/stat field 22: tells a reused pid apart */
    int64_t started_at;
};

/* Opens (creating) the database at path and brings its schema up to date. */
int mgr_store_open(struct mgr_store *s, const char *path, char *err, size_t errlen) MUST_CHECK;
void mgr_store_close(struct mgr_store *s);
/* The schema version of the open database. */
int mgr_store_version(struct mgr_store *s);

/* -EEXIST when the name is taken. */
int mgr_store_vm_insert(struct mgr_store *s, const char *name, const char *config,
                        const char *restart, int64_t created) MUST_CHECK;
/* Deletes the VM and its runs; -ENOENT when there is none. */
int mgr_store_vm_delete(struct mgr_store *s, const char *name) MUST_CHECK;
int mgr_store_vm_set_desired(struct mgr_store *s, const char *name, const char *desired) MUST_CHECK;
int mgr_store_vm_set_config(struct mgr_store *s, const char *name, const char *config) MUST_CHECK;

typedef int (*mgr_store_vm_fn)(void *opaque, const struct mgr_store_vm *vm);
/* Calls fn for each VM in name order; stops at (and returns) fn's first non-zero result. */
int mgr_store_vm_each(struct mgr_store *s, mgr_store_vm_fn fn, void *opaque) MUST_CHECK;
int mgr_store_vm_count(struct mgr_store *s);

/* Records a started VMM; *id is the new run's id. */
int mgr_store_run_begin(struct mgr_store *s, const char *vm, pid_t pid, uint64_t pid_start,
                        int64_t started_at, int64_t *id) MUST_CHECK;
/* Closes a run: exit_status -1 when unknown (a process that was not our child). */
int mgr_store_run_end(struct mgr_store *s, int64_t id, int64_t ended_at, int exit_status,
                      const char *reason) MUST_CHECK;
/* The VM's run that has not ended; -ENOENT when none. */
int mgr_store_run_open(struct mgr_store *s, const char *vm, struct mgr_store_run *run) MUST_CHECK;
/* Runs recorded for a VM (ended or not). */
int mgr_store_run_count(struct mgr_store *s, const char *vm);

#endif
