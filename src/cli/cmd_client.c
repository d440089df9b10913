// SPDX-License-Identifier: Apache-2.0
/*
 * The client side of the per-VM API: each verb is one libcurl request over
 * the API's Unix socket. Output is for people (one line, or a small table
 * for status) unless --json asks for the server's reply as is. A 4xx/5xx
 * prints the server's {"error"} line and exits 1.
 */
#include "cli/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/compiler.h"
#include "util/http_client.h"
#include "util/size.h"

#define CLIENT_TIMEOUT_S 60   /* pause waits for the vCPUs; bounded, but not instant */

struct client_verb {
    const char *name;
    const char *method;
    const char *path;
    const char *help;
};

static const struct client_verb client_verbs[] = {
    { "pause", "PUT", "/vm/state", "pause the vCPUs" },
    { "resume", "PUT", "/vm/state", "resume paused vCPUs" },
    { "power-off", "PUT", "/vm/power-off", "press the ACPI power button; hard stop after a timeout" },
    { "stop", "PUT", "/vm/stop", "stop the VM now (hard)" },
    { "snapshot", "PUT", "/snapshot", "save a paused VM into DIR" },
    { "status", "GET", "/vm", "state, uptime and configuration" },
    { "metrics", "GET", "/metrics", "Prometheus metrics" },
    { "balloon", "GET", "/balloon", "show the balloon and the guest's memory statistics, or "
                                    "set its target (--target) or polling (--stats-interval)" },
};

static const struct client_verb *find_verb(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(client_verbs); i++)
        if (strcmp(client_verbs[i].name, name) == 0)
            return &client_verbs[i];
    return NULL;
}

bool client_is_verb(const char *name)
{
    return find_verb(name) != NULL;
}

/* The request body for a verb ("" for none). */
static void request_body(const struct client_request *req, char *body, size_t len)
{
    body[0] = '\0';
    if (strcmp(req->verb, "pause") == 0)
        snprintf(body, len, "{\"state\": \"Paused\"}");
    else if (strcmp(req->verb, "resume") == 0)
        snprintf(body, len, "{\"state\": \"Running\"}");
    else if (strcmp(req->verb, "snapshot") == 0) {
        /* jansson escapes the path: it may hold quotes or backslashes. */
        json_t *j = json_pack("{s:s}", "path", req->dir);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        snprintf(body, len, "%s", text ? text : "");
        free(text);
        json_decref(j);
    }
    else if (strcmp(req->verb, "power-off") == 0 && req->timeout_s >= 0)
        snprintf(body, len, "{\"timeout_s\": %d}", req->timeout_s);
    else if (req->set_target)
        snprintf(body, len, "{\"target_bytes\": %" PRIu64 "}", req->target_bytes);
    else if (req->set_stats_interval)
        snprintf(body, len, "{\"interval_s\": %u}", req->stats_interval_s);
}

/* The balloon verb is three requests: show, set the target, set the polling. */
static void request_line(const struct client_request *req, const struct client_verb *verb,
                         const char **method, const char **path)
{
    *method = verb->method;
    *path = verb->path;
    if (req->set_target) {
        *method = "PUT";
    } else if (req->set_stats_interval) {
        *method = "PUT";
        *path = "/balloon/stats";
    }
}

/* Performs the request; 0 with the reply (any status), or -1 after printing why. */
static int http_call(const struct client_request *req, const struct client_verb *verb,
                     struct http_client_reply *reply, FILE *err)
{
    char body[512];
    request_body(req, body, sizeof(body));
    const char *method, *path;
    request_line(req, verb, &method, &path);
    char url[128], why[256];
    snprintf(url, sizeof(url), "http://localhost%s", path);
    const struct http_client_request hreq = {
        .unix_socket = req->api_path, .url = url, .method = method,
        .body = strcmp(method, "PUT") == 0 ? body : NULL,
        .timeout_ms = CLIENT_TIMEOUT_S * 1000L,
    };
    int ret = http_client_do(&hreq, reply, why, sizeof(why));
    if (ret == -ECONNREFUSED) {
        fprintf(err, "casulo: error: cannot connect to API socket %s: %s\n", req->api_path, why);
        return -1;
    }
    if (ret < 0) {
        fprintf(err, "casulo: error: API request to %s failed: %s\n", req->api_path, why);
        return -1;
    }
    return 0;
}

