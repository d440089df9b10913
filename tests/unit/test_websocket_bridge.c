// SPDX-License-Identifier: Apache-2.0
/*
 * The dashboard's HTTP side without the daemon: a libmicrohttpd server on
 * 127.0.0.1 whose handler calls web_serve_static() and
 * web_console_upgrade() the way `casulo serve` does, a fake VM console (a
 * Unix socket served by a thread here), and a hand-written HTTP/WebSocket
 * client. Checks the embedded files (types, ETag/304, 404 for the rest),
 * every handshake refusal, and a bridge session: console output arrives as
 * binary frames, typed bytes reach the console, ping gets pong, a close is
 * echoed, a protocol error closes with 1002, and the VM going away closes
 * with 1001.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "manager/web.h"
#include "manager/web_assets.h"
#include "manager/websocket.h"

#define CONSOLE_URL "/api/v1/vms/t/console"

struct fixture {
    char dir[64];
    char console_path[108];
    struct MHD_Daemon *daemon;
    uint16_t port;
    int console_listen;
};

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct fixture *f = cls;
    int ret;
    if (strcmp(url, CONSOLE_URL) == 0)
        return (enum MHD_Result)web_console_upgrade(c, f->console_path);
    if (web_serve_static(c, url, &ret))
        return (enum MHD_Result)ret;
    static const char nf[] = "not found";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf,
                                                             MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
    MHD_destroy_response(r);
    return (enum MHD_Result)ret;
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/casulo-web-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->console_path, sizeof(f->console_path), "%s/console.sock", f->dir);
    f->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_UPGRADE,
                                 0, NULL, NULL, handler, f, MHD_OPTION_SOCK_ADDR,
                                 &(struct sockaddr_in){ .sin_family = AF_INET,
                                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
                                 MHD_OPTION_END);
    assert_non_null(f->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    f->port = info->port;
    f->console_listen = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    MHD_stop_daemon(f->daemon);
    if (f->console_listen >= 0)
        close(f->console_listen);
    unlink(f->console_path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int connect_http(struct fixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(f->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = { .tv_sec = 20 };   /* a hang detector, not a timing assertion */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_str(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Reads the response head (up to the blank line) into buf. */
static void read_head(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = recv(fd, buf + n, 1, 0);
        assert_int_equal(r, 1);
        n++;
        buf[n] = '\0';
        if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0)
            return;
    }
    fail_msg("response head too long");
}

/* A whole HTTP/1.0-style exchange: the server closes after the body. */
static void http_get(struct fixture *f, const char *path, const char *extra, char *head, size_t hsize,
                     char **body, size_t *blen)
{
    int fd = connect_http(f);
    char req[512];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%s\r\n",
             path, f->port, extra ? extra : "");
    send_str(fd, req);
    read_head(fd, head, hsize);
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n == cap)
            b = realloc(b, cap *= 2);
        ssize_t r = recv(fd, b + n, cap - n, 0);
        assert_true(r >= 0);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *body = b;
    *blen = n;
}

