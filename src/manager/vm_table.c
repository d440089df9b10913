// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon's in-memory VM table: loaded from the store at start-up, kept
 * by the loop thread, rendered as the API's vm object.
 */
#include "manager/manager.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "manager/migration.h"
#include "util/compiler.h"

static const char *const state_names[] = {
    [MGR_VM_STOPPED] = "stopped",
    [MGR_VM_STARTING] = "starting",
    [MGR_VM_RUNNING] = "running",
    [MGR_VM_PAUSED] = "paused",
    [MGR_VM_CRASHED] = "crashed",
    [MGR_VM_INCOMING] = "incoming",
};

static const char *const restart_names[] = {
    [MGR_RESTART_NO] = "no",
    [MGR_RESTART_ON_FAILURE] = "on-failure",
    [MGR_RESTART_ALWAYS] = "always",
};

const char *mgr_vm_state_name(enum mgr_vm_state s)
{
    return (unsigned)s < ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}

const char *mgr_restart_name(enum mgr_restart r)
{
    return (unsigned)r < ARRAY_SIZE(restart_names) ? restart_names[r] : "no";
}

int mgr_restart_parse(const char *s, enum mgr_restart *r)
{
    for (size_t i = 0; i < ARRAY_SIZE(restart_names); i++) {
        if (s && strcmp(s, restart_names[i]) == 0) {
            *r = (enum mgr_restart)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool mgr_vm_has_process(const struct mgr_vm *vm)
{
    return vm->pid > 0;
}

struct mgr_vm *mgr_vm_find(struct mgr *m, const char *name)
{
    for (struct mgr_vm *vm = m->vms; vm; vm = vm->next)
        if (strcmp(vm->name, name) == 0)
            return vm;
    return NULL;
}

void mgr_vm_path(const struct mgr *m, const char *name, const char *file, char *buf, size_t len)
{
    if (file)
        snprintf(buf, len, "%s/vms/%s/%s", m->state_dir, name, file);
    else
        snprintf(buf, len, "%s/vms/%s", m->state_dir, name);
}

const struct mgr_vm *mgr_vm_snapshot_user(const struct mgr *m, const struct mgr_vm *vm,
                                          const char **snap)
{
    char dir[PATH_MAX];
    mgr_vm_path(m, vm->name, NULL, dir, sizeof(dir));
    size_t dlen = strlen(dir);
    for (const struct mgr_vm *o = m->vms; o; o = o->next) {
        const char *s = json_string_value(json_object_get(o->config, "from_snapshot"));
        if (o != vm && s && strncmp(s, dir, dlen) == 0 && s[dlen] == '/') {
            *snap = s;
            return o;
        }
    }
    return NULL;
}

struct mgr_vm *mgr_vm_new(const char *name, json_t *config)
{
    struct mgr_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return NULL;
    snprintf(vm->name, sizeof(vm->name), "%s", name);
    vm->config = json_incref(config);
    vm->pidfd = -1;
    vm->cpus = 1;
    vm->last_status = -1;
    return vm;
}

void mgr_vm_free(struct mgr_vm *vm)
{
    if (!vm)
        return;
    json_decref(vm->config);
    mgr_migration_free(vm->mig);
    free(vm);
}

uint64_t mgr_committed_memory(const struct mgr *m, const struct mgr_vm *except)
{
    uint64_t sum = 0;
    for (const struct mgr_vm *vm = m->vms; vm; vm = vm->next)
        if (vm != except && mgr_vm_has_process(vm))
            sum += vm->memory_bytes;
    return sum;
}

/* Keeps the table in name order, like the store's listing. */
static void insert_sorted(struct mgr *m, struct mgr_vm *vm)
{
    struct mgr_vm **p = &m->vms;
    while (*p && strcmp((*p)->name, vm->name) < 0)
        p = &(*p)->next;
    vm->next = *p;
    *p = vm;
}

struct mgr_vm *mgr_vm_define(struct mgr *m, const char *name, json_t *config, const char *restart,
                             struct mgr_result *r)
{
    struct mgr_vm *vm = mgr_vm_new(name, config);
    if (!vm) {
        mgr_fail(r, 500, "out of memory");
        return NULL;
    }
    vm->owner = m;
    vm->created = time(NULL);
    if (restart)
        (void)mgr_restart_parse(restart, &vm->restart);
    char err[MGR_ERR_MAX];
    if (mgr_define_resources(vm->config, &vm->memory_bytes, &vm->cpus, err, sizeof(err)) < 0) {
        mgr_fail(r, 400, "%s", err);
        mgr_vm_free(vm);
        return NULL;
    }
    return vm;
}

int mgr_vm_fresh_dir(struct mgr *m, const char *name, char *dir, size_t len, struct mgr_result *r)
{
    /* A directory without a row is a leftover of a create that did not finish. */
    mgr_vm_path(m, name, NULL, dir, len);
    mgr_remove_tree(dir);
    if (mkdir(dir, 0700) < 0) {
        int ret = -errno;
        mgr_fail(r, 500, "cannot create %s: %s", dir, strerror(errno));
        return ret;
    }
    return 0;
}

int mgr_vm_register(struct mgr *m, struct mgr_vm *vm, struct mgr_result *r)
{
    char *text = json_dumps(vm->config, JSON_COMPACT | JSON_SORT_KEYS);
    int ret = text ? mgr_store_vm_insert(&m->store, vm->name, text, mgr_restart_name(vm->restart),
                                         vm->created) : -ENOMEM;
    free(text);
    if (ret == -EEXIST)
        mgr_fail(r, 409, "a VM named '%s' already exists", vm->name);
    else if (ret)
        mgr_fail(r, 500, "cannot store VM '%s': %s", vm->name, strerror(-ret));
    else
        insert_sorted(m, vm);
    return ret;
}

struct load_ctx {
    struct mgr *m;
    char *err;
    size_t errlen;
};

static int load_one(void *opaque, const struct mgr_store_vm *row)
{
    struct load_ctx *c = opaque;
    json_error_t jerr;
    json_t *config = json_loads(row->config, 0, &jerr);
    if (!json_is_object(config)) {
        snprintf(c->err, c->errlen, "VM '%s': its stored definition is not a JSON object", row->name);
        json_decref(config);
        return -EINVAL;
    }
    struct mgr_vm *vm = mgr_vm_new(row->name, config);
    json_decref(config);
    if (!vm)
        return -ENOMEM;
    if (mgr_restart_parse(row->restart, &vm->restart) < 0)
        vm->restart = MGR_RESTART_NO;
    vm->desired_running = strcmp(row->desired, "running") == 0;
    vm->created = row->created;
    char err[MGR_ERR_MAX];
    if (mgr_define_resources(vm->config, &vm->memory_bytes, &vm->cpus, err, sizeof(err)) < 0)
        snprintf(vm->exit_reason, sizeof(vm->exit_reason), "%.250s", err);
    /* An incoming VM that had not arrived when the daemon stopped (migrate_in.c). */
    char mark[4096];
    mgr_vm_path(c->m, vm->name, MGR_INCOMING_MARK, mark, sizeof(mark));
    if (access(mark, F_OK) == 0)
        vm->state = MGR_VM_INCOMING;
    insert_sorted(c->m, vm);
    return 0;
}

int mgr_vm_load_all(struct mgr *m, char *err, size_t errlen)
{
    struct load_ctx c = { m, err, errlen };
    int ret = mgr_store_vm_each(&m->store, load_one, &c);
    if (ret && !err[0])
        snprintf(err, errlen, "cannot read the VMs from the database: %s", strerror(-ret));
    return ret;
}

static void set_path(json_t *o, const char *key, const struct mgr *m, const char *name,
                     const char *file)
{
    char path[4096];
    mgr_vm_path(m, name, file, path, sizeof(path));
    json_object_set_new(o, key, json_string(path));
}

json_t *mgr_vm_json(struct mgr *m, struct mgr_vm *vm, bool history)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(vm->name));
    json_object_set_new(o, "state", json_string(mgr_vm_state_name(vm->state)));
    json_object_set_new(o, "pid", vm->pid > 0 ? json_integer(vm->pid) : json_null());
    json_object_set_new(o, "cpus", json_integer(vm->cpus));
    json_object_set_new(o, "memory", json_integer((json_int_t)vm->memory_bytes));
    static const char *const copied[] = { "kernel", "initrd", "cmdline", "disks", "nets", "rng",
                                          "balloon", "from_snapshot", "autostart" };
    for (size_t i = 0; i < ARRAY_SIZE(copied); i++) {
        json_t *v = json_object_get(vm->config, copied[i]);
        if (v)
            json_object_set(o, copied[i], v);
    }
    json_object_set_new(o, "restart", json_string(mgr_restart_name(vm->restart)));
    json_object_set_new(o, "restarts", json_integer(vm->restarts));
    json_object_set_new(o, "created", json_integer(vm->created));
    bool up = mgr_vm_has_process(vm);
    json_object_set_new(o, "started_at", up ? json_integer(vm->started_at) : json_null());
    long long uptime = up ? (long long)time(NULL) - vm->started_at : 0;
    json_object_set_new(o, "uptime_s", json_integer(uptime > 0 ? uptime : 0));
    json_object_set_new(o, "exit_reason", vm->exit_reason[0] ? json_string(vm->exit_reason)
                                                              : json_null());
    json_object_set_new(o, "busy", vm->busy ? json_string(vm->busy) : json_null());
    json_object_set_new(o, "migration", vm->mig ? mgr_migration_json(vm->mig) : json_null());
    set_path(o, "api_socket", m, vm->name, "api.sock");
    set_path(o, "console_socket", m, vm->name, "console.sock");
    set_path(o, "console_log", m, vm->name, "console.log");
    set_path(o, "vmm_log", m, vm->name, "vmm.log");
    const struct mgr_stats_sample *s = up ? mgr_stats_latest(&vm->stats) : NULL;
    struct mgr_stats_sample zero = { 0 };
    json_object_set_new(o, "stats", mgr_stats_sample_json(s ? s : &zero));
    if (history)
        json_object_set_new(o, "stats_history", mgr_stats_history_json(&vm->stats));
    return o;
}
