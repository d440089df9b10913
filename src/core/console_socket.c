// SPDX-License-Identifier: Apache-2.0
/*
 * The console socket. Output arrives on vCPU threads (with the UART lock
 * held), so it must never wait: it is appended to a ring that remembers the
 * last CONSOLE_SOCKET_RING bytes, and each client is a position in that ring
 * that non-blocking writes advance. A client that falls a whole ring behind
 * (it stopped reading and its socket buffer is full) has lost output for
 * good and is dropped; a new client starts at the oldest byte the ring holds,
 * which is the replay. Writes that would block resume from the event loop
 * when the socket turns writable again (edge-triggered EPOLLOUT).
 *
 * Everything else (accepting, reading input, closing clients) happens on the
 * event loop thread. A vCPU thread that gives up on a client only marks it
 * dead and pokes an eventfd; the loop thread closes it, under the lock, so a
 * writer never uses a descriptor number that was closed and reused.
 *
 * Input: clients are read edge-triggered into one pending buffer, round
 * robin, and offered to the receiver (the UART); when it is full, reading
 * pauses until console_socket_input_ready().
 *
 * Client output uses write(2), not send(MSG_NOSIGNAL): it is the one call
 * every sandboxed thread may make, and `casulo run` ignores SIGPIPE.
 */
#include "core/console_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/evloop.h"
#include "util/log.h"

struct console_client {
    struct console_socket *owner;
    int fd;              /* -1: free slot */
    uint64_t sent;       /* ring position of the next byte to send */
    bool dead;           /* a writer gave up on it; the loop thread closes it */
    bool readable;       /* edge-triggered: input may be waiting */
    bool in_eof;         /* it shut down its sending side: output only */
    bool hup;            /* gone entirely: close once its last input is read */
};

struct console_socket {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev;
    ino_t ino;
    int listen_fd;
    int log_fd;          /* -1: no log */
    int wake_fd;         /* eventfd: input room again, or a client to reap */
    struct evloop *loop;
    console_input_fn input;
    void *input_opaque;

    /* lock: the ring, the clients' fd/sent/dead, log writes. */
    pthread_mutex_t lock;
    uint8_t ring[CONSOLE_SOCKET_RING];
    uint64_t total;      /* bytes ever written: ring[total % size] is the next slot */
    struct console_client clients[CONSOLE_SOCKET_CLIENTS];
    bool log_warned;

    /* Loop thread only. */
    bool paused;         /* the receiver refused bytes: wait for input_ready */
    unsigned next_reader;
    uint8_t pending[256];
    size_t pending_len, pending_off;
};

static int socket_fail(char *err, size_t errlen, int e, const char *what, const char *path)
{
    snprintf(err, errlen, "cannot %s the console socket %s: %s", what, path, strerror(e));
    return -e;
}

/* Is some process accepting connections on the socket file at `addr`? */
static bool socket_in_use(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool used = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 || errno == EAGAIN;
    close(fd);
    return used;
}

static int bind_listen(struct console_socket *s, char *err, size_t errlen)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    memcpy(addr.sun_path, s->path, strlen(s->path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return socket_fail(err, errlen, errno, "create", s->path);
    int ret = 0;
    if (bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
        struct stat st;
        if (errno != EADDRINUSE) {
            ret = socket_fail(err, errlen, errno, "bind", s->path);
        } else if (lstat(s->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "cannot create the console socket %s: the file exists and is "
                     "not a socket", s->path);
            ret = -EEXIST;
        } else if (socket_in_use(&addr)) {
            snprintf(err, errlen, "console socket %s is in use by another process", s->path);
            ret = -EADDRINUSE;
        } else if (unlink(s->path) < 0 && errno != ENOENT) {
            /* A socket file nobody listens on: left by a casulo that died. */
            ret = socket_fail(err, errlen, errno, "remove the stale", s->path);
        } else if (bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
            ret = socket_fail(err, errlen, errno, "bind", s->path);
        }
        if (ret)
            goto fail;
    }
    /* Before listen(): nobody can connect while the mode is still wider. */
    struct stat st;
    if (chmod(s->path, 0600) < 0 || stat(s->path, &st) < 0 || listen(fd, 8) < 0) {
        ret = socket_fail(err, errlen, errno, "set up", s->path);
        unlink(s->path);
        goto fail;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->listen_fd = fd;
    return 0;

fail:
    close(fd);
    return ret;
}

int console_socket_open(struct console_socket **out, const char *path, const char *log_path,
                        char *err, size_t errlen)
{
    *out = NULL;
    struct console_socket *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "console socket: out of memory");
        return -ENOMEM;
    }
    s->listen_fd = s->log_fd = s->wake_fd = -1;
    for (unsigned i = 0; i < CONSOLE_SOCKET_CLIENTS; i++) {
        s->clients[i].owner = s;
        s->clients[i].fd = -1;
    }
    int ret;
    if (!path || !*path || strlen(path) >= sizeof(s->path)) {
        snprintf(err, errlen, "console socket path '%s' must be 1 to %zu bytes long",
                 path ? path : "", sizeof(s->path) - 1);
        ret = -ENAMETOOLONG;
        goto fail_free;
    }
    strcpy(s->path, path);
    ret = -pthread_mutex_init(&s->lock, NULL);
    if (ret) {
        snprintf(err, errlen, "console socket: %s", strerror(-ret));
        goto fail_free;
    }
    if (log_path) {
        /* Non-blocking: a FIFO given as the log drops output instead of stalling the guest. */
        s->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                         0600);
        if (s->log_fd < 0) {
            ret = -errno;
            snprintf(err, errlen, "cannot open console log %s: %s", log_path, strerror(-ret));
            goto fail_lock;
        }
    }
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        ret = -errno;
        snprintf(err, errlen, "console socket: %s", strerror(-ret));
        goto fail_log;
    }
    ret = bind_listen(s, err, errlen);
    if (ret)
        goto fail_wake;
    *out = s;
    return 0;