static void serves_embedded_files(void **state)
{
    struct fixture *f = *state;
    char head[4096], *body;
    size_t len;

    http_get(f, "/", NULL, head, sizeof(head), &body, &len);
    assert_non_null(strstr(head, "HTTP/1.1 200"));
    assert_non_null(strstr(head, "Content-Type: text/html"));
    assert_non_null(strstr(head, "Cache-Control: no-cache"));
    assert_non_null(strstr(head, "Content-Security-Policy: "));
    assert_true(len > 0 && memmem(body, len, "/assets/app.js", 14));
    free(body);

    static const struct { const char *url, *type; } files[] = {
        { "/index.html", "text/html" }, { "/assets/app.js", "text/javascript" },
        { "/assets/style.css", "text/css" },
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        http_get(f, files[i].url, NULL, head, sizeof(head), &body, &len);
        assert_non_null(strstr(head, "HTTP/1.1 200"));
        char want[64];
        snprintf(want, sizeof(want), "Content-Type: %s", files[i].type);
        assert_non_null(strstr(head, want));
        /* The body is exactly the embedded file. */
        const struct web_asset *a = NULL;
        for (unsigned k = 0; k < web_nr_assets; k++)
            if (strcmp(web_assets[k].path, files[i].url) == 0)
                a = &web_assets[k];
        assert_non_null(a);
        assert_int_equal(len, a->len);
        assert_memory_equal(body, a->data, len);
        free(body);
    }
    if (web_assets_have_console) {
        http_get(f, "/assets/xterm.js", NULL, head, sizeof(head), &body, &len);
        assert_non_null(strstr(head, "HTTP/1.1 200"));
        assert_true(len > 1000);
        free(body);
    }

    /* Revalidation with the ETag: 304 and no body. */
    http_get(f, "/assets/app.js", NULL, head, sizeof(head), &body, &len);
    free(body);
    char *etag = strstr(head, "ETag: ");
    assert_non_null(etag);
    etag += 6;
    etag[strcspn(etag, "\r")] = '\0';
    char inm[128];
    snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n", etag);
    http_get(f, "/assets/app.js", inm, head, sizeof(head), &body, &len);
    assert_non_null(strstr(head, "HTTP/1.1 304"));
    assert_int_equal(len, 0);
    free(body);

    /* Anything else is not ours: the daemon's 404. */
    static const char *const others[] = { "/assets/", "/assets/nope.js", "/index.htm", "/../etc/passwd",
                                          "/api/v1/vms" };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        http_get(f, others[i], NULL, head, sizeof(head), &body, &len);
        assert_non_null(strstr(head, "HTTP/1.1 404"));
        free(body);
    }
}

/* The fake VM console: accepts one client, sends a greeting, echoes "got:" + input. */
struct fake_console {
    int listen_fd;
    bool close_after_greeting;
    char received[256];
    size_t received_len;
    bool saw_eof;
};

static void *fake_console_thread(void *opaque)
{
    struct fake_console *fc = opaque;
    int fd = accept(fc->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    send(fd, "hello from vm", 13, MSG_NOSIGNAL);
    if (fc->close_after_greeting) {
        close(fd);
        return NULL;
    }
    for (;;) {
        char buf[128];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            fc->saw_eof = n == 0;
            break;
        }
        if (fc->received_len + (size_t)n < sizeof(fc->received)) {
            memcpy(fc->received + fc->received_len, buf, (size_t)n);
            fc->received_len += (size_t)n;
        }
        char reply[160];
        int m = snprintf(reply, sizeof(reply), "got:%.*s", (int)n, buf);
        send(fd, reply, (size_t)m, MSG_NOSIGNAL);
    }
    close(fd);
    return NULL;
}

static void start_console(struct fixture *f, struct fake_console *fc, pthread_t *tid)
{
    unlink(f->console_path);
    fc->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, f->console_path);
    assert_int_equal(bind(fc->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fc->listen_fd, 4), 0);
    assert_int_equal(pthread_create(tid, NULL, fake_console_thread, fc), 0);
}

static void stop_console(struct fixture *f, struct fake_console *fc, pthread_t tid)
{
    pthread_join(tid, NULL);
    close(fc->listen_fd);
    unlink(f->console_path);
}

/* Sends the upgrade request; returns the socket with the response head in head. */
static int ws_open(struct fixture *f, const char *extra_headers, char *head, size_t hsize)
{
    int fd = connect_http(f);
    char req[1024];
    snprintf(req, sizeof(req),
             "GET " CONSOLE_URL " HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s\r\n", f->port,
             extra_headers);
    send_str(fd, req);
    read_head(fd, head, hsize);
    return fd;
}

#define GOOD_HEADERS                                                                     \
    "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n" \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

