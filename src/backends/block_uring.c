// SPDX-License-Identifier: Apache-2.0
/*
 * The io_uring engine. Requests become SQEs (read/write, or readv/writev
 * for several buffers, fsync, fallocate) pointing at the caller's iovecs in guest RAM. The VM's I/O
 * event loop watches the ring's own fd, readable while the completion
 * queue holds entries, and its handler tells the owner to reap them; no
 * eventfd sits in between, so a completion costs no eventfd signal and no
 * read(). The ring is sized to `depth`, the most requests the owner can
 * have in flight, so an SQE is always free and the completion queue (twice
 * the size) cannot overflow.
 *
 * A request the kernel can serve without blocking (such as a read from
 * the page cache) completes inside io_uring_enter(); submit
 * reaps such completions at once, so they reach the guest without another
 * trip through epoll. The owner accepts done() from inside submit (the sync
 * engine always calls it there).
 *
 * Flushes carry IOSQE_IO_DRAIN: they start only after every earlier request
 * finished, so a flush covers every write submitted before it, not only the
 * completed ones the virtio spec asks for.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

#include "block_engine.h"
#include "core/evloop.h"
#include "util/error.h"

struct uring_engine {
    struct io_uring ring;
    unsigned inflight;
};

/* Level-triggered: the ring fd stays readable until the owner reaps every entry. */
static void uring_on_ring(void *opaque, uint32_t events)
{
    struct block_backend *be = opaque;
    (void)events;
    be->ready(be->ready_opaque);
}

static int uring_init(struct block_backend *be, unsigned depth, char *err, size_t errlen)
{
    if (!be->loop)
        return error_set(err, errlen, -EINVAL, "io_uring needs an event loop");
    struct uring_engine *u = calloc(1, sizeof(*u));
    if (!u)
        return error_set(err, errlen, -ENOMEM, "io_uring: out of memory");
    int rc = io_uring_queue_init(depth, &u->ring, 0);
    if (rc < 0) {
        error_set(err, errlen, rc, "io_uring unavailable: %s", strerror(-rc));
        goto fail_free;
    }
    be->priv = u;
    rc = evloop_add(be->loop, u->ring.ring_fd, EPOLLIN, uring_on_ring, be);
    if (rc < 0) {
        error_set(err, errlen, rc, "io_uring: event loop: %s", strerror(-rc));
        be->priv = NULL;
        goto fail_ring;
    }
    return 0;
fail_ring:
    io_uring_queue_exit(&u->ring);
fail_free:
    free(u);
    return rc;
}

static void uring_fini(struct block_backend *be)
{
    struct uring_engine *u = be->priv;
    if (!u)
        return;
    evloop_remove(be->loop, u->ring.ring_fd);
    io_uring_queue_exit(&u->ring);
    free(u);
    be->priv = NULL;
}

static unsigned uring_complete(struct block_backend *be);

static int uring_submit(struct block_backend *be, struct block_req *req)
{
    struct uring_engine *u = be->priv;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe)
        return -EAGAIN;
    int fd = be->file->fd;
    switch (req->op) {
    /*
     * One buffer (the common case: a guest's data descriptor) goes as a
     * plain read/write, sparing the kernel the iovec import of readv.
     */
    case BLOCK_OP_READ:
        if (req->iovcnt == 1 && req->iov[0].iov_len <= UINT_MAX)
            io_uring_prep_read(sqe, fd, req->iov[0].iov_base, (unsigned)req->iov[0].iov_len,
                               req->offset);
        else
            io_uring_prep_readv(sqe, fd, req->iov, req->iovcnt, req->offset);
        break;
    case BLOCK_OP_WRITE:
        if (req->iovcnt == 1 && req->iov[0].iov_len <= UINT_MAX)
            io_uring_prep_write(sqe, fd, req->iov[0].iov_base, (unsigned)req->iov[0].iov_len,
                                req->offset);
        else
            io_uring_prep_writev(sqe, fd, req->iov, req->iovcnt, req->offset);
        break;
    case BLOCK_OP_FLUSH:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        sqe->flags |= IOSQE_IO_DRAIN;
        break;
    case BLOCK_OP_DISCARD:
        io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                req->offset, req->len);
        break;
    case BLOCK_OP_WRITE_ZEROES:
        io_uring_prep_fallocate(sqe, fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                                req->offset, req->len);
        break;
    case BLOCK_OP_COUNT:
        return -EINVAL;
    }
    io_uring_sqe_set_data(sqe, req);
    u->inflight++;
    int rc;
    do {
        rc = io_uring_submit(&u->ring);
    } while (rc == -EINTR);
    if (rc >= 0) {
        (void)uring_complete(be);   /* what finished inside io_uring_enter() */
        return 0;
    }
    /*
     * The kernel may still see the SQE on the next submit: defuse it into a
     * no-op that completes nobody, and do this request the blocking way.
     */
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, NULL);
    block_backend_finish(be, req, block_sync_run(be->file, req));
    return 0;
}

/* Turns a CQE result into the request's result, finishing what io_uring could not. */
static int uring_result(struct block_backend *be, struct block_req *req, int res)
{
    const struct block_file *f = be->file;
    switch (req->op) {
    case BLOCK_OP_READ:
    case BLOCK_OP_WRITE:
        if (res < 0)
            return res;
        if ((uint64_t)res == req->len)
            return 0;
        return block_sync_rw(f, req, (uint64_t)res);
    case BLOCK_OP_DISCARD:
        /* -EINVAL: a kernel without IORING_OP_FALLOCATE (< 5.6) or a refused mode. */
        return res == -EOPNOTSUPP || res == -EINVAL ? block_sync_discard(f, req) : res;
    case BLOCK_OP_WRITE_ZEROES:
        return res == -EOPNOTSUPP || res == -EINVAL ? block_sync_write_zeroes(f, req) : res;
    case BLOCK_OP_FLUSH:
    case BLOCK_OP_COUNT:
        break;
    }
    return res;
}

static void uring_reap(struct block_backend *be, struct io_uring_cqe *cqe)
{
    struct uring_engine *u = be->priv;
    struct block_req *req = io_uring_cqe_get_data(cqe);
    int res = cqe->res;
    io_uring_cqe_seen(&u->ring, cqe);
    u->inflight--;
    if (!req)
        return;   /* a defused SQE */
    block_backend_finish(be, req, uring_result(be, req, res));
}

static unsigned uring_complete(struct block_backend *be)
{
    struct uring_engine *u = be->priv;
    struct io_uring_cqe *cqe;
    unsigned n = 0;
    while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
        uring_reap(be, cqe);
        n++;
    }
    return n;
}

static void uring_drain(struct block_backend *be)
{
    struct uring_engine *u = be->priv;
    if (!u)
        return;
    while (u->inflight) {
        struct io_uring_cqe *cqe;
        (void)io_uring_submit(&u->ring);   /* a defused SQE may still be queued */
        int rc = io_uring_wait_cqe(&u->ring, &cqe);
        if (rc == -EINTR)
            continue;
        if (rc < 0)
            break;   /* the ring itself failed: nothing more will complete */
        uring_reap(be, cqe);
    }
}

const struct block_engine_ops block_uring_ops = {
    .name = "io_uring",
    .init = uring_init,
    .fini = uring_fini,
    .submit = uring_submit,
    .complete = uring_complete,
    .drain = uring_drain,
};
