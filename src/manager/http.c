// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon's HTTP server: libmicrohttpd (loaded on first use, like the
 * VMM's API) on a socket bound here, so that its mode, owner and address
 * are ours to decide: a Unix socket 0660 root:casulo, or TCP on loopback
 * (another address only with --allow-remote and a token). REST under
 * /api/v1 (api/manager-openapi.yaml); anything else is the dashboard.
 * With a token, every request must carry it (Authorization: Bearer, or
 * for the browser the token query parameter / casulo_token cookie), and
 * it is checked before any route, the dashboard's included.
 */
#include "manager/manager.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "manager/dashboard.h"
#include "util/lazylib.h"
#include "util/log.h"

#define HTTP_BODY_MAX        (1024 * 1024)
#define HTTP_THREADS         4
#define HTTP_CONNECTION_MAX  256
#define HTTP_IDLE_TIMEOUT_S  60
#define API_PREFIX           "/api/v1/"
#define SOCKET_GROUP         "casulo"

struct mgr_http {
    struct MHD_Daemon *daemon;
    int fd;
    char *unix_path;
};

struct http_conn {
    char *body;
    size_t len;
    bool too_large;
};

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_COPY);
    free(text);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"casulo\"");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char msg[MGR_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s}", "error", msg);
    enum MHD_Result ret = send_json(c, status, o);
    json_decref(o);
    return ret;
}

static enum MHD_Result send_result(struct MHD_Connection *c, struct mgr_result *r)
{
    enum MHD_Result ret;
    if (r->status >= 400 || !r->status)
        ret = send_error(c, r->status ? (unsigned)r->status : 500, "%s",
                         r->error[0] ? r->error : "internal error");
    else
        ret = send_json(c, (unsigned)r->status, r->body ? r->body : json_object());
    json_decref(r->body);
    r->body = NULL;
    return ret;
}

/* Compares without an early exit, so the time taken says nothing about the token. */
static bool token_equal(const char *given, const char *want)
{
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char diff = gl != wl;
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < gl ? given[i] : 0));
    return diff == 0;
}

static bool authorised(struct mgr *m, struct MHD_Connection *c)
{
    if (!m->token)
        return true;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && strncmp(auth, "Bearer ", 7) == 0)
        return token_equal(auth + 7, m->token);
    /* Browsers cannot set headers on page loads and WebSockets: a query or cookie then. */
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    if (q)
        return token_equal(q, m->token);
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "casulo_token");
    return cookie && token_equal(cookie, m->token);
}

/* Splits "/api/v1/vms/NAME/ACTION" into its segments (at most 3 after the prefix). */
static int split(const char *path, char seg[3][128])
{
    int n = 0;
    const char *p = path;
    while (*p && n < 4) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len >= 128 || n == 3)
            return -1;
        memcpy(seg[n], p, len);
        seg[n][len] = '\0';
        n++;
        p += len + (slash ? 1 : 0);
        if (slash && !*p)
            return -1;   /* a trailing slash */
    }
    return n;
}

