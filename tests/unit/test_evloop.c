// SPDX-License-Identifier: Apache-2.0
/* Unit tests for core/evloop: dispatch, removal during dispatch, cross-thread stop. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/evloop.h"

struct ctx {
    struct evloop *loop;
    int fd;
    int calls;
    int stop_after;
};

static void on_readable(void *opaque, uint32_t events)
{
    struct ctx *c = opaque;
    char buf[16];
    assert_true(events & EPOLLIN);
    assert_true(read(c->fd, buf, sizeof(buf)) > 0);
    if (++c->calls == c->stop_after) {
        assert_int_equal(evloop_remove(c->loop, c->fd), 0);
        evloop_stop(c->loop);
    }
}

static void dispatches_and_removes(void **state)
{
    (void)state;
    struct evloop loop;
    int p[2];
    assert_int_equal(evloop_init(&loop), 0);
    assert_int_equal(pipe(p), 0);
    struct ctx c = { .loop = &loop, .fd = p[0], .stop_after = 1 };
    assert_int_equal(evloop_add(&loop, p[0], EPOLLIN, on_readable, &c), 0);
    assert_int_equal(evloop_add(&loop, p[0], EPOLLIN, on_readable, &c), -EEXIST);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(evloop_run(&loop), 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(evloop_remove(&loop, p[0]), -ENOENT);
    evloop_destroy(&loop);
    close(p[0]);
    close(p[1]);
}

static void *stopper(void *arg)
{
    usleep(1000);
    evloop_stop(arg);
    return NULL;
}

static void stop_from_another_thread(void **state)
{
    (void)state;
    struct evloop loop;
    assert_int_equal(evloop_init(&loop), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stopper, &loop), 0);
    assert_int_equal(evloop_run(&loop), 0);   /* returns only because of the stop */
    pthread_join(t, NULL);
    evloop_destroy(&loop);
}

static void modify_pauses_a_source(void **state)
{
    (void)state;
    struct evloop loop;
    int p[2];
    assert_int_equal(evloop_init(&loop), 0);
    assert_int_equal(pipe(p), 0);
    struct ctx c = { .loop = &loop, .fd = p[0], .stop_after = 100 };
    assert_int_equal(evloop_add(&loop, p[0], EPOLLIN, on_readable, &c), 0);
    assert_int_equal(evloop_modify(&loop, p[0], 0), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stopper, &loop), 0);
    assert_int_equal(evloop_run(&loop), 0);
    pthread_join(t, NULL);
    assert_int_equal(c.calls, 0);              /* paused: never dispatched */
    assert_int_equal(evloop_modify(&loop, 12345, EPOLLIN), -ENOENT);
    evloop_destroy(&loop);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dispatches_and_removes),
        cmocka_unit_test(stop_from_another_thread),
        cmocka_unit_test(modify_pauses_a_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
