// SPDX-License-Identifier: Apache-2.0
/*
 * The source side of a live migration between daemons
 * (POST /api/v1/vms/NAME/migrate). The HTTP thread only checks the request
 * and marks the VM busy; a worker thread, one per migration, then asks the
 * destination daemon for an incoming VM, starts PUT /migrate on our VMM and
 * follows GET /migrate into the VM object's "migration". On completion our
 * VMM exits 0 and the VM is no longer defined here: its directory moves to
 * STATE/migrated/NAME-TIME (console and VMM logs, migration.json). On any
 * failure the VM stays defined and running here, the error is kept in its
 * "migration", and the destination daemon is told to drop its incoming VM.
 */
#include "manager/manager.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/vm_config.h"
#include "manager/migration.h"
#include "manager/vmm_client.h"
#include "util/log.h"

#define PEER_TIMEOUT_MS      30000
#define VMM_TIMEOUT_MS       5000
#define POLL_MS              200
#define VMM_SILENCE_MS       15000  /* no answer to GET /migrate this long: given up */
#define EXIT_WAIT_MS         30000
#define MIGRATED_KEEP        32

struct mig_work {
    struct mgr *m;
    char name[MGR_NAME_MAX + 1];
    struct mgr_peer peer;
    char *token;
    json_t *vmm_req;            /* PUT /migrate's body, without the url */
    json_t *incoming_req;       /* POST /api/v1/migrations/incoming's body */
    char api[VM_CONFIG_API_SOCKET_MAX];
    int pidfd;
    char url[300];
    json_t *progress;           /* the last GET /migrate */
    bool cancelled;             /* we cancelled it (the daemon is stopping) */
};

/* ---- loop-thread jobs ------------------------------------------------------ */

struct begin_job {
    const char *name;
    struct mig_work *w;
    struct mgr_result *r;
    bool ok;
};

static void job_begin(struct mgr *m, void *arg)
{
    struct begin_job *j = arg;
    struct mgr_vm *vm = mgr_vm_find(m, j->name);
    if (!vm) {
        mgr_fail(j->r, 404, "no VM named '%s'", j->name);
        return;
    }
    if (m->stopping) {
        mgr_fail(j->r, 503, "this daemon is shutting down");
        return;
    }
    if (vm->busy && strcmp(vm->busy, "migration") == 0) {
        mgr_fail(j->r, 409, "VM '%s' is already migrating to %s", vm->name,
                 vm->mig ? vm->mig->to : "another host");
        return;
    }
    if (vm->busy) {
        mgr_fail(j->r, 409, "cannot migrate VM '%s': a %s is in progress", vm->name, vm->busy);
        return;
    }
    mgr_sup_check_exit(m, vm);
    if (vm->state != MGR_VM_RUNNING || vm->pidfd < 0) {
        mgr_fail(j->r, 409, "cannot migrate VM '%s': it is %s (only a running VM migrates)",
                 vm->name, mgr_vm_state_name(vm->state));
        return;
    }
    /* Its directory leaves with it: VMs restored from snapshots in there would lose them. */
    const char *snap;
    const struct mgr_vm *user = mgr_vm_snapshot_user(m, vm, &snap);
    if (user) {
        mgr_fail(j->r, 409, "cannot migrate VM '%s': VM '%s' is restored from its snapshot %s",
                 vm->name, user->name, snap);
        return;
    }
    struct mgr_migration *mig = calloc(1, sizeof(*mig));
    struct mig_work *w = j->w;
    w->pidfd = dup(vm->pidfd);
    if (!mig || w->pidfd < 0) {
        free(mig);
        mgr_fail(j->r, 500, "out of memory or file descriptors");
        return;
    }
    snprintf(mig->status, sizeof(mig->status), "starting");
    snprintf(mig->to, sizeof(mig->to), "%s", w->peer.unix_path[0] ? w->peer.unix_path
                                                                  : w->peer.base_url);
    mig->started_at = time(NULL);
    mgr_migration_free(vm->mig);
    vm->mig = mig;
    vm->busy = "migration";
    mgr_vm_path(m, vm->name, "api.sock", w->api, sizeof(w->api));
    /* The definition as stored, with the resources spelled out (a snapshot's may be implicit). */
    json_t *config = json_deep_copy(vm->config);
    json_object_set_new(config, "memory", json_integer((json_int_t)vm->memory_bytes));
    json_object_set_new(config, "cpus", json_integer(vm->cpus));
    json_object_del(config, "autostart");
    w->incoming_req = json_pack("{s:s, s:o, s:s, s:s}", "name", vm->name, "config", config,
                                "listen_host", w->peer.host,
                                "restart", mgr_restart_name(vm->restart));
    m->mig_workers++;
    j->ok = true;
    j->r->status = 202;
    j->r->body = mgr_vm_json(m, vm, false);
    log_info("serve", "VM '%s': migrating to %s", vm->name, mig->to);
}

