// SPDX-License-Identifier: Apache-2.0
/*
 * The console with --console stdio where stdin and stdout are pipes: Ctrl-A
 * escapes, EOF, back-pressure from a receiver that takes input in small
 * pieces, output, a stdout nobody reads, and --console file=/off.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/console.h"
#include "core/evloop.h"

struct fixture {
    int saved_in, saved_out;
    int in_w;    /* we write guest input here (stdin's other end) */
    int out_r;   /* guest output arrives here (stdout's other end) */
    struct vm_config cfg;
    struct evloop loop;
    struct console con;
    uint8_t got[4096];
    size_t got_len;
    size_t budget;        /* bytes the receiver takes before it is "full" */
    size_t stop_at;       /* stop the loop when this many bytes arrived */
    unsigned quits;
};

static size_t rec_input(void *opaque, const uint8_t *buf, size_t len)
{
    struct fixture *f = opaque;
    size_t take = MIN(len, f->budget);
    assert_true(f->got_len + take <= sizeof(f->got));
    memcpy(f->got + f->got_len, buf, take);
    f->got_len += take;
    f->budget -= take;
    if (take == 0 || f->got_len >= f->stop_at)
        evloop_stop(&f->loop);
    return take;
}

static void rec_quit(void *opaque)
{
    struct fixture *f = opaque;
    f->quits++;
    evloop_stop(&f->loop);
}

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof(*f));
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    fflush(stdout);
    f->saved_in = dup(STDIN_FILENO);
    f->saved_out = dup(STDOUT_FILENO);
    assert_true(f->saved_in >= 0 && f->saved_out >= 0);
    assert_int_equal(dup2(in[0], STDIN_FILENO), STDIN_FILENO);
    assert_int_equal(dup2(out[1], STDOUT_FILENO), STDOUT_FILENO);
    close(in[0]);
    close(out[1]);
    f->in_w = in[1];
    f->out_r = out[0];

    vm_config_init(&f->cfg);
    f->cfg.console = CONSOLE_STDIO;
    assert_int_equal(evloop_init(&f->loop), 0);
    char err[256];
    assert_int_equal(console_open(&f->con, &f->cfg, err, sizeof(err)), 0);
    assert_false(f->con.raw); /* a pipe is no TTY */
    f->budget = SIZE_MAX;
    f->stop_at = SIZE_MAX;
    assert_int_equal(console_attach(&f->con, &f->loop, rec_input, f, rec_quit, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    console_close(&f->con);
    evloop_destroy(&f->loop);
    vm_config_free(&f->cfg);
    dup2(f->saved_in, STDIN_FILENO);
    dup2(f->saved_out, STDOUT_FILENO);
    close(f->saved_in);
    close(f->saved_out);
    if (f->in_w >= 0)
        close(f->in_w);
    close(f->out_r);
    test_free(f);
    return 0;
}

static void feed(struct fixture *f, const char *s, size_t len)
{
    assert_int_equal(write(f->in_w, s, len), (ssize_t)len);
}

static void run(struct fixture *f)
{
    f->loop.stop = false;
    assert_int_equal(evloop_run(&f->loop), 0);
}

static void test_escapes(void **state)
{
    struct fixture *f = *state;
    /* Ctrl-A Ctrl-A is one Ctrl-A; Ctrl-A + other sends both; Ctrl-A h
     * only prints help; Ctrl-A x quits and nothing after it is delivered. */
    static const char in[] = "ab\x01\x01" "c\x01z\x01hd\x01xafter";
    static const char want[] = "ab\x01" "c\x01zd";
    feed(f, in, sizeof(in) - 1);
    run(f);
    assert_int_equal(f->quits, 1);
    assert_int_equal(f->got_len, sizeof(want) - 1);
    assert_memory_equal(f->got, want, sizeof(want) - 1);
}

static void test_escape_split_across_reads(void **state)
{
    struct fixture *f = *state;
    f->stop_at = 1;
    feed(f, "q\x01", 2);
    run(f);
    assert_int_equal(f->got_len, 1);
    /* The pending Ctrl-A is carried into the next read. */
    f->stop_at = 3;
    feed(f, "\x01r", 2);
    run(f);
    assert_int_equal(f->got_len, 3);
    assert_memory_equal(f->got, "q\x01r", 3);
    f->stop_at = 5;
    feed(f, "\x01", 1);
    feed(f, "s", 1);
    run(f);
    assert_memory_equal(f->got, "q\x01r\x01s", 5);
    assert_int_equal(f->quits, 0);
}

static void kick_stop(void *opaque, uint32_t events)
{
    struct fixture *f = opaque;
    evloop_stop(&f->loop);
}

static void test_eof_stops_input_only(void **state)
{
    struct fixture *f = *state;
    f->stop_at = 3;
    feed(f, "end", 3);
    close(f->in_w);
    f->in_w = -1;
    run(f);
    assert_memory_equal(f->got, "end", 3);
    /* Run once more, woken by a ready "kick" pipe that stops the loop: the
     * EOF is seen in the same batch of events, input stops, quit is not
     * called. */
    int kick[2];
    assert_int_equal(pipe(kick), 0);
    assert_int_equal(evloop_add(&f->loop, kick[0], EPOLLIN, kick_stop, f), 0);
    assert_int_equal(write(kick[1], "k", 1), 1);
    run(f);
    evloop_remove(&f->loop, kick[0]);
    close(kick[0]);
    close(kick[1]);
    assert_true(f->con.in_done);
    assert_false(f->con.in_watched);
    assert_int_equal(f->quits, 0);
}

static void test_backpressure(void **state)
{
    struct fixture *f = *state;
    char in[1000];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (char)('0' + i % 64);
    feed(f, in, sizeof(in));
    f->stop_at = sizeof(in);

    unsigned rounds = 0;
    while (f->got_len < sizeof(in)) {
        assert_true(rounds++ < 100);
        size_t before = f->got_len;
        f->budget = 64;
        if (rounds > 1) {
            /* The receiver was full: the console must not poll stdin (it
             * is readable) until it is told there is room. */
            assert_true(f->con.input_paused);
            assert_false(f->con.in_watched);
            console_input_ready(&f->con);
        }
        run(f);
        assert_true(f->got_len > before);
        assert_true(f->got_len - before <= 64);
    }
    assert_int_equal(f->got_len, sizeof(in));
    assert_memory_equal(f->got, in, sizeof(in));
    assert_true(rounds >= sizeof(in) / 64);
}

static void test_output(void **state)
{
    struct fixture *f = *state;
    console_write(&f->con, "hello\r\n", 7);
    char buf[16] = { 0 };
    assert_int_equal(read(f->out_r, buf, sizeof(buf)), 7);
    assert_string_equal(buf, "hello\r\n");
}

static void test_output_unread_pipe_does_not_block(void **state)
{
    struct fixture *f = *state;
    static char big[256 * 1024];
    memset(big, 'x', sizeof(big));
    /* Far more than a pipe holds and nobody reads: must return, dropping. */
    console_write(&f->con, big, sizeof(big));
    assert_true(f->con.out_stalled);
    size_t total = 0;
    char buf[4096];
    ssize_t n;
    int fl = fcntl(f->out_r, F_GETFL);
    fcntl(f->out_r, F_SETFL, fl | O_NONBLOCK);
    while ((n = read(f->out_r, buf, sizeof(buf))) > 0)
        total += (size_t)n;
    assert_true(total > 0 && total < sizeof(big));
    /* Once the reader catches up, output flows again. */
    console_write(&f->con, "ok", 2);
    assert_false(f->con.out_stalled);
    assert_int_equal(read(f->out_r, buf, sizeof(buf)), 2);
}

/* stdin redirected from a regular file or /dev/null, which epoll refuses:
 * the file is still read to its end, then input stops quietly. */
static void stdin_from(struct fixture *f, const char *path, const char *want, size_t want_len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    console_close(&f->con);
    char err[256];
    assert_int_equal(console_open(&f->con, &f->cfg, err, sizeof(err)), 0);
    f->stop_at = want_len ? want_len : SIZE_MAX;
    assert_int_equal(console_attach(&f->con, &f->loop, rec_input, f, rec_quit, f), 0);
    assert_false(f->con.in_pollable);
    if (want_len) {
        run(f);
        assert_int_equal(f->got_len, want_len);
        assert_memory_equal(f->got, want, want_len);
    }
    int kick[2];
    assert_int_equal(pipe(kick), 0);
    assert_int_equal(evloop_add(&f->loop, kick[0], EPOLLIN, kick_stop, f), 0);
    for (int i = 0; i < 5 && !f->con.in_done; i++) {
        assert_int_equal(write(kick[1], "k", 1), 1);
        run(f);
        char c;
        assert_int_equal(read(kick[0], &c, 1), 1);
    }
    assert_true(f->con.in_done);
    assert_int_equal(f->quits, 0);
    evloop_remove(&f->loop, kick[0]);
    close(kick[0]);
    close(kick[1]);
}

static void test_stdin_regular_file(void **state)
{
    struct fixture *f = *state;
    char path[] = "/tmp/casulo-stdin-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char data[700];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
    close(fd);
    stdin_from(f, path, data, sizeof(data));
    unlink(path);
}

static void test_stdin_dev_null(void **state)
{
    struct fixture *f = *state;
    stdin_from(f, "/dev/null", NULL, 0);
    assert_int_equal(f->got_len, 0);
}

static void test_file_and_off(void **state)
{
    char path[] = "/tmp/casulo-console-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "old contents", 12), 12);
    close(fd);
    unlink(path);  /* console_open must create it */

    struct vm_config cfg;
    vm_config_init(&cfg);
    cfg.console = CONSOLE_FILE;
    cfg.console_path = strdup(path);
    struct console con;
    char err[256];
    mode_t old = umask(0);
    assert_int_equal(console_open(&con, &cfg, err, sizeof(err)), 0);
    umask(old);
    assert_int_equal(con.in_fd, -1);
    console_write(&con, "boot\r\n", 6);
    console_close(&con);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(st.st_size, 6);
    unlink(path);

    /* A path that cannot be created fails with a message. */
    free(cfg.console_path);
    cfg.console_path = strdup("/nonexistent-dir/console.log");
    err[0] = 0;
    assert_true(console_open(&con, &cfg, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "nonexistent-dir"));

    cfg.console = CONSOLE_OFF;
    assert_int_equal(console_open(&con, &cfg, err, sizeof(err)), 0);
    assert_int_equal(con.out_fd, -1);
    assert_int_equal(con.in_fd, -1);
    console_write(&con, "dropped", 7);
    console_close(&con);
    vm_config_free(&cfg);
}

int main(void)
{
    /* A hang guard, not a timing assertion: a broken loop must not stall CI. */
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escape_split_across_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_stops_input_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_unread_pipe_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdin_regular_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdin_dev_null, setup, teardown),
        cmocka_unit_test(test_file_and_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
