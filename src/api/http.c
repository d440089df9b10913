// SPDX-License-Identifier: Apache-2.0
/*
 * The API's routes: one table of (method, path, handler). A handler parses
 * its body strictly (src/api/json_body.c), calls a typed action
 * (src/api/actions.c) and builds the reply; errors are always
 * {"error": "one line"}. A new endpoint is one row and one handler here,
 * one action, one path in api/openapi.yaml and a test.
 */
#include "api/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_body.h"
#include "migration/migration.h"
#include "util/compiler.h"

typedef void (*api_handler)(struct api_ctx *ctx, const struct api_request *req,
                            struct api_response *resp);

struct api_route {
    const char *method;
    const char *path;
    api_handler handler;
};

static const char oom_body[] = "{\"error\": \"out of memory\"}\n";

static void reply_oom(struct api_response *resp)
{
    free(resp->body);
    resp->status = 500;
    resp->content_type = API_JSON_TYPE;
    resp->body = strdup(oom_body);
    resp->body_len = resp->body ? strlen(resp->body) : 0;
}

/* Takes `obj` (may be NULL: out of memory). */
static void reply_json(struct api_response *resp, unsigned status, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(obj);
    if (!text) {
        reply_oom(resp);
        return;
    }
    size_t len = strlen(text);
    char *body = realloc(text, len + 2);
    if (!body) {
        free(text);
        reply_oom(resp);
        return;
    }
    body[len] = '\n';
    body[len + 1] = '\0';
    resp->status = status;
    resp->content_type = API_JSON_TYPE;
    resp->body = body;
    resp->body_len = len + 1;
}

/*
 * Client bytes end up in messages (a path, jansson's "near '...'"): control
 * characters would break the one-line promise, so they always become '?';
 * bytes past ASCII only when they are not valid UTF-8 (json_string refuses).
 */
static void sanitize(char *s, bool ascii)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f || (ascii && (unsigned char)*s > 0x7f))
            *s = '?';
}