struct update_job {
    struct mig_work *w;
    const char *status;         /* NULL: leave it */
    const char *error;
};

static void job_update(struct mgr *m, void *arg)
{
    struct update_job *j = arg;
    struct mgr_vm *vm = mgr_vm_find(m, j->w->name);
    if (!vm || !vm->mig)
        return;
    if (j->status)
        snprintf(vm->mig->status, sizeof(vm->mig->status), "%s", j->status);
    snprintf(vm->mig->url, sizeof(vm->mig->url), "%s", j->w->url);
    if (j->w->progress) {
        json_decref(vm->mig->progress);
        vm->mig->progress = json_deep_copy(j->w->progress);
    }
}

static void record(struct mgr *m, const char *name, const struct mgr_migration *mig,
                   const char *moved_to)
{
    if (!m->migrated)
        m->migrated = json_array();
    json_t *o = mgr_migration_json(mig);
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "directory", moved_to ? json_string(moved_to) : json_null());
    json_array_append_new(m->migrated, o);
    while (json_array_size(m->migrated) > MIGRATED_KEEP)
        json_array_remove(m->migrated, 0);
}

struct finish_job {
    struct mig_work *w;
    const char *status;         /* completed, failed, cancelled */
    char error[512];
};

static void stamp(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    strftime(buf, len, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
}

/* The VM lives on the destination now: its definition goes, its directory is kept aside. */
static void moved_away(struct mgr *m, struct mgr_vm *vm)
{
    char parent[PATH_MAX], to[PATH_MAX + 96], when[32], err[MGR_ERR_MAX];
    snprintf(parent, sizeof(parent), "%s/migrated", m->state_dir);
    stamp(when, sizeof(when));
    snprintf(to, sizeof(to), "%s/%s-%s", parent, vm->name, when);
    bool keep = mgr_mkdir_p(parent, 0700) == 0;
    if (!keep)
        log_warn("serve", "cannot create %s: the directory of VM '%s' is removed", parent, vm->name);
    json_t *note = mgr_migration_json(vm->mig);
    json_object_set_new(note, "name", json_string(vm->name));
    json_object_set_new(note, "config", json_incref(vm->config));
    record(m, vm->name, vm->mig, keep ? to : NULL);
    log_notice("serve", "VM '%s': migrated to %s; no longer defined here%s%s", vm->name,
               vm->mig->to, keep ? ", its logs are in " : "", keep ? to : "");
    if (mgr_vm_remove(m, vm, keep ? to : NULL, err, sizeof(err)) < 0) {
        log_error("serve", "%s", err);
        json_decref(note);
        return;
    }
    if (keep) {
        char path[PATH_MAX + 128];
        static const char *const sockets[] = { "api.sock", "console.sock" };
        for (size_t i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "%s/%s", to, sockets[i]);
            unlink(path);
        }
        snprintf(path, sizeof(path), "%s/migration.json", to);
        char *text = json_dumps(note, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text || mgr_write_file_atomic(path, text, strlen(text)) < 0)
            log_warn("serve", "cannot write %s", path);
        free(text);
    }
    json_decref(note);
}

