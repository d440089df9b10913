// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for core/console_socket with a real event loop on its own
 * thread and this thread playing the vCPU: output never waits for a client
 * that does not read (that client is dropped once it has lost output), a
 * new client's replay is exactly the last 64 KiB, input reaches the
 * receiver and pauses while it is full, and a bad path is refused.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/console_socket.h"
#include "core/evloop.h"

struct fixture {
    char dir[64];
    char path[108];
    struct evloop loop;
    pthread_t loop_tid;
    struct console_socket *sock;
    /* The receiver (the UART's stand-in), on the loop thread. */
    pthread_mutex_t lock;
    uint8_t input[4096];
    size_t input_len;
    size_t room;              /* bytes it still accepts; refusals start at 0 */
};

static size_t receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct fixture *f = opaque;
    pthread_mutex_lock(&f->lock);
    size_t n = len < f->room ? len : f->room;
    if (f->input_len + n > sizeof(f->input))
        n = sizeof(f->input) - f->input_len;
    memcpy(f->input + f->input_len, buf, n);
    f->input_len += n;
    f->room -= n;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static void *loop_thread(void *opaque)
{
    struct fixture *f = opaque;
    evloop_run(&f->loop);
    return NULL;
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);   /* as `casulo run` does: client writes use write(2) */
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/casulo-consock-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/c.sock", f->dir);
    pthread_mutex_init(&f->lock, NULL);
    f->room = SIZE_MAX;
    assert_int_equal(evloop_init(&f->loop), 0);
    char err[256];
    assert_int_equal(console_socket_open(&f->sock, f->path, NULL, err, sizeof(err)), 0);
    assert_int_equal(console_socket_attach(f->sock, &f->loop, receive, f), 0);
    assert_int_equal(pthread_create(&f->loop_tid, NULL, loop_thread, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    evloop_stop(&f->loop);
    pthread_join(f->loop_tid, NULL);
    console_socket_close(f->sock);
    struct stat st;
    assert_int_equal(stat(f->path, &st), -1);   /* the socket file went with it */
    evloop_destroy(&f->loop);
    pthread_mutex_destroy(&f->lock);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int client(struct fixture *f)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, f->path);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = { .tv_sec = 20 };   /* a hang detector, not a timing assertion */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Reads until `marker` has arrived; returns everything before it. */
static uint8_t *read_until_marker(int fd, const char *marker, size_t *len)
{
    size_t cap = 1 << 20, n = 0, ml = strlen(marker);
    uint8_t *buf = malloc(cap);
    while (n < ml || memcmp(buf + n - ml, marker, ml) != 0) {
        assert_true(n < cap);
        ssize_t r = recv(fd, buf + n, 1, 0);   /* byte by byte: never past the marker */
        assert_int_equal(r, 1);
        n++;
    }
    *len = n - ml;
    return buf;
}

static void wait_input(struct fixture *f, size_t want)
{
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&f->lock);
        size_t have = f->input_len;
        pthread_mutex_unlock(&f->lock);
        if (have >= want)
            return;
        usleep(1000);
    }
    fail_msg("the receiver never got %zu bytes", want);
}

/* Both clients are registered once a marker written now reaches each of them. */
static void sync_clients(struct fixture *f, int a, int b)
{
    console_socket_write(f->sock, "#", 1);
    int fds[2] = { a, b };
    for (int i = 0; i < 2; i++) {
        char c;
        do
            assert_int_equal(recv(fds[i], &c, 1, 0), 1);
        while (c != '#');
    }
}

static void replay_is_the_last_64k(void **state)
{
    struct fixture *f = *state;
    /* 100 KiB of a pattern that tells positions apart. */
    size_t total = 100 * 1024;
    uint8_t *data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)('a' + (i * 7 + i / 251) % 26);
    for (size_t off = 0; off < total; off += 1000)
        console_socket_write(f->sock, data + off, total - off < 1000 ? total - off : 1000);

    int fd = client(f);
    /* The marker is written after the client connected; the replay comes first. */
    for (int i = 0; i < 20000; i++) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 1) == 1)
            break;
    }
    console_socket_write(f->sock, "<END>", 5);
    size_t len;
    uint8_t *got = read_until_marker(fd, "<END>", &len);
    assert_int_equal(len, CONSOLE_SOCKET_RING);
    assert_memory_equal(got, data + total - CONSOLE_SOCKET_RING, CONSOLE_SOCKET_RING);
    free(got);
    free(data);
    close(fd);
}

