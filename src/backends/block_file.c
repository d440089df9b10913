// SPDX-License-Identifier: Apache-2.0
/*
 * Raw image files: open with the access the disk needs, take the advisory
 * lock that keeps two VMs from writing one image, and learn the size. The
 * lock is an OFD lock (per open file, so a second open in the same process
 * is refused too, and released when the fd closes); kernels without OFD
 * locks get flock(), which has the same per-open-file semantics.
 */
#include "backends/block.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

/* Shared for readers, exclusive for a writer; never waits. */
static int block_file_lock(int fd, bool readonly)
{
    struct flock fl = {
        .l_type = readonly ? F_RDLCK : F_WRLCK,
        .l_whence = SEEK_SET,
        .l_start = 0,
        .l_len = 0,
    };
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    if (errno != EINVAL)
        return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
    /* No OFD locks (pre-3.15 kernel, or a file system without them). */
    if (flock(fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
        return 0;
    return errno == EWOULDBLOCK ? -EBUSY : -errno;
}

static int block_file_size(int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISREG(st.st_mode)) {
        *size = (uint64_t)st.st_size;
        return 0;
    }
    if (S_ISBLK(st.st_mode))
        return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
    return -EINVAL;
}

static int open_image(struct block_file *f, const char *path, bool readonly, bool direct,
                      bool lock, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);
    int fd = open(path, flags);
    if (fd < 0) {
        int rc = -errno;
        if (rc == -EINVAL && direct)
            return error_set(err, errlen, rc, "disk '%s': the file system does not support direct=on",
                             path);
        return error_set(err, errlen, rc, "disk '%s': %s", path, strerror(-rc));
    }
    int rc = block_file_size(fd, &f->size);
    if (rc < 0) {
        error_set(err, errlen, rc, "disk '%s': not a regular file or block device", path);
        goto fail;
    }
    rc = lock ? block_file_lock(fd, readonly) : 0;
    if (rc == -EBUSY) {
        error_set(err, errlen, rc,
                  readonly ? "disk '%s' is open read-write elsewhere (locked by another VM?)"
                           : "disk '%s' is already in use (locked by another VM?); "
                             "open it with readonly=on to share it",
                  path);
        goto fail;
    }
    if (rc < 0) {
        error_set(err, errlen, rc, "disk '%s': cannot lock: %s", path, strerror(-rc));
        goto fail;
    }
    f->fd = fd;
    f->readonly = readonly;
    f->direct = direct;
    f->locked = lock;
    return 0;
fail:
    close(fd);
    return rc;
}

int block_file_open(struct block_file *f, const char *path, bool readonly, bool direct,
                    char *err, size_t errlen)
{
    return open_image(f, path, readonly, direct, true, err, errlen);
}

int block_file_open_unlocked(struct block_file *f, const char *path, bool readonly, bool direct,
                             char *err, size_t errlen)
{
    return open_image(f, path, readonly, direct, false, err, errlen);
}

int block_file_set_locked(struct block_file *f, bool locked)
{
    if (f->fd < 0)
        return -EBADF;
    if (f->locked == locked)
        return 0;
    int rc;
    if (locked) {
        rc = block_file_lock(f->fd, f->readonly);
    } else {
        struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
        rc = fcntl(f->fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
        if (rc == -EINVAL)
            rc = flock(f->fd, LOCK_UN) == 0 ? 0 : -errno;
    }
    if (!rc)
        f->locked = locked;
    return rc;
}

void block_file_close(struct block_file *f)
{
    if (f->fd >= 0)
        close(f->fd);   /* drops the lock with the open file description */
    f->fd = -1;
}
