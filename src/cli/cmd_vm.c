// SPDX-License-Identifier: Apache-2.0
/*
 * `casulo vm VERB ...`: the daemon's command-line client, in the manner of
 * virsh. Each verb is one or two REST requests (api/manager-openapi.yaml);
 * output is for people (a table, a line) unless --json asks for the
 * daemon's JSON as is. Errors are the daemon's one line, exit status 1;
 * misuse of the command line is exit status 2.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/vm_client.h"
#include "cli/vm_console.h"
#include "util/compiler.h"
#include "util/size.h"

#define VM_DISKS_MAX 16

struct vm_args {
    struct vm_client client;
    bool json;
    const char *verb;
    const char *name;
    /* create */
    const char *kernel, *initrd, *cmdline, *from_snapshot, *restart;
    const char *cpus, *memory;
    const char *disks[VM_DISKS_MAX];
    unsigned nr_disks;
    const char *nets[VM_DISKS_MAX];
    unsigned nr_nets;
    bool rng, balloon_dev, start;
    /* clone, set, migrate */
    const char *count, *prefix, *balloon, *to;
    bool no_start;
    const char *dest_token, *max_downtime, *bandwidth;
    bool auto_converge, no_compress, watch;
};

static void vm_usage(FILE *out)
{
    fputs("usage: casulo vm [--connect ADDR] [--token TOKEN] [--json] VERB [NAME] [options]\n"
          "\n"
          "Manage VMs through the casulo daemon (casulo serve). ADDR: unix:PATH or PATH (default\n"
          VM_CLIENT_DEFAULT_CONNECT ", or $CASULO_CONNECT), http://HOST:PORT or tcp:HOST:PORT;\n"
          "TOKEN (or $CASULO_TOKEN) for a daemon started with --token-file.\n"
          "\n"
          "  create NAME --kernel PATH [--initrd PATH] [--cmdline STR] [--cpus N]\n"
          "         [--memory SIZE] [--disk SPEC]... [--net SPEC]... [--rng] [--balloon]\n"
          "         [--restart no|on-failure|always] [--start]\n"
          "  create NAME --from-snapshot DIR [...]    a VM that continues a snapshot\n"
          "  list                         NAME STATE CPUS MEMORY UPTIME of every VM\n"
          "  info NAME                    a VM's definition, state and resource use\n"
          "  start|stop|power-off|pause|resume|delete NAME\n"
          "  console NAME                 attach the terminal to the VM's console (Ctrl-] detaches)\n"
          "  snapshot NAME                pause, snapshot into the VM's directory, resume\n"
          "  clone NAME --count N [--prefix P] [--no-start]\n"
          "                               N new VMs P-1..P-N (default P: NAME) from one snapshot\n"
          "  set NAME [--memory SIZE] [--cpus N]   change a stopped VM's definition\n"
          "  set NAME --balloon SIZE      a running VM's balloon target (memory taken from it)\n"
          "  migrate NAME --to DEST [--dest-token TOKEN] [--max-downtime MS]\n"
          "         [--bandwidth MIB] [--auto-converge] [--no-compress] [--watch]\n"
          "                               live-migrate a running VM to the casulo daemon at\n"
          "                               DEST (an ADDR as above); disks must be on storage both\n"
          "                               hosts see at the same paths. Waits until the copy\n"
          "                               starts; --watch follows it to the end\n",
          out);
}

/* A path as the daemon must see it: absolute (it does not share our working directory). */
static char *absolute(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char *real = realpath(path, NULL);
    if (real)
        return real;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return strdup(path);
    char *out = malloc(strlen(cwd) + strlen(path) + 2);
    if (out)
        sprintf(out, "%s/%s", cwd, path);
    return out;
}

/* "path=rel.img,id=x" with the path made absolute. */
static char *absolute_disk(const char *spec)
{
    const char *p = strncmp(spec, "path=", 5) == 0 ? spec : strstr(spec, ",path=");
    if (!p)
        return strdup(spec);
    const char *val = p + (p == spec ? 5 : 6);
    size_t vlen = strcspn(val, ",");
    if (val[0] == '/')
        return strdup(spec);
    char *rel = strndup(val, vlen);
    char *abs = rel ? absolute(rel) : NULL;
    free(rel);
    if (!abs)
        return NULL;
    size_t head = (size_t)(val - spec);
    char *out = malloc(strlen(spec) + strlen(abs) + 1);
    if (out)
        sprintf(out, "%.*s%s%s", (int)head, spec, abs, val + vlen);
    free(abs);
    return out;
}

