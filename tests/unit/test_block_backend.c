// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for backends/block: opening and locking images, and both I/O
 * engines (io_uring and sync) doing every operation against a temporary
 * file, compared with what the file holds afterwards. When the host has no
 * io_uring, the io_uring cases say so and only the sync engine runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/block.h"
#include "core/evloop.h"

#define IMG_SIZE (256 * 1024)
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static char err[256];

static void make_image(char *path, size_t pathlen, const char *dir)
{
    snprintf(path, pathlen, "%s/casulo-blk-XXXXXX", dir);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t *buf = malloc(IMG_SIZE);
    assert_non_null(buf);
    for (size_t i = 0; i < IMG_SIZE; i++)
        buf[i] = (uint8_t)(i * 7 + i / 512);
    assert_int_equal(pwrite(fd, buf, IMG_SIZE, 0), IMG_SIZE);
    free(buf);
    close(fd);
}

static const char *tmpdir(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

static void file_bytes(const char *path, uint64_t off, void *dst, size_t len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, dst, len, (off_t)off), (ssize_t)len);
    close(fd);
}

/* --- the image file --- */

static void open_errors(void **state)
{
    (void)state;
    struct block_file f;
    assert_int_equal(block_file_open(&f, "/nonexistent/casulo.img", false, false, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/casulo.img"));
    assert_int_equal(block_file_open(&f, tmpdir(), true, false, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a regular file or block device"));
}

static void lock_excludes_second_writer(void **state)
{
    (void)state;
    char path[256];
    make_image(path, sizeof(path), tmpdir());
    struct block_file a, b, c;
    assert_int_equal(block_file_open(&a, path, false, false, err, sizeof(err)), 0);
    assert_int_equal(a.size, IMG_SIZE);
    assert_false(a.readonly);

    /* A second writer, and a reader, are refused while a writer holds it. */
    assert_int_equal(block_file_open(&b, path, false, false, err, sizeof(err)), -EBUSY);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "already in use"));
    assert_int_equal(block_file_open(&b, path, true, false, err, sizeof(err)), -EBUSY);
    assert_non_null(strstr(err, "open read-write elsewhere"));
    block_file_close(&a);

    /* Readers share; a writer is then refused. */
    assert_int_equal(block_file_open(&a, path, true, false, err, sizeof(err)), 0);
    assert_int_equal(block_file_open(&b, path, true, false, err, sizeof(err)), 0);
    assert_true(b.readonly);
    assert_int_equal(block_file_open(&c, path, false, false, err, sizeof(err)), -EBUSY);
    block_file_close(&a);
    block_file_close(&b);

    /* Closing released the lock. */
    assert_int_equal(block_file_open(&c, path, false, false, err, sizeof(err)), 0);
    block_file_close(&c);
    unlink(path);
}

/* --- the engines --- */

struct done_rec {
    int calls;
    int result;
};

static void on_done(struct block_req *req, int result)
{
    struct done_rec *d = req->opaque;
    d->calls++;
    d->result = result;
}

static void on_ready_complete(void *opaque)
{
    struct block_backend **bep = opaque;
    block_backend_complete(*bep);
}

struct engine_env {
    char path[256];
    struct evloop loop;
    struct block_file file;
    struct block_backend *be;
};

/* Returns false (after saying so) when the engine is unavailable here. */
static bool env_open(struct engine_env *e, enum disk_io io, const char *dir, bool readonly)
{
    make_image(e->path, sizeof(e->path), dir);
    assert_int_equal(evloop_init(&e->loop), 0);
    assert_int_equal(block_file_open(&e->file, e->path, readonly, false, err, sizeof(err)), 0);
    int rc = block_backend_create(&e->be, &e->file, io, 32, &e->loop, on_ready_complete, &e->be,
                                  err, sizeof(err));
    if (rc < 0 && io == DISK_IO_URING) {
        print_message("io_uring unavailable here (%s): io_uring case not run\n", err);
        block_file_close(&e->file);
        evloop_destroy(&e->loop);
        unlink(e->path);
        return false;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(block_backend_name(e->be), io == DISK_IO_URING ? "io_uring" : "sync");
    return true;
}

static void env_close(struct engine_env *e)
{
    block_backend_destroy(e->be);
    block_file_close(&e->file);
    evloop_destroy(&e->loop);
    unlink(e->path);
}

/* Submits and waits: drain delivers the completion for either engine. */
static int run_req(struct engine_env *e, struct block_req *req)
{
    struct done_rec d = { 0 };
    req->done = on_done;
    req->opaque = &d;
    assert_int_equal(block_backend_submit(e->be, req), 0);
    block_backend_drain(e->be);
    assert_int_equal(d.calls, 1);
    return d.result;
}

static void engine_ops(enum disk_io io)
{
    struct engine_env e;
    if (!env_open(&e, io, tmpdir(), false))
        return;
    print_message("engine: %s\n", block_backend_name(e.be));

    /* Read 3 sectors at sector 5 into two buffers. */
    uint8_t a[1024], b[512], want[1536];
    struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
    struct block_req rd = { .op = BLOCK_OP_READ, .offset = 5 * 512, .len = 1536, .iov = iov, .iovcnt = 2 };
    assert_int_equal(run_req(&e, &rd), 0);
    file_bytes(e.path, 5 * 512, want, sizeof(want));
    assert_memory_equal(a, want, 1024);
    assert_memory_equal(b, want + 1024, 512);

    /* Write a pattern, flush, compare with the file. */
    memset(a, 0xa5, sizeof(a));
    memset(b, 0x5a, sizeof(b));
    struct block_req wr = { .op = BLOCK_OP_WRITE, .offset = 100 * 512, .len = 1536, .iov = iov, .iovcnt = 2 };
    assert_int_equal(run_req(&e, &wr), 0);
    struct block_req fl = { .op = BLOCK_OP_FLUSH };
    assert_int_equal(run_req(&e, &fl), 0);
    file_bytes(e.path, 100 * 512, want, sizeof(want));
    assert_memory_equal(want, a, 1024);
    assert_memory_equal(want + 1024, b, 512);

    /* Write-zeroes with and without unmap: the range reads back as zeroes. */
    uint8_t zero[4096] = { 0 }, got[4096];
    for (int unmap = 0; unmap < 2; unmap++) {
        uint64_t off = (unmap ? 200 : 150) * 512ull;
        struct block_req wz = { .op = BLOCK_OP_WRITE_ZEROES, .offset = off, .len = 4096, .may_unmap = unmap };
        assert_int_equal(run_req(&e, &wz), 0);
        file_bytes(e.path, off, got, sizeof(got));
        assert_memory_equal(got, zero, sizeof(got));
        file_bytes(e.path, off + 4096, got, 512);   /* the next sector is untouched */
        assert_int_not_equal(got[1] | got[2] | got[3], 0);
    }
    /* Discard succeeds; the size stays. */
    struct block_req dc = { .op = BLOCK_OP_DISCARD, .offset = 64 * 1024, .len = 64 * 1024 };
    assert_int_equal(run_req(&e, &dc), 0);
    struct stat st;
    assert_int_equal(stat(e.path, &st), 0);
    assert_int_equal(st.st_size, IMG_SIZE);

    /* An injected disk error hits exactly the next request of that kind. */
    block_backend_inject_error(e.be, BLOCK_OP_READ, -EIO, 1);
    assert_int_equal(run_req(&e, &rd), -EIO);
    assert_int_equal(run_req(&e, &rd), 0);

    /* A real one: the image shrank under us, a read past its end fails. */
    assert_int_equal(truncate(e.path, IMG_SIZE / 2), 0);
    struct block_req tail = { .op = BLOCK_OP_READ, .offset = IMG_SIZE - 1536, .len = 1536, .iov = iov, .iovcnt = 2 };
    assert_int_equal(run_req(&e, &tail), -EIO);
    assert_int_equal(run_req(&e, &rd), 0);
    env_close(&e);
}

static void sync_engine_ops(void **state)
{
    (void)state;
    engine_ops(DISK_IO_SYNC);
}

static void uring_engine_ops(void **state)
{
    (void)state;
    engine_ops(DISK_IO_URING);
}

static void readonly_refuses_writes(void **state)
{
    (void)state;
    for (int io = DISK_IO_URING; io <= DISK_IO_SYNC; io++) {
        struct engine_env e;
        if (!env_open(&e, (enum disk_io)io, tmpdir(), true))
            continue;
        uint8_t a[512];
        struct iovec iov = { a, sizeof(a) };
        struct block_req wr = { .op = BLOCK_OP_WRITE, .len = 512, .iov = &iov, .iovcnt = 1,
                                .done = on_done };
        assert_int_equal(block_backend_submit(e.be, &wr), -EROFS);
        struct block_req wz = { .op = BLOCK_OP_WRITE_ZEROES, .len = 512, .done = on_done };
        assert_int_equal(block_backend_submit(e.be, &wz), -EROFS);
        struct block_req rd = { .op = BLOCK_OP_READ, .len = 512, .iov = &iov, .iovcnt = 1 };
        assert_int_equal(run_req(&e, &rd), 0);
        env_close(&e);
    }
}

/* tmpfs has no FALLOC_FL_ZERO_RANGE: write-zeroes must fall back and still zero. */
static void write_zeroes_fallback_on_tmpfs(void **state)
{
    (void)state;
    struct statfs sfs;
    if (statfs("/dev/shm", &sfs) < 0 || sfs.f_type != TMPFS_MAGIC) {
        print_message("no tmpfs at /dev/shm: fallback case not run\n");
        return;
    }
    for (int io = DISK_IO_URING; io <= DISK_IO_SYNC; io++) {
        struct engine_env e;
        if (!env_open(&e, (enum disk_io)io, "/dev/shm", false))
            continue;
        uint8_t zero[8192] = { 0 }, got[8192];
        for (int unmap = 0; unmap < 2; unmap++) {
            struct block_req wz = { .op = BLOCK_OP_WRITE_ZEROES, .offset = 8192ull * (1 + unmap),
                                    .len = 8192, .may_unmap = unmap };
            assert_int_equal(run_req(&e, &wz), 0);
            file_bytes(e.path, wz.offset, got, sizeof(got));
            assert_memory_equal(got, zero, sizeof(got));
        }
        env_close(&e);
    }
}

static void *loop_thread(void *opaque)
{
    return (void *)(intptr_t)evloop_run(opaque);
}

struct loop_case {
    struct engine_env e;
    struct done_rec rd, fl;
};

/* Stops the loop once both requests of uring_completes_on_loop are done. */
static void stop_on_ready(void *opaque)
{
    struct loop_case *c = opaque;
    block_backend_complete(c->e.be);
    if (c->rd.calls && c->fl.calls)
        evloop_stop(&c->e.loop);
}

/*
 * io_uring completions reach the owner through the ring's fd on the event
 * loop thread. A read from the page cache may finish inside submit already
 * (done() before submit returns, as the interface allows); a flush never
 * does (io_uring always hands fsync to a worker), so it must come through
 * the loop.
 */
static void uring_completes_on_loop(void **state)
{
    (void)state;
    struct loop_case c = { 0 };
    struct engine_env *e = &c.e;
    make_image(e->path, sizeof(e->path), tmpdir());
    assert_int_equal(evloop_init(&e->loop), 0);
    assert_int_equal(block_file_open(&e->file, e->path, false, false, err, sizeof(err)), 0);
    int rc = block_backend_create(&e->be, &e->file, DISK_IO_URING, 8, &e->loop, stop_on_ready, &c,
                                  err, sizeof(err));
    if (rc < 0) {
        print_message("io_uring unavailable here (%s): case not run\n", err);
        block_file_close(&e->file);
        evloop_destroy(&e->loop);
        unlink(e->path);
        return;
    }
    uint8_t a[512];
    struct iovec iov = { a, sizeof(a) };
    struct block_req rd = { .op = BLOCK_OP_READ, .offset = 512, .len = 512, .iov = &iov, .iovcnt = 1,
                            .done = on_done, .opaque = &c.rd };
    struct block_req fl = { .op = BLOCK_OP_FLUSH, .done = on_done, .opaque = &c.fl };
    assert_int_equal(block_backend_submit(e->be, &rd), 0);
    assert_int_equal(block_backend_submit(e->be, &fl), 0);
    assert_int_equal(c.fl.calls, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, loop_thread, &e->loop), 0);
    void *ret;
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_int_equal((intptr_t)ret, 0);
    assert_int_equal(c.rd.calls, 1);
    assert_int_equal(c.rd.result, 0);
    assert_int_equal(c.fl.calls, 1);
    assert_int_equal(c.fl.result, 0);
    uint8_t want[512];
    file_bytes(e->path, 512, want, sizeof(want));
    assert_memory_equal(a, want, sizeof(a));
    env_close(e);
}

static void auto_picks_an_engine(void **state)
{
    (void)state;
    struct engine_env e;
    make_image(e.path, sizeof(e.path), tmpdir());
    assert_int_equal(evloop_init(&e.loop), 0);
    assert_int_equal(block_file_open(&e.file, e.path, false, false, err, sizeof(err)), 0);
    struct block_backend *probe;
    bool have_uring = block_backend_create(&probe, &e.file, DISK_IO_URING, 4, &e.loop,
                                           on_ready_complete, &probe, err, sizeof(err)) == 0;
    if (have_uring)
        block_backend_destroy(probe);
    assert_int_equal(block_backend_create(&e.be, &e.file, DISK_IO_AUTO, 4, &e.loop,
                                          on_ready_complete, &e.be, err, sizeof(err)), 0);
    assert_string_equal(block_backend_name(e.be), have_uring ? "io_uring" : "sync");
    print_message("io=auto chose %s\n", block_backend_name(e.be));
    /* Without a loop io_uring cannot signal completions: auto takes sync. */
    struct block_backend *noloop;
    assert_int_equal(block_backend_create(&noloop, &e.file, DISK_IO_AUTO, 4, NULL, NULL, NULL,
                                          err, sizeof(err)), 0);
    assert_string_equal(block_backend_name(noloop), "sync");
    block_backend_destroy(noloop);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_errors),
        cmocka_unit_test(lock_excludes_second_writer),
        cmocka_unit_test(sync_engine_ops),
        cmocka_unit_test(uring_engine_ops),
        cmocka_unit_test(readonly_refuses_writes),
        cmocka_unit_test(write_zeroes_fallback_on_tmpfs),
        cmocka_unit_test(uring_completes_on_loop),
        cmocka_unit_test(auto_picks_an_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