static enum MHD_Result method_not_allowed(struct MHD_Connection *c, const char *method,
                                          const char *url, const char *allow)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "method %s is not allowed on %s (allowed: %s)", method, url, allow);
    json_t *o = json_pack("{s:s}", "error", msg);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct MHD_Response *resp = text ? MHD_create_response_from_buffer(strlen(text), text,
                                                                       MHD_RESPMEM_MUST_COPY) : NULL;
    free(text);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result route(struct mgr *m, struct MHD_Connection *c, const char *url,
                             const char *method, json_t *body)
{
    char seg[3][128];
    int n = split(url + strlen(API_PREFIX), seg);
    struct mgr_result r = { 0 };
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (n == 1 && strcmp(seg[0], "host") == 0) {
        if (!get)
            return method_not_allowed(c, method, url, "GET");
        mgr_op_host(m, &r);
    } else if (n == 1 && strcmp(seg[0], "vms") == 0) {
        if (get)
            mgr_op_list(m, &r);
        else if (post)
            body ? mgr_op_create(m, body, &r)
                 : mgr_fail(&r, 400, "missing request body: expected a JSON object");
        else
            return method_not_allowed(c, method, url, "GET, POST");
    } else if (n == 1 && strcmp(seg[0], "migrations") == 0) {
        if (!get)
            return method_not_allowed(c, method, url, "GET");
        mgr_op_migrations(m, &r);
    } else if (n == 2 && strcmp(seg[0], "migrations") == 0 && strcmp(seg[1], "incoming") == 0) {
        if (!post)
            return method_not_allowed(c, method, url, "POST");
        body ? mgr_op_incoming(m, body, &r)
             : mgr_fail(&r, 400, "missing request body: expected a JSON object");
    } else if (n == 2 && strcmp(seg[0], "vms") == 0) {
        if (get)
            mgr_op_info(m, seg[1], &r);
        else if (strcmp(method, "DELETE") == 0)
            mgr_op_delete(m, seg[1], &r);
        else if (strcmp(method, "PATCH") == 0)
            body ? mgr_op_patch(m, seg[1], body, &r)
                 : mgr_fail(&r, 400, "missing request body: expected a JSON object");
        else
            return method_not_allowed(c, method, url, "GET, DELETE, PATCH");
    } else if (n == 3 && strcmp(seg[0], "vms") == 0 && strcmp(seg[2], "console") == 0) {
        if (!get)
            return method_not_allowed(c, method, url, "GET");
        char path[PATH_MAX];
        if (mgr_op_console_path(m, seg[1], path, sizeof(path), &r) < 0)
            return send_result(c, &r);
        return mgr_dash_console_upgrade(c, path);
    } else if (n == 3 && strcmp(seg[0], "vms") == 0) {
        if (!post)
            return method_not_allowed(c, method, url, "POST");
        mgr_op_action(m, seg[1], seg[2], body, &r);
    } else {
        mgr_fail(&r, 404, "no such endpoint: %s %s", method, url);
    }
    return send_result(c, &r);
}

static enum MHD_Result handle(struct mgr *m, struct MHD_Connection *c, const char *url,
                              const char *method, struct http_conn *hc)
{
    if (!authorised(m, c))
        return send_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
    if (strncmp(url, "/api/", 5) != 0) {
        int ret;
        if (strcmp(method, "GET") == 0 && mgr_dash_serve_static(c, url, &ret))
            return (enum MHD_Result)ret;
        return send_error(c, MHD_HTTP_NOT_FOUND, "no such page: %s %s", method, url);
    }
    if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) != 0)
        return send_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint: %s %s (the API is under %s)",
                          method, url, API_PREFIX);
    if (hc->too_large)
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %d bytes",
                          HTTP_BODY_MAX);
    json_t *body = NULL;
    if (hc->len) {
        json_error_t jerr;
        body = json_loadb(hc->body, hc->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!body)
            return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid JSON: %s (line %d, column %d)",
                              jerr.text, jerr.line, jerr.column);
    }
    enum MHD_Result ret = route(m, c, url, method, body);
    json_decref(body);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct mgr *m = cls;
    struct http_conn *hc = *con_cls;
    if (!hc) {
        hc = calloc(1, sizeof(*hc));
        if (!hc)
            return MHD_NO;
        *con_cls = hc;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (hc->too_large || hc->len + n > HTTP_BODY_MAX) {
            hc->too_large = true;
            return MHD_YES;
        }
        char *grown = realloc(hc->body, hc->len + n + 1);
        if (!grown)
            return MHD_NO;
        memcpy(grown + hc->len, upload_data, n);
        hc->body = grown;
        hc->len += n;
        hc->body[hc->len] = '\0';
        return MHD_YES;
    }
    return handle(m, c, url, method, hc);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_conn *hc = *con_cls;
    if (hc) {
        free(hc->body);
        free(hc);
    }
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_debug("serve", "http: %s", msg);
}

/* The socket's directory (/run/casulo by default), 0755 so group members reach the socket. */
static int mkdir_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return mgr_mkdir_p(dir, 0755);
}

