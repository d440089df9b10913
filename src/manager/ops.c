// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon's operations, as the HTTP layer calls them (on its threads).
 * Each checks and changes state in short jobs on the loop thread
 * (mgr_call). An operation that needs the VMM marks the VM busy in a first
 * job, talks to the VMM's API socket here, off the loop, and records the
 * outcome in a second job; a concurrent operation on the same VM gets 409.
 */
#include "manager/manager.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli/config_file.h"
#include "core/vm_config.h"
#include "manager/vmm_client.h"
#include "util/compiler.h"
#include "util/log.h"
#include "util/size.h"

#define VMM_OP_TIMEOUT_MS    10000
#define STOP_WAIT_MS         10000
#define CLONE_MAX            100

#define STATE_BIT(s) (1u << (s))
#define UP_STATES (STATE_BIT(MGR_VM_STARTING) | STATE_BIT(MGR_VM_RUNNING) | STATE_BIT(MGR_VM_PAUSED))

/* ---- simple jobs ---------------------------------------------------------- */

struct name_job {
    const char *name;
    struct mgr_result *r;
    json_t *body;
    bool history;
};

static struct mgr_vm *find_or_404(struct mgr *m, const char *name, struct mgr_result *r)
{
    struct mgr_vm *vm = mgr_vm_find(m, name);
    if (!vm)
        mgr_fail(r, 404, "no VM named '%s'", name);
    return vm;
}

static void job_host(struct mgr *m, void *arg)
{
    struct mgr_result *r = arg;
    unsigned total = 0, up = 0;
    for (struct mgr_vm *vm = m->vms; vm; vm = vm->next) {
        total++;
        up += mgr_vm_has_process(vm);
    }
    r->status = 200;
    r->body = json_pack("{s:I, s:I, s:f, s:I, s:I, s:I, s:s}",
                        "memory_total", (json_int_t)m->mem_total,
                        "memory_committed", (json_int_t)mgr_committed_memory(m, NULL),
                        "overcommit_ratio", m->opts.overcommit,
                        "memory_limit", (json_int_t)((double)m->mem_total * m->opts.overcommit),
                        "vms", (json_int_t)total,
                        "vms_running", (json_int_t)up,
                        "state_dir", m->state_dir);
}

void mgr_op_host(struct mgr *m, struct mgr_result *r)
{
    mgr_call(m, job_host, r);
}

static void job_list(struct mgr *m, void *arg)
{
    struct mgr_result *r = arg;
    json_t *a = json_array();
    for (struct mgr_vm *vm = m->vms; vm; vm = vm->next)
        json_array_append_new(a, mgr_vm_json(m, vm, false));
    r->status = 200;
    r->body = a;
}

void mgr_op_list(struct mgr *m, struct mgr_result *r)
{
    mgr_call(m, job_list, r);
}

static void job_info(struct mgr *m, void *arg)
{
    struct name_job *j = arg;
    struct mgr_vm *vm = find_or_404(m, j->name, j->r);
    if (!vm)
        return;
    j->r->status = 200;
    j->r->body = mgr_vm_json(m, vm, j->history);
}

void mgr_op_info(struct mgr *m, const char *name, struct mgr_result *r)
{
    struct name_job j = { .name = name, .r = r, .history = true };
    mgr_call(m, job_info, &j);
}

/* ---- create / delete ------------------------------------------------------- */

static void job_create(struct mgr *m, void *arg)
{
    struct name_job *j = arg;
    struct mgr_result *r = j->r;
    json_t *config = mgr_define(m, j->body, r);
    if (!config)
        return;
    const char *name = json_string_value(json_object_get(j->body, "name"));
    const char *restart = json_string_value(json_object_get(j->body, "restart"));
    struct mgr_vm *vm = mgr_vm_define(m, name, config, restart, r);
    json_decref(config);
    if (!vm)
        return;
    char err[MGR_ERR_MAX], dir[PATH_MAX];
    if (mgr_vm_fresh_dir(m, name, dir, sizeof(dir), r) < 0)
        goto fail;
    int ret = mgr_write_vm_json(m, vm, err, sizeof(err));
    if (ret) {
        mgr_fail(r, 500, "%s", err);
        goto fail_dir;
    }
    if (mgr_vm_register(m, vm, r) < 0)
        goto fail_dir;
    log_info("serve", "VM '%s': created", name);
    r->status = 201;
    if (json_is_true(json_object_get(vm->config, "autostart")) && mgr_sup_start(m, vm, r) < 0) {
        char why[MGR_ERR_MAX];
        snprintf(why, sizeof(why), "%s", r->error);
        mgr_fail(r, r->status, "created VM '%s', but it did not start: %s", name, why);
        return;
    }
    r->status = 201;
    r->body = mgr_vm_json(m, vm, false);
    return;
fail_dir:
    mgr_remove_tree(dir);
fail:
    mgr_vm_free(vm);
}

