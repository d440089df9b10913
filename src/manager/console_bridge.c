// SPDX-License-Identifier: Apache-2.0
/*
 * The dashboard's console: a browser's WebSocket bridged to a VM's console
 * socket. The handshake is checked here (the daemon routed the request and
 * checked its token), answered with 101 through libmicrohttpd's upgrade
 * API, and then one thread per bridge copies bytes both ways: WebSocket data
 * frames to the console, console output to binary frames. Either side
 * closing ends the bridge; a protocol error gets its close code.
 *
 * The Origin header, when a browser sends one, must name the host the
 * request was sent to: a page from another site must not be able to drive
 * a VM's console with the user's credentials (cross-site WebSocket
 * hijacking). Non-browser clients send no Origin.
 *
 * send(MSG_NOSIGNAL) everywhere: the daemon need not ignore SIGPIPE.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/lazylib.h"
#include "manager/web.h"
#include "manager/websocket.h"
#include "util/log.h"

/* A peer that takes nothing for this long is given up on. */
#define BRIDGE_SEND_TIMEOUT_MS 30000
#define BRIDGE_CHUNK           16384

struct bridge {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int ws;                 /* the upgraded connection: MHD's, closed through urh */
    int con;                /* the VM's console socket */
    struct MHD_UpgradeResponseHandle *urh;
    uint8_t *extra;         /* bytes MHD read past the request head */
    size_t extra_len;
    struct ws_parser parser;
    bool done;
    bool failed;            /* a send failed: stop */
};

static int reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\": \"%s\"}", msg);
    struct MHD_Response *r = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (status == MHD_HTTP_UPGRADE_REQUIRED)
        MHD_add_response_header(r, "Sec-WebSocket-Version", "13");
    int ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Does the comma-separated header value list `token` (case-insensitive)? */
static bool has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if (m == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p += n;
    }
    return false;
}

/* Origin absent, or "http(s)://" + exactly the Host header. */
static bool origin_ok(struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return true;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!host)
        return false;
    const char *rest = strncasecmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncasecmp(origin, "https://", 8) == 0 ? origin + 8
                                                                 : NULL;
    return rest && strcasecmp(rest, host) == 0;
}

/* Sends all of buf, waiting (bounded) for room; false on error or timeout. */
static bool send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            if (poll(&pfd, 1, BRIDGE_SEND_TIMEOUT_MS) > 0)
                continue;
        }
        return false;
    }
    return true;
}

static void send_frame(struct bridge *b, uint8_t opcode, const uint8_t *payload, size_t len)
{
    uint8_t hdr[WS_MAX_HEADER];
    size_t n = ws_frame_header(hdr, opcode, len);
    if (b->failed || !send_all(b->ws, hdr, n) || !send_all(b->ws, payload, len))
        b->failed = true;
}

static void send_close(struct bridge *b, uint16_t code)
{
    uint8_t frame[4];
    ws_close_frame(frame, code);
    if (!b->failed && !send_all(b->ws, frame, sizeof(frame)))
        b->failed = true;
}

static void on_ws_data(void *opaque, const uint8_t *buf, size_t len)
{
    struct bridge *b = opaque;
    if (!b->failed && !send_all(b->con, buf, len))
        b->failed = true;
}

static void on_ws_ping(void *opaque, const uint8_t *payload, size_t len)
{
    send_frame(opaque, WS_OP_PONG, payload, len);
}

static void on_ws_close(void *opaque, uint16_t code)
{
    struct bridge *b = opaque;
    /* Echo the code (RFC 6455 5.5.1); "no status" is answered with a normal close. */
    send_close(b, code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : code);
    b->done = true;
}

static const struct ws_callbacks bridge_ws_cb = {
    .data = on_ws_data,
    .ping = on_ws_ping,
    .close = on_ws_close,
};

static void feed(struct bridge *b, uint8_t *buf, size_t len)
{
    if (ws_parser_feed(&b->parser, buf, len, &bridge_ws_cb, b) < 0) {
        send_close(b, b->parser.error);
        b->done = true;
    }
    if (b->failed)
        b->done = true;
}