/* Sends a request; on success returns the parsed reply (or prints it with --json). */
static int call(const struct vm_args *a, const char *method, const char *path, json_t *body,
                json_t **out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct vm_reply reply;
    int ret = vm_client_request(&a->client, method, path, text, &reply, stderr);
    free(text);
    if (ret < 0)
        return 1;
    if (reply.status >= 400 || reply.status < 200) {
        vm_reply_print_error(&reply, stderr);
        vm_reply_free(&reply);
        return 1;
    }
    json_t *j = reply.body ? json_loads(reply.body, 0, NULL) : NULL;
    if (a->json && reply.body)
        printf("%s\n", reply.body);
    vm_reply_free(&reply);
    if (!j) {
        fprintf(stderr, "casulo: error: the daemon's reply is not JSON\n");
        return 1;
    }
    if (out)
        *out = j;
    else
        json_decref(j);
    return 0;
}

static void format_uptime(json_int_t s, bool up, char *buf, size_t len)
{
    if (!up || s < 0)
        snprintf(buf, len, "-");
    else if (s < 60)
        snprintf(buf, len, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, len, "%lldm%02llds", (long long)s / 60, (long long)s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%lldh%02lldm", (long long)s / 3600, (long long)(s % 3600) / 60);
    else
        snprintf(buf, len, "%lldd%02lldh", (long long)s / 86400, (long long)(s % 86400) / 3600);
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static int verb_list(const struct vm_args *a)
{
    json_t *list;
    int ret = call(a, "GET", "/api/v1/vms", NULL, &list);
    if (ret || a->json) {
        if (!ret)
            json_decref(list);
        return ret;
    }
    printf("%-24s %-9s %4s %8s %8s\n", "NAME", "STATE", "CPUS", "MEMORY", "UPTIME");
    size_t i;
    json_t *vm;
    json_array_foreach(list, i, vm) {
        char mem[32], up[32];
        size_format((uint64_t)json_integer_value(json_object_get(vm, "memory")), mem, sizeof(mem));
        format_uptime(json_integer_value(json_object_get(vm, "uptime_s")),
                      json_is_integer(json_object_get(vm, "pid")), up, sizeof(up));
        printf("%-24s %-9s %4lld %8s %8s\n", str(vm, "name"), str(vm, "state"),
               (long long)json_integer_value(json_object_get(vm, "cpus")), mem, up);
    }
    json_decref(list);
    return 0;
}

static double mib(json_t *o, const char *key)
{
    return (double)json_integer_value(json_object_get(o, key)) / (1024.0 * 1024.0);
}

static void print_vm(json_t *vm)
{
    char mem[32], up[32];
    size_format((uint64_t)json_integer_value(json_object_get(vm, "memory")), mem, sizeof(mem));
    format_uptime(json_integer_value(json_object_get(vm, "uptime_s")),
                  json_is_integer(json_object_get(vm, "pid")), up, sizeof(up));
    printf("name:         %s\n", str(vm, "name"));
    printf("state:        %s\n", str(vm, "state"));
    json_t *pid = json_object_get(vm, "pid");
    if (json_is_integer(pid))
        printf("pid:          %lld\n", (long long)json_integer_value(pid));
    printf("cpus:         %lld\n", (long long)json_integer_value(json_object_get(vm, "cpus")));
    printf("memory:       %s\n", mem);
    if (json_object_get(vm, "kernel"))
        printf("kernel:       %s\n", str(vm, "kernel"));
    if (json_object_get(vm, "from_snapshot"))
        printf("snapshot:     %s\n", str(vm, "from_snapshot"));
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(vm, "disks"), i, d)
        printf("disk:         %s\n", json_string_value(d) ? json_string_value(d) : "(object)");
    printf("restart:      %s\n", str(vm, "restart"));
    printf("uptime:       %s\n", up);
    if (json_is_string(json_object_get(vm, "exit_reason")))
        printf("last exit:    %s\n", str(vm, "exit_reason"));
    json_t *st = json_object_get(vm, "stats");
    if (json_is_object(st) && json_is_integer(pid)) {
        char rss[32];
        size_format((uint64_t)json_integer_value(json_object_get(st, "rss_bytes")) & ~1023ULL, rss,
                    sizeof(rss));
        printf("cpu:          %.1f%%\n", json_real_value(json_object_get(st, "cpu_percent")));
        printf("rss:          %s\n", rss);
    }
    printf("console log:  %s\n", str(vm, "console_log"));
    json_t *mig = json_object_get(vm, "migration");
    if (json_is_object(mig)) {
        json_t *p = json_object_get(mig, "progress");
        printf("migration:    %s to %s\n", str(mig, "status"), str(mig, "to"));
        if (json_is_object(p) && json_is_integer(json_object_get(p, "bytes_sent")))
            printf("migrated:     %.1f MiB sent, pass %lld, %s\n", mib(p, "bytes_sent"),
                   (long long)json_integer_value(json_object_get(p, "iteration")), str(p, "phase"));
        if (json_is_string(json_object_get(mig, "error")))
            printf("migration error: %s\n", str(mig, "error"));
    }
}

static int verb_info(const struct vm_args *a, const char *path)
{
    json_t *vm;
    int ret = call(a, "GET", path, NULL, &vm);
    if (!ret && !a->json)
        print_vm(vm);
    if (!ret)
        json_decref(vm);
    return ret;
}

static int verb_create(const struct vm_args *a)
{
    if (!a->kernel && !a->from_snapshot) {
        fprintf(stderr, "casulo: error: vm create needs --kernel PATH or --from-snapshot DIR\n");
        return 2;
    }
    json_t *req = json_object();
    json_object_set_new(req, "name", json_string(a->name));
    struct { const char *key, *value; } paths[] = {
        { "kernel", a->kernel }, { "initrd", a->initrd }, { "from_snapshot", a->from_snapshot },
    };
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        if (!paths[i].value)
            continue;
        char *abs = absolute(paths[i].value);
        json_object_set_new(req, paths[i].key, json_string(abs ? abs : paths[i].value));
        free(abs);
    }
    if (a->cmdline)
        json_object_set_new(req, "cmdline", json_string(a->cmdline));
    if (a->cpus) {
        char *end;
        long n = strtol(a->cpus, &end, 10);
        json_object_set_new(req, "cpus", *end || !*a->cpus ? json_string(a->cpus) : json_integer(n));
    }
    if (a->memory)
        json_object_set_new(req, "memory", json_string(a->memory));
    if (a->nr_disks) {
        json_t *disks = json_array();
        for (unsigned i = 0; i < a->nr_disks; i++) {
            char *abs = absolute_disk(a->disks[i]);
            json_array_append_new(disks, json_string(abs ? abs : a->disks[i]));
            free(abs);
        }
        json_object_set_new(req, "disks", disks);
    }
    if (a->nr_nets) {
        json_t *nets = json_array();
        for (unsigned i = 0; i < a->nr_nets; i++)
            json_array_append_new(nets, json_string(a->nets[i]));
        json_object_set_new(req, "nets", nets);
    }
    if (a->rng)
        json_object_set_new(req, "rng", json_true());
    if (a->balloon_dev)
        json_object_set_new(req, "balloon", json_true());
    if (a->restart)
        json_object_set_new(req, "restart", json_string(a->restart));
    if (a->start)
        json_object_set_new(req, "autostart", json_true());
    json_t *vm;
    int ret = call(a, "POST", "/api/v1/vms", req, &vm);
    json_decref(req);
    if (!ret && !a->json)
        printf("VM '%s' created%s\n", a->name, a->start ? " and started" : "");
    if (!ret)
        json_decref(vm);
    return ret;
}