static void job_finish(struct mgr *m, void *arg)
{
    struct finish_job *j = arg;
    struct mgr_vm *vm = mgr_vm_find(m, j->w->name);
    if (!vm || !vm->mig)
        return;
    vm->busy = NULL;
    struct mgr_migration *mig = vm->mig;
    snprintf(mig->status, sizeof(mig->status), "%s", j->status);
    snprintf(mig->error, sizeof(mig->error), "%s", j->error);
    snprintf(mig->url, sizeof(mig->url), "%s", j->w->url);
    if (j->w->progress) {
        json_decref(mig->progress);
        mig->progress = json_deep_copy(j->w->progress);
    }
    mig->finished_at = time(NULL);
    mgr_sup_check_exit(m, vm);
    if (strcmp(j->status, "completed") == 0) {
        moved_away(m, vm);
        return;
    }
    log_error("serve", "VM '%s': migration to %s %s: %s", vm->name, mig->to, j->status, j->error);
    record(m, vm->name, mig, NULL);
    if (!mgr_vm_has_process(vm) && vm->desired_running) {
        /* It ended here during the migration, and not by moving: the usual policy applies. */
        bool again = vm->restart == MGR_RESTART_ALWAYS ||
                     (vm->restart == MGR_RESTART_ON_FAILURE && vm->state == MGR_VM_CRASHED);
        if (again) {
            vm->restart_at_ms = mgr_now_ms() + 1000;
        } else {
            vm->desired_running = false;
            if (mgr_store_vm_set_desired(&m->store, vm->name, "stopped") < 0)
                log_error("serve", "VM '%s': cannot record its desired state", vm->name);
        }
    }
}

struct exited_job {
    struct mig_work *w;
    bool gone;
    int status;
    char reason[256];
};

static void job_exited(struct mgr *m, void *arg)
{
    struct exited_job *j = arg;
    struct mgr_vm *vm = mgr_vm_find(m, j->w->name);
    if (!vm)
        return;
    mgr_sup_check_exit(m, vm);
    j->gone = !mgr_vm_has_process(vm);
    j->status = vm->last_status;
    snprintf(j->reason, sizeof(j->reason), "%s", vm->exit_reason);
}

static void job_worker_done(struct mgr *m, void *arg)
{
    m->mig_workers--;
}

/* ---- the worker -------------------------------------------------------------- */

static bool stopping(struct mgr *m)
{
    return __atomic_load_n(&m->stopping, __ATOMIC_ACQUIRE);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The destination daemon lets go of its incoming VM (a running one it refuses to delete). */
static void drop_destination(struct mig_work *w)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "/api/v1/vms/%s", w->name);
    long status;
    json_t *reply;
    if (mgr_peer_request(&w->peer, w->token, "DELETE", path, NULL, PEER_TIMEOUT_MS, &status,
                         &reply, err, sizeof(err)) < 0)
        log_warn("serve", "VM '%s': cannot tell the destination to drop it: %s", w->name, err);
    else if (status >= 300 && status != 404)
        log_warn("serve", "VM '%s': the destination kept it: %s", w->name,
                 json_string_value(json_object_get(reply, "error")) ?: "?");
    json_decref(reply);
}

/* Is the VM running on the destination (asked after our VMM went away)? */
static bool runs_on_destination(struct mig_work *w)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "/api/v1/vms/%s", w->name);
    for (int i = 0; i < EXIT_WAIT_MS / 500; i++) {
        long status;
        json_t *reply;
        if (mgr_peer_request(&w->peer, w->token, "GET", path, NULL, PEER_TIMEOUT_MS, &status,
                             &reply, err, sizeof(err)) < 0)
            return false;
        const char *st = status == 200 ? json_string_value(json_object_get(reply, "state")) : NULL;
        bool incoming = st && strcmp(st, "incoming") == 0;
        bool runs = st && (strcmp(st, "running") == 0 || strcmp(st, "paused") == 0);
        json_decref(reply);
        if (!incoming)
            return runs;
        sleep_ms(500);
    }
    return false;
}