static void print_memory(FILE *out, const char *label, json_int_t bytes)
{
    if (bytes > 0 && bytes % (1024 * 1024 * 1024) == 0)
        fprintf(out, "%-10s %" JSON_INTEGER_FORMAT " GiB\n", label, bytes >> 30);
    else if (bytes > 0 && bytes % (1024 * 1024) == 0)
        fprintf(out, "%-10s %" JSON_INTEGER_FORMAT " MiB\n", label, bytes >> 20);
    else
        fprintf(out, "%-10s %" JSON_INTEGER_FORMAT " bytes\n", label, bytes);
}

static void print_str(FILE *out, const char *label, json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    if (v)
        fprintf(out, "%-10s %s\n", label, v);
}

static void print_status(FILE *out, json_t *vm)
{
    json_t *cfg = json_object_get(vm, "config");
    print_str(out, "state", vm, "state");
    fprintf(out, "%-10s %.1f s\n", "uptime", json_number_value(json_object_get(vm, "uptime_s")));
    print_str(out, "version", vm, "version");
    fprintf(out, "%-10s %" JSON_INTEGER_FORMAT "\n", "cpus",
            json_integer_value(json_object_get(cfg, "cpus")));
    print_memory(out, "memory", json_integer_value(json_object_get(cfg, "memory_bytes")));
    print_str(out, "kernel", cfg, "kernel");
    print_str(out, "initrd", cfg, "initrd");
    print_str(out, "cmdline", cfg, "cmdline");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(cfg, "disks"), i, d) {
        fprintf(out, "%-10s %s%s\n", "disk", json_string_value(json_object_get(d, "path")),
                json_is_true(json_object_get(d, "readonly")) ? " (read-only)" : "");
    }
    json_array_foreach(json_object_get(cfg, "nets"), i, d) {
        fprintf(out, "%-10s %s %s\n", "net", json_string_value(json_object_get(d, "tap")),
                json_string_value(json_object_get(d, "mac")));
    }
    if (json_is_true(json_object_get(cfg, "rng")))
        fprintf(out, "%-10s virtio-rng\n", "rng");
}

static void print_power_off(FILE *out, json_t *reply)
{
    json_int_t t = json_integer_value(json_object_get(reply, "timeout_s"));
    if (json_is_true(json_object_get(reply, "guest_listening")))
        fprintf(out, "power button pressed; the VM is stopped in %" JSON_INTEGER_FORMAT
                     " s if the guest has not powered off by then\n", t);
    else
        fprintf(out, "power button pressed, but the guest has not enabled it; the VM is stopped in %"
                     JSON_INTEGER_FORMAT " s\n", t);
}

/* Sizes the way people read them: "512 MiB", "1.5 GiB", "123 bytes". */
static void format_bytes(json_int_t bytes, char *buf, size_t len)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    if (bytes < 1024) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT " bytes", bytes);
        return;
    }
    double v = (double)bytes / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
        v /= 1024;
        u++;
    }
    if (v == (double)(json_int_t)v)
        snprintf(buf, len, "%.0f %s", v, units[u]);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
}