static int listen_unix(struct mgr_http *h, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (!*path || strlen(path) >= sizeof(addr.sun_path)) {
        snprintf(err, errlen, "--listen unix:%s: the path must be 1 to %zu bytes long", path,
                 sizeof(addr.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    memcpy(addr.sun_path, path, strlen(path));
    int ret = mkdir_parent(path);
    if (ret) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(-ret));
        return ret;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        ret = -errno;
        if (ret == -EADDRINUSE) {
            /* In use by a live daemon, or left over by a dead one. */
            int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            bool live = probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0;
            if (probe >= 0)
                close(probe);
            struct stat st;
            if (live || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                snprintf(err, errlen, live ? "%s is in use by another casulo serve"
                                           : "%s exists and is not a socket", path);
                close(fd);
                return -EADDRINUSE;
            }
            unlink(path);
            ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
        }
        if (ret) {
            snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(-ret));
            close(fd);
            return ret;
        }
    }
    /* Before listen(): nobody can connect while the mode is still the default. */
    if (chmod(path, 0660) < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot chmod %s: %s", path, strerror(-ret));
        goto fail;
    }
    struct group gr, *found = NULL;
    char buf[4096];
    if (getgrnam_r(SOCKET_GROUP, &gr, buf, sizeof(buf), &found) == 0 && found) {
        if (chown(path, (uid_t)-1, gr.gr_gid) < 0)
            log_warn("serve", "cannot give %s to group %s: %s", path, SOCKET_GROUP, strerror(errno));
    } else {
        log_notice("serve", "no group '%s': %s stays with group %d, mode 0660", SOCKET_GROUP, path,
                   (int)getegid());
    }
    if (listen(fd, 64) < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(-ret));
        goto fail;
    }
    h->unix_path = strdup(path);
    return fd;
fail:
    unlink(path);
    close(fd);
    return ret;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

static int listen_tcp(struct mgr *m, const char *spec, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1] || (size_t)(colon - spec) >= sizeof(host)) {
        snprintf(err, errlen, "--listen tcp:%s: expected tcp:HOST:PORT", spec);
        return -EINVAL;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "--listen tcp:%s: %s", spec, gai_strerror(rc));
        return -EINVAL;
    }
    int fd = -1, ret = 0;
    if (!is_loopback(ai->ai_addr) && !m->opts.allow_remote) {
        snprintf(err, errlen, "--listen tcp:%s is not a loopback address: remote access needs "
                 "--allow-remote and --token-file FILE", spec);
        ret = -EPERM;
    } else if (!is_loopback(ai->ai_addr) && !m->token) {
        snprintf(err, errlen, "--allow-remote needs --token-file FILE: remote clients must "
                 "authenticate");
        ret = -EPERM;
    } else {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
            ret = -errno;
            snprintf(err, errlen, "cannot listen on tcp:%s: %s", spec, strerror(-ret));
        }
    }
    freeaddrinfo(ai);
    if (ret) {
        if (fd >= 0)
            close(fd);
        return ret;
    }
    m->tcp = true;
    return fd;
}

int mgr_http_start(struct mgr *m, char *err, size_t errlen)
{
    if (!lazy_mhd_load(err, errlen))
        return -ENOPKG;
    struct mgr_http *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    const char *l = m->opts.listen;
    int fd;
    if (strncmp(l, "unix:", 5) == 0) {
        fd = listen_unix(h, l + 5, err, errlen);
    } else if (strncmp(l, "tcp:", 4) == 0) {
        fd = listen_tcp(m, l + 4, err, errlen);
    } else {
        snprintf(err, errlen, "--listen '%s' is not unix:PATH or tcp:HOST:PORT", l);
        fd = -EINVAL;
    }
    if (fd < 0) {
        free(h);
        return fd;
    }
    h->fd = fd;
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                                 MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE, 0, NULL, NULL,
                                 on_request, m,
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_MAX,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot start the HTTP server on %s", l);
        if (h->unix_path)
            unlink(h->unix_path);
        close(fd);
        free(h->unix_path);
        free(h);
        return -EIO;
    }
    m->http = h;
    return 0;
}

void mgr_http_stop(struct mgr *m)
{
    struct mgr_http *h = m->http;
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);   /* closes the listening socket too */
    if (h->unix_path)
        unlink(h->unix_path);
    free(h->unix_path);
    free(h);
    m->http = NULL;
}