void mgr_op_create(struct mgr *m, json_t *body, struct mgr_result *r)
{
    struct name_job j = { .r = r, .body = body };
    mgr_call(m, job_create, &j);
}

int mgr_vm_remove(struct mgr *m, struct mgr_vm *vm, const char *dir_to, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    mgr_vm_path(m, vm->name, NULL, dir, sizeof(dir));
    int ret = mgr_store_vm_delete(&m->store, vm->name);
    if (ret && ret != -ENOENT) {
        snprintf(err, errlen, "cannot delete VM '%s' from the database: %s", vm->name,
                 strerror(-ret));
        return ret;
    }
    if (dir_to && rename(dir, dir_to) < 0) {
        log_warn("serve", "VM '%s': cannot move %s to %s: %s; removing it", vm->name, dir, dir_to,
                 strerror(errno));
        dir_to = NULL;
    }
    ret = dir_to ? 0 : mgr_remove_tree(dir);
    if (ret)
        log_warn("serve", "VM '%s': cannot remove all of %s: %s", vm->name, dir, strerror(-ret));
    for (struct mgr_vm **p = &m->vms; *p; p = &(*p)->next) {
        if (*p == vm) {
            *p = vm->next;
            break;
        }
    }
    mgr_sup_forget(m, vm);
    log_info("serve", "VM '%s': %s", vm->name, dir_to ? "moved away" : "deleted");
    mgr_vm_free(vm);
    return 0;
}

static void job_delete(struct mgr *m, void *arg)
{
    struct name_job *j = arg;
    struct mgr_vm *vm = find_or_404(m, j->name, j->r);
    if (!vm)
        return;
    mgr_sup_check_exit(m, vm);
    if (vm->busy) {
        mgr_fail(j->r, 409, "cannot delete VM '%s': a %s is in progress", vm->name, vm->busy);
        return;
    }
    if (mgr_vm_has_process(vm)) {
        mgr_fail(j->r, 409, "cannot delete VM '%s': it is %s; stop it first", vm->name,
                 mgr_vm_state_name(vm->state));
        return;
    }
    /* Clones restore from snapshots kept in this VM's directory: they would lose them. */
    const char *snap;
    const struct mgr_vm *user = mgr_vm_snapshot_user(m, vm, &snap);
    if (user) {
        mgr_fail(j->r, 409, "cannot delete VM '%s': VM '%s' is restored from its snapshot %s "
                 "(delete that VM first)", vm->name, user->name, snap);
        return;
    }
    char err[MGR_ERR_MAX];
    if (mgr_vm_remove(m, vm, NULL, err, sizeof(err)) < 0) {
        mgr_fail(j->r, 500, "%s", err);
        return;
    }
    j->r->status = 200;
    j->r->body = json_pack("{s:s}", "deleted", j->name);
}

struct kill_incoming_job {
    const char *name;
    int pidfd;                  /* a dup when an incoming VMM was killed */
};

/* An incoming VM has no guest yet: deleting it ends its VMM (its source keeps the VM). */
static void job_kill_incoming(struct mgr *m, void *arg)
{
    struct kill_incoming_job *j = arg;
    struct mgr_vm *vm = mgr_vm_find(m, j->name);
    j->pidfd = -1;
    if (!vm || vm->state != MGR_VM_INCOMING || vm->pidfd < 0 || vm->busy)
        return;
    if (syscall(SYS_pidfd_send_signal, vm->pidfd, SIGKILL, NULL, 0) < 0)
        return;
    log_notice("serve", "VM '%s': incoming migration cancelled by DELETE", vm->name);
    j->pidfd = dup(vm->pidfd);
}