fail_wake:
    close(s->wake_fd);
fail_log:
    if (s->log_fd >= 0)
        close(s->log_fd);
fail_lock:
    pthread_mutex_destroy(&s->lock);
fail_free:
    free(s);
    return ret;
}

static void wake(struct console_socket *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->wake_fd, &one, sizeof(one));
    (void)w;
}

/* Lock held. The loop thread will close it. */
static void mark_dead(struct console_socket *s, struct console_client *c, const char *why)
{
    if (c->dead)
        return;
    c->dead = true;
    log_info("console", "dropping console client: %s", why);
    wake(s);
}

/* Sends what the client has not seen yet, as far as its socket takes it. Lock held. */
static void flush_client(struct console_socket *s, struct console_client *c)
{
    while (!c->dead && c->sent < s->total) {
        if (s->total - c->sent > CONSOLE_SOCKET_RING) {
            mark_dead(s, c, "it does not read its output");
            return;
        }
        size_t off = (size_t)(c->sent % CONSOLE_SOCKET_RING);
        size_t n = (size_t)MIN(s->total - c->sent, (uint64_t)(CONSOLE_SOCKET_RING - off));
        ssize_t w = write(c->fd, s->ring + off, n);
        if (w > 0) {
            c->sent += (uint64_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            return;   /* EPOLLOUT resumes it */
        } else {
            mark_dead(s, c, w < 0 ? strerror(errno) : "write returned 0");
            return;
        }
    }
}

static void write_log(struct console_socket *s, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t w = write(s->log_fd, p, len);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            if (!s->log_warned)
                log_warn("console", "console log: %s; dropping output",
                         w < 0 ? strerror(errno) : "short write");
            s->log_warned = true;
            return;
        }
    }
}

void console_socket_write(struct console_socket *s, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    pthread_mutex_lock(&s->lock);
    if (s->log_fd >= 0)
        write_log(s, p, len);
    s->total += len;
    /* Only the last ring's worth of a huge write can be kept. */
    if (len > CONSOLE_SOCKET_RING) {
        p += len - CONSOLE_SOCKET_RING;
        len = CONSOLE_SOCKET_RING;
    }
    uint64_t start = s->total - len;
    while (len) {
        size_t off = (size_t)(start % CONSOLE_SOCKET_RING);
        size_t n = MIN(len, CONSOLE_SOCKET_RING - off);
        memcpy(s->ring + off, p, n);
        p += n;
        start += n;
        len -= n;
    }
    for (unsigned i = 0; i < CONSOLE_SOCKET_CLIENTS; i++)
        if (s->clients[i].fd >= 0)
            flush_client(s, &s->clients[i]);
    pthread_mutex_unlock(&s->lock);
}

/* Loop thread. */
static void close_client(struct console_socket *s, struct console_client *c)
{
    if (c->fd < 0)
        return;
    evloop_remove(s->loop, c->fd);
    pthread_mutex_lock(&s->lock);
    int fd = c->fd;
    c->fd = -1;
    c->dead = false;
    c->readable = false;
    c->in_eof = false;
    c->hup = false;
    pthread_mutex_unlock(&s->lock);
    close(fd);
}

static void reap_dead(struct console_socket *s)
{
    for (unsigned i = 0; i < CONSOLE_SOCKET_CLIENTS; i++) {
        struct console_client *c = &s->clients[i];
        /* `dead` is written under the lock; a stale false only delays the reap. */
        pthread_mutex_lock(&s->lock);
        bool dead = c->fd >= 0 && c->dead;
        pthread_mutex_unlock(&s->lock);
        if (dead)
            close_client(s, c);
    }
}

/* Offers `pending` to the receiver; false when it is full. */
static bool deliver(struct console_socket *s)
{
    while (s->pending_off < s->pending_len && s->input) {
        size_t n = s->input(s->input_opaque, s->pending + s->pending_off,
                            s->pending_len - s->pending_off);
        if (n == 0) {
            s->paused = true;
            return false;
        }
        s->pending_off += MIN(n, s->pending_len - s->pending_off);
    }
    s->pending_off = s->pending_len = 0;
    return true;
}

