// SPDX-License-Identifier: Apache-2.0
/*
 * The API server: a Unix socket we bind ourselves (so we decide its mode and
 * what happens to a stale file) handed to libmicrohttpd, which serves it
 * from its own polling thread. Each request's body is gathered here, then
 * the whole request goes to api_http_handle(); this file knows no routes.
 */
#include "api/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "util/lazylib.h"
#include "util/log.h"

#define API_CONNECTION_LIMIT   32
#define API_CONNECTION_TIMEOUT 30   /* seconds a client may sit idle */

/* Per-request state between libmicrohttpd's calls of the access handler. */
struct api_conn {
    char *body;
    size_t len;
    bool too_large;
};

static int append_body(struct api_conn *c, const char *data, size_t size)
{
    if (c->too_large || c->len + size > API_MAX_BODY) {
        c->too_large = true;
        return 0;
    }
    char *grown = realloc(c->body, c->len + size + 1);
    if (!grown)
        return -ENOMEM;
    memcpy(grown + c->len, data, size);
    c->body = grown;
    c->len += size;
    c->body[c->len] = '\0';
    return 0;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, const struct api_response *r)
{
    struct MHD_Response *mr = MHD_create_response_from_buffer(r->body_len, r->body,
                                                              MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->allow[0])
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow);
    enum MHD_Result ret = MHD_queue_response(conn, r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result api_access(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct api_server *s = cls;
    struct api_conn *c = *con_cls;
    if (!c) {
        /* First call: headers only. Bodies come in later calls. */
        c = calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (append_body(c, upload_data, *upload_data_size) < 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct api_request req = {
        .method = method,
        .path = url,
        .body = c->body,
        .body_len = c->len,
        .body_too_large = c->too_large,
    };
    struct api_response resp;
    api_http_handle(&s->ctx, &req, &resp);
    enum MHD_Result ret = send_response(conn, &resp);
    api_response_free(&resp);
    return ret;
}

static void api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct api_server *s = cls;
    struct api_conn *c = *con_cls;
    if (c) {
        free(c->body);
        free(c);
        *con_cls = NULL;
    }
    if (s->ops->request_done)
        s->ops->request_done(s->vm);
}

static void api_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_debug("api", "%s", msg);
}

/* Is some process accepting connections on the socket file at `addr`? */
static bool socket_in_use(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool used = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
                errno == EAGAIN;   /* listening, backlog full */
    close(fd);
    return used;
}

static int bind_socket(int fd, const struct sockaddr_un *addr, const char *path, char *err,
                       size_t errlen)
{
    if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
        return 0;
    if (errno != EADDRINUSE) {
        int e = errno;
        snprintf(err, errlen, "cannot bind the API socket %s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "cannot create the API socket %s: the file exists and is not a socket",
                 path);
        return -EEXIST;
    }
    if (socket_in_use(addr)) {
        snprintf(err, errlen, "API socket %s is in use by another process", path);
        return -EADDRINUSE;
    }
    /* A socket file nobody listens on: left over by a casulo that died. */
    if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        snprintf(err, errlen, "cannot remove the stale API socket %s: %s", path, strerror(e));
        return -e;
    }
    if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot bind the API socket %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

static int listen_unix(struct api_server *s, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (!*path || strlen(path) >= sizeof(addr.sun_path)) {
        snprintf(err, errlen, "API socket path '%s' must be 1 to %zu bytes long", path,
                 sizeof(addr.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    memcpy(addr.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot create the API socket: %s", strerror(e));
        return -e;
    }
    int ret = bind_socket(fd, &addr, path, err, errlen);
    if (ret)
        goto err_close;
    /* Before listen(): until then nobody can connect, so no one sees a wider mode. */
    struct stat st;
    if (chmod(path, 0600) < 0 || stat(path, &st) < 0 || listen(fd, 16) < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot set up the API socket %s: %s", path, strerror(-ret));
        unlink(path);
        goto err_close;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    return fd;
err_close:
    close(fd);
    return ret;
}

static int start_threads(struct api_server *s, const char *path, int fd, char *err, size_t errlen)
{
    int ret = api_ctx_init(&s->ctx, s->ops, s->vm);
    if (ret) {
        snprintf(err, errlen, "cannot start the API's power-off timer: %s", strerror(-ret));
        return ret;
    }
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                 api_access, s,
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_NOTIFY_COMPLETED, api_completed, s,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONNECTION_LIMIT,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONNECTION_TIMEOUT,
                                 MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot start the API server on %s", path);
        api_ctx_destroy(&s->ctx);
        return -EIO;
    }
    return 0;
}

/* Removes the socket file if it is still the one we bound. */
static void remove_socket_file(struct api_server *s)
{
    struct stat st;
    if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->path);
}

static void *owner_main(void *arg)
{
    struct api_server *s = arg;
    int ret = 0;
    if (s->sandbox != SANDBOX_OFF)
        ret = sandbox_install(SANDBOX_API, s->sandbox, s->start_err, sizeof(s->start_err));
    if (!ret)
        ret = start_threads(s, s->path, s->listen_fd, s->start_err, sizeof(s->start_err));
    pthread_mutex_lock(&s->start_lock);
    s->start_ret = ret;
    s->start_done = true;
    pthread_cond_broadcast(&s->start_cond);
    pthread_mutex_unlock(&s->start_lock);
    if (ret)
        return NULL;
    uint64_t v;
    while (read(s->stop_fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
    /*
     * A request that stopped the VM (PUT /vm/stop) may not have sent its
     * reply yet: give open connections up to a second to finish, so a client
     * is never left with an empty answer.
     */
    for (int i = 0; i < 100; i++) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0)
            break;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    /* Waits for the polling thread, and with it any request in progress; closes the socket. */
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    api_ctx_destroy(&s->ctx);
    /* Only our own file: another casulo may have replaced a socket we no longer listen on. */
    remove_socket_file(s);
    return NULL;
}

int api_server_start_sandboxed(struct api_server *s, const char *path, const struct api_vm_ops *ops,
                               void *vm, enum sandbox_mode mode, char *err, size_t errlen)
{
    *s = (struct api_server){ .ops = ops, .vm = vm, .sandbox = mode, .listen_fd = -1, .stop_fd = -1 };
    /* Loaded here, on the caller's thread: the API's own filter forbids mapping code. */
    if (!lazy_mhd_load(err, errlen))
        return -ENOPKG;
    s->path = strdup(path);
    if (!s->path) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int fd = listen_unix(s, path, err, errlen);
    if (fd < 0) {
        free(s->path);
        s->path = NULL;
        return fd;
    }
    s->listen_fd = fd;
    int ret;
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (s->stop_fd < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot start the API server: %s", strerror(-ret));
        goto fail;
    }
    pthread_mutex_init(&s->start_lock, NULL);
    pthread_cond_init(&s->start_cond, NULL);
    /*
     * The API's threads inherit this mask: with every asynchronous signal
     * blocked there, SIGINT/SIGTERM always reach the VM's signalfd, whoever
     * calls us and whenever. Faults still reach the fatal handler.
     */
    sigset_t all, old;
    sigfillset(&all);
    static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
        sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ret = -pthread_create(&s->owner, NULL, owner_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret) {
        snprintf(err, errlen, "cannot start the API thread: %s", strerror(-ret));
        goto fail_sync;
    }
    s->owner_started = true;
    pthread_setname_np(s->owner, "api");
    pthread_mutex_lock(&s->start_lock);
    while (!s->start_done)
        pthread_cond_wait(&s->start_cond, &s->start_lock);
    ret = s->start_ret;
    pthread_mutex_unlock(&s->start_lock);
    if (!ret)
        return 0;
    snprintf(err, errlen, "%s", s->start_err);
    pthread_join(s->owner, NULL);
    s->owner_started = false;
fail_sync:
    pthread_cond_destroy(&s->start_cond);
    pthread_mutex_destroy(&s->start_lock);
fail:
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    close(fd);
    unlink(path);
    free(s->path);
    s->path = NULL;
    return ret ? ret : -EIO;
}

int api_server_start(struct api_server *s, const char *path, const struct api_vm_ops *ops,
                     void *vm, char *err, size_t errlen)
{
    return api_server_start_sandboxed(s, path, ops, vm, SANDBOX_OFF, err, errlen);
}

void api_server_stop(struct api_server *s)
{
    if (!s->path)
        return;
    if (s->owner_started) {
        uint64_t one = 1;
        ssize_t w = write(s->stop_fd, &one, sizeof(one));
        (void)w;
        pthread_join(s->owner, NULL);
        s->owner_started = false;
    }
    close(s->stop_fd);
    pthread_cond_destroy(&s->start_cond);
    pthread_mutex_destroy(&s->start_lock);
    free(s->path);
    s->path = NULL;
}