static void send_client_frame(int fd, uint8_t b0, const void *payload, size_t len)
{
    uint8_t frame[256];
    static const uint8_t mask[4] = { 0xa1, 0x5c, 0x03, 0x7e };
    assert_true(len < 126);
    frame[0] = b0;
    frame[1] = (uint8_t)(0x80 | len);
    memcpy(frame + 2, mask, 4);
    for (size_t i = 0; i < len; i++)
        frame[6 + i] = ((const uint8_t *)payload)[i] ^ mask[i & 3];
    assert_int_equal(send(fd, frame, 6 + len, MSG_NOSIGNAL), (ssize_t)(6 + len));
}

static void recv_exact(int fd, uint8_t *buf, size_t len)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = recv(fd, buf + n, len - n, 0);
        assert_true(r > 0);
        n += (size_t)r;
    }
}

/* Reads one server frame (unmasked, < 64 KiB); returns the opcode. */
static uint8_t recv_frame(int fd, uint8_t *payload, size_t *len)
{
    uint8_t h[4];
    recv_exact(fd, h, 2);
    assert_int_equal(h[0] & 0x80, 0x80);   /* we only send final frames */
    assert_int_equal(h[1] & 0x80, 0);      /* never masked */
    size_t n = h[1] & 0x7f;
    if (n == 126) {
        recv_exact(fd, h + 2, 2);
        n = (size_t)h[2] << 8 | h[3];
    }
    assert_true(n != 127);
    recv_exact(fd, payload, n);
    *len = n;
    return h[0] & 0x0f;
}

/* Reads binary frames until their concatenation contains `text`. */
static void expect_output(int fd, const char *text)
{
    char acc[1024];
    size_t n = 0;
    while (!memmem(acc, n, text, strlen(text))) {
        uint8_t p[65536];
        size_t len;
        assert_int_equal(recv_frame(fd, p, &len), WS_OP_BINARY);
        assert_true(n + len < sizeof(acc));
        memcpy(acc + n, p, len);
        n += len;
    }
}

/*
 * After the close frame: the bridge hands the connection back to MHD, which
 * closes it. Waiting for that EOF keeps MHD_stop_daemon() in the teardown
 * from racing the bridge thread's last call.
 */
static void expect_eof(int fd)
{
    uint8_t b[4096];
    ssize_t r;
    while ((r = recv(fd, b, sizeof(b), 0)) > 0)
        ;
    assert_int_equal(r, 0);
    close(fd);
}

static void handshake_refusals(void **state)
{
    struct fixture *f = *state;
    struct fake_console fc = { 0 };
    pthread_t tid;
    char head[4096];
    static const struct { const char *headers, *status; } cases[] = {
        { "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
          "HTTP/1.1 400" },
        { "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "HTTP/1.1 426" },
        { "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n", "HTTP/1.1 400" },
        { "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Key: short\r\n", "HTTP/1.1 400" },
        { GOOD_HEADERS "Origin: http://evil.example\r\n", "HTTP/1.1 403" },
    };
    start_console(f, &fc, &tid);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = ws_open(f, cases[i].headers, head, sizeof(head));
        if (!strstr(head, cases[i].status))
            fail_msg("case %zu: expected %s, got %s", i, cases[i].status, head);
        close(fd);
    }
    /* Nobody reached the console: connect once ourselves so its thread ends. */
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, f->console_path);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    close(c);
    stop_console(f, &fc, tid);
    assert_int_equal(fc.received_len, 0);

    /* No console socket (the VM is not running): 409. */
    int fd = ws_open(f, GOOD_HEADERS, head, sizeof(head));
    assert_non_null(strstr(head, "HTTP/1.1 409"));
    close(fd);
}

