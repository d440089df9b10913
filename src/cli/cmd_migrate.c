// SPDX-License-Identifier: Apache-2.0
/*
 * `casulo migrate` (include/cli/migrate.h): starts a live migration through
 * the source VM's API and, with --watch, prints a progress line whenever
 * GET /migrate changes until it ends. The source process exits once the
 * destination runs the VM; it waits for one GET to see "completed" first, so
 * the watcher polls often enough to catch it.
 */
#include "cli/migrate.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/http_client.h"

#define WATCH_POLL_MS 200
#define REQUEST_TIMEOUT_S 30

/* One request; the parsed JSON reply in *out (NULL if none). -1 when the socket cannot be reached. */
static int call(const char *api, const char *method, const char *body, long *status, json_t **out,
                char *why, size_t whylen)
{
    *out = NULL;
    const struct http_client_request req = {
        .unix_socket = api, .url = "http://localhost/migrate", .method = method, .body = body,
        .timeout_ms = REQUEST_TIMEOUT_S * 1000L,
    };
    struct http_client_reply r;
    char e[256];
    if (http_client_do(&req, &r, e, sizeof(e)) < 0) {
        snprintf(why, whylen, "cannot reach the API socket %s: %s", api, e);
        return -1;
    }
    *status = r.status;
    json_error_t jerr;
    *out = json_loadb(r.body ? r.body : "", r.body_len, 0, &jerr);
    http_client_reply_free(&r);
    return 0;
}

static json_int_t ival(const json_t *m, const char *key)
{
    return json_integer_value(json_object_get(m, key));
}

static double rval(const json_t *m, const char *key)
{
    return json_number_value(json_object_get(m, key));
}

static const char *sval(const json_t *m, const char *key)
{
    const char *s = json_string_value(json_object_get(m, key));
    return s ? s : "";
}

void migrate_progress_line(const json_t *m, char *buf, size_t len)
{
    const char *status = sval(m, "status");
    if (strcmp(status, "completed") == 0) {
        int n = snprintf(buf, len, "completed: downtime %lld ms, total %lld ms, %.1f MiB sent",
                         (long long)ival(m, "downtime_ms"), (long long)ival(m, "total_ms"),
                         (double)ival(m, "bytes_sent") / 1048576.0);
        if (n > 0 && (size_t)n < len && strcmp(sval(m, "compression"), "zstd") == 0)
            snprintf(buf + n, len - (size_t)n, " (pages compressed %.1fx)",
                     rval(m, "compression_ratio"));
    } else if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0) {
        snprintf(buf, len, "%s: %s", status, sval(m, "error"));
    } else if (strcmp(status, "active") == 0) {
        snprintf(buf, len, "%s, pass %lld: sent %.1f MiB, remaining %.1f MiB, dirty %.1f MiB/s, "
                 "link %.1f MiB/s, expected downtime %lld ms%s, throttle %lld%%",
                 sval(m, "phase"), (long long)ival(m, "iteration"),
                 (double)ival(m, "bytes_sent") / 1048576.0,
                 (double)ival(m, "bytes_remaining") / 1048576.0, rval(m, "dirty_rate_mib_s"),
                 rval(m, "bandwidth_mib_s"), (long long)ival(m, "expected_downtime_ms"),
                 json_is_false(json_object_get(m, "converging")) ? " (not converging)" : "",
                 (long long)ival(m, "throttle_percent"));
    } else {
        snprintf(buf, len, "%s", status);
    }
}

static int print_reply(long status, json_t *reply, bool json, bool *final)
{
    *final = true;
    if (status < 200 || status >= 300) {
        const char *msg = json_string_value(json_object_get(reply, "error"));
        if (msg)
            fprintf(stderr, "casulo: error: %s\n", msg);
        else
            fprintf(stderr, "casulo: error: the API answered HTTP %ld\n", status);
        return 1;
    }
    if (json) {
        char *text = json_dumps(reply, JSON_COMPACT);
        printf("%s\n", text ? text : "{}");
        free(text);
    } else {
        char line[512];
        migrate_progress_line(reply, line, sizeof(line));
        printf("%s\n", line);
    }
    fflush(stdout);
    const char *s = sval(reply, "status");
    *final = strcmp(s, "active") != 0;
    return strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0 ? 1 : 0;
}

