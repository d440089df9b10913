// SPDX-License-Identifier: Apache-2.0
/*
 * The destination side of a live migration between daemons:
 * POST /api/v1/migrations/incoming defines the VM in state "incoming" and
 * starts `casulo run --config ... --incoming tcp:ADDR:PORT` on a port this
 * daemon chose; the reply tells the source daemon where its VMM should send
 * the VM. The supervisor takes it from there (supervisor.c): running once
 * its VMM runs the VM, removed when the VMM ends before that (the VM still
 * lives on its source). DELETE of an incoming VM kills its VMM (ops.c).
 */
#include "manager/manager.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/config_file.h"
#include "core/vm_config.h"
#include "manager/migration.h"
#include "util/log.h"

#define LISTEN_WAIT_MS   10000
#define LISTEN_POLL_MS   20

/*
 * A free TCP port on host: bound to port 0, read back, let go. Another
 * program could take it before the VMM binds it; the VMM then fails at
 * once and the source daemon hears why.
 */
static int free_port(const char *host, unsigned *port, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
    int rc = getaddrinfo(host, "0", &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "listen_host '%s': %s", host, gai_strerror(rc));
        return -EINVAL;
    }
    int ret = 0;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot listen on '%s' here: %s", host, strerror(-ret));
    } else {
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return ret;
}

static bool listening(unsigned port)
{
    static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "re");
        if (!f)
            continue;
        char *text = NULL;
        size_t cap = 0;
        ssize_t n = getdelim(&text, &cap, '\0', f);
        fclose(f);
        bool yes = n > 0 && mgr_proc_net_listening(text, port);
        free(text);
        if (yes)
            return true;
    }
    return false;
}

/* The destination opens TAP devices of the same names: they must be here. */
static bool check_taps(const json_t *config, struct mgr_result *r)
{
    json_t *nets = json_object_get(config, "nets");
    if (!nets)
        return true;
    json_t *o = json_pack("{s:O}", "nets", nets);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    struct run_options opts = { 0 };
    vm_config_init(&opts.cfg);
    char err[MGR_ERR_MAX];
    bool ok = text && config_file_parse("definition", text, strlen(text), &opts, err,
                                        sizeof(err)) == 0;
    free(text);
    if (!ok)
        mgr_fail(r, 400, "the VM's network interfaces: %s", err);
    for (unsigned i = 0; ok && i < opts.cfg.nr_nets; i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "/sys/class/net/%s", opts.cfg.nets[i].tap);
        if (stat(path, &st) < 0) {
            mgr_fail(r, 409, "the VM uses TAP device '%s', and this host has none of that name "
                     "(create it, connected to the same network, before migrating)",
                     opts.cfg.nets[i].tap);
            ok = false;
        }
    }
    vm_config_free(&opts.cfg);
    return ok;
}

struct incoming_job {
    json_t *req;                /* a create request: the config and the name */
    const char *restart;
    const char *listen;         /* tcp:ADDR:PORT for the VMM */
    struct mgr_result *r;
    /* out of job_incoming_state */
    bool alive;
    char reason[256];
};

static void job_incoming(struct mgr *m, void *arg)
{
    struct incoming_job *j = arg;
    struct mgr_result *r = j->r;
    if (m->stopping) {
        mgr_fail(r, 503, "this daemon is shutting down");
        return;
    }
    json_t *config = mgr_define(m, j->req, r);
    if (!config)
        return;
    if (!check_taps(config, r)) {
        json_decref(config);
        return;
    }
    const char *name = json_string_value(json_object_get(j->req, "name"));
    struct mgr_vm *vm = mgr_vm_define(m, name, config, j->restart, r);
    json_decref(config);
    if (!vm)
        return;
    char err[MGR_ERR_MAX], dir[PATH_MAX];
    if (mgr_vm_fresh_dir(m, name, dir, sizeof(dir), r) < 0) {
        mgr_vm_free(vm);
        return;
    }
    /* Before the row: a daemon restarted mid-migration must not boot this VM afresh. */
    char mark[PATH_MAX];
    mgr_vm_path(m, name, MGR_INCOMING_MARK, mark, sizeof(mark));
    int ret = mgr_write_file_atomic(mark, j->listen, strlen(j->listen));
    if (ret)
        mgr_fail(r, 500, "cannot write %s: %s", mark, strerror(-ret));
    if (ret || mgr_vm_register(m, vm, r) < 0) {
        mgr_remove_tree(dir);
        mgr_vm_free(vm);
        return;
    }
    if (mgr_sup_start_incoming(m, vm, j->listen, r) < 0) {
        char why[MGR_ERR_MAX];
        int status = r->status;
        snprintf(why, sizeof(why), "%s", r->error);
        if (mgr_vm_remove(m, vm, NULL, err, sizeof(err)) < 0)
            log_error("serve", "%s", err);
        mgr_fail(r, status, "%s", why);
        return;
    }
    log_info("serve", "VM '%s': defined, incoming on %s", name, j->listen);
    r->status = 201;
}