static void silent_client_is_dropped_and_output_never_waits(void **state)
{
    struct fixture *f = *state;
    int silent = client(f);
    int reader = client(f);
    sync_clients(f, silent, reader);
    /*
     * 8 MiB of output while `silent` reads nothing: far more than the ring
     * plus any socket buffer. The writes return (this thread is the vCPU;
     * a blocking write would hang the test), `reader` keeps up.
     */
    char chunk[4096];
    memset(chunk, 'x', sizeof(chunk));
    size_t total = 8u << 20, read_total = 0;
    for (size_t w = 0; w < total; w += sizeof(chunk)) {
        console_socket_write(f->sock, chunk, sizeof(chunk));
        char buf[65536];
        ssize_t r;
        while ((r = recv(reader, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
            read_total += (size_t)r;
    }
    console_socket_write(f->sock, "<END>", 5);
    size_t len;
    uint8_t *rest = read_until_marker(reader, "<END>", &len);
    read_total += len;
    free(rest);
    assert_int_equal(read_total, total);   /* the reader lost nothing */

    /* The silent one: whatever its buffers held, then EOF. */
    size_t silent_total = 0;
    char buf[65536];
    ssize_t r;
    while ((r = recv(silent, buf, sizeof(buf), 0)) > 0)
        silent_total += (size_t)r;
    assert_int_equal(r, 0);
    assert_true(silent_total > 0);
    assert_true(silent_total < total);
    close(silent);
    close(reader);
}

static void input_pauses_while_the_receiver_is_full(void **state)
{
    struct fixture *f = *state;
    pthread_mutex_lock(&f->lock);
    f->room = 4;
    pthread_mutex_unlock(&f->lock);
    int a = client(f), b = client(f);
    sync_clients(f, a, b);
    assert_int_equal(send(a, "hello", 5, 0), 5);
    wait_input(f, 4);
    assert_int_equal(send(b, "world", 5, 0), 5);
    /* Full: nothing more until the receiver says it has room. */
    usleep(20000);
    pthread_mutex_lock(&f->lock);
    assert_int_equal(f->input_len, 4);
    f->room = SIZE_MAX;
    pthread_mutex_unlock(&f->lock);
    console_socket_input_ready(f->sock);
    wait_input(f, 10);
    pthread_mutex_lock(&f->lock);
    assert_memory_equal(f->input, "hello", 5);   /* a's bytes stay in order */
    assert_memory_equal(f->input + 5, "world", 5);
    pthread_mutex_unlock(&f->lock);
    close(a);
    close(b);
}

static void bad_paths(void **state)
{
    (void)state;
    struct console_socket *s = (void *)1;
    char err[256];
    assert_int_equal(console_socket_open(&s, "/nonexistent-dir/c.sock", NULL, err, sizeof(err)), -ENOENT);
    assert_null(s);
    assert_non_null(strstr(err, "/nonexistent-dir/c.sock"));
    char longp[200];
    memset(longp, 'x', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(console_socket_open(&s, longp, NULL, err, sizeof(err)), -ENAMETOOLONG);
    assert_int_equal(console_socket_open(&s, "", NULL, err, sizeof(err)), -ENAMETOOLONG);
    char dir[] = "/tmp/casulo-consock-bad.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], logp[160];
    snprintf(path, sizeof(path), "%s/c.sock", dir);
    snprintf(logp, sizeof(logp), "%s/missing/c.log", dir);
    assert_int_equal(console_socket_open(&s, path, logp, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "console log"));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(replay_is_the_last_64k, setup, teardown),
        cmocka_unit_test_setup_teardown(silent_client_is_dropped_and_output_never_waits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(input_pauses_while_the_receiver_is_full, setup, teardown),
        cmocka_unit_test(bad_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