static int verb_action(const struct vm_args *a, const char *action, json_t *body)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/vms/%s/%s", a->name, action);
    json_t *r;
    int ret = call(a, "POST", path, body, &r);
    if (ret || a->json) {
        if (!ret)
            json_decref(r);
        return ret;
    }
    if (strcmp(action, "snapshot") == 0) {
        printf("VM '%s': snapshot in %s\n", a->name, str(r, "snapshot"));
    } else if (strcmp(action, "clone") == 0) {
        json_t *clones = json_object_get(r, "clones");
        printf("VM '%s': %zu clone%s from snapshot %s:", a->name, json_array_size(clones),
               json_array_size(clones) == 1 ? "" : "s", str(r, "snapshot"));
        size_t i;
        json_t *c;
        json_array_foreach(clones, i, c)
            printf(" %s", str(c, "name"));
        printf("\n");
    } else {
        static const struct { const char *action, *done; } words[] = {
            { "start", "started" }, { "stop", "stopped" }, { "power-off", "is powering off" },
            { "pause", "paused" }, { "resume", "resumed" },
        };
        const char *done = action;
        for (size_t i = 0; i < ARRAY_SIZE(words); i++)
            if (strcmp(words[i].action, action) == 0)
                done = words[i].done;
        json_t *pid = json_object_get(r, "pid");
        if (strcmp(action, "start") == 0 && json_is_integer(pid))
            printf("VM '%s' started (pid %lld)\n", a->name, (long long)json_integer_value(pid));
        else
            printf("VM '%s' %s\n", a->name, done);
    }
    json_decref(r);
    return 0;
}