static bool wait_pidfd(int pidfd, int ms)
{
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    return poll(&p, 1, ms) == 1;
}

/* POST /migrations/incoming at the destination: 0 with w->url, or an error line. */
static int ask_destination(struct mig_work *w, char *err, size_t errlen)
{
    long status;
    json_t *reply;
    char why[256];
    const char *to = w->peer.unix_path[0] ? w->peer.unix_path : w->peer.base_url;
    if (mgr_peer_request(&w->peer, w->token, "POST", "/api/v1/migrations/incoming",
                         w->incoming_req, PEER_TIMEOUT_MS, &status, &reply, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "cannot reach the destination daemon at %.200s: %s", to, why);
        return -EHOSTUNREACH;
    }
    const char *msg = json_string_value(json_object_get(reply, "error"));
    const char *url = json_string_value(json_object_get(reply, "url"));
    int ret = 0;
    if (status == 401) {
        snprintf(err, errlen, "the destination daemon at %.200s refused the token (give its token "
                 "with --dest-token): %s", to, msg ? msg : "unauthorised");
        ret = -EACCES;
    } else if (status < 200 || status >= 300 || !url) {
        snprintf(err, errlen, "the destination daemon at %.200s refused the VM: %s", to,
                 msg ? msg : "no url in its reply");
        ret = -EPERM;
    } else if (strncmp(url, "tcp:0.0.0.0:", 12) == 0 || strncmp(url, "tcp:[::]:", 9) == 0) {
        /* It listens everywhere: reach it where we reached its daemon. */
        const char *port = strrchr(url, ':');
        bool v6 = strchr(w->peer.host, ':') != NULL;
        snprintf(w->url, sizeof(w->url), "tcp:%s%s%s%s", v6 ? "[" : "", w->peer.host,
                 v6 ? "]" : "", port);
    } else {
        snprintf(w->url, sizeof(w->url), "%s", url);
    }
    json_decref(reply);
    return ret;
}

/* PUT /migrate on our VMM. */
static int start_vmm(struct mig_work *w, char *err, size_t errlen)
{
    json_object_set_new(w->vmm_req, "url", json_string(w->url));
    char *body = json_dumps(w->vmm_req, JSON_COMPACT);
    struct mgr_vmm_reply reply;
    char why[MGR_ERR_MAX];
    int ret = body ? mgr_vmm_request(w->api, "PUT", "/migrate", body, VMM_TIMEOUT_MS, &reply, why,
                                     sizeof(why)) : -ENOMEM;
    free(body);
    if (ret < 0) {
        snprintf(err, errlen, "%s", ret == -ENOMEM ? "out of memory" : why);
        return ret;
    }
    if (reply.status < 200 || reply.status >= 300) {
        char msg[MGR_ERR_MAX];
        snprintf(err, errlen, "the VMM refused to migrate: %s",
                 mgr_vmm_reply_error(&reply, msg, sizeof(msg)));
        ret = -EPERM;
    }
    mgr_vmm_reply_free(&reply);
    return ret;
}

