// SPDX-License-Identifier: Apache-2.0
/*
 * The engine-independent half of block_backend: choosing an engine (io_uring
 * with a silent fallback to sync for io=auto), dispatch, and the fault
 * injection hook the tests use to stand in for a failing disk.
 */
#include "backends/block.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block_engine.h"
#include "util/error.h"
#include "util/log.h"

int block_backend_create(struct block_backend **out, struct block_file *file,
                         enum disk_io io, unsigned depth, struct evloop *loop,
                         block_ready_fn ready, void *ready_opaque,
                         char *err, size_t errlen)
{
    *out = NULL;
    if (depth == 0)
        return error_set(err, errlen, -EINVAL, "block back-end: depth 0");
    struct block_backend *be = calloc(1, sizeof(*be));
    if (!be)
        return error_set(err, errlen, -ENOMEM, "block back-end: out of memory");
    be->file = file;
    be->loop = loop;
    be->ready = ready;
    be->ready_opaque = ready_opaque;

    int rc = -ENOSYS;
    if (io != DISK_IO_SYNC) {
        be->ops = &block_uring_ops;
        rc = be->ops->init(be, depth, err, errlen);
        if (rc < 0 && io == DISK_IO_URING)
            goto fail;
        if (rc < 0)
            log_info("block", "io_uring unavailable (%s); using synchronous I/O", strerror(-rc));
    }
    if (rc < 0) {
        be->ops = &block_sync_ops;
        rc = be->ops->init(be, depth, err, errlen);
        if (rc < 0)
            goto fail;
    }
    *out = be;
    return 0;
fail:
    free(be);
    return rc;
}

void block_backend_destroy(struct block_backend *be)
{
    if (!be)
        return;
    be->ops->drain(be);
    be->ops->fini(be);
    free(be);
}

const char *block_backend_name(const struct block_backend *be)
{
    return be->ops->name;
}

int block_backend_submit(struct block_backend *be, struct block_req *req)
{
    if ((unsigned)req->op >= BLOCK_OP_COUNT)
        return -EINVAL;
    if (req->op != BLOCK_OP_READ && req->op != BLOCK_OP_FLUSH && be->file->readonly)
        return -EROFS;
    return be->ops->submit(be, req);
}

unsigned block_backend_complete(struct block_backend *be)
{
    return be->ops->complete(be);
}

void block_backend_drain(struct block_backend *be)
{
    be->ops->drain(be);
}

void block_backend_inject_error(struct block_backend *be, enum block_op op, int error,
                                unsigned count)
{
    if ((unsigned)op < BLOCK_OP_COUNT)
        be->fault[op] = (struct block_fault){ .error = error, .count = count };
}

void block_backend_finish(struct block_backend *be, struct block_req *req, int result)
{
    struct block_fault *f = &be->fault[req->op];
    if (f->count) {
        f->count--;
        result = f->error;
    }
    req->done(req, result);
}