static json_int_t int_of(json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

/* Statistics that are amounts of memory (the others are event counts). */
static bool stat_is_bytes(const char *name)
{
    size_t n = strlen(name);
    return (n > 7 && strcmp(name + n - 7, "_memory") == 0) || strcmp(name, "disk_caches") == 0 ||
           strncmp(name, "swap_", 5) == 0;
}

static void print_balloon(FILE *out, json_t *b)
{
    char s[48];
    format_bytes(int_of(b, "target_bytes"), s, sizeof(s));
    fprintf(out, "%-10s %s\n", "target", s);
    format_bytes(int_of(b, "actual_bytes"), s, sizeof(s));
    fprintf(out, "%-10s %s\n", "actual", s);
    format_bytes(int_of(b, "guest_ram_bytes"), s, sizeof(s));
    fprintf(out, "%-10s %s\n", "guest RAM", s);
    json_t *f = json_object_get(b, "features");
    if (json_is_true(json_object_get(b, "driver_active")))
        fprintf(out, "%-10s active (statistics %s, deflate on OOM %s, free page reporting %s)\n",
                "driver", json_is_true(json_object_get(f, "stats")) ? "yes" : "no",
                json_is_true(json_object_get(f, "deflate_on_oom")) ? "yes" : "no",
                json_is_true(json_object_get(f, "free_page_reporting")) ? "yes" : "no");
    else
        fprintf(out, "%-10s not started by the guest\n", "driver");
    json_int_t interval = int_of(b, "stats_interval_s");
    if (interval > 0)
        fprintf(out, "%-10s every %" JSON_INTEGER_FORMAT " s\n", "polling", interval);
    else
        fprintf(out, "%-10s off\n", "polling");
    json_t *stats = json_object_get(b, "stats");
    const char *when = json_string_value(json_object_get(b, "stats_updated_at"));
    if (!when || !json_object_size(stats)) {
        fprintf(out, "%-10s none reported yet\n", "stats");
        return;
    }
    fprintf(out, "%-10s as of %s\n", "stats", when);
    const char *name;
    json_t *v;
    json_object_foreach(stats, name, v) {
        if (stat_is_bytes(name)) {
            format_bytes(json_integer_value(v), s, sizeof(s));
            fprintf(out, "  %-20s %s\n", name, s);
        } else {
            fprintf(out, "  %-20s %" JSON_INTEGER_FORMAT "\n", name, json_integer_value(v));
        }
    }
}

static void print_balloon_change(const struct client_request *req, FILE *out, json_t *reply)
{
    if (req->set_stats_interval) {
        json_int_t interval = int_of(reply, "interval_s");
        if (interval > 0)
            fprintf(out, "balloon statistics every %" JSON_INTEGER_FORMAT " s\n", interval);
        else
            fprintf(out, "balloon statistics polling off\n");
        return;
    }
    char target[48], actual[48];
    format_bytes(int_of(reply, "target_bytes"), target, sizeof(target));
    format_bytes(int_of(reply, "actual_bytes"), actual, sizeof(actual));
    fprintf(out, "balloon target %s (it holds %s now; the guest follows in the background)\n",
            target, actual);
}

/* The readable form of a successful reply. */
static int print_success(const struct client_request *req, const struct http_client_reply *reply, FILE *out,
                         FILE *err)
{
    if (req->json || strcmp(req->verb, "metrics") == 0) {
        fwrite(reply->body ? reply->body : "", 1, reply->body_len, out);
        return 0;
    }
    json_error_t jerr;
    json_t *root = json_loadb(reply->body ? reply->body : "", reply->body_len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        fprintf(err, "casulo: error: the API answered something that is not a JSON object\n");
        return 1;
    }
    if (strcmp(req->verb, "status") == 0)
        print_status(out, root);
    else if (strcmp(req->verb, "power-off") == 0)
        print_power_off(out, root);
    else if (strcmp(req->verb, "stop") == 0)
        fprintf(out, "stopping\n");
    else if (strcmp(req->verb, "snapshot") == 0)
        fprintf(out, "saved\n");
    else if (strcmp(req->verb, "balloon") == 0 && (req->set_target || req->set_stats_interval))
        print_balloon_change(req, out, root);
    else if (strcmp(req->verb, "balloon") == 0)
        print_balloon(out, root);
    else
        fprintf(out, "%s\n", strcmp(req->verb, "pause") == 0 ? "paused" : "running");
    json_decref(root);
    return 0;
}

static void print_failure(long status, const struct http_client_reply *reply, FILE *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(reply->body ? reply->body : "", reply->body_len, 0, &jerr);
    const char *msg = json_string_value(json_object_get(root, "error"));
    if (msg)
        fprintf(err, "casulo: error: %s\n", msg);
    else
        fprintf(err, "casulo: error: the API answered HTTP %ld\n", status);
    json_decref(root);
}

int client_run(const struct client_request *req, FILE *out, FILE *err)
{
    const struct client_verb *verb = find_verb(req->verb);
    if (!verb) {
        fprintf(err, "casulo: error: unknown command '%s'\n", req->verb);
        return 2;
    }
    struct http_client_reply reply;
    if (http_call(req, verb, &reply, err) < 0)
        return 1;
    int ret = 1;
    if (reply.status >= 200 && reply.status < 300) {
        ret = print_success(req, &reply, out, err);
    } else {
        if (req->json)
            fwrite(reply.body ? reply.body : "", 1, reply.body_len, out);
        print_failure(reply.status, &reply, err);
    }
    http_client_reply_free(&reply);
    return ret;
}

static void client_usage(FILE *out, const char *verb)
{
    const struct client_verb *v = find_verb(verb);
    bool balloon = strcmp(verb, "balloon") == 0;
    fprintf(out, "usage: casulo %s --api PATH [--json]%s\n\n  %s\n\n"
                 "  --api PATH        the VM's API socket (casulo run --api-socket PATH)\n"
                 "  --json            print the server's JSON reply as is\n",
            verb, strcmp(verb, "power-off") == 0 ? " [--timeout SECONDS]"
                  : balloon ? " [--target SIZE | --stats-interval SECONDS]" : "",
            v ? v->help : "");
    if (strcmp(verb, "power-off") == 0)
        fputs("  --timeout SECONDS grace period before the hard stop (server default 30)\n", out);
    if (balloon)
        fputs("  --target SIZE     memory the balloon takes from the guest (256M, 1G; 0 deflates)\n"
              "  --stats-interval SECONDS\n"
              "                    ask the guest for memory statistics this often (0: stop)\n",
              out);
    fputs("\nExit status: 0 done, 1 the API refused or could not be reached, 2 usage error.\n", out);
}

static bool parse_timeout(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > 1000000)
        return false;
    *out = (int)v;
    return true;
}