static bool wait_exit(int pidfd, int ms);

void mgr_op_delete(struct mgr *m, const char *name, struct mgr_result *r)
{
    struct kill_incoming_job k = { .name = name };
    mgr_call(m, job_kill_incoming, &k);
    if (k.pidfd >= 0) {
        wait_exit(k.pidfd, STOP_WAIT_MS);
        close(k.pidfd);
    }
    struct name_job j = { .name = name, .r = r };
    mgr_call(m, job_delete, &j);
}

/* ---- start ------------------------------------------------------------------- */

static void job_start(struct mgr *m, void *arg)
{
    struct name_job *j = arg;
    struct mgr_vm *vm = find_or_404(m, j->name, j->r);
    if (!vm)
        return;
    if (vm->busy) {
        mgr_fail(j->r, 409, "cannot start VM '%s': a %s is in progress", vm->name, vm->busy);
        return;
    }
    vm->restart_at_ms = 0;
    vm->restarts = 0;
    if (mgr_sup_start(m, vm, j->r) < 0)
        return;
    j->r->status = 200;
    j->r->body = mgr_vm_json(m, vm, false);
}

/* ---- operations through the VMM ---------------------------------------------- */

struct op_job {
    const char *name;
    const char *op;             /* for messages and the busy marker */
    unsigned allowed;           /* STATE_BITs the VM may be in */
    bool stop_intent;           /* the VM should stay down afterwards */
    struct mgr_result *r;
    /* out of op_begin */
    bool ok;
    char api[VM_CONFIG_API_SOCKET_MAX];
    char dir[PATH_MAX];
    int pidfd;                  /* a dup, for signals and waiting */
    enum mgr_vm_state state;
    json_t *config;             /* a copy of the definition */
    uint64_t memory;
    unsigned cpus;
    enum mgr_restart restart;
    /* in to op_end */
    int new_state;              /* -1: leave it */
};

static void job_op_begin(struct mgr *m, void *arg)
{
    struct op_job *j = arg;
    j->ok = false;
    j->pidfd = -1;
    struct mgr_vm *vm = find_or_404(m, j->name, j->r);
    if (!vm)
        return;
    if (vm->busy) {
        mgr_fail(j->r, 409, "cannot %s VM '%s': a %s is in progress", j->op, vm->name, vm->busy);
        return;
    }
    if (j->stop_intent && !mgr_vm_has_process(vm) && vm->restart_at_ms) {
        /* Down, with a restart planned: stopping it means cancelling that. */
        vm->restart_at_ms = 0;
        vm->desired_running = false;
        if (mgr_store_vm_set_desired(&m->store, vm->name, "stopped") < 0)
            log_error("serve", "VM '%s': cannot record its desired state", vm->name);
        j->r->status = 200;
        j->r->body = mgr_vm_json(m, vm, false);
        return;
    }
    if (!(j->allowed & STATE_BIT(vm->state))) {
        mgr_fail(j->r, 409, "cannot %s VM '%s': it is %s", j->op, vm->name,
                 mgr_vm_state_name(vm->state));
        return;
    }
    vm->busy = j->op;
    if (j->stop_intent && vm->desired_running) {
        vm->desired_running = false;
        vm->restart_at_ms = 0;
        if (mgr_store_vm_set_desired(&m->store, vm->name, "stopped") < 0)
            log_error("serve", "VM '%s': cannot record its desired state", vm->name);
    }
    mgr_vm_path(m, vm->name, "api.sock", j->api, sizeof(j->api));
    mgr_vm_path(m, vm->name, NULL, j->dir, sizeof(j->dir));
    j->pidfd = vm->pidfd >= 0 ? dup(vm->pidfd) : -1;
    j->state = vm->state;
    j->config = json_deep_copy(vm->config);
    j->memory = vm->memory_bytes;
    j->cpus = vm->cpus;
    j->restart = vm->restart;
    j->ok = true;
}