static int verb_delete(const struct vm_args *a)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/vms/%s", a->name);
    int ret = call(a, "DELETE", path, NULL, NULL);
    if (!ret && !a->json)
        printf("VM '%s' deleted\n", a->name);
    return ret;
}

static int verb_set(const struct vm_args *a)
{
    if (!a->memory && !a->cpus && !a->balloon) {
        fprintf(stderr, "casulo: error: vm set needs --memory SIZE, --cpus N or --balloon SIZE\n");
        return 2;
    }
    json_t *req = json_object();
    if (a->memory)
        json_object_set_new(req, "memory", json_string(a->memory));
    if (a->cpus) {
        char *end;
        long n = strtol(a->cpus, &end, 10);
        json_object_set_new(req, "cpus", *end || !*a->cpus ? json_string(a->cpus) : json_integer(n));
    }
    if (a->balloon)
        json_object_set_new(req, "balloon", json_string(a->balloon));
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/vms/%s", a->name);
    json_t *vm;
    int ret = call(a, "PATCH", path, req, &vm);
    json_decref(req);
    if (ret)
        return ret;
    if (!a->json) {
        if (a->balloon)
            printf("VM '%s': balloon target %s\n", a->name, a->balloon);
        else
            printf("VM '%s': %s%s%s%s%s\n", a->name, a->memory ? "memory " : "",
                   a->memory ? a->memory : "", a->memory && a->cpus ? ", " : "",
                   a->cpus ? "cpus " : "", a->cpus ? a->cpus : "");
    }
    json_decref(vm);
    return 0;
}

static int verb_console(const struct vm_args *a);

static int verb_clone(const struct vm_args *a)
{
    if (!a->count) {
        fprintf(stderr, "casulo: error: vm clone needs --count N\n");
        return 2;
    }
    char *end;
    long n = strtol(a->count, &end, 10);
    if (*end || !*a->count) {
        fprintf(stderr, "casulo: error: --count '%s' is not a number\n", a->count);
        return 2;
    }
    json_t *req = json_pack("{s:I}", "count", (json_int_t)n);
    if (a->prefix)
        json_object_set_new(req, "prefix", json_string(a->prefix));
    if (a->no_start)
        json_object_set_new(req, "start", json_false());
    int ret = verb_action(a, "clone", req);
    json_decref(req);
    return ret;
}

