// SPDX-License-Identifier: Apache-2.0
/*
 * VM definitions: a create request checked and turned into what the store
 * keeps, and the vm.json that `casulo run --config` reads. The VMM's own
 * config parser (config_file_parse) checks the VMM's keys, so a definition
 * the daemon accepts is one casulo run accepts, with the same messages.
 */
#include "manager/manager.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/config_file.h"
#include "util/compiler.h"

/* The keys that go to the VMM, under the config file's names. */
static const char *const vmm_keys[] = { "kernel", "initrd", "cmdline", "cpus", "memory", "disks",
                                        "nets", "rng", "balloon" };
/* The daemon's own keys. */
static const char *const mgr_keys[] = { "name", "from_snapshot", "restart", "autostart" };

static bool in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, list[i]) == 0)
            return true;
    return false;
}

/* The part of a definition that casulo run reads. */
static json_t *vmm_config(const json_t *config)
{
    json_t *o = json_object();
    for (size_t i = 0; i < ARRAY_SIZE(vmm_keys); i++) {
        json_t *v = json_object_get(config, vmm_keys[i]);
        if (v)
            json_object_set(o, vmm_keys[i], v);
    }
    return o;
}

/* Parses the VMM part with casulo run's own parser; 0 or -EINVAL with its message. */
static int vmm_parse(const char *name, const json_t *config, struct run_options *opts, char *err,
                     size_t errlen)
{
    json_t *o = vmm_config(config);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    *opts = (struct run_options){ 0 };
    vm_config_init(&opts->cfg);
    int ret = config_file_parse(name, text, strlen(text), opts, err, errlen);
    free(text);
    return ret;
}

static int snapshot_memory(const char *dir, uint64_t *bytes)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/memory", dir);
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    /* One header page, then guest RAM (docs/snapshot-format.md). */
    *bytes = st.st_size > 4096 ? (uint64_t)st.st_size - 4096 : 0;
    return 0;
}

int mgr_define_resources(const json_t *config, uint64_t *memory, unsigned *cpus, char *err,
                         size_t errlen)
{
    struct run_options opts;
    int ret = vmm_parse("definition", config, &opts, err, errlen);
    if (!ret) {
        *memory = opts.cfg.memory;
        *cpus = opts.cfg.cpus;
        const char *snap = json_string_value(json_object_get(config, "from_snapshot"));
        if (snap && !json_object_get(config, "memory") && snapshot_memory(snap, memory) < 0)
            *memory = opts.cfg.memory;
    }
    vm_config_free(&opts.cfg);
    return ret;
}

/* A file the daemon hands to the VMM: absolute (the VMM runs elsewhere) and readable. */
static bool check_file(const char *key, const char *path, bool dir, struct mgr_result *r)
{
    if (path[0] != '/') {
        mgr_fail(r, 400, "%s '%s' must be an absolute path", key, path);
        return false;
    }
    struct stat st;
    if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
        mgr_fail(r, 400, "%s '%s': %s", key, path, strerror(errno));
        return false;
    }
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
        mgr_fail(r, 400, "%s '%s' is not a %s", key, path, dir ? "directory" : "regular file");
        return false;
    }
    return true;
}

static bool check_types(json_t *req, struct mgr_result *r)
{
    const char *key;
    json_t *v;
    json_object_foreach(req, key, v) {
        if (!in_list(key, vmm_keys, ARRAY_SIZE(vmm_keys)) &&
            !in_list(key, mgr_keys, ARRAY_SIZE(mgr_keys))) {
            mgr_fail(r, 400, "unknown field '%s'", key);
            return false;
        }
    }
    static const char *const strings[] = { "name", "kernel", "initrd", "cmdline", "from_snapshot",
                                           "restart" };
    for (size_t i = 0; i < ARRAY_SIZE(strings); i++) {
        v = json_object_get(req, strings[i]);
        if (v && !json_is_string(v)) {
            mgr_fail(r, 400, "field '%s' must be a string", strings[i]);
            return false;
        }
    }
    v = json_object_get(req, "autostart");
    if (v && !json_is_boolean(v)) {
        mgr_fail(r, 400, "field 'autostart' must be true or false");
        return false;
    }
    return true;
}