static void job_op_end(struct mgr *m, void *arg)
{
    struct op_job *j = arg;
    struct mgr_vm *vm = mgr_vm_find(m, j->name);
    if (!vm)
        return;
    vm->busy = NULL;
    mgr_sup_check_exit(m, vm);
    if (j->new_state >= 0 && mgr_vm_has_process(vm))
        vm->state = (enum mgr_vm_state)j->new_state;
    if (j->r->status >= 200 && j->r->status < 400 && !j->r->body)
        j->r->body = mgr_vm_json(m, vm, false);
}

static bool op_begin(struct mgr *m, struct op_job *j)
{
    j->new_state = -1;
    mgr_call(m, job_op_begin, j);
    return j->ok;
}

static void op_end(struct mgr *m, struct op_job *j)
{
    mgr_call(m, job_op_end, j);
    if (j->pidfd >= 0)
        close(j->pidfd);
    j->pidfd = -1;
    json_decref(j->config);
    j->config = NULL;
}

/* One request to the VMM; false with r filled (the VMM's own status and message) otherwise. */
static bool vmm(struct op_job *j, const char *method, const char *path, const char *body,
                json_t **reply_json)
{
    struct mgr_vmm_reply reply;
    char err[MGR_ERR_MAX];
    if (mgr_vmm_request(j->api, method, path, body, VMM_OP_TIMEOUT_MS, &reply, err,
                        sizeof(err)) < 0) {
        mgr_fail(j->r, 502, "VM '%s': %s", j->name, err);
        return false;
    }
    bool ok = reply.status >= 200 && reply.status < 300;
    if (!ok) {
        char msg[MGR_ERR_MAX];
        mgr_fail(j->r, reply.status == 409 || reply.status == 400 ? (int)reply.status : 502,
                 "VM '%s': %s", j->name, mgr_vmm_reply_error(&reply, msg, sizeof(msg)));
    } else if (reply_json) {
        *reply_json = reply.body ? json_loads(reply.body, 0, NULL) : NULL;
    }
    mgr_vmm_reply_free(&reply);
    return ok;
}

static bool wait_exit(int pidfd, int ms)
{
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    return pidfd < 0 || poll(&p, 1, ms) == 1;
}

static void op_stop(struct mgr *m, const char *name, struct mgr_result *r)
{
    struct op_job j = { .name = name, .op = "stop", .allowed = UP_STATES, .stop_intent = true,
                        .r = r };
    if (!op_begin(m, &j)) {
        return;
    }
    char err[MGR_ERR_MAX];
    struct mgr_vmm_reply reply;
    bool asked = mgr_vmm_request(j.api, "PUT", "/vm/stop", "{}", 5000, &reply, err, sizeof(err)) == 0 &&
                 reply.status < 300;
    if (reply.body)
        mgr_vmm_reply_free(&reply);
    /* A VMM that does not answer, or does not go, is killed: stop means stopped. */
    if (!asked || !wait_exit(j.pidfd, STOP_WAIT_MS)) {
        syscall(SYS_pidfd_send_signal, j.pidfd, SIGKILL, NULL, 0);
        wait_exit(j.pidfd, STOP_WAIT_MS);
    }
    r->status = 200;
    op_end(m, &j);
}

static void op_simple(struct mgr *m, const char *name, const char *op, struct mgr_result *r)
{
    struct op_job j = { .name = name, .op = op, .r = r };
    const char *method = "PUT", *path, *body;
    int after = -1;
    if (strcmp(op, "pause") == 0) {
        j.allowed = STATE_BIT(MGR_VM_RUNNING);
        path = "/vm/state";
        body = "{\"state\": \"Paused\"}";
        after = MGR_VM_PAUSED;
    } else if (strcmp(op, "resume") == 0) {
        j.allowed = STATE_BIT(MGR_VM_PAUSED);
        path = "/vm/state";
        body = "{\"state\": \"Running\"}";
        after = MGR_VM_RUNNING;
    } else {   /* power-off: the guest goes down by itself, or is stopped at the timeout */
        j.allowed = STATE_BIT(MGR_VM_RUNNING) | STATE_BIT(MGR_VM_STARTING);
        j.stop_intent = true;
        path = "/vm/power-off";
        body = "{}";
    }
    if (!op_begin(m, &j))
        return;
    if (vmm(&j, method, path, body, NULL)) {
        r->status = strcmp(op, "power-off") == 0 ? 202 : 200;
        j.new_state = after;
    }
    op_end(m, &j);
}