/* A whole number option for the request, or exit status 2. */
static int number_option(const char *opt, const char *text, json_t *req, const char *key)
{
    if (!text)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (!*text || *end || errno || n < 0) {
        fprintf(stderr, "casulo: error: --%s '%s' is not a whole number\n", opt, text);
        return 2;
    }
    json_object_set_new(req, key, json_integer(n));
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* One progress line from the VMM's GET /migrate (the VM object's migration.progress). */
static void print_progress(json_t *p, char *last, size_t len)
{
    char line[512];
    if (!json_is_object(p))
        return;
    snprintf(line, sizeof(line), "%s, pass %lld: sent %.1f MiB, remaining %.1f MiB, dirty %.1f "
             "MiB/s, link %.1f MiB/s%s", str(p, "phase"),
             (long long)json_integer_value(json_object_get(p, "iteration")), mib(p, "bytes_sent"),
             mib(p, "bytes_remaining"), json_number_value(json_object_get(p, "dirty_rate_mib_s")),
             json_number_value(json_object_get(p, "bandwidth_mib_s")),
             json_is_false(json_object_get(p, "converging")) ? ", not converging" : "");
    if (strcmp(line, last) != 0) {
        printf("%s\n", line);
        fflush(stdout);
        snprintf(last, len, "%s", line);
    }
}

static void print_json(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    if (text)
        printf("%s\n", text);
    free(text);
}

/* After the VM left the source: its outcome from GET /api/v1/migrations. */
static int migrated_outcome(const struct vm_args *a)
{
    struct vm_args quiet = *a;
    quiet.json = false;
    json_t *list;
    if (call(&quiet, "GET", "/api/v1/migrations", NULL, &list))
        return 1;
    json_t *done = json_object_get(list, "finished"), *mine = NULL, *o;
    size_t i;
    json_array_foreach(done, i, o)
        if (strcmp(str(o, "name"), a->name) == 0)
            mine = o;
    int ret = 0;
    if (!mine || strcmp(str(mine, "status"), "completed") != 0) {
        fprintf(stderr, "casulo: error: VM '%s' is no longer on this daemon, but no completed "
                "migration of it is recorded\n", a->name);
        ret = 1;
    } else {
        json_t *p = json_object_get(mine, "progress");
        if (a->json)
            print_json(mine);
        else
            printf("completed: downtime %lld ms, total %lld ms, %.1f MiB sent; VM '%s' runs on %s\n",
                   (long long)json_integer_value(json_object_get(p, "downtime_ms")),
                   (long long)json_integer_value(json_object_get(p, "total_ms")),
                   mib(p, "bytes_sent"), a->name, str(mine, "to"));
    }
    json_decref(list);
    return ret;
}

/*
 * Follows the VM's "migration" until the copy runs (or, with --watch, until
 * it ends). The source daemon removes the VM once it moved: a 404 then
 * means done, and the recorded outcome says how.
 */
static int follow_migration(const struct vm_args *a)
{
    char path[256], last[512] = "";
    snprintf(path, sizeof(path), "/api/v1/vms/%s", a->name);
    bool said_active = false;
    for (;;) {
        struct vm_reply reply;
        if (vm_client_request(&a->client, "GET", path, NULL, &reply, stderr) < 0)
            return 1;
        if (reply.status == 404) {
            vm_reply_free(&reply);
            return migrated_outcome(a);
        }
        if (reply.status != 200) {
            vm_reply_print_error(&reply, stderr);
            vm_reply_free(&reply);
            return 1;
        }
        json_t *vm = reply.body ? json_loads(reply.body, 0, NULL) : NULL;
        vm_reply_free(&reply);
        json_t *mig = json_object_get(vm, "migration");
        const char *st = json_string_value(json_object_get(mig, "status"));
        if (!st) {
            fprintf(stderr, "casulo: error: the daemon shows no migration of VM '%s'\n", a->name);
            json_decref(vm);
            return 1;
        }
        if (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0) {
            fprintf(stderr, "casulo: error: migration of VM '%s' %s: %s (the VM stays here, %s)\n",
                    a->name, st, str(mig, "error"), str(vm, "state"));
            json_decref(vm);
            return 1;
        }
        if (strcmp(st, "active") == 0 && !said_active && !a->json) {
            printf("VM '%s': migrating to %s (stream to %s)\n", a->name, str(mig, "to"),
                   str(mig, "url"));
            fflush(stdout);
            said_active = true;
        }
        if (strcmp(st, "active") == 0 && !a->watch) {
            if (!a->json)
                printf("follow it with: casulo vm info %s\n", a->name);
            else
                print_json(vm);
            json_decref(vm);
            return 0;
        }
        if (a->watch && !a->json)
            print_progress(json_object_get(mig, "progress"), last, sizeof(last));
        json_decref(vm);
        sleep_ms(500);
    }
}