/* Follows GET /migrate until it ends; the final status ("completed", ...) or "gone". */
static const char *follow(struct mig_work *w, char *err, size_t errlen)
{
    uint64_t last_answer = mgr_now_ms();
    for (;;) {
        if (wait_pidfd(w->pidfd, POLL_MS))
            return "gone";
        if (stopping(w->m) && !w->cancelled) {
            /* Nobody would finish it: the VM stays here rather than half-move. */
            struct mgr_vmm_reply reply;
            char why[MGR_ERR_MAX];
            if (mgr_vmm_request(w->api, "DELETE", "/migrate", NULL, VMM_TIMEOUT_MS, &reply, why,
                                sizeof(why)) == 0)
                mgr_vmm_reply_free(&reply);
            w->cancelled = true;
        }
        struct mgr_vmm_reply reply;
        char why[MGR_ERR_MAX];
        if (mgr_vmm_request(w->api, "GET", "/migrate", NULL, VMM_TIMEOUT_MS, &reply, why,
                            sizeof(why)) < 0 || reply.status != 200) {
            if (reply.status)
                mgr_vmm_reply_free(&reply);
            if (mgr_now_ms() - last_answer > VMM_SILENCE_MS) {
                snprintf(err, errlen, "the VMM stopped answering GET /migrate: %.300s", why);
                return "failed";
            }
            continue;
        }
        last_answer = mgr_now_ms();
        json_t *o = reply.body ? json_loads(reply.body, 0, NULL) : NULL;
        mgr_vmm_reply_free(&reply);
        if (!json_is_object(o)) {
            json_decref(o);
            continue;
        }
        json_decref(w->progress);
        w->progress = o;
        struct update_job u = { .w = w };
        mgr_call(w->m, job_update, &u);
        const char *st = json_string_value(json_object_get(o, "status"));
        if (st && (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0)) {
            const char *e = json_string_value(json_object_get(o, "error"));
            snprintf(err, errlen, "%s", e ? e : st);
            return strcmp(st, "failed") == 0 ? "failed" : "cancelled";
        }
        if (st && strcmp(st, "completed") == 0)
            return "completed";
    }
}

static void *worker(void *arg)
{
    struct mig_work *w = arg;
    struct mgr *m = w->m;
    struct finish_job f = { .w = w };
    const char *outcome = "failed";
    bool dest_defined = false;
    if (ask_destination(w, f.error, sizeof(f.error)) < 0)
        goto out;
    dest_defined = true;
    struct update_job u = { .w = w, .status = "active" };
    mgr_call(m, job_update, &u);
    if (start_vmm(w, f.error, sizeof(f.error)) < 0)
        goto out;
    outcome = follow(w, f.error, sizeof(f.error));
    if (strcmp(outcome, "completed") == 0 || strcmp(outcome, "gone") == 0) {
        /* Completed: the VMM exits 0 once the destination runs the VM. Gone: ask. */
        wait_pidfd(w->pidfd, EXIT_WAIT_MS);
        struct exited_job e = { .w = w };
        mgr_call(m, job_exited, &e);
        /*
         * The VMM exits 0 after a migration only once the destination said
         * RUNNING: that is final, whatever the destination daemon can say
         * now. Otherwise (it died, or we missed its last words) ask there.
         */
        bool vmm_says = e.gone && e.status == 0 &&
                        (strcmp(outcome, "completed") == 0 || strstr(e.reason, "migrated to"));
        if (vmm_says || (e.gone && runs_on_destination(w))) {
            outcome = "completed";
            dest_defined = false;
        } else if (!e.gone) {
            outcome = "failed";
            snprintf(f.error, sizeof(f.error), "the VMM reported completion but did not exit");
        } else {
            outcome = "failed";
            snprintf(f.error, sizeof(f.error), "the VMM ended during the migration: %s", e.reason);
        }
    }
out:
    if (dest_defined && strcmp(outcome, "completed") != 0)
        drop_destination(w);
    f.status = outcome;
    mgr_call(m, job_finish, &f);
    mgr_call(m, job_worker_done, NULL);
    close(w->pidfd);
    json_decref(w->progress);
    json_decref(w->vmm_req);
    json_decref(w->incoming_req);
    if (w->token) {
        explicit_bzero(w->token, strlen(w->token));
        free(w->token);
    }
    free(w);
    return NULL;
}

/* ---- the operations ------------------------------------------------------------ */

static bool int_field(json_t *body, const char *key, json_int_t max, json_t *out,
                      struct mgr_result *r)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
        mgr_fail(r, 400, "field '%s' must be a whole number from 0 to %lld", key, (long long)max);
        return false;
    }
    json_object_set(out, key, v);
    return true;
}