static void job_incoming_state(struct mgr *m, void *arg)
{
    struct incoming_job *j = arg;
    const char *name = json_string_value(json_object_get(j->req, "name"));
    struct mgr_vm *vm = mgr_vm_find(m, name);
    if (vm)
        mgr_sup_check_exit(m, vm);
    j->alive = vm && vm->state == MGR_VM_INCOMING && mgr_vm_has_process(vm);
    snprintf(j->reason, sizeof(j->reason), "%s",
             vm && vm->exit_reason[0] ? vm->exit_reason : "see the destination daemon's log");
}

static bool valid_host(const char *h)
{
    if (!*h || strlen(h) > 255)
        return false;
    for (const char *c = h; *c; c++)
        if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') || ('0' <= *c && *c <= '9') ||
              *c == '.' || *c == '-' || *c == ':' || *c == '%'))
            return false;
    return true;
}

void mgr_op_incoming(struct mgr *m, json_t *body, struct mgr_result *r)
{
    if (!json_is_object(body)) {
        mgr_fail(r, 400, "the request body must be a JSON object");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "name") && strcmp(key, "config") && strcmp(key, "listen_host") &&
            strcmp(key, "restart")) {
            mgr_fail(r, 400, "unknown field '%s'", key);
            return;
        }
    }
    json_t *name = json_object_get(body, "name"), *config = json_object_get(body, "config");
    json_t *host_j = json_object_get(body, "listen_host"), *restart = json_object_get(body, "restart");
    if (!json_is_string(name) || !json_is_object(config)) {
        mgr_fail(r, 400, "'name' (a string) and 'config' (the VM's definition) are required");
        return;
    }
    if ((host_j && !json_is_string(host_j)) || (restart && !json_is_string(restart))) {
        mgr_fail(r, 400, "'listen_host' and 'restart' must be strings");
        return;
    }
    if (json_object_get(config, "name") || json_object_get(config, "restart")) {
        mgr_fail(r, 400, "'config' is the definition without 'name' and 'restart'");
        return;
    }
    const char *host = host_j ? json_string_value(host_j) : "0.0.0.0";
    if (!valid_host(host)) {
        mgr_fail(r, 400, "listen_host '%s' is not a host name or address", host);
        return;
    }
    unsigned port = 0;
    char err[MGR_ERR_MAX];
    if (free_port(host, &port, err, sizeof(err)) < 0) {
        mgr_fail(r, 400, "%s", err);
        return;
    }
    bool v6 = strchr(host, ':') != NULL;
    char listen[300];
    snprintf(listen, sizeof(listen), "tcp:%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);
    json_t *req = json_deep_copy(config);
    json_object_set(req, "name", name);
    struct incoming_job j = { .req = req, .restart = restart ? json_string_value(restart) : NULL,
                              .listen = listen, .r = r };
    mgr_call(m, job_incoming, &j);
    if (r->status >= 400) {
        json_decref(req);
        return;
    }
    /* The reply sends the source's VMM here: only once our VMM accepts connections. */
    for (unsigned waited = 0;; waited += LISTEN_POLL_MS) {
        mgr_call(m, job_incoming_state, &j);
        if (!j.alive) {
            mgr_fail(r, 502, "the incoming VMM for VM '%s' ended before it listened: %s",
                     json_string_value(name), j.reason);
            break;
        }
        if (listening(port)) {
            r->status = 201;
            r->body = json_pack("{s:O, s:s, s:s}", "name", name, "url", listen, "state", "incoming");
            break;
        }
        if (waited >= LISTEN_WAIT_MS) {
            mgr_fail(r, 504, "the incoming VMM for VM '%s' did not listen on %s within %d s",
                     json_string_value(name), listen, LISTEN_WAIT_MS / 1000);
            struct mgr_result dr = { 0 };
            mgr_op_delete(m, json_string_value(name), &dr);
            json_decref(dr.body);
            break;
        }
        struct timespec ts = { 0, LISTEN_POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
    json_decref(req);
}