static int verb_migrate(const struct vm_args *a)
{
    if (!a->to) {
        fprintf(stderr, "casulo: error: vm migrate needs --to DEST (the destination daemon's "
                "address)\n");
        return 2;
    }
    json_t *req = json_pack("{s:s}", "to", a->to);
    int ret = number_option("max-downtime", a->max_downtime, req, "max_downtime_ms");
    if (!ret)
        ret = number_option("bandwidth", a->bandwidth, req, "bandwidth_mib_s");
    if (ret) {
        json_decref(req);
        return ret;
    }
    if (a->dest_token)
        json_object_set_new(req, "token", json_string(a->dest_token));
    if (a->auto_converge)
        json_object_set_new(req, "auto_converge", json_true());
    if (a->no_compress)
        json_object_set_new(req, "compress", json_false());
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/vms/%s/migrate", a->name);
    struct vm_args quiet = *a;
    quiet.json = false;
    json_t *r;
    ret = call(&quiet, "POST", path, req, &r);
    json_decref(req);
    if (ret)
        return ret;
    json_decref(r);
    return follow_migration(a);
}

enum { O_CONNECT = 256, O_TOKEN, O_JSON, O_KERNEL, O_INITRD, O_CMDLINE, O_CPUS, O_MEMORY, O_DISK,
       O_NET, O_RNG, O_BALLOON, O_RESTART, O_START, O_FROM_SNAPSHOT, O_COUNT, O_PREFIX,
       O_NO_START, O_TO, O_DEST_TOKEN, O_MAX_DOWNTIME, O_BANDWIDTH, O_AUTO_CONVERGE, O_NO_COMPRESS, O_WATCH };

/* Which options each verb takes (besides --connect, --token, --json). */
static const struct { const char *verb; bool name; const int *opts; } verbs[] = {
    { "create", true, (const int[]){ O_KERNEL, O_INITRD, O_CMDLINE, O_CPUS, O_MEMORY, O_DISK, O_NET,
                                     O_RNG, O_BALLOON, O_RESTART, O_START, O_FROM_SNAPSHOT, 0 } },
    { "list", false, (const int[]){ 0 } },
    { "info", true, (const int[]){ 0 } },
    { "start", true, (const int[]){ 0 } },
    { "stop", true, (const int[]){ 0 } },
    { "power-off", true, (const int[]){ 0 } },
    { "pause", true, (const int[]){ 0 } },
    { "resume", true, (const int[]){ 0 } },
    { "delete", true, (const int[]){ 0 } },
    { "console", true, (const int[]){ 0 } },
    { "snapshot", true, (const int[]){ 0 } },
    { "clone", true, (const int[]){ O_COUNT, O_PREFIX, O_NO_START, 0 } },
    { "set", true, (const int[]){ O_MEMORY, O_CPUS, O_BALLOON, 0 } },
    { "migrate", true, (const int[]){ O_TO, O_DEST_TOKEN, O_MAX_DOWNTIME, O_BANDWIDTH,
                                      O_AUTO_CONVERGE, O_NO_COMPRESS, O_WATCH, 0 } },
};