static int watch(const char *api, bool json, const char *first)
{
    char last[512], why[300];
    snprintf(last, sizeof(last), "%s", first);
    bool saw_switchover = false;
    for (;;) {
        long status = 0;
        json_t *reply;
        if (call(api, "GET", NULL, &status, &reply, why, sizeof(why)) < 0) {
            /* The source exits right after completing. */
            fprintf(stderr, "casulo: error: %s%s\n", why,
                    saw_switchover ? " (the source went away during the switch-over: check the "
                                     "destination)" : "");
            return 1;
        }
        char line[512];
        migrate_progress_line(reply, line, sizeof(line));
        saw_switchover |= strcmp(sval(reply, "phase"), "switchover") == 0;
        bool final = false;
        int ret = 0;
        if (strcmp(line, last) != 0 || status >= 300) {
            ret = print_reply(status, reply, json, &final);
            snprintf(last, sizeof(last), "%s", line);
        } else {
            final = strcmp(sval(reply, "status"), "active") != 0;
            ret = strcmp(sval(reply, "status"), "completed") == 0 ? 0 : 1;
        }
        json_decref(reply);
        if (final || status >= 300)
            return ret;
        struct timespec ts = { 0, WATCH_POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
}

static void usage(FILE *out)
{
    fputs("usage: casulo migrate --api PATH tcp:HOST:PORT [options]\n"
          "       casulo migrate --api PATH --status | --cancel\n"
          "\n"
          "  Live-migrate the VM behind PATH to a `casulo run --incoming tcp:ADDR:PORT`\n"
          "  started with the same devices (docs/migration.md).\n"
          "\n"
          "  --api PATH          the source VM's API socket\n"
          "  --max-downtime MS   pause budget for the final copy (default 300)\n"
          "  --bandwidth MIB     cap the link at MIB MiB/s (default: unlimited)\n"
          "  --auto-converge     slow the vCPUs down when the guest dirties memory faster\n"
          "                      than the link carries it\n"
          "  --no-compress       send pages as they are (default: zstd-compressed page\n"
          "                      batches when the destination supports them)\n"
          "  --timeout S         give up (the VM keeps running here) after S seconds\n"
          "  --watch             print progress until it completes or fails\n"
          "  --status            show the migration's progress\n"
          "  --cancel            cancel it; the VM keeps running here\n"
          "  --json              print the API's JSON replies as they are\n"
          "\n"
          "Exit status: 0 started (completed with --watch), 1 failed or refused, 2 usage.\n",
          out);
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *s == '-' || *end || errno || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

int cmd_migrate(int argc, char **argv)
{
    enum { OPT_API = 256, OPT_DOWNTIME, OPT_BANDWIDTH, OPT_AUTO, OPT_TIMEOUT, OPT_WATCH,
           OPT_NO_COMPRESS,
           OPT_STATUS, OPT_CANCEL, OPT_JSON, OPT_HELP };
    static const struct option options[] = {
        { "api", required_argument, NULL, OPT_API },
        { "max-downtime", required_argument, NULL, OPT_DOWNTIME },
        { "bandwidth", required_argument, NULL, OPT_BANDWIDTH },
        { "auto-converge", no_argument, NULL, OPT_AUTO },
        { "no-compress", no_argument, NULL, OPT_NO_COMPRESS },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "watch", no_argument, NULL, OPT_WATCH },
        { "status", no_argument, NULL, OPT_STATUS },
        { "cancel", no_argument, NULL, OPT_CANCEL },
        { "json", no_argument, NULL, OPT_JSON },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    const char *api = NULL;
    unsigned downtime = 0, bandwidth = 0, timeout = 0;
    bool has_downtime = false, has_bandwidth = false, has_timeout = false;
    bool no_compress = false;
    bool auto_converge = false, do_watch = false, status_only = false, cancel = false, json = false;
    int opt;
    opterr = 0;
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_API:
            api = optarg;
            break;
        case OPT_DOWNTIME:
        case OPT_BANDWIDTH:
        case OPT_TIMEOUT: {
            unsigned *dst = opt == OPT_DOWNTIME ? &downtime : opt == OPT_BANDWIDTH ? &bandwidth : &timeout;
            if (!parse_uint(optarg, 100000000, dst)) {
                fprintf(stderr, "casulo: error: %s wants a non-negative number, got '%s'\n",
                        opt == OPT_DOWNTIME ? "--max-downtime" : opt == OPT_BANDWIDTH ? "--bandwidth"
                                                                  : "--timeout", optarg);
                return 2;
            }
            *(opt == OPT_DOWNTIME ? &has_downtime : opt == OPT_BANDWIDTH ? &has_bandwidth
                                                                           : &has_timeout) = true;
            break;
        }
        case OPT_AUTO:
            auto_converge = true;
            break;
        case OPT_NO_COMPRESS:
            no_compress = true;
            break;
        case OPT_WATCH:
            do_watch = true;
            break;
        case OPT_STATUS:
            status_only = true;
            break;
        case OPT_CANCEL:
            cancel = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "casulo: error: option '%s' needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "casulo: error: unknown option '%s' (see casulo migrate --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    const char *url = optind < argc ? argv[optind++] : NULL;
    if (optind < argc) {
        fprintf(stderr, "casulo: error: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!api) {
        fprintf(stderr, "casulo: error: missing --api PATH (the source VM's API socket)\n");
        return 2;
    }
    if ((status_only || cancel) ? url != NULL || (status_only && cancel) : url == NULL) {
        fprintf(stderr, "casulo: error: give the destination tcp:HOST:PORT, or --status, or "
                        "--cancel\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "casulo: error: cannot initialise libcurl\n");
        return 1;
    }
    char why[300];
    long status = 0;
    json_t *reply = NULL;
    int ret = 1;
    bool final;
    if (url) {
        json_t *body = json_pack("{s:s, s:b}", "url", url, "auto_converge", auto_converge);
        if (body && has_downtime)
            json_object_set_new(body, "max_downtime_ms", json_integer(downtime));
        if (body && has_bandwidth)
            json_object_set_new(body, "bandwidth_mib_s", json_integer(bandwidth));
        if (body && has_timeout)
            json_object_set_new(body, "timeout_s", json_integer(timeout));
        if (body && no_compress)
            json_object_set_new(body, "compress", json_false());
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!text) {
            fprintf(stderr, "casulo: error: out of memory\n");
            goto out;
        }
        int r = call(api, "PUT", text, &status, &reply, why, sizeof(why));
        free(text);
        if (r < 0) {
            fprintf(stderr, "casulo: error: %s\n", why);
            goto out;
        }
    } else if (call(api, cancel ? "DELETE" : "GET", NULL, &status, &reply, why, sizeof(why)) < 0) {
        fprintf(stderr, "casulo: error: %s\n", why);
        goto out;
    }
    ret = print_reply(status, reply, json, &final);
    if (!ret && do_watch && !final) {
        char line[512];
        migrate_progress_line(reply, line, sizeof(line));
        ret = watch(api, json, line);
    }
out:
    json_decref(reply);
    curl_global_cleanup();
    return ret;
}
