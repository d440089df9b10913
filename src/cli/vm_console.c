// SPDX-License-Identifier: Apache-2.0
/*
 * `casulo vm console`: copies between this terminal and a VM's console
 * socket. On a TTY the terminal goes raw (so Ctrl-C, arrows and the like
 * reach the guest) and Ctrl-] detaches. The termination signals are taken
 * through a signalfd instead of killing us, so every way out (detach, the
 * VM going away, SIGTERM/SIGHUP/SIGINT/SIGQUIT, an I/O error) passes the
 * one place that restores the terminal.
 *
 * Without a TTY it is a plain pipe: stdin to the guest, guest to stdout.
 * At the end of stdin our sending side is shut down and output is still
 * copied until the VM closes the socket or stays quiet for
 * VM_CONSOLE_DRAIN_MS, like `socat`, so `echo cmd | casulo vm console x`
 * shows the answer and still ends on a VM that runs on.
 */
#include "cli/vm_console.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define VM_CONSOLE_DRAIN_MS 500

struct vm_console {
    int sock;
    int sig_fd;
    bool tty;
    bool raw;
    struct termios saved;
    bool in_eof;
    sigset_t old_mask;
};

static int connect_socket(const char *path, FILE *err)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (!path || !*path || strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(err, "casulo: error: console socket path '%s' is not usable\n", path ? path : "");
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        fprintf(err, "casulo: error: cannot connect to the console socket %s: %s%s\n", path,
                strerror(e), e == ENOENT || e == ECONNREFUSED ? " (is the VM running?)" : "");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void make_raw(struct vm_console *vc)
{
    if (tcgetattr(STDIN_FILENO, &vc->saved) < 0)
        return;
    struct termios t = vc->saved;
    cfmakeraw(&t);
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
        vc->raw = true;
}

static void restore(struct vm_console *vc)
{
    if (vc->raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &vc->saved);
    vc->raw = false;
}

static bool write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* One read from stdin to the socket; 1: go on, 0: detach, -1: error. */
static int from_stdin(struct vm_console *vc, FILE *err)
{
    uint8_t buf[4096];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n <= 0) {
        if (vc->tty)
            return 0;   /* the terminal went away */
        vc->in_eof = true;
        shutdown(vc->sock, SHUT_WR);
        return 1;
    }
    size_t len = (size_t)n;
    bool detach = false;
    if (vc->tty) {
        uint8_t *esc = memchr(buf, VM_CONSOLE_DETACH, len);
        if (esc) {
            len = (size_t)(esc - buf);
            detach = true;
        }
    }
    if (!write_all(vc->sock, buf, len)) {
        fprintf(err, "casulo: error: console socket: %s\n", strerror(errno));
        return -1;
    }
    return detach ? 0 : 1;
}

/* One read from the socket to stdout; 1: go on, 0: the VM closed it, -1: error. */
static int from_socket(struct vm_console *vc, FILE *err)
{
    uint8_t buf[4096];
    ssize_t n = read(vc->sock, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n == 0)
        return 0;
    if (n < 0) {
        fprintf(err, "casulo: error: console socket: %s\n", strerror(errno));
        return -1;
    }
    if (!write_all(STDOUT_FILENO, buf, (size_t)n))
        return 0;   /* our reader went away (a closed pipe): nothing left to do */
    return 1;
}

static int run(struct vm_console *vc, FILE *err)
{
    for (;;) {
        struct pollfd p[3] = {
            { .fd = vc->sock, .events = POLLIN },
            { .fd = vc->sig_fd, .events = POLLIN },
            { .fd = vc->in_eof ? -1 : STDIN_FILENO, .events = POLLIN },
        };
        int r = poll(p, 3, vc->in_eof ? VM_CONSOLE_DRAIN_MS : -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(err, "casulo: error: poll: %s\n", strerror(errno));
            return 1;
        }
        if (r == 0)
            return 0;   /* input done and the VM has been quiet */
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(vc->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si) && si.ssi_signo != SIGPIPE) {
                fprintf(err, "%scasulo: console: stopped by %s\n", vc->tty ? "\r\n" : "",
                        strsignal((int)si.ssi_signo));
                return 1;
            }
        }
        if (p[0].revents) {
            int ret = from_socket(vc, err);
            if (ret <= 0)
                return ret < 0;
        }
        if (p[2].revents) {
            int ret = from_stdin(vc, err);
            if (ret <= 0)
                return ret < 0;
        }
    }
}

int vm_console_attach(const char *console_socket_path, FILE *err)
{
    struct vm_console vc = { .sig_fd = -1 };
    vc.sock = connect_socket(console_socket_path, err);
    if (vc.sock < 0)
        return 1;

    /* Termination signals become readable events, so no exit path skips restore(). */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGQUIT);
    sigaddset(&mask, SIGPIPE);
    if (sigprocmask(SIG_BLOCK, &mask, &vc.old_mask) < 0 ||
        (vc.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
        fprintf(err, "casulo: error: cannot watch signals: %s\n", strerror(errno));
        close(vc.sock);
        return 1;
    }
    vc.tty = isatty(STDIN_FILENO);
    if (vc.tty) {
        make_raw(&vc);
        fprintf(err, "Connected to %s. Detach with Ctrl-].\r\n", console_socket_path);
        fflush(err);
    }
    int ret = run(&vc, err);
    restore(&vc);
    if (vc.tty) {
        fprintf(err, "\nDetached from the console.\n");
        fflush(err);
    }
    close(vc.sock);
    /* A SIGPIPE may still be pending (a write to a closed socket): take it first. */
    struct signalfd_siginfo si;
    struct pollfd pending = { .fd = vc.sig_fd, .events = POLLIN };
    while (poll(&pending, 1, 0) == 1 && read(vc.sig_fd, &si, sizeof(si)) > 0)
        ;
    close(vc.sig_fd);
    sigprocmask(SIG_SETMASK, &vc.old_mask, NULL);
    return ret;
}