static const struct option long_opts[] = {
    { "connect", required_argument, NULL, O_CONNECT },
    { "token", required_argument, NULL, O_TOKEN },
    { "json", no_argument, NULL, O_JSON },
    { "kernel", required_argument, NULL, O_KERNEL },
    { "initrd", required_argument, NULL, O_INITRD },
    { "cmdline", required_argument, NULL, O_CMDLINE },
    { "cpus", required_argument, NULL, O_CPUS },
    { "memory", required_argument, NULL, O_MEMORY },
    { "disk", required_argument, NULL, O_DISK },
    { "net", required_argument, NULL, O_NET },
    { "rng", no_argument, NULL, O_RNG },
    { "balloon", optional_argument, NULL, O_BALLOON },
    { "restart", required_argument, NULL, O_RESTART },
    { "start", no_argument, NULL, O_START },
    { "from-snapshot", required_argument, NULL, O_FROM_SNAPSHOT },
    { "count", required_argument, NULL, O_COUNT },
    { "prefix", required_argument, NULL, O_PREFIX },
    { "no-start", no_argument, NULL, O_NO_START },
    { "to", required_argument, NULL, O_TO },
    { "dest-token", required_argument, NULL, O_DEST_TOKEN },
    { "max-downtime", required_argument, NULL, O_MAX_DOWNTIME },
    { "bandwidth", required_argument, NULL, O_BANDWIDTH },
    { "auto-converge", no_argument, NULL, O_AUTO_CONVERGE },
    { "no-compress", no_argument, NULL, O_NO_COMPRESS },
    { "watch", no_argument, NULL, O_WATCH },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static bool verb_takes(int verb, int opt)
{
    for (const int *o = verbs[verb].opts; *o; o++)
        if (*o == opt)
            return true;
    return false;
}

static const char *opt_name(int opt)
{
    for (const struct option *o = long_opts; o->name; o++)
        if (o->val == opt)
            return o->name;
    return "?";
}

static int parse(int argc, char **argv, struct vm_args *a, int *verb)
{
    *verb = -1;
    optind = 0;
    int c;
    /* First pass: find the verb (the first non-option), wherever the global options stand. */
    const char *positional[3] = { 0 };
    int npos = 0;
    while ((c = getopt_long(argc, argv, "-:h", long_opts, NULL)) != -1) {
        if (c == 1) {
            if (npos == 2) {
                fprintf(stderr, "casulo: error: unexpected argument '%s' (see casulo vm help)\n", optarg);
                return 2;
            }
            positional[npos++] = optarg;
            if (npos == 1) {
                for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                    if (strcmp(verbs[i].verb, optarg) == 0)
                        *verb = (int)i;
                if (*verb < 0 && strcmp(optarg, "help") != 0) {
                    fprintf(stderr, "casulo: error: unknown vm verb '%s' (see casulo vm help)\n", optarg);
                    return 2;
                }
                a->verb = optarg;
            }
            continue;
        }
        if (c == 'h') {
            vm_usage(stdout);
            return -1;
        }
        if (c == ':') {
            fprintf(stderr, "casulo: error: %s needs a value\n", argv[optind - 1]);
            return 2;
        }
        if (c == '?') {
            fprintf(stderr, "casulo: error: unknown option '%s' (see casulo vm help)\n", argv[optind - 1]);
            return 2;
        }
        if (c != O_CONNECT && c != O_TOKEN && c != O_JSON && (*verb < 0 || !verb_takes(*verb, c))) {
            fprintf(stderr, "casulo: error: --%s is not an option of vm %s\n", opt_name(c),
                    a->verb ? a->verb : "(no verb yet: give the verb first)");
            return 2;
        }
        switch (c) {
        case O_CONNECT: a->client.connect = optarg; break;
        case O_TOKEN: a->client.token = optarg; break;
        case O_JSON: a->json = true; break;
        case O_KERNEL: a->kernel = optarg; break;
        case O_INITRD: a->initrd = optarg; break;
        case O_CMDLINE: a->cmdline = optarg; break;
        case O_CPUS: a->cpus = optarg; break;
        case O_MEMORY: a->memory = optarg; break;
        case O_DISK:
        case O_NET: {
            unsigned *n = c == O_DISK ? &a->nr_disks : &a->nr_nets;
            if (*n == VM_DISKS_MAX) {
                fprintf(stderr, "casulo: error: too many --%s options\n", opt_name(c));
                return 2;
            }
            (c == O_DISK ? a->disks : a->nets)[(*n)++] = optarg;
            break;
        }
        case O_RNG: a->rng = true; break;
        case O_BALLOON:
            if (strcmp(a->verb, "set") == 0) {
                /* An optional argument only binds with '='; take "--balloon SIZE" too. */
                if (!optarg && optind < argc && argv[optind][0] != '-')
                    optarg = argv[optind++];
                if (!optarg) {
                    fprintf(stderr, "casulo: error: vm set --balloon needs a size\n");
                    return 2;
                }
                a->balloon = optarg;
            } else {
                a->balloon_dev = true;
            }
            break;
        case O_RESTART: a->restart = optarg; break;
        case O_START: a->start = true; break;
        case O_FROM_SNAPSHOT: a->from_snapshot = optarg; break;
        case O_COUNT: a->count = optarg; break;
        case O_PREFIX: a->prefix = optarg; break;
        case O_NO_START: a->no_start = true; break;
        case O_TO: a->to = optarg; break;
        case O_DEST_TOKEN: a->dest_token = optarg; break;
        case O_MAX_DOWNTIME: a->max_downtime = optarg; break;
        case O_BANDWIDTH: a->bandwidth = optarg; break;
        case O_AUTO_CONVERGE: a->auto_converge = true; break;
        case O_NO_COMPRESS: a->no_compress = true; break;
        case O_WATCH: a->watch = true; break;
        }
    }
    if (!a->verb || strcmp(a->verb, "help") == 0) {
        vm_usage(a->verb ? stdout : stderr);
        return a->verb ? -1 : 2;
    }
    if (verbs[*verb].name && npos < 2) {
        fprintf(stderr, "casulo: error: vm %s needs a VM name\n", a->verb);
        return 2;
    }
    if (!verbs[*verb].name && npos > 1) {
        fprintf(stderr, "casulo: error: vm %s takes no name ('%s')\n", a->verb, positional[1]);
        return 2;
    }
    a->name = positional[1];
    return 0;
}

int cmd_vm(int argc, char **argv)
{
    struct vm_args a = { 0 };
    a.client.connect = getenv("CASULO_CONNECT");
    if (!a.client.connect || !*a.client.connect)
        a.client.connect = VM_CLIENT_DEFAULT_CONNECT;
    a.client.token = getenv("CASULO_TOKEN");
    int verb;
    int ret = parse(argc, argv, &a, &verb);
    if (ret)
        return ret < 0 ? 0 : ret;
    if (a.name && strchr(a.name, '/')) {
        fprintf(stderr, "casulo: error: '%s' is not a VM name\n", a.name);
        return 2;
    }
    const char *v = a.verb;
    if (strcmp(v, "create") == 0)
        return verb_create(&a);
    if (strcmp(v, "list") == 0)
        return verb_list(&a);
    if (strcmp(v, "info") == 0) {
        char path[256];
        snprintf(path, sizeof(path), "/api/v1/vms/%s", a.name);
        return verb_info(&a, path);
    }
    if (strcmp(v, "delete") == 0)
        return verb_delete(&a);
    if (strcmp(v, "set") == 0)
        return verb_set(&a);
    if (strcmp(v, "clone") == 0)
        return verb_clone(&a);
    if (strcmp(v, "migrate") == 0)
        return verb_migrate(&a);
    if (strcmp(v, "console") == 0)
        return verb_console(&a);
    return verb_action(&a, v, NULL);
}

/* The console socket's path comes from the daemon; the socket itself is local. */
static int verb_console(const struct vm_args *a)
{
    if (strncmp(a->client.connect, "unix:", 5) != 0 && a->client.connect[0] != '/') {
        fprintf(stderr, "casulo: error: vm console needs the daemon's Unix socket (--connect "
                "unix:PATH); over TCP, use the dashboard's console\n");
        return 1;
    }
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/vms/%s", a->name);
    struct vm_args quiet = *a;
    quiet.json = false;
    json_t *vm;
    int ret = call(&quiet, "GET", path, NULL, &vm);
    if (ret)
        return ret;
    json_t *pid = json_object_get(vm, "pid");
    if (!json_is_integer(pid)) {
        fprintf(stderr, "casulo: error: VM '%s' is %s: its console is there while it runs\n",
                a->name, str(vm, "state"));
        json_decref(vm);
        return 1;
    }
    char *sock = strdup(str(vm, "console_socket"));
    json_decref(vm);
    if (!sock)
        return 1;
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "Connected to VM '%s' (Ctrl-] detaches)\n", a->name);
    ret = vm_console_attach(sock, stderr);
    free(sock);
    return ret;
}
