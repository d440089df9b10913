/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `casulo serve`: the VM manager daemon (docs/manager.md).
 *
 * Threads: one loop thread owns every piece of state (the VM table, the
 * SQLite store, the pidfds of the VMM processes); the HTTP server's threads
 * and the stats sampler hand it work with mgr_call() and wait for the
 * answer. Requests to VMM API sockets, which may take seconds, are made on
 * the calling threads between two such calls, with the VM marked busy.
 */
#ifndef CASULO_MANAGER_MANAGER_H
#define CASULO_MANAGER_MANAGER_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/evloop.h"
#include "manager/names.h"
#include "manager/stats.h"
#include "manager/store.h"
#include "util/compiler.h"

#define MGR_DEFAULT_STATE_DIR "/var/lib/casulo"
#define MGR_DEFAULT_LISTEN    "unix:/run/casulo/casulo.sock"
#define MGR_ERR_MAX 512
/* STATE/vms/NAME/ file of a VM whose VMM waits for a live migration, until the VM runs. */
#define MGR_INCOMING_MARK "incoming"

struct mgr_options {
    const char *state_dir;
    const char *listen;         /* unix:PATH or tcp:HOST:PORT */
    const char *vmm_path;       /* the casulo binary to spawn; NULL: our own */
    const char *token_file;     /* the bearer token for TCP clients */
    bool allow_remote;          /* TCP on a non-loopback address */
    double overcommit;          /* committed guest RAM may reach MemTotal x this */
    const char *meminfo;        /* /proc/meminfo (tests point it elsewhere) */
};

enum mgr_vm_state {
    MGR_VM_STOPPED,
    MGR_VM_STARTING,    /* spawned; its API socket does not answer yet */
    MGR_VM_RUNNING,
    MGR_VM_PAUSED,
    MGR_VM_CRASHED,     /* the last run ended with an error */
    MGR_VM_INCOMING,    /* its VMM waits for a live migration from another host */
};

enum mgr_restart { MGR_RESTART_NO, MGR_RESTART_ON_FAILURE, MGR_RESTART_ALWAYS };

struct mgr;
struct mgr_migration;

struct mgr_vm {
    struct mgr_vm *next;
    struct mgr *owner;
    char name[MGR_NAME_MAX + 1];
    json_t *config;             /* the definition, as stored */
    enum mgr_restart restart;
    bool desired_running;
    int64_t created;
    uint64_t memory_bytes;      /* for accounting */
    unsigned cpus;

    enum mgr_vm_state state;
    pid_t pid;                  /* 0: no process */
    int pidfd;
    bool child;                 /* ours to reap (not adopted) */
    uint64_t pid_start;
    int64_t run_id;
    int64_t started_at;         /* Unix time of the current run */
    char exit_reason[256];
    unsigned restarts;          /* consecutive automatic restarts */
    uint64_t restart_at_ms;     /* monotonic; 0: none planned */
    const char *busy;           /* the operation in progress on the VM, or NULL */
    int last_status;            /* exit status of the last run; -1: unknown or a signal */
    bool drop;                  /* an incoming VM whose VMM ended: remove the definition */
    struct mgr_migration *mig;  /* the last outgoing migration (migration.h), or NULL */

    struct mgr_stats stats;
};

struct mgr_job;

struct mgr {
    struct mgr_options opts;
    char *state_dir;            /* absolute */
    char *vmm_path;
    char *token;                /* NULL: no authentication */
    bool tcp;
    int lock_fd;                /* flock on STATE/lock: one daemon per state directory */
    struct mgr_store store;
    struct evloop loop;
    int timer_fd;
    int signal_fd;
    struct mgr_vm *vms;
    uint64_t mem_total;
    long clk_tck;

    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_done;
    struct mgr_job *jobs;
    int jobs_fd;                /* eventfd: a job is queued */
    bool loop_gone;             /* the loop has stopped: mgr_call runs jobs itself */

    struct mgr_http *http;
    struct mgr_sampler *sampler;

    /* Outgoing migrations (migrate_out.c): one worker thread each, counted under jobs_lock. */
    unsigned mig_workers;
    bool stopping;              /* the daemon is shutting down: workers let go */
    json_t *migrated;           /* the outcomes of the last migrations away from here */
};

/* Sets everything up (state dir, store, adoption, listening socket); err says why not. */
int mgr_init(struct mgr *m, const struct mgr_options *opts, char *err, size_t errlen) MUST_CHECK;
/* Serves until SIGTERM/SIGINT; the VMs keep running. */
int mgr_run(struct mgr *m);
void mgr_destroy(struct mgr *m);

/* Runs fn(m, arg) on the loop thread and waits for it. Not from the loop thread. */
typedef void (*mgr_job_fn)(struct mgr *m, void *arg);
void mgr_call(struct mgr *m, mgr_job_fn fn, void *arg);