void mgr_op_migrate(struct mgr *m, const char *name, json_t *body, struct mgr_result *r)
{
    if (!json_is_object(body)) {
        mgr_fail(r, 400, "migrate needs a JSON object body: {\"to\": \"tcp:HOST:PORT\"}");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "to") && strcmp(key, "token") && strcmp(key, "max_downtime_ms") &&
            strcmp(key, "bandwidth_mib_s") && strcmp(key, "auto_converge") &&
            strcmp(key, "compress")) {
            mgr_fail(r, 400, "unknown field '%s'", key);
            return;
        }
    }
    json_t *to = json_object_get(body, "to"), *token = json_object_get(body, "token");
    json_t *ac = json_object_get(body, "auto_converge");
    json_t *compress = json_object_get(body, "compress");
    if (!json_is_string(to)) {
        mgr_fail(r, 400, "field 'to' (the destination daemon: unix:PATH, tcp:HOST:PORT or "
                 "http://HOST:PORT) is required");
        return;
    }
    if ((token && !json_is_string(token)) || (ac && !json_is_boolean(ac))) {
        mgr_fail(r, 400, token && !json_is_string(token) ? "field 'token' must be a string"
                                                         : "field 'auto_converge' must be true or false");
        return;
    }
    if (compress && !json_is_boolean(compress)) {
        mgr_fail(r, 400, "field 'compress' must be true or false");
        return;
    }
    struct mig_work *w = calloc(1, sizeof(*w));
    if (!w) {
        mgr_fail(r, 500, "out of memory");
        return;
    }
    w->m = m;
    w->pidfd = -1;
    snprintf(w->name, sizeof(w->name), "%s", name);
    char err[MGR_ERR_MAX];
    w->vmm_req = json_object();
    if (mgr_peer_parse(json_string_value(to), &w->peer, err, sizeof(err)) < 0) {
        mgr_fail(r, 400, "field 'to': %s", err);
        goto fail;
    }
    if (!int_field(body, "max_downtime_ms", 3600000, w->vmm_req, r) ||
        !int_field(body, "bandwidth_mib_s", 1 << 20, w->vmm_req, r))
        goto fail;
    if (ac)
        json_object_set(w->vmm_req, "auto_converge", ac);
    if (compress)
        json_object_set(w->vmm_req, "compress", compress);
    if (token && *json_string_value(token))
        w->token = strdup(json_string_value(token));
    struct begin_job b = { .name = name, .w = w, .r = r };
    mgr_call(m, job_begin, &b);
    if (!b.ok)
        goto fail;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int ret = pthread_create(&t, &attr, worker, w);
    pthread_attr_destroy(&attr);
    if (ret == 0)
        return;
    /* No worker: undo the marks. */
    struct finish_job f = { .w = w, .status = "failed" };
    snprintf(f.error, sizeof(f.error), "cannot start a worker thread: %s", strerror(ret));
    mgr_call(m, job_finish, &f);
    mgr_call(m, job_worker_done, NULL);
    json_decref(r->body);
    r->body = NULL;
    mgr_fail(r, 500, "%s", f.error);
fail:
    if (w->pidfd >= 0)
        close(w->pidfd);
    json_decref(w->vmm_req);
    json_decref(w->incoming_req);
    free(w->token);
    free(w);
}

static void job_migrations(struct mgr *m, void *arg)
{
    struct mgr_result *r = arg;
    json_t *active = json_array();
    for (struct mgr_vm *vm = m->vms; vm; vm = vm->next) {
        if (vm->mig && !vm->mig->finished_at) {
            json_t *o = mgr_migration_json(vm->mig);
            json_object_set_new(o, "name", json_string(vm->name));
            json_array_append_new(active, o);
        }
    }
    r->status = 200;
    r->body = json_pack("{s:o, s:o}", "active", active,
                        "finished", m->migrated ? json_deep_copy(m->migrated) : json_array());
}

void mgr_op_migrations(struct mgr *m, struct mgr_result *r)
{
    mgr_call(m, job_migrations, r);
}

void mgr_migrations_drain(struct mgr *m)
{
    __atomic_store_n(&m->stopping, true, __ATOMIC_RELEASE);
    for (;;) {
        pthread_mutex_lock(&m->jobs_lock);
        unsigned n = m->mig_workers;
        pthread_mutex_unlock(&m->jobs_lock);
        if (!n)
            break;
        sleep_ms(50);
    }
}
