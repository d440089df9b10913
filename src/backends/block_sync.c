// SPDX-License-Identifier: Apache-2.0
/*
 * The synchronous engine: each request runs to completion inside submit,
 * with preadv/pwritev/fdatasync/fallocate, and done() is called before
 * submit returns. It runs on the VM's I/O thread, never a vCPU thread, so a
 * slow disk delays other requests and devices on that loop but no vCPU. A
 * worker thread would only move the wait elsewhere while adding a queue
 * and a wake-up per request; machines where this matters have io_uring.
 *
 * The blocking helpers here are also io_uring's fallback for short
 * transfers and for fallocate modes the file system lacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "block_engine.h"
#include "util/compiler.h"

/* Aligned so O_DIRECT accepts it as a source. */
static const uint8_t block_zeroes[64 * 1024] __attribute__((aligned(4096)));

/* Moves [off, off + len) between one buffer and the file, retrying short transfers. */
static int sync_rw_buf(int fd, bool write, uint8_t *buf, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = write ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;   /* end of file inside the disk: the image shrank */
        buf += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int block_sync_rw(const struct block_file *f, const struct block_req *req, uint64_t done)
{
    bool write = req->op == BLOCK_OP_WRITE;
    if (done == 0) {
        ssize_t n;
        do {
            n = write ? pwritev(f->fd, req->iov, (int)req->iovcnt, (off_t)req->offset)
                      : preadv(f->fd, req->iov, (int)req->iovcnt, (off_t)req->offset);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return -errno;
        done = (uint64_t)n;
    }
    /* Rare: finish piece by piece from where the vector call stopped. */
    uint64_t pos = 0;
    for (unsigned i = 0; i < req->iovcnt && done < req->len; i++) {
        uint64_t seg = req->iov[i].iov_len;
        if (pos + seg > done) {
            uint64_t skip = done - pos;
            int rc = sync_rw_buf(f->fd, write, (uint8_t *)req->iov[i].iov_base + skip,
                                 (size_t)(seg - skip), req->offset + done);
            if (rc < 0)
                return rc;
            done += seg - skip;
        }
        pos += seg;
    }
    return done == req->len ? 0 : -EIO;
}

int block_sync_flush(const struct block_file *f)
{
    return fdatasync(f->fd) < 0 ? -errno : 0;
}

static int sync_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
    int rc;
    do {
        rc = fallocate(fd, mode, (off_t)off, (off_t)len);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

static bool fallocate_unsupported(int rc)
{
    return rc == -EOPNOTSUPP || rc == -ENOSYS || rc == -EINVAL;
}

/* Discard is a hint: a file system that cannot punch holes simply keeps the data. */
int block_sync_discard(const struct block_file *f, const struct block_req *req)
{
    if (req->len == 0)
        return 0;
    int rc = sync_fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                            req->offset, req->len);
    return fallocate_unsupported(rc) ? 0 : rc;
}

/*
 * Zero-range keeps the blocks allocated; a punched hole reads back as zeroes
 * too but frees them, which the guest allows only with the unmap flag;
 * writing zeroes works everywhere.
 */
int block_sync_write_zeroes(const struct block_file *f, const struct block_req *req)
{
    if (req->len == 0)
        return 0;
    int rc = sync_fallocate(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                            req->offset, req->len);
    if (!fallocate_unsupported(rc))
        return rc;
    if (req->may_unmap) {
        rc = sync_fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                            req->offset, req->len);
        if (!fallocate_unsupported(rc))
            return rc;
    }
    for (uint64_t done = 0; done < req->len;) {
        size_t n = (size_t)MIN(req->len - done, (uint64_t)sizeof(block_zeroes));
        rc = sync_rw_buf(f->fd, true, (uint8_t *)block_zeroes, n, req->offset + done);
        if (rc < 0)
            return rc;
        done += n;
    }
    return 0;
}

static int sync_init(struct block_backend *be, unsigned depth, char *err, size_t errlen)
{
    return 0;
}

static void sync_fini(struct block_backend *be)
{
}

int block_sync_run(const struct block_file *f, const struct block_req *req)
{
    switch (req->op) {
    case BLOCK_OP_READ:
    case BLOCK_OP_WRITE:
        return block_sync_rw(f, req, 0);
    case BLOCK_OP_FLUSH:
        return block_sync_flush(f);
    case BLOCK_OP_DISCARD:
        return block_sync_discard(f, req);
    case BLOCK_OP_WRITE_ZEROES:
        return block_sync_write_zeroes(f, req);
    case BLOCK_OP_COUNT:
        break;
    }
    return -EINVAL;
}

static int sync_submit(struct block_backend *be, struct block_req *req)
{
    block_backend_finish(be, req, block_sync_run(be->file, req));
    return 0;
}

static unsigned sync_complete(struct block_backend *be)
{
    return 0;
}

static void sync_drain(struct block_backend *be)
{
}

const struct block_engine_ops block_sync_ops = {
    .name = "sync",
    .init = sync_init,
    .fini = sync_fini,
    .submit = sync_submit,
    .complete = sync_complete,
    .drain = sync_drain,
};
