// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for cli/vm_console: vm_console_attach() against a fake console
 * socket served by a thread here. On a pseudo-terminal it must switch to raw
 * mode, pass typed bytes through, detach on Ctrl-] without sending it, and
 * leave the terminal exactly as it found it, also when SIGTERM ends it. On
 * pipes it copies both ways and ends when the VM closes the socket. A socket
 * that does not exist is one error line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/vm_console.h"

struct fake_vm {
    char dir[64];
    char path[108];
    int listen_fd;
    bool reply;              /* answer each read with "echo:" + bytes */
    bool close_after_reply;  /* then hang up (the VM stopped) */
    char got[256];
    size_t got_len;
    pthread_t tid;
};

static void *fake_vm_thread(void *opaque)
{
    struct fake_vm *v = opaque;
    int fd = accept(v->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    send(fd, "guest says hi\r\n", 15, MSG_NOSIGNAL);
    for (;;) {
        char buf[128];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        if (v->got_len + (size_t)n <= sizeof(v->got)) {
            memcpy(v->got + v->got_len, buf, (size_t)n);
            v->got_len += (size_t)n;
        }
        if (v->reply) {
            char r[160];
            int m = snprintf(r, sizeof(r), "echo:%.*s", (int)n, buf);
            send(fd, r, (size_t)m, MSG_NOSIGNAL);
            if (v->close_after_reply)
                break;
        }
    }
    close(fd);
    return NULL;
}

static void fake_vm_start(struct fake_vm *v)
{
    strcpy(v->dir, "/tmp/casulo-vmcon-test.XXXXXX");
    assert_non_null(mkdtemp(v->dir));
    snprintf(v->path, sizeof(v->path), "%s/console.sock", v->dir);
    v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, v->path);
    assert_int_equal(bind(v->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(v->listen_fd, 1), 0);
    assert_int_equal(pthread_create(&v->tid, NULL, fake_vm_thread, v), 0);
}

static void fake_vm_stop(struct fake_vm *v)
{
    pthread_join(v->tid, NULL);
    close(v->listen_fd);
    unlink(v->path);
    rmdir(v->dir);
}

/* vm_console_attach() on another thread, with stdin/stdout swapped for the test's fds. */
struct attach_run {
    const char *path;
    int ret;
    char *err_text;
    size_t err_len;
    pthread_t tid;
};

static void *attach_thread(void *opaque)
{
    struct attach_run *r = opaque;
    FILE *err = open_memstream(&r->err_text, &r->err_len);
    r->ret = vm_console_attach(r->path, err);
    fclose(err);
    return NULL;
}

struct saved_stdio {
    int in, out;
};

static struct saved_stdio redirect(int in, int out)
{
    struct saved_stdio s = { dup(STDIN_FILENO), dup(STDOUT_FILENO) };
    fflush(stdout);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    return s;
}

static void restore_stdio(struct saved_stdio s)
{
    dup2(s.in, STDIN_FILENO);
    dup2(s.out, STDOUT_FILENO);
    close(s.in);
    close(s.out);
}

/* Everything readable on fd within the hang-detector bound, until `want` shows up. */
static void read_until(int fd, char *buf, size_t size, const char *want)
{
    size_t n = 0;
    buf[0] = '\0';
    while (!strstr(buf, want)) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 20000), 1);   /* a hang detector, not a timing assertion */
        ssize_t r = read(fd, buf + n, size - 1 - n);
        assert_true(r > 0);
        n += (size_t)r;
        buf[n] = '\0';
    }
}

static void wait_raw(int slave)
{
    for (int i = 0; i < 20000; i++) {
        struct termios t;
        assert_int_equal(tcgetattr(slave, &t), 0);
        if (!(t.c_lflag & ICANON))
            return;
        usleep(1000);
    }
    fail_msg("the terminal never went raw");
}

static void same_termios(const struct termios *a, const struct termios *b)
{
    assert_int_equal(a->c_iflag, b->c_iflag);
    assert_int_equal(a->c_oflag, b->c_oflag);
    assert_int_equal(a->c_cflag, b->c_cflag);
    assert_int_equal(a->c_lflag, b->c_lflag);
    assert_memory_equal(a->c_cc, b->c_cc, sizeof(a->c_cc));
}