json_t *mgr_define(struct mgr *m, json_t *req, struct mgr_result *r)
{
    if (!json_is_object(req)) {
        mgr_fail(r, 400, "the request body must be a JSON object");
        return NULL;
    }
    if (!check_types(req, r))
        return NULL;
    const char *name = json_string_value(json_object_get(req, "name"));
    char err[MGR_ERR_MAX];
    if (!name) {
        mgr_fail(r, 400, "missing field 'name'");
        return NULL;
    }
    if (!mgr_name_valid(name, err, sizeof(err))) {
        mgr_fail(r, 400, "%s", err);
        return NULL;
    }
    if (mgr_vm_find(m, name)) {
        mgr_fail(r, 409, "a VM named '%s' already exists", name);
        return NULL;
    }
    char sock[PATH_MAX];
    mgr_vm_path(m, name, "console.sock", sock, sizeof(sock));
    if (strlen(sock) >= VM_CONFIG_API_SOCKET_MAX) {
        mgr_fail(r, 400, "VM name '%s' is too long for this state directory: its socket path "
                 "%s would exceed %d bytes", name, sock, VM_CONFIG_API_SOCKET_MAX - 1);
        return NULL;
    }
    const char *restart = json_string_value(json_object_get(req, "restart"));
    enum mgr_restart rp;
    if (restart && mgr_restart_parse(restart, &rp) < 0) {
        mgr_fail(r, 400, "field 'restart' must be \"no\", \"on-failure\" or \"always\", not '%s'",
                 restart);
        return NULL;
    }
    const char *snap = json_string_value(json_object_get(req, "from_snapshot"));
    const char *kernel = json_string_value(json_object_get(req, "kernel"));
    if (!kernel && !snap) {
        mgr_fail(r, 400, "missing field 'kernel' (or 'from_snapshot')");
        return NULL;
    }
    if (kernel && !check_file("kernel", kernel, false, r))
        return NULL;
    const char *initrd = json_string_value(json_object_get(req, "initrd"));
    if (initrd && !check_file("initrd", initrd, false, r))
        return NULL;
    if (snap && !check_file("from_snapshot", snap, true, r))
        return NULL;
    json_t *config = json_deep_copy(req);
    json_object_del(config, "name");
    json_object_del(config, "restart");
    struct run_options opts;
    char what[96];
    snprintf(what, sizeof(what), "VM '%s'", name);
    int ret = vmm_parse(what, config, &opts, err, sizeof(err));
    if (!ret) {
        for (unsigned i = 0; i < opts.cfg.nr_disks && !ret; i++) {
            if (opts.cfg.disks[i].path[0] != '/') {
                mgr_fail(r, 400, "disk '%s' must be an absolute path", opts.cfg.disks[i].path);
                ret = -EINVAL;
            }
        }
    } else {
        /* The VMM parser's message, minus its "config '...': " framing. */
        const char *msg = strstr(err, "': ");
        mgr_fail(r, 400, "%s", msg ? msg + 3 : err);
    }
    vm_config_free(&opts.cfg);
    if (ret) {
        json_decref(config);
        return NULL;
    }
    return config;
}

int mgr_write_vm_json(struct mgr *m, const struct mgr_vm *vm, char *err, size_t errlen)
{
    json_t *o = vmm_config(vm->config);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    char path[PATH_MAX];
    mgr_vm_path(m, vm->name, "vm.json", path, sizeof(path));
    int ret = mgr_write_file_atomic(path, text, strlen(text));
    free(text);
    if (ret)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(-ret));
    return ret;
}