static void snapshot_dir(const char *vmdir, const char *prefix, char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    snprintf(buf, len, "%s/snapshots/%s%s.%03ldZ", vmdir, prefix, stamp, ts.tv_nsec / 1000000);
}

/* Pauses (if running), snapshots into dir, runs `also` while paused, resumes. */
static bool take_snapshot(struct op_job *j, const char *dir,
                          bool (*also)(struct op_job *j, const char *dir, void *opaque),
                          void *opaque)
{
    char parent[PATH_MAX + 16];
    snprintf(parent, sizeof(parent), "%s/snapshots", j->dir);
    if (mkdir(parent, 0700) < 0 && errno != EEXIST) {
        mgr_fail(j->r, 500, "cannot create %s: %s", parent, strerror(errno));
        return false;
    }
    bool was_running = j->state != MGR_VM_PAUSED;
    if (was_running && !vmm(j, "PUT", "/vm/state", "{\"state\": \"Paused\"}", NULL))
        return false;
    json_t *req = json_pack("{s:s}", "path", dir);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    bool ok = body && vmm(j, "PUT", "/snapshot", body, NULL);
    free(body);
    if (ok && also)
        ok = also(j, dir, opaque);
    struct mgr_result keep = *j->r;
    if (was_running && !vmm(j, "PUT", "/vm/state", "{\"state\": \"Running\"}", NULL)) {
        log_error("serve", "VM '%s': cannot resume after the snapshot: %s", j->name, j->r->error);
        if (!ok)
            *j->r = keep;   /* the first failure is the one to report */
        return false;
    }
    return ok;
}

static void op_snapshot(struct mgr *m, const char *name, struct mgr_result *r)
{
    struct op_job j = { .name = name, .op = "snapshot", .r = r,
                        .allowed = STATE_BIT(MGR_VM_RUNNING) | STATE_BIT(MGR_VM_PAUSED) };
    if (!op_begin(m, &j))
        return;
    char dir[PATH_MAX];
    snapshot_dir(j.dir, "", dir, sizeof(dir));
    if (take_snapshot(&j, dir, NULL, NULL)) {
        r->status = 201;
        r->body = json_pack("{s:s, s:s}", "name", name, "snapshot", dir);
    }
    op_end(m, &j);
}

/* ---- clone ------------------------------------------------------------------- */

struct clone_disks {
    struct run_options opts;
};

/* While the source is paused: its disks, copied next to the snapshot. */
static bool copy_source_disks(struct op_job *j, const char *dir, void *opaque)
{
    struct clone_disks *d = opaque;
    for (unsigned i = 0; i < d->opts.cfg.nr_disks; i++) {
        char dst[PATH_MAX], err[MGR_ERR_MAX];
        snprintf(dst, sizeof(dst), "%s/disk-%u.img", dir, i);
        if (mgr_copy_disk(d->opts.cfg.disks[i].path, dst, err, sizeof(err)) < 0) {
            mgr_fail(j->r, 500, "%s", err);
            return false;
        }
    }
    return true;
}

struct names_job {
    const char *prefix;
    unsigned count;
    struct mgr_result *r;
};

static void job_names_free(struct mgr *m, void *arg)
{
    struct names_job *j = arg;
    for (unsigned i = 1; i <= j->count; i++) {
        char name[MGR_NAME_MAX + 16], err[MGR_ERR_MAX];
        snprintf(name, sizeof(name), "%s-%u", j->prefix, i);
        if (!mgr_name_valid(name, err, sizeof(err))) {
            mgr_fail(j->r, 400, "%s", err);
            return;
        }
        if (mgr_vm_find(m, name)) {
            mgr_fail(j->r, 409, "a VM named '%s' already exists", name);
            return;
        }
    }
}