/* Moves client input to the receiver until it is full or no client has any. */
static void pump(struct console_socket *s)
{
    while (!s->paused && deliver(s)) {
        struct console_client *c = NULL;
        for (unsigned k = 0; k < CONSOLE_SOCKET_CLIENTS && !c; k++) {
            struct console_client *x = &s->clients[(s->next_reader + k) % CONSOLE_SOCKET_CLIENTS];
            if (x->fd >= 0 && x->readable && !x->in_eof)
                c = x;
        }
        if (!c)
            return;
        ssize_t n = read(c->fd, s->pending, sizeof(s->pending));
        if (n > 0) {
            s->pending_len = (size_t)n;
            s->next_reader = (unsigned)(c - s->clients + 1) % CONSOLE_SOCKET_CLIENTS;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            c->readable = false;
        } else if (n == 0 && c->hup) {
            close_client(s, c);
        } else if (n == 0) {
            /* Half-closed (`casulo vm console` at the end of piped input):
             * it still reads output; EPOLLHUP tells when it is gone. */
            c->in_eof = true;
        } else {
            close_client(s, c);
        }
    }
}

static void on_client(void *opaque, uint32_t events)
{
    struct console_client *c = opaque;
    struct console_socket *s = c->owner;
    if (events & EPOLLOUT) {
        pthread_mutex_lock(&s->lock);
        flush_client(s, c);
        pthread_mutex_unlock(&s->lock);
    }
    if (events & (EPOLLIN | EPOLLRDHUP))
        c->readable = true;
    if (events & (EPOLLHUP | EPOLLERR)) {
        /* Gone; what it sent before hanging up still goes to the guest. */
        c->hup = true;
        c->readable = true;
        if (c->in_eof || (events & EPOLLERR))
            close_client(s, c);
    }
    reap_dead(s);
    pump(s);
}

static void refuse(int fd)
{
    static const char msg[] = "casulo: too many console clients\r\n";
    ssize_t w = write(fd, msg, sizeof(msg) - 1);
    (void)w;
    close(fd);
}

static void on_accept(void *opaque, uint32_t events)
{
    struct console_socket *s = opaque;
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                log_warn("console", "console socket accept: %s", strerror(errno));
            return;
        }
        struct console_client *c = NULL;
        for (unsigned i = 0; i < CONSOLE_SOCKET_CLIENTS && !c; i++)
            if (s->clients[i].fd < 0)
                c = &s->clients[i];
        if (!c) {
            refuse(fd);
            continue;
        }
        int ret = evloop_add(s->loop, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_client, c);
        if (ret) {
            log_warn("console", "console client: %s", strerror(-ret));
            close(fd);
            continue;
        }
        pthread_mutex_lock(&s->lock);
        c->fd = fd;
        c->dead = false;
        c->readable = true;
        c->in_eof = false;
        c->hup = false;
        c->sent = s->total > CONSOLE_SOCKET_RING ? s->total - CONSOLE_SOCKET_RING : 0;
        flush_client(s, c);   /* the replay */
        pthread_mutex_unlock(&s->lock);
        log_info("console", "console client connected");
    }
}

static void on_wake(void *opaque, uint32_t events)
{
    struct console_socket *s = opaque;
    uint64_t v;
    ssize_t r = read(s->wake_fd, &v, sizeof(v));
    (void)r;
    s->paused = false;
    reap_dead(s);
    pump(s);
}

int console_socket_attach(struct console_socket *s, struct evloop *loop, console_input_fn input,
                          void *opaque)
{
    s->loop = loop;
    s->input = input;
    s->input_opaque = opaque;
    int ret = evloop_add(loop, s->wake_fd, EPOLLIN, on_wake, s);
    if (ret)
        goto fail;
    ret = evloop_add(loop, s->listen_fd, EPOLLIN, on_accept, s);
    if (ret) {
        evloop_remove(loop, s->wake_fd);
        goto fail;
    }
    return 0;

fail:
    s->loop = NULL;
    s->input = NULL;
    return ret;
}

void console_socket_detach(struct console_socket *s)
{
    if (!s || !s->loop)
        return;
    for (unsigned i = 0; i < CONSOLE_SOCKET_CLIENTS; i++)
        close_client(s, &s->clients[i]);
    evloop_remove(s->loop, s->listen_fd);
    evloop_remove(s->loop, s->wake_fd);
    s->loop = NULL;
    s->input = NULL;
}

void console_socket_input_ready(struct console_socket *s)
{
    /* Only an eventfd write: safe from a vCPU thread holding device locks. */
    wake(s);
}

void console_socket_close(struct console_socket *s)
{
    if (!s)
        return;
    console_socket_detach(s);
    for (unsigned i = 0; i < CONSOLE_SOCKET_CLIENTS; i++)
        if (s->clients[i].fd >= 0)
            close(s->clients[i].fd);
    /* Only our own socket file: a newer casulo may have replaced it. */
    struct stat st;
    if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->path);
    close(s->listen_fd);
    close(s->wake_fd);
    if (s->log_fd >= 0)
        close(s->log_fd);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
