// SPDX-License-Identifier: Apache-2.0
/*
 * The VM console. Output: a write(2) loop that may wait briefly for a slow
 * reader but never blocks a vCPU for long (stdout pipes and TTYs are reopened
 * non-blocking through /proc/self/fd so the shell's file description keeps
 * its flags). Input: read on the event loop thread, Ctrl-A escapes handled,
 * then offered to the receiver; what it refuses stays in `pending` and stdin
 * is not polled until the receiver calls console_input_ready(), which only
 * pokes an eventfd so that all loop bookkeeping stays on the loop thread.
 */
#include "core/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/console_socket.h"
#include "core/evloop.h"
#include "util/log.h"

#define CONSOLE_ESCAPE      0x01 /* Ctrl-A */
/* How long one console_write() may wait for a reader that does not read. */
#define CONSOLE_OUT_WAIT_MS 200

static const char console_help[] =
    "\r\ncasulo console escapes:\r\n"
    "  Ctrl-A x       quit casulo (the guest is stopped)\r\n"
    "  Ctrl-A h       print this help\r\n"
    "  Ctrl-A Ctrl-A  send Ctrl-A to the guest\r\n";

static void make_raw(struct console *con)
{
    struct termios t;
    if (tcgetattr(con->in_fd, &con->saved) < 0)
        return;
    t = con->saved;
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t.c_cflag |= CS8;
    /* c_oflag is left alone: the guest sends "\r\n" itself and our own log
     * lines on the same terminal keep their usual newline translation. */
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(con->in_fd, TCSANOW, &t) == 0)
        con->raw = true;
}

/* stdout as a descriptor of our own with O_NONBLOCK, when it is a pipe, TTY
 * or socket; regular files never block for long, so they are used as is. */
static void open_stdout(struct console *con)
{
    struct stat st;
    if (fstat(STDOUT_FILENO, &st) < 0)
        return;
    con->out_fd = STDOUT_FILENO;
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode)) {
        int fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
            con->out_fd = fd;
            con->out_is_owned = true;
        }
    }
}

int console_open(struct console *con, const struct vm_config *cfg, char *err, size_t errlen)
{
    memset(con, 0, sizeof(*con));
    con->in_fd = con->out_fd = con->ready_fd = -1;
    con->mode = cfg->console;
    int e = pthread_mutex_init(&con->out_lock, NULL);
    if (e) {
        snprintf(err, errlen, "console: %s", strerror(e));
        return -e;
    }

    switch (cfg->console) {
    case CONSOLE_STDIO:
        if (fcntl(STDIN_FILENO, F_GETFD) >= 0) {
            con->in_fd = STDIN_FILENO;
            if (isatty(con->in_fd))
                make_raw(con);
        }
        open_stdout(con);
        break;
    case CONSOLE_FILE:
        if (!cfg->console_path) {
            snprintf(err, errlen, "--console file= needs a path");
            pthread_mutex_destroy(&con->out_lock);
            return -EINVAL;
        }
        con->out_fd = open(cfg->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY,
                           0644);
        if (con->out_fd < 0) {
            e = -errno;
            snprintf(err, errlen, "cannot open console file %s: %s", cfg->console_path,
                     strerror(-e));
            pthread_mutex_destroy(&con->out_lock);
            return e;
        }
        con->out_is_owned = true;
        break;
    case CONSOLE_SOCKET:
        e = console_socket_open(&con->sock, cfg->console_path, cfg->console_log, err, errlen);
        if (e) {
            pthread_mutex_destroy(&con->out_lock);
            return e;
        }
        break;
    case CONSOLE_OFF:
        break;
    }
    return 0;
}

void console_close(struct console *con)
{
    console_detach(con);
    console_socket_close(con->sock);
    con->sock = NULL;
    console_restore_tty(con);
    con->raw = false;
    if (con->out_is_owned && con->out_fd >= 0)
        close(con->out_fd);
    con->out_fd = -1;
    con->out_is_owned = false;
    con->in_fd = -1;
    pthread_mutex_destroy(&con->out_lock);
}

void console_restore_tty(struct console *con)
{
    /* tcsetattr() is async-signal-safe; nothing else is called here. */
    if (con->raw)
        tcsetattr(con->in_fd, TCSANOW, &con->saved);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes all of buf unless the reader stalls; caller holds out_lock. */
static void write_out(struct console *con, const uint8_t *p, size_t len)
{
    int64_t deadline = now_ms() + CONSOLE_OUT_WAIT_MS;
    while (len) {
        ssize_t w = write(con->out_fd, p, len);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN && !con->out_stalled) {
            int64_t left = deadline - now_ms();
            if (left > 0) {
                struct pollfd pfd = { .fd = con->out_fd, .events = POLLOUT };
                poll(&pfd, 1, (int)left);
                continue;
            }
        }
        /* A stalled reader or a write error: drop the rest, say so once. */
        if (!con->out_warned) {
            con->out_warned = true;
            log_warn("console", "output %s; dropping guest console output",
                     w < 0 && errno != EAGAIN ? strerror(errno) : "is not being read");
        }
        con->out_stalled = true;
        return;
    }
    con->out_stalled = false;
}

void console_write(struct console *con, const void *buf, size_t len)
{
    if (con->sock && len) {
        console_socket_write(con->sock, buf, len);
        return;
    }
    if (con->out_fd < 0 || !len)
        return;
    pthread_mutex_lock(&con->out_lock);
    write_out(con, buf, len);
    pthread_mutex_unlock(&con->out_lock);
}