static void reply_error(struct api_response *resp, unsigned status, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
static void reply_error(struct api_response *resp, unsigned status, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sanitize(msg, false);
    json_t *str = json_string(msg);
    if (!str) {
        sanitize(msg, true);
        str = json_string(msg);
    }
    reply_json(resp, status, str ? json_pack("{s:o}", "error", str) : NULL);
}

/* The status for an action's -errno: a request in the wrong state is a conflict. */
static unsigned action_status(int ret)
{
    switch (ret) {
    case -EALREADY:
    case -ESHUTDOWN:
    case -EBUSY:
    case -ENOLCK:       /* a disk is held by another VM (a migration's destination) */
        return 409;
    case -ENOTSUP:      /* the VM cannot do it (e.g. a snapshot with virtio devices) */
        return 409;
    case -EINVAL:
    case -ENOENT:       /* a path the request named does not exist ... */
    case -ENOTDIR:
    case -EACCES:       /* ... or cannot be used */
    case -EEXIST:
        return 400;
    default:
        return 500;
    }
}

static void reply_state(struct api_ctx *ctx, struct api_response *resp, unsigned status)
{
    reply_json(resp, status, json_pack("{s:s}", "state", api_state_name(ctx->ops->state(ctx->vm))));
}

/* The request's JSON body by api_json_body's strict rules; on failure replies 400 and returns false. */
static bool parse_body(const struct api_request *req, struct api_response *resp, bool required,
                       const struct api_field *fields, size_t nr_fields, json_t **body)
{
    char err[256];
    if (api_json_body(req->body, req->body_len, required, fields, nr_fields, body, err,
                      sizeof(err)) < 0) {
        reply_error(resp, 400, "%s", err);
        return false;
    }
    return true;
}

static void get_vm(struct api_ctx *ctx, const struct api_request *req, struct api_response *resp)
{
    reply_json(resp, 200, api_action_describe(ctx));
}

static void put_vm_state(struct api_ctx *ctx, const struct api_request *req,
                         struct api_response *resp)
{
    static const struct api_field fields[] = { { "state", API_FIELD_STRING, true } };
    char err[256];
    json_t *body;
    if (!parse_body(req, resp, true, fields, ARRAY_SIZE(fields), &body))
        return;
    const char *want = json_string_value(json_object_get(body, "state"));
    int ret;
    if (strcmp(want, "Paused") == 0) {
        ret = api_action_pause(ctx, err, sizeof(err));
    } else if (strcmp(want, "Running") == 0) {
        ret = api_action_resume(ctx, err, sizeof(err));
    } else {
        json_decref(body);
        reply_error(resp, 400, "field 'state' must be \"Running\" or \"Paused\"");
        return;
    }
    json_decref(body);
    if (ret < 0)
        reply_error(resp, action_status(ret), "%s", err);
    else
        reply_state(ctx, resp, 200);
}

static void put_vm_power_off(struct api_ctx *ctx, const struct api_request *req,
                             struct api_response *resp)
{
    static const struct api_field fields[] = { { "timeout_s", API_FIELD_UINT, false } };
    char err[256];
    json_t *body;
    if (!parse_body(req, resp, false, fields, ARRAY_SIZE(fields), &body))
        return;
    json_int_t timeout = API_POWEROFF_DEFAULT_TIMEOUT_S;
    json_t *t = json_object_get(body, "timeout_s");
    if (t)
        timeout = json_integer_value(t);
    json_decref(body);
    if (timeout > API_POWEROFF_MAX_TIMEOUT_S) {
        reply_error(resp, 400, "field 'timeout_s' must be at most %d", API_POWEROFF_MAX_TIMEOUT_S);
        return;
    }
    bool listening = false;
    int ret = api_action_power_off(ctx, (unsigned)timeout, &listening, err, sizeof(err));
    if (ret < 0) {
        reply_error(resp, action_status(ret), "%s", err);
        return;
    }
    reply_json(resp, 202, json_pack("{s:s, s:b, s:I}", "state",
                                    api_state_name(ctx->ops->state(ctx->vm)), "guest_listening",
                                    listening, "timeout_s", timeout));
}

/* An action whose body, if any, must be an empty object; 202 with the state when it is under way. */
static void empty_body_action(struct api_ctx *ctx, const struct api_request *req,
                              struct api_response *resp,
                              int (*action)(struct api_ctx *, char *, size_t))
{
    char err[512];
    json_t *body;
    if (!parse_body(req, resp, false, NULL, 0, &body))
        return;
    json_decref(body);
    int ret = action(ctx, err, sizeof(err));
    if (ret < 0)
        reply_error(resp, action_status(ret), "%s", err);
    else
        reply_state(ctx, resp, 202);
}

static void put_vm_stop(struct api_ctx *ctx, const struct api_request *req, struct api_response *resp)
{
    empty_body_action(ctx, req, resp, api_action_stop);
}

static void get_metrics(struct api_ctx *ctx, const struct api_request *req,
                        struct api_response *resp)
{
    char *text = api_action_metrics(ctx);
    if (!text) {
        reply_oom(resp);
        return;
    }
    resp->status = 200;
    resp->content_type = API_METRICS_TYPE;
    resp->body = text;
    resp->body_len = strlen(text);
}

static void get_healthz(struct api_ctx *ctx, const struct api_request *req,
                        struct api_response *resp)
{
    reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

/* No balloon device is a conflict with how the VM was started, not a missing endpoint. */
static unsigned balloon_status(int ret)
{
    return ret == -ENODEV ? 409 : action_status(ret);
}

static void reply_balloon(struct api_ctx *ctx, struct api_response *resp)
{
    char err[256];
    json_t *obj;
    int ret = api_action_balloon_describe(ctx, &obj, err, sizeof(err));
    if (ret == -ENOMEM)
        reply_oom(resp);
    else if (ret < 0)
        reply_error(resp, balloon_status(ret), "%s", err);
    else
        reply_json(resp, 200, obj);
}

static void get_balloon(struct api_ctx *ctx, const struct api_request *req,
                        struct api_response *resp)
{
    reply_balloon(ctx, resp);
}

static void put_balloon(struct api_ctx *ctx, const struct api_request *req,
                        struct api_response *resp)
{
    static const struct api_field fields[] = {
        { "target_bytes", API_FIELD_UINT, false },
        { "target_mib", API_FIELD_UINT, false },
    };
    char err[256];
    json_t *body;
    if (!parse_body(req, resp, true, fields, ARRAY_SIZE(fields), &body))
        return;
    json_t *b = json_object_get(body, "target_bytes");
    json_t *m = json_object_get(body, "target_mib");
    uint64_t bytes = 0;
    if (b && !m) {
        bytes = (uint64_t)json_integer_value(b);
    } else if (m && !b) {
        uint64_t mib = (uint64_t)json_integer_value(m);
        /* Past 2^44 MiB the product wraps; any such value is over every guest's RAM anyway. */
        bytes = mib > (UINT64_MAX >> 20) ? UINT64_MAX : mib << 20;
    }
    json_decref(body);
    if (!b == !m) {
        reply_error(resp, 400, "give exactly one of 'target_bytes' and 'target_mib'");
        return;
    }
    int ret = api_action_balloon_set_target(ctx, bytes, err, sizeof(err));
    if (ret < 0)
        reply_error(resp, balloon_status(ret), "%s", err);
    else
        reply_balloon(ctx, resp);
}

static void put_balloon_stats(struct api_ctx *ctx, const struct api_request *req,
                              struct api_response *resp)
{
    static const struct api_field fields[] = { { "interval_s", API_FIELD_UINT, true } };
    char err[256];
    json_t *body;
    if (!parse_body(req, resp, true, fields, ARRAY_SIZE(fields), &body))
        return;
    json_int_t interval = json_integer_value(json_object_get(body, "interval_s"));
    json_decref(body);
    /* Clamped so that a huge value gets the same "at most" message instead of wrapping. */
    unsigned seconds = interval > API_BALLOON_MAX_STATS_INTERVAL_S
                           ? API_BALLOON_MAX_STATS_INTERVAL_S + 1
                           : (unsigned)interval;
    int ret = api_action_balloon_set_stats_interval(ctx, seconds, err, sizeof(err));
    if (ret < 0)
        reply_error(resp, balloon_status(ret), "%s", err);
    else
        reply_json(resp, 200, json_pack("{s:I}", "interval_s", interval));
}

/* PUT /snapshot {"path": DIR}: the VM must be paused; it stays paused. */
static void put_snapshot(struct api_ctx *ctx, const struct api_request *req, struct api_response *resp)
{
    static const struct api_field fields[] = { { "path", API_FIELD_STRING, true } };
    char err[512];
    json_t *body;
    if (!parse_body(req, resp, true, fields, ARRAY_SIZE(fields), &body))
        return;
    const char *dir = json_string_value(json_object_get(body, "path"));
    int ret = -ENOTSUP;
    snprintf(err, sizeof(err), "this VM cannot take snapshots");
    if (api_require_started(ctx, err, sizeof(err)))
        ret = -EBUSY;
    else if (ctx->ops->snapshot)
        ret = ctx->ops->snapshot(ctx->vm, dir, err, sizeof(err));
    json_decref(body);
    if (ret < 0)
        reply_error(resp, action_status(ret), "%s", err);
    else
        reply_state(ctx, resp, 200);
}

/*
 * PUT /vm/config: a body in the config-file format (docs/config.md), merged
 * into the configuration of a VM that has not started; its own messages.
 */
static void put_vm_config(struct api_ctx *ctx, const struct api_request *req,
                          struct api_response *resp)
{
    char err[512];
    int ret = api_action_configure(ctx, req->body, req->body_len, err, sizeof(err));
    if (ret == -ENOMEM)
        reply_oom(resp);
    else if (ret < 0)
        reply_error(resp, action_status(ret), "%s", err);
    else
        reply_json(resp, 200, api_action_describe(ctx));
}

/* PUT /vm/start: 202 once the VM is built and its vCPUs are about to run. */
static void put_vm_start(struct api_ctx *ctx, const struct api_request *req,
                         struct api_response *resp)
{
    empty_body_action(ctx, req, resp, api_action_start);
}

/*
 * PUT /migrate {"url": "tcp:HOST:PORT", "max_downtime_ms", "bandwidth_mib_s",
 * "auto_converge", "timeout_s", "compress"}: 202 with the progress once it is under way.
 */
static void put_migrate(struct api_ctx *ctx, const struct api_request *req, struct api_response *resp)
{
    static const struct api_field fields[] = {
        { "url", API_FIELD_STRING, true },
        { "max_downtime_ms", API_FIELD_UINT, false },
        { "bandwidth_mib_s", API_FIELD_UINT, false },
        { "auto_converge", API_FIELD_BOOL, false },
        { "timeout_s", API_FIELD_UINT, false },
        { "compress", API_FIELD_BOOL, false },
    };
    char err[512];
    json_t *body;
    if (!parse_body(req, resp, true, fields, ARRAY_SIZE(fields), &body))
        return;
    struct mig_params p = { 0 };
    const char *url = json_string_value(json_object_get(body, "url"));
    json_t *v;
    bool too_big = strlen(url) >= sizeof(p.url);
    snprintf(p.url, sizeof(p.url), "%s", url);
    /* Clamped one past each limit, so a huge value gets the limit's message instead of wrapping. */
    if ((v = json_object_get(body, "max_downtime_ms")))
        p.max_downtime_ms = json_integer_value(v) > MIG_MAX_DOWNTIME_LIMIT_MS
                                ? MIG_MAX_DOWNTIME_LIMIT_MS + 1 : (uint32_t)json_integer_value(v);
    if ((v = json_object_get(body, "bandwidth_mib_s")))
        p.bandwidth_mib_s = json_integer_value(v) > MIG_BANDWIDTH_LIMIT_MIB_S
                                ? MIG_BANDWIDTH_LIMIT_MIB_S + 1 : (uint32_t)json_integer_value(v);
    if ((v = json_object_get(body, "timeout_s")))
        p.timeout_s = json_integer_value(v) > MIG_TIMEOUT_LIMIT_S ? MIG_TIMEOUT_LIMIT_S + 1
                                                                   : (uint32_t)json_integer_value(v);
    p.auto_converge = json_is_true(json_object_get(body, "auto_converge"));
    p.no_compress = json_is_false(json_object_get(body, "compress"));
    json_decref(body);
    if (too_big) {
        reply_error(resp, 400, "field 'url' is too long");
        return;
    }
    int ret = api_action_migrate_start(ctx, &p, err, sizeof(err));
    if (ret < 0)
        reply_error(resp, action_status(ret), "%s", err);
    else
        reply_json(resp, 202, api_action_migrate_describe(ctx));
}

static void get_migrate(struct api_ctx *ctx, const struct api_request *req, struct api_response *resp)
{
    reply_json(resp, 200, api_action_migrate_describe(ctx));
}

/* DELETE /migrate: cancels; the VM keeps running here. 202: the thread winds down. */
static void delete_migrate(struct api_ctx *ctx, const struct api_request *req,
                           struct api_response *resp)
{
    char err[256];
    int ret = api_action_migrate_cancel(ctx, err, sizeof(err));
    if (ret < 0)
        reply_error(resp, action_status(ret), "%s", err);
    else
        reply_json(resp, 202, api_action_migrate_describe(ctx));
}

static const struct api_route api_routes[] = {
    { "PUT", "/snapshot", put_snapshot },
    { "GET", "/vm", get_vm },
    { "PUT", "/vm/state", put_vm_state },
    { "PUT", "/vm/power-off", put_vm_power_off },
    { "PUT", "/vm/stop", put_vm_stop },
    { "PUT", "/vm/config", put_vm_config },
    { "PUT", "/vm/start", put_vm_start },
    { "GET", "/metrics", get_metrics },
    { "GET", "/healthz", get_healthz },
    { "GET", "/balloon", get_balloon },
    { "PUT", "/balloon", put_balloon },
    { "PUT", "/balloon/stats", put_balloon_stats },
    { "PUT", "/migrate", put_migrate },
    { "GET", "/migrate", get_migrate },
    { "DELETE", "/migrate", delete_migrate },
};

/* Fills resp->allow with the methods `path` has; false when it has none. */
static bool allowed_methods(const char *path, struct api_response *resp)
{
    size_t used = 0;
    resp->allow[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(api_routes); i++) {
        if (strcmp(api_routes[i].path, path) != 0)
            continue;
        int n = snprintf(resp->allow + used, sizeof(resp->allow) - used, "%s%s",
                         used ? ", " : "", api_routes[i].method);
        if (n > 0 && (size_t)n < sizeof(resp->allow) - used)
            used += (size_t)n;
    }
    return used > 0;
}

void api_http_handle(struct api_ctx *ctx, const struct api_request *req, struct api_response *resp)
{
    *resp = (struct api_response){ 0 };
    if (req->body_too_large) {
        reply_error(resp, 413, "request body too large (the limit is %d bytes)", API_MAX_BODY);
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(api_routes); i++) {
        if (strcmp(api_routes[i].path, req->path) == 0 &&
            strcmp(api_routes[i].method, req->method) == 0) {
            api_routes[i].handler(ctx, req, resp);
            return;
        }
    }
    if (allowed_methods(req->path, resp)) {
        reply_error(resp, 405, "method %.16s is not allowed on %s (allowed: %s)", req->method,
                    req->path, resp->allow);
        return;
    }
    reply_error(resp, 404, "no such endpoint: %.16s %.128s", req->method, req->path);
}

void api_response_free(struct api_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}