int cmd_client(int argc, char **argv)
{
    enum { OPT_API = 256, OPT_JSON, OPT_TIMEOUT, OPT_TARGET, OPT_STATS_INTERVAL, OPT_HELP };
    static const struct option options[] = {
        { "api", required_argument, NULL, OPT_API },
        { "json", no_argument, NULL, OPT_JSON },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "target", required_argument, NULL, OPT_TARGET },
        { "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    struct client_request req = { .verb = argv[0], .timeout_s = -1 };
    bool is_power_off = strcmp(argv[0], "power-off") == 0;
    bool is_balloon = strcmp(argv[0], "balloon") == 0;
    int interval;
    int opt;
    opterr = 0;
    optind = 0;   /* GNU: full re-initialisation, like casulo run's parser */
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_API:
            req.api_path = optarg;
            break;
        case OPT_JSON:
            req.json = true;
            break;
        case OPT_TIMEOUT:
            if (!is_power_off) {
                fprintf(stderr, "casulo: error: --timeout is only for power-off\n");
                return 2;
            }
            if (!parse_timeout(optarg, &req.timeout_s)) {
                fprintf(stderr, "casulo: error: --timeout wants a number of seconds, got '%s'\n", optarg);
                return 1;
            }
            break;
        case OPT_TARGET:
            if (!is_balloon) {
                fprintf(stderr, "casulo: error: --target is only for balloon\n");
                return 2;
            }
            if (size_parse(optarg, &req.target_bytes) < 0) {
                fprintf(stderr, "casulo: error: --target wants a size like 256M or 1G, got '%s'\n",
                        optarg);
                return 2;
            }
            req.set_target = true;
            break;
        case OPT_STATS_INTERVAL:
            if (!is_balloon) {
                fprintf(stderr, "casulo: error: --stats-interval is only for balloon\n");
                return 2;
            }
            if (!parse_timeout(optarg, &interval)) {
                fprintf(stderr, "casulo: error: --stats-interval wants a number of seconds, got '%s'\n",
                        optarg);
                return 2;
            }
            req.stats_interval_s = (unsigned)interval;
            req.set_stats_interval = true;
            break;
        case 'h':
        case OPT_HELP:
            client_usage(stdout, argv[0]);
            return 0;
        case ':':
            fprintf(stderr, "casulo: error: option '%s' needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "casulo: error: unknown option '%s' (see casulo %s --help)\n",
                    argv[optind - 1], argv[0]);
            return 2;
        }
    }
    if (strcmp(argv[0], "snapshot") == 0 && optind < argc)
        req.dir = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "casulo: error: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (req.set_target && req.set_stats_interval) {
        fprintf(stderr, "casulo: error: give --target or --stats-interval, not both\n");
        return 2;
    }
    if (!req.api_path) {
        fprintf(stderr, "casulo: error: missing --api PATH (the VM's API socket)\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "casulo: error: cannot initialise libcurl\n");
        return 1;
    }
    int ret = client_run(&req, stdout, stderr);
    curl_global_cleanup();
    return ret;
}