static int connect_console(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    memcpy(addr.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void copy_loop(struct bridge *b)
{
    uint8_t buf[BRIDGE_CHUNK];
    while (!b->done) {
        struct pollfd p[2] = { { .fd = b->ws, .events = POLLIN }, { .fd = b->con, .events = POLLIN } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents) {
            ssize_t n = recv(b->con, buf, sizeof(buf), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                send_close(b, WS_CLOSE_GOING_AWAY);   /* the VM stopped */
                break;
            }
            if (n > 0)
                send_frame(b, WS_OP_BINARY, buf, (size_t)n);
            if (b->failed)
                break;
        }
        if (p[0].revents) {
            ssize_t n = recv(b->ws, buf, sizeof(buf), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                break;   /* the browser went away without a close frame */
            if (n > 0)
                feed(b, buf, (size_t)n);
        }
    }
}

static void *bridge_thread(void *opaque)
{
    struct bridge *b = opaque;
    b->con = connect_console(b->path);
    if (b->con < 0) {
        log_warn("web", "console bridge: cannot connect to %s: %s", b->path, strerror(errno));
        send_close(b, WS_CLOSE_INTERNAL);
    } else {
        if (b->extra_len)
            feed(b, b->extra, b->extra_len);
        copy_loop(b);
        close(b->con);
    }
    MHD_upgrade_action(b->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(b->extra);
    free(b);
    return NULL;
}

/* libmicrohttpd sent the 101: the connection is ours now. Must not block. */
static void on_upgraded(void *cls, struct MHD_Connection *connection, void *con_cls,
                        const char *extra_in, size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh)
{
    struct bridge *b = cls;
    b->ws = sock;
    b->urh = urh;
    if (extra_in_size) {
        b->extra = malloc(extra_in_size);
        if (!b->extra)
            goto fail;
        memcpy(b->extra, extra_in, extra_in_size);
        b->extra_len = extra_in_size;
    }
    pthread_attr_t attr;
    pthread_t tid;
    if (pthread_attr_init(&attr) != 0)
        goto fail;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&tid, &attr, bridge_thread, b);
    pthread_attr_destroy(&attr);
    if (e == 0)
        return;
fail:
    log_warn("web", "console bridge: cannot start its thread");
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    free(b->extra);
    free(b);
}

int web_console_upgrade(struct MHD_Connection *c, const char *console_path)
{
    const char *upgrade = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
    const char *connection = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection");
    const char *version = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    char accept[WS_ACCEPT_LEN + 1];

    if (!upgrade || !has_token(upgrade, "websocket") || !connection ||
        !has_token(connection, "upgrade"))
        return reply_error(c, MHD_HTTP_BAD_REQUEST, "this URL is a WebSocket (Upgrade: websocket)");
    if (!version || strcmp(version, "13") != 0)
        return reply_error(c, MHD_HTTP_UPGRADE_REQUIRED, "WebSocket version 13 is required");
    char why[256];
    if (!lazy_nettle_load(why, sizeof(why)))
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, why);
    if (ws_accept_key(key, accept) < 0)
        return reply_error(c, MHD_HTTP_BAD_REQUEST, "Sec-WebSocket-Key is not 16 bytes of base64");
    if (!origin_ok(c))
        return reply_error(c, MHD_HTTP_FORBIDDEN, "Origin does not match Host");

    struct stat st;
    if (!console_path || strlen(console_path) >= sizeof(((struct bridge *)0)->path) ||
        stat(console_path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return reply_error(c, MHD_HTTP_CONFLICT, "the VM's console is not available (is it running?)");

    struct bridge *b = calloc(1, sizeof(*b));
    if (!b)
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    strcpy(b->path, console_path);
    b->ws = b->con = -1;
    ws_parser_init(&b->parser);
    /*
     * From here `b` belongs to on_upgraded(), which MHD calls once the 101
     * is on the wire. If the client vanishes before that, MHD never calls
     * it and `b` (a few hundred bytes, no descriptors) is lost: the upgrade
     * API has no hook for that case.
     */
    struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgraded, b);
    if (!r) {
        free(b);
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot create the upgrade response");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
    int ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
    MHD_destroy_response(r);
    if (ret != MHD_YES)
        free(b);
    return ret;
}
