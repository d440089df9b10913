/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/backends: what an I/O engine (io_uring, sync) provides to
 * block_backend.c, and the blocking helpers both engines share (the sync
 * engine for everything, io_uring for short transfers and the fallocate
 * modes a file system refuses).
 */
#ifndef CASULO_BACKENDS_BLOCK_ENGINE_H
#define CASULO_BACKENDS_BLOCK_ENGINE_H

#include "backends/block.h"

struct block_engine_ops {
    const char *name;
    int (*init)(struct block_backend *be, unsigned depth, char *err, size_t errlen);
    void (*fini)(struct block_backend *be);
    int (*submit)(struct block_backend *be, struct block_req *req);
    unsigned (*complete)(struct block_backend *be);
    void (*drain)(struct block_backend *be);
};

struct block_fault {
    int error;
    unsigned count;
};

struct block_backend {
    const struct block_engine_ops *ops;
    struct block_file *file;
    struct evloop *loop;
    block_ready_fn ready;
    void *ready_opaque;
    struct block_fault fault[BLOCK_OP_COUNT];
    void *priv;                 /* the engine's */
};

extern const struct block_engine_ops block_uring_ops;
extern const struct block_engine_ops block_sync_ops;

/* An engine's last step for every request: applies injected faults, calls done(). */
void block_backend_finish(struct block_backend *be, struct block_req *req, int result);

/*
 * Blocking versions. block_sync_rw() resumes `done` bytes into the request
 * (what an engine already transferred).
 */
int block_sync_rw(const struct block_file *f, const struct block_req *req, uint64_t done);
/* The whole request, blocking. */
int block_sync_run(const struct block_file *f, const struct block_req *req);
int block_sync_flush(const struct block_file *f);
int block_sync_discard(const struct block_file *f, const struct block_req *req);
int block_sync_write_zeroes(const struct block_file *f, const struct block_req *req);

#endif