static void write_stderr(const char *s, size_t len)
{
    while (len) {
        ssize_t w = write(STDERR_FILENO, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

/*
 * Handles Ctrl-A escapes in raw input and appends the bytes for the guest to
 * `pending`. One raw byte yields at most two guest bytes, and only right
 * after a Ctrl-A carried over from the previous chunk, so a chunk of
 * sizeof(pending) - 1 bytes always fits.
 */
static void filter_input(struct console *con, const uint8_t *raw, size_t n)
{
    for (size_t i = 0; i < n && !con->in_done; i++) {
        uint8_t c = raw[i];
        if (!con->escape_pending) {
            if (c == CONSOLE_ESCAPE)
                con->escape_pending = true;
            else
                con->pending[con->pending_len++] = c;
            continue;
        }
        con->escape_pending = false;
        switch (c) {
        case 'x':
        case 'X':
            con->in_done = true;
            if (con->quit)
                con->quit(con->quit_opaque);
            break;
        case 'h':
        case 'H':
            write_stderr(console_help, sizeof(console_help) - 1);
            break;
        case CONSOLE_ESCAPE:
            con->pending[con->pending_len++] = CONSOLE_ESCAPE;
            break;
        default:
            con->pending[con->pending_len++] = CONSOLE_ESCAPE;
            con->pending[con->pending_len++] = c;
            break;
        }
    }
}

static void on_input(void *opaque, uint32_t events);

static void watch_input(struct console *con, bool on)
{
    if (on == con->in_watched || !con->in_pollable)
        return;
    if (on) {
        if (evloop_add(con->loop, con->in_fd, EPOLLIN, on_input, con) == 0)
            con->in_watched = true;
    } else {
        evloop_remove(con->loop, con->in_fd);
        con->in_watched = false;
    }
}

/* Offers `pending` to the receiver; true when all of it was taken. */
static bool deliver(struct console *con)
{
    while (con->pending_off < con->pending_len && con->input) {
        size_t n = con->input(con->input_opaque, con->pending + con->pending_off,
                              con->pending_len - con->pending_off);
        if (n == 0) {
            /* Full: stop polling stdin (an unread pipe would otherwise keep
             * it readable and the loop would spin) until the receiver has
             * room again. */
            con->input_paused = true;
            watch_input(con, false);
            return false;
        }
        con->pending_off += MIN(n, con->pending_len - con->pending_off);
    }
    con->pending_off = con->pending_len = 0;
    return true;
}

/* Reads one chunk from in_fd into `pending`; false at EOF or on error. */
static bool read_chunk(struct console *con)
{
    uint8_t raw[sizeof(con->pending) - 1];
    ssize_t n = read(con->in_fd, raw, sizeof(raw));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        /* EOF on stdin only ends input; the guest keeps running. */
        con->in_done = true;
        return false;
    }
    filter_input(con, raw, (size_t)n);
    return true;
}

static void signal_ready(struct console *con)
{
    uint64_t one = 1;
    ssize_t w = write(con->ready_fd, &one, sizeof(one));
    (void)w;
}

static void on_input(void *opaque, uint32_t events)
{
    struct console *con = opaque;
    if (con->pending_len == 0)
        read_chunk(con);
    deliver(con);
    if (con->in_done)
        watch_input(con, false);
}

static void on_ready(void *opaque, uint32_t events)
{
    struct console *con = opaque;
    uint64_t v;
    ssize_t r = read(con->ready_fd, &v, sizeof(v));
    (void)r;

    con->input_paused = false;
    if (!deliver(con) || con->in_done)
        return;
    if (con->in_pollable) {
        watch_input(con, true);
        return;
    }
    /* A regular file (or /dev/null) is always readable and epoll refuses
     * it: read one chunk per loop iteration, re-arming ourselves. */
    read_chunk(con);
    if (deliver(con) && !con->in_done)
        signal_ready(con);
}

int console_attach(struct console *con, struct evloop *loop, console_input_fn input,
                   void *input_opaque, console_quit_fn quit, void *quit_opaque)
{
    con->loop = loop;
    con->input = input;
    con->input_opaque = input_opaque;
    con->quit = quit;
    con->quit_opaque = quit_opaque;
    if (con->sock) {
        int ret = console_socket_attach(con->sock, loop, input, input_opaque);
        if (ret)
            con->loop = NULL;
        return ret;
    }
    if (con->in_fd < 0)
        return 0;

    con->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (con->ready_fd < 0)
        return -errno;
    int err = evloop_add(loop, con->ready_fd, EPOLLIN, on_ready, con);
    if (err)
        goto fail_close;
    con->in_pollable = true;
    err = evloop_add(loop, con->in_fd, EPOLLIN, on_input, con);
    if (err == 0) {
        con->in_watched = true;
    } else if (err == -EPERM) {
        con->in_pollable = false;
        signal_ready(con);
    } else {
        evloop_remove(loop, con->ready_fd);
        goto fail_close;
    }
    return 0;

fail_close:
    close(con->ready_fd);
    con->ready_fd = -1;
    con->loop = NULL;
    return err;
}

void console_detach(struct console *con)
{
    if (con->sock && con->loop)
        console_socket_detach(con->sock);
    if (con->loop) {
        watch_input(con, false);
        if (con->ready_fd >= 0)
            evloop_remove(con->loop, con->ready_fd);
    }
    if (con->ready_fd >= 0)
        close(con->ready_fd);
    con->ready_fd = -1;
    con->loop = NULL;
    con->input = NULL;
    con->quit = NULL;
}

void console_input_ready(struct console *con)
{
    /* Only an eventfd write: safe from a vCPU thread holding device locks. */
    if (con->sock)
        console_socket_input_ready(con->sock);
    else if (con->ready_fd >= 0)
        signal_ready(con);
}