static json_t *clone_request(const struct op_job *j, const struct clone_disks *d, const char *snap,
                             const char *name, const char *vmdir)
{
    json_t *req = json_object();
    json_object_set_new(req, "name", json_string(name));
    json_object_set_new(req, "from_snapshot", json_string(snap));
    json_object_set_new(req, "cpus", json_integer(j->cpus));
    json_object_set_new(req, "memory", json_integer((json_int_t)j->memory));
    json_object_set_new(req, "restart", json_string(mgr_restart_name(j->restart)));
    static const char *const copied[] = { "kernel", "initrd", "cmdline", "rng", "balloon" };
    for (size_t i = 0; i < ARRAY_SIZE(copied); i++) {
        json_t *v = json_object_get(j->config, copied[i]);
        if (v)
            json_object_set(req, copied[i], v);
    }
    json_t *disks = json_array();
    for (unsigned i = 0; i < d->opts.cfg.nr_disks; i++) {
        const struct disk_config *dc = &d->opts.cfg.disks[i];
        char spec[PATH_MAX + 128];
        int n = snprintf(spec, sizeof(spec), "path=%s/disk-%u.img", vmdir, i);
        if (dc->id[0])
            snprintf(spec + n, sizeof(spec) - (size_t)n, ",id=%s", dc->id);
        json_array_append_new(disks, json_string(spec));
    }
    json_object_set_new(req, "disks", disks);
    return req;
}

static void op_clone(struct mgr *m, const char *name, json_t *body, struct mgr_result *r)
{
    json_t *count_j = json_object_get(body, "count");
    json_t *prefix_j = json_object_get(body, "prefix");
    json_t *start_j = json_object_get(body, "start");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "count") && strcmp(key, "prefix") && strcmp(key, "start")) {
            mgr_fail(r, 400, "unknown field '%s'", key);
            return;
        }
    }
    if (!json_is_integer(count_j) || json_integer_value(count_j) < 1 ||
        json_integer_value(count_j) > CLONE_MAX) {
        mgr_fail(r, 400, "field 'count' must be a whole number from 1 to %d", CLONE_MAX);
        return;
    }
    if ((prefix_j && !json_is_string(prefix_j)) || (start_j && !json_is_boolean(start_j))) {
        mgr_fail(r, 400, prefix_j && !json_is_string(prefix_j) ? "field 'prefix' must be a string"
                                                                : "field 'start' must be true or false");
        return;
    }
    unsigned count = (unsigned)json_integer_value(count_j);
    const char *prefix = prefix_j ? json_string_value(prefix_j) : name;
    bool start = !start_j || json_is_true(start_j);
    struct names_job nj = { .prefix = prefix, .count = count, .r = r };
    r->status = 0;
    mgr_call(m, job_names_free, &nj);
    if (r->status >= 400)
        return;

    struct op_job j = { .name = name, .op = "clone", .r = r,
                        .allowed = STATE_BIT(MGR_VM_RUNNING) | STATE_BIT(MGR_VM_PAUSED) };
    if (!op_begin(m, &j))
        return;
    struct clone_disks d;
    char err[MGR_ERR_MAX], snap[PATH_MAX];
    json_t *vmm_cfg = json_deep_copy(j.config);
    json_object_del(vmm_cfg, "from_snapshot");
    json_object_del(vmm_cfg, "autostart");
    char *text = json_dumps(vmm_cfg, JSON_COMPACT);
    json_decref(vmm_cfg);
    d.opts = (struct run_options){ 0 };
    vm_config_init(&d.opts.cfg);
    int ret = text ? config_file_parse("definition", text, strlen(text), &d.opts, err, sizeof(err))
                   : -ENOMEM;
    free(text);
    bool ok = false;
    if (ret) {
        mgr_fail(r, 500, "cannot read VM '%s''s definition: %s", name, err);
    } else if (d.opts.cfg.nr_nets) {
        mgr_fail(r, 409, "cannot clone VM '%s': it has network interfaces, and each clone would "
                 "need its own TAP device (not supported yet)", name);
    } else {
        snapshot_dir(j.dir, "clone-", snap, sizeof(snap));
        ok = take_snapshot(&j, snap, copy_source_disks, &d);
    }
    json_t *src_config = json_incref(j.config);   /* op_end lets go of j's */
    op_end(m, &j);
    j.config = src_config;
    json_t *clones = json_array();
    for (unsigned i = 1; ok && i <= count; i++) {
        char cname[MGR_NAME_MAX + 16], vmdir[PATH_MAX];
        snprintf(cname, sizeof(cname), "%s-%u", prefix, i);
        snprintf(vmdir, sizeof(vmdir), "%s/vms/%s", m->state_dir, cname);
        json_t *req = clone_request(&j, &d, snap, cname, vmdir);
        struct mgr_result cr = { 0 };
        struct name_job cj = { .r = &cr, .body = req };
        mgr_call(m, job_create, &cj);
        json_decref(req);
        for (unsigned k = 0; cr.status < 400 && k < d.opts.cfg.nr_disks; k++) {
            char src[PATH_MAX + 32], dst[PATH_MAX + 32];
            snprintf(src, sizeof(src), "%s/disk-%u.img", snap, k);
            snprintf(dst, sizeof(dst), "%s/disk-%u.img", vmdir, k);
            if (mgr_copy_disk(src, dst, err, sizeof(err)) < 0)
                mgr_fail(&cr, 500, "%s", err);
        }
        if (cr.status < 400 && start) {
            json_decref(cr.body);
            cr.body = NULL;
            struct name_job sj = { .name = cname, .r = &cr };
            mgr_call(m, job_start, &sj);
        }
        if (cr.status >= 400) {
            mgr_fail(r, cr.status, "clone %u of %u ('%s'): %s (%u made before it)", i, count,
                     cname, cr.error, i - 1);
            json_decref(cr.body);
            ok = false;
            break;
        }
        json_array_append_new(clones, cr.body);
    }
    vm_config_free(&d.opts.cfg);
    json_decref(src_config);
    if (ok) {
        r->status = 201;
        r->body = json_pack("{s:s, s:s, s:o}", "source", name, "snapshot", snap, "clones", clones);
    } else {
        json_decref(clones);
    }
}