static void bridge_session(void **state)
{
    struct fixture *f = *state;
    struct fake_console fc = { 0 };
    pthread_t tid;
    char head[4096];
    uint8_t p[65536];
    size_t len;

    start_console(f, &fc, &tid);
    char hdrs[512];
    snprintf(hdrs, sizeof(hdrs), GOOD_HEADERS "Origin: http://127.0.0.1:%u\r\n", f->port);
    int fd = ws_open(f, hdrs, head, sizeof(head));
    assert_non_null(strstr(head, "HTTP/1.1 101"));
    assert_non_null(strcasestr(head, "Upgrade: websocket"));
    assert_non_null(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));

    expect_output(fd, "hello from vm");
    send_client_frame(fd, 0x82, "ls\r", 3);
    expect_output(fd, "got:ls\r");
    /* Text frames are console input too, and fragments arrive in order. */
    send_client_frame(fd, 0x01, "ab", 2);
    send_client_frame(fd, 0x80, "c", 1);
    expect_output(fd, "c");
    send_client_frame(fd, 0x89, "pi", 2);
    uint8_t op;
    /* Output from the fragments may come before the pong. */
    while ((op = recv_frame(fd, p, &len)) == WS_OP_BINARY)
        ;
    assert_int_equal(op, WS_OP_PONG);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "pi", 2);

    send_client_frame(fd, 0x88, "\x03\xe8", 2);
    while ((op = recv_frame(fd, p, &len)) == WS_OP_BINARY)
        ;
    assert_int_equal(op, WS_OP_CLOSE);
    assert_int_equal(len, 2);
    assert_int_equal(p[0] << 8 | p[1], 1000);
    expect_eof(fd);
    stop_console(f, &fc, tid);
    assert_true(fc.saw_eof);
    assert_true(memmem(fc.received, fc.received_len, "ls\r", 3) != NULL);
    assert_true(memmem(fc.received, fc.received_len, "abc", 3) != NULL ||
                memmem(fc.received, fc.received_len, "c", 1) != NULL);
}

static void protocol_error_closes_1002(void **state)
{
    struct fixture *f = *state;
    struct fake_console fc = { 0 };
    pthread_t tid;
    char head[4096];
    uint8_t p[65536];
    size_t len;

    start_console(f, &fc, &tid);
    int fd = ws_open(f, GOOD_HEADERS, head, sizeof(head));
    assert_non_null(strstr(head, "HTTP/1.1 101"));
    expect_output(fd, "hello from vm");
    /* Unmasked: a client must mask. */
    assert_int_equal(send(fd, "\x82\x02hi", 4, MSG_NOSIGNAL), 4);
    uint8_t op;
    while ((op = recv_frame(fd, p, &len)) == WS_OP_BINARY)
        ;
    assert_int_equal(op, WS_OP_CLOSE);
    assert_int_equal(p[0] << 8 | p[1], WS_CLOSE_PROTOCOL);
    expect_eof(fd);
    stop_console(f, &fc, tid);
    assert_int_equal(fc.received_len, 0);
}

static void vm_going_away_closes_1001(void **state)
{
    struct fixture *f = *state;
    struct fake_console fc = { .close_after_greeting = true };
    pthread_t tid;
    char head[4096];
    uint8_t p[65536];
    size_t len;

    start_console(f, &fc, &tid);
    int fd = ws_open(f, GOOD_HEADERS, head, sizeof(head));
    assert_non_null(strstr(head, "HTTP/1.1 101"));
    expect_output(fd, "hello from vm");
    uint8_t op;
    while ((op = recv_frame(fd, p, &len)) == WS_OP_BINARY)
        ;
    assert_int_equal(op, WS_OP_CLOSE);
    assert_int_equal(p[0] << 8 | p[1], WS_CLOSE_GOING_AWAY);
    expect_eof(fd);
    stop_console(f, &fc, tid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(serves_embedded_files, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(bridge_session, setup, teardown),
        cmocka_unit_test_setup_teardown(protocol_error_closes_1002, setup, teardown),
        cmocka_unit_test_setup_teardown(vm_going_away_closes_1001, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