/* The outcome of an operation, as the HTTP layer will send it. */
struct mgr_result {
    int status;                 /* HTTP status */
    json_t *body;               /* success body (owned), or NULL */
    char error[MGR_ERR_MAX];    /* the message when status >= 400 */
};
void mgr_fail(struct mgr_result *r, int status, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* vm table (vm_table.c), loop thread only */
struct mgr_vm *mgr_vm_find(struct mgr *m, const char *name);
const char *mgr_vm_state_name(enum mgr_vm_state s);
const char *mgr_restart_name(enum mgr_restart r);
int mgr_restart_parse(const char *s, enum mgr_restart *r);
bool mgr_vm_has_process(const struct mgr_vm *vm);
/* STATE/vms/NAME/FILE */
void mgr_vm_path(const struct mgr *m, const char *name, const char *file, char *buf, size_t len);
/*
 * Another VM restored from a snapshot kept in vm's directory (so vm's
 * directory must stay), with that snapshot's path in *snap; else NULL.
 */
const struct mgr_vm *mgr_vm_snapshot_user(const struct mgr *m, const struct mgr_vm *vm,
                                          const char **snap);
json_t *mgr_vm_json(struct mgr *m, struct mgr_vm *vm, bool history);
uint64_t mgr_committed_memory(const struct mgr *m, const struct mgr_vm *except);
int mgr_vm_load_all(struct mgr *m, char *err, size_t errlen) MUST_CHECK;
struct mgr_vm *mgr_vm_new(const char *name, json_t *config);
/*
 * The steps of defining a VM that create and an incoming migration share:
 * a VM from a checked definition (created now, its resources read, restart
 * policy NULL for the default), its directory made afresh, and its row
 * stored then its entry added to the table. Each fails r itself: 400 for
 * resources, 409 for a taken name, 500 otherwise.
 */
struct mgr_vm *mgr_vm_define(struct mgr *m, const char *name, json_t *config, const char *restart,
                             struct mgr_result *r);
int mgr_vm_fresh_dir(struct mgr *m, const char *name, char *dir, size_t len, struct mgr_result *r);
int mgr_vm_register(struct mgr *m, struct mgr_vm *vm, struct mgr_result *r);
void mgr_vm_free(struct mgr_vm *vm);

/* definitions (vm_define.c) */
/* Checks a create request and turns it into a stored definition; 400/409 in r otherwise. */
json_t *mgr_define(struct mgr *m, json_t *req, struct mgr_result *r);
/* Guest memory and vCPUs of a definition (from the snapshot when it does not say). */
int mgr_define_resources(const json_t *config, uint64_t *memory, unsigned *cpus, char *err,
                         size_t errlen) MUST_CHECK;
/* Writes STATE/vms/NAME/vm.json from the definition (temp file, fsync, rename). */
int mgr_write_vm_json(struct mgr *m, const struct mgr_vm *vm, char *err, size_t errlen) MUST_CHECK;

/* supervision (supervisor.c), loop thread only */
int mgr_sup_start(struct mgr *m, struct mgr_vm *vm, struct mgr_result *r);
/* Starts the VMM of an incoming VM: `casulo run --incoming tcp:listen`, state incoming. */
int mgr_sup_start_incoming(struct mgr *m, struct mgr_vm *vm, const char *listen,
                           struct mgr_result *r);
void mgr_sup_check_exit(struct mgr *m, struct mgr_vm *vm);
void mgr_sup_tick(struct mgr *m);
void mgr_sup_adopt_all(struct mgr *m);
void mgr_sup_forget(struct mgr *m, struct mgr_vm *vm);

/* operations (ops.c): each called on an HTTP thread, fills r */
void mgr_op_host(struct mgr *m, struct mgr_result *r);
void mgr_op_list(struct mgr *m, struct mgr_result *r);
void mgr_op_info(struct mgr *m, const char *name, struct mgr_result *r);
void mgr_op_create(struct mgr *m, json_t *body, struct mgr_result *r);
void mgr_op_delete(struct mgr *m, const char *name, struct mgr_result *r);
void mgr_op_action(struct mgr *m, const char *name, const char *action, json_t *body,
                   struct mgr_result *r);
void mgr_op_patch(struct mgr *m, const char *name, json_t *body, struct mgr_result *r);
/* The console socket of a VM that has a process, for the WebSocket bridge. */
int mgr_op_console_path(struct mgr *m, const char *name, char *path, size_t len,
                        struct mgr_result *r);

/* live migration between daemons (migrate_in.c, migrate_out.c; docs/manager.md) */
void mgr_op_migrate(struct mgr *m, const char *name, json_t *body, struct mgr_result *r);
void mgr_op_incoming(struct mgr *m, json_t *body, struct mgr_result *r);
void mgr_op_migrations(struct mgr *m, struct mgr_result *r);
/* Waits for the migration workers to let go (at shutdown). */
void mgr_migrations_drain(struct mgr *m);
/* Takes a VM out of the table and the store; its directory goes (dir_to: moved there instead). */
int mgr_vm_remove(struct mgr *m, struct mgr_vm *vm, const char *dir_to, char *err, size_t errlen);

/* HTTP server (http.c) */
int mgr_http_start(struct mgr *m, char *err, size_t errlen) MUST_CHECK;
void mgr_http_stop(struct mgr *m);

/* files (files.c) */
/* mkdir -p: the last component with mode, the ones above 0755. */
int mgr_mkdir_p(const char *path, mode_t mode);
int mgr_write_file_atomic(const char *path, const char *data, size_t len) MUST_CHECK;
int mgr_remove_tree(const char *path);
/* Copies a disk image: a reflink where the filesystem can, else a sparse copy. */
int mgr_copy_disk(const char *src, const char *dst, char *err, size_t errlen) MUST_CHECK;
/*
 * Why a VMM ended, from the end of its log: the last line with "error:" (a
 * crash dump follows its reason), else the last line; "" if none.
 */
void mgr_log_reason(const char *path, char *buf, size_t len);

uint64_t mgr_now_ms(void);

#endif