static void tty_typing_and_detach(void **state)
{
    (void)state;
    struct fake_vm v = { 0 };
    fake_vm_start(&v);
    int master, slave, out[2];
    assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
    assert_int_equal(pipe(out), 0);
    struct termios before, after;
    assert_int_equal(tcgetattr(slave, &before), 0);

    struct saved_stdio saved = redirect(slave, out[1]);
    struct attach_run r = { .path = v.path, .ret = -1 };
    assert_int_equal(pthread_create(&r.tid, NULL, attach_thread, &r), 0);
    wait_raw(slave);
    char buf[512];
    read_until(out[0], buf, sizeof(buf), "guest says hi");
    /* Ctrl-C is a byte for the guest in raw mode; Ctrl-] ends it and is not sent. */
    assert_int_equal(write(master, "ls\x03\x1dnot sent", 12), 12);
    pthread_join(r.tid, NULL);
    restore_stdio(saved);

    assert_int_equal(r.ret, 0);
    assert_int_equal(tcgetattr(slave, &after), 0);
    same_termios(&before, &after);
    fake_vm_stop(&v);   /* the attach closed the socket: the fake VM sees EOF */
    assert_int_equal(v.got_len, 3);
    assert_memory_equal(v.got, "ls\x03", 3);
    assert_non_null(strstr(r.err_text, "Ctrl-]"));
    free(r.err_text);
    close(master);
    close(slave);
    close(out[0]);
    close(out[1]);
}

static void tty_restored_on_sigterm(void **state)
{
    (void)state;
    struct fake_vm v = { 0 };
    fake_vm_start(&v);
    int master, slave, out[2];
    assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
    assert_int_equal(pipe(out), 0);
    struct termios before, after;
    assert_int_equal(tcgetattr(slave, &before), 0);

    struct saved_stdio saved = redirect(slave, out[1]);
    struct attach_run r = { .path = v.path, .ret = -1 };
    assert_int_equal(pthread_create(&r.tid, NULL, attach_thread, &r), 0);
    wait_raw(slave);
    /* Aimed at the attaching thread, which has SIGTERM blocked and watched. */
    assert_int_equal(pthread_kill(r.tid, SIGTERM), 0);
    pthread_join(r.tid, NULL);
    restore_stdio(saved);

    assert_int_equal(r.ret, 1);
    assert_non_null(strstr(r.err_text, "stopped by"));
    assert_int_equal(tcgetattr(slave, &after), 0);
    same_termios(&before, &after);
    fake_vm_stop(&v);
    free(r.err_text);
    close(master);
    close(slave);
    close(out[0]);
    close(out[1]);
}

static void pipes_until_vm_closes(void **state)
{
    (void)state;
    struct fake_vm v = { .reply = true, .close_after_reply = true };
    fake_vm_start(&v);
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    /* A 0x1d in piped input is just a byte: there is no escape without a terminal. */
    assert_int_equal(write(in[1], "uname\x1d\n", 7), 7);

    struct saved_stdio saved = redirect(in[0], out[1]);
    struct attach_run r = { .path = v.path, .ret = -1 };
    assert_int_equal(pthread_create(&r.tid, NULL, attach_thread, &r), 0);
    pthread_join(r.tid, NULL);
    restore_stdio(saved);

    assert_int_equal(r.ret, 0);
    assert_int_equal(r.err_len, 0);   /* no terminal chatter on a pipe */
    close(out[1]);
    char buf[512];
    read_until(out[0], buf, sizeof(buf), "echo:uname");
    assert_non_null(strstr(buf, "guest says hi"));
    fake_vm_stop(&v);
    assert_int_equal(v.got_len, 7);
    assert_memory_equal(v.got, "uname\x1d\n", 7);
    free(r.err_text);
    close(in[0]);
    close(in[1]);
    close(out[0]);
}

static void missing_socket_is_an_error(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *err = open_memstream(&text, &len);
    assert_int_equal(vm_console_attach("/nonexistent/casulo/console.sock", err), 1);
    fclose(err);
    assert_non_null(strstr(text, "cannot connect to the console socket /nonexistent/casulo/console.sock"));
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 1);
    free(text);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tty_typing_and_detach),
        cmocka_unit_test(tty_restored_on_sigterm),
        cmocka_unit_test(pipes_until_vm_closes),
        cmocka_unit_test(missing_socket_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
