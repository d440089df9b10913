/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Block back-ends: a raw image file (block_file: open, advisory lock, size)
 * and the asynchronous I/O engines that move guest buffers to and from it
 * (block_backend: io_uring, or a synchronous fallback). The device above
 * submits requests whose iovecs point straight into guest RAM and learns of
 * their completion through a callback on the I/O event-loop thread; it never
 * waits on the disk itself. See docs/blk.md.
 */
#ifndef CASULO_BACKENDS_BLOCK_H
#define CASULO_BACKENDS_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backends/disk_config.h"
#include "util/compiler.h"

struct evloop;

#define BLOCK_SECTOR_SIZE 512u

/* --- the image file --- */

struct block_file {
    int fd;
    uint64_t size;        /* bytes */
    bool readonly;
    bool direct;
    bool locked;          /* holds its advisory lock (see block_file_set_locked) */
};

/*
 * Opens a regular file or block device and takes an advisory lock on it:
 * shared for read-only, exclusive for read-write (OFD locks, or flock where
 * the kernel has none), so a second VM opening the image read-write fails
 * with -EBUSY and a message naming the file. Read-only opens share.
 */
int block_file_open(struct block_file *f, const char *path, bool readonly, bool direct,
                    char *err, size_t errlen) MUST_CHECK;
void block_file_close(struct block_file *f);
/*
 * For live migration over shared storage: the destination opens the image
 * without its lock (open_unlocked), the source drops its lock once the disk
 * is flushed at the switch-over, and the destination takes it before it
 * runs the VM (set_locked true; -EBUSY while someone else holds it).
 */
int block_file_open_unlocked(struct block_file *f, const char *path, bool readonly, bool direct,
                             char *err, size_t errlen) MUST_CHECK;
int block_file_set_locked(struct block_file *f, bool locked) MUST_CHECK;

/* --- asynchronous requests --- */

enum block_op {
    BLOCK_OP_READ,
    BLOCK_OP_WRITE,
    BLOCK_OP_FLUSH,          /* fdatasync; waits for earlier submissions */
    BLOCK_OP_DISCARD,        /* punch a hole; a no-op where the fs cannot */
    BLOCK_OP_WRITE_ZEROES,   /* the range reads back as zeroes afterwards */
    BLOCK_OP_COUNT
};

struct block_req;
/* result: 0, or -errno. A short read or write is -EIO. */
typedef void (*block_done_fn)(struct block_req *req, int result);

/* Owned by the caller (the device's request pool); untouched until done(). */
struct block_req {
    enum block_op op;
    bool may_unmap;              /* write-zeroes may deallocate the range */
    uint64_t offset;             /* bytes */
    uint64_t len;                /* bytes: the iovecs' total, or the discarded range */
    const struct iovec *iov;     /* read/write only */
    unsigned iovcnt;
    block_done_fn done;
    void *opaque;                /* the caller's */
};

struct block_backend;

/*
 * Completions are ready: called on the loop thread; the owner then calls
 * block_backend_complete() (under its own lock, if it has one).
 */
typedef void (*block_ready_fn)(void *opaque);

/*
 * Creates an engine for `file` that keeps up to `depth` requests in flight.
 * DISK_IO_AUTO picks io_uring and falls back to sync when io_uring is
 * unavailable (old kernel, seccomp, io_uring_disabled); DISK_IO_URING fails
 * instead. `loop` may be NULL only for the sync engine.
 */
int block_backend_create(struct block_backend **out, struct block_file *file,
                         enum disk_io io, unsigned depth, struct evloop *loop,
                         block_ready_fn ready, void *ready_opaque,
                         char *err, size_t errlen) MUST_CHECK;
void block_backend_destroy(struct block_backend *be);

/* "io_uring" or "sync". */
const char *block_backend_name(const struct block_backend *be);

/*
 * Starts a request. Returns 0 when accepted: done() then runs exactly once,
 * on the loop thread, possibly before this returns (the sync engine).
 * Returns -errno when refused (done() does not run).
 */
int block_backend_submit(struct block_backend *be, struct block_req *req) MUST_CHECK;

/* Delivers the completions that are ready. Returns how many. */
unsigned block_backend_complete(struct block_backend *be);

/* Waits for every request in flight and delivers its completion (reset, teardown). */
void block_backend_drain(struct block_backend *be);

/*
 * Test hook: the next `count` requests of kind `op` complete with `error`
 * (-errno) after the real I/O ran, as a failing disk would report them.
 */
void block_backend_inject_error(struct block_backend *be, enum block_op op, int error,
                                unsigned count);

#endif