void mgr_op_action(struct mgr *m, const char *name, const char *action, json_t *body,
                   struct mgr_result *r)
{
    if (strcmp(action, "migrate") == 0) {
        mgr_op_migrate(m, name, body, r);
        return;
    }
    bool takes_body = strcmp(action, "clone") == 0;
    if (!takes_body && body && (!json_is_object(body) || json_object_size(body))) {
        mgr_fail(r, 400, "%s takes no request body", action);
        return;
    }
    if (takes_body && !json_is_object(body)) {
        mgr_fail(r, 400, "clone needs a JSON object body: {\"count\": N}");
        return;
    }
    if (strcmp(action, "start") == 0) {
        struct name_job j = { .name = name, .r = r };
        mgr_call(m, job_start, &j);
    } else if (strcmp(action, "stop") == 0) {
        op_stop(m, name, r);
    } else if (strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0 ||
               strcmp(action, "power-off") == 0) {
        op_simple(m, name, action, r);
    } else if (strcmp(action, "snapshot") == 0) {
        op_snapshot(m, name, r);
    } else if (strcmp(action, "clone") == 0) {
        op_clone(m, name, body, r);
    } else {
        mgr_fail(r, 404, "no such action '%s' (start, stop, power-off, pause, resume, snapshot, "
                 "clone, migrate)", action);
    }
}

/* ---- set (PATCH) -------------------------------------------------------------- */

struct set_job {
    const char *name;
    json_t *memory;
    json_t *cpus;
    struct mgr_result *r;
};

static void job_set_config(struct mgr *m, void *arg)
{
    struct set_job *j = arg;
    struct mgr_vm *vm = find_or_404(m, j->name, j->r);
    if (!vm)
        return;
    if (vm->busy || mgr_vm_has_process(vm)) {
        mgr_fail(j->r, 409, "VM '%s' is %s: stop it first or use --balloon", vm->name,
                 vm->busy ? vm->busy : mgr_vm_state_name(vm->state));
        return;
    }
    json_t *config = json_deep_copy(vm->config);
    if (j->memory)
        json_object_set(config, "memory", j->memory);
    if (j->cpus)
        json_object_set(config, "cpus", j->cpus);
    uint64_t mem;
    unsigned cpus;
    char err[MGR_ERR_MAX];
    if (mgr_define_resources(config, &mem, &cpus, err, sizeof(err)) < 0) {
        const char *msg = strstr(err, "': ");
        mgr_fail(j->r, 400, "%s", msg ? msg + 3 : err);
        json_decref(config);
        return;
    }
    char *text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
    int ret = text ? mgr_store_vm_set_config(&m->store, vm->name, text) : -ENOMEM;
    free(text);
    if (ret) {
        mgr_fail(j->r, 500, "cannot store VM '%s': %s", vm->name, strerror(-ret));
        json_decref(config);
        return;
    }
    json_decref(vm->config);
    vm->config = config;
    vm->memory_bytes = mem;
    vm->cpus = cpus;
    if (mgr_write_vm_json(m, vm, err, sizeof(err)) < 0)
        log_warn("serve", "VM '%s': %s (rewritten at its next start)", vm->name, err);
    j->r->status = 200;
    j->r->body = mgr_vm_json(m, vm, false);
}

void mgr_op_patch(struct mgr *m, const char *name, json_t *body, struct mgr_result *r)
{
    if (!json_is_object(body)) {
        mgr_fail(r, 400, "the request body must be a JSON object");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "memory") && strcmp(key, "balloon") && strcmp(key, "cpus")) {
            mgr_fail(r, 400, "unknown field '%s'", key);
            return;
        }
    }
    json_t *balloon = json_object_get(body, "balloon");
    if (!balloon) {
        if (!json_object_size(body)) {
            mgr_fail(r, 400, "nothing to change: give 'memory', 'cpus' or 'balloon'");
            return;
        }
        struct set_job j = { .name = name, .memory = json_object_get(body, "memory"),
                             .cpus = json_object_get(body, "cpus"), .r = r };
        mgr_call(m, job_set_config, &j);
        return;
    }
    if (json_object_size(body) != 1) {
        mgr_fail(r, 400, "'balloon' cannot be combined with 'memory' or 'cpus'");
        return;
    }
    uint64_t bytes = 0;
    if (json_is_string(balloon)) {
        if (size_parse(json_string_value(balloon), &bytes) < 0) {
            mgr_fail(r, 400, "balloon '%s' is not a size (examples: 128M, 1G)",
                     json_string_value(balloon));
            return;
        }
    } else if (json_is_integer(balloon) && json_integer_value(balloon) >= 0) {
        bytes = (uint64_t)json_integer_value(balloon);
    } else {
        mgr_fail(r, 400, "field 'balloon' must be a size (\"128M\") or a number of bytes");
        return;
    }
    struct op_job j = { .name = name, .op = "balloon resize", .r = r,
                        .allowed = STATE_BIT(MGR_VM_RUNNING) | STATE_BIT(MGR_VM_PAUSED) };
    if (!op_begin(m, &j))
        return;
    char req[64];
    snprintf(req, sizeof(req), "{\"target_bytes\": %llu}", (unsigned long long)bytes);
    if (vmm(&j, "PUT", "/balloon", req, NULL))
        r->status = 200;
    op_end(m, &j);
}

/* ---- console --------------------------------------------------------------- */

struct console_job {
    const char *name;
    char *path;
    size_t len;
    struct mgr_result *r;
};

static void job_console(struct mgr *m, void *arg)
{
    struct console_job *j = arg;
    struct mgr_vm *vm = find_or_404(m, j->name, j->r);
    if (!vm)
        return;
    if (!mgr_vm_has_process(vm)) {
        mgr_fail(j->r, 409, "VM '%s' is %s: its console is there while it runs", vm->name,
                 mgr_vm_state_name(vm->state));
        return;
    }
    mgr_vm_path(m, vm->name, "console.sock", j->path, j->len);
    j->r->status = 200;
}

int mgr_op_console_path(struct mgr *m, const char *name, char *path, size_t len,
                        struct mgr_result *r)
{
    struct console_job j = { .name = name, .path = path, .len = len, .r = r };
    mgr_call(m, job_console, &j);
    return r->status < 400 ? 0 : -ENOENT;
}
