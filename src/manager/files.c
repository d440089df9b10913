// SPDX-License-Identifier: Apache-2.0
/*
 * File helpers of the daemon: crash-safe writes (a reader sees the old file
 * or the new one, never a torn one), removing a VM's directory, copying a
 * disk image for a clone (reflink when the filesystem shares extents, else
 * a copy that keeps holes), and reading the last line of a log.
 */
#include "manager/manager.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    int fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int mgr_write_file_atomic(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int ret = write_all(fd, data, len);
    if (!ret && fsync(fd) < 0)
        ret = -errno;
    if (close(fd) < 0 && !ret)
        ret = -errno;
    if (!ret && rename(tmp, path) < 0)
        ret = -errno;
    if (ret) {
        unlink(tmp);
        return ret;
    }
    fsync_dir_of(path);
    return 0;
}

int mgr_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int mgr_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) < 0 ? -errno : 0;
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int ret = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        if (snprintf(child, sizeof(child), "%s/%s", path, e->d_name) >= (int)sizeof(child)) {
            ret = -ENAMETOOLONG;
            continue;
        }
        int r = mgr_remove_tree(child);
        if (r && !ret)
            ret = r;
    }
    closedir(d);
    if (rmdir(path) < 0 && !ret)
        ret = -errno;
    return ret;
}

/* Copies data extents only (SEEK_DATA/SEEK_HOLE), so a sparse image stays sparse. */
static int sparse_copy(int in, int out, off_t size)
{
    if (ftruncate(out, size) < 0)
        return -errno;
    enum { BUF = 1 << 16 };
    char *buf = malloc(BUF);
    if (!buf)
        return -ENOMEM;
    int ret = 0;
    off_t pos = 0;
    while (pos < size && !ret) {
        off_t data = lseek(in, pos, SEEK_DATA);
        if (data < 0) {
            ret = errno == ENXIO ? 0 : -errno;
            break;
        }
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0)
            hole = size;
        for (off_t at = data; at < hole && !ret;) {
            size_t want = (size_t)(hole - at < BUF ? hole - at : BUF);
            ssize_t n = pread(in, buf, want, at);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                ret = n < 0 ? -errno : -EIO;
                break;
            }
            ssize_t w = pwrite(out, buf, (size_t)n, at);
            if (w != n)
                ret = w < 0 ? -errno : -EIO;
            at += n;
        }
        pos = hole;
    }
    free(buf);
    return ret;
}

int mgr_copy_disk(const char *src, const char *dst, char *err, size_t errlen)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open disk %s: %s", src, strerror(e));
        return -e;
    }
    struct stat st;
    int out = fstat(in, &st) < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot create disk copy %s: %s", dst, strerror(e));
        close(in);
        return -e;
    }
    int ret = 0;
    if (ioctl(out, FICLONE, in) < 0)
        ret = sparse_copy(in, out, st.st_size);
    if (!ret && fsync(out) < 0)
        ret = -errno;
    close(out);
    close(in);
    if (ret) {
        snprintf(err, errlen, "cannot copy disk %s to %s: %s", src, dst, strerror(-ret));
        unlink(dst);
    }
    return ret;
}

void mgr_log_reason(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char tail[4096];
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof(tail) - 1 ? size - (off_t)sizeof(tail) + 1 : 0;
    ssize_t n = size > 0 ? pread(fd, tail, sizeof(tail) - 1, from) : 0;
    close(fd);
    if (n <= 0)
        return;
    tail[n] = '\0';
    /* A crash ends with a register dump: the line that says why is the last "error:" one. */
    const char *last = NULL, *last_error = NULL;
    size_t last_len = 0, error_len = 0;
    for (char *line = from ? strchr(tail, '\n') : tail; line && *line;) {
        if (*line == '\n')
            line++;
        size_t l = strcspn(line, "\n");
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' '))
            l--;
        if (l && strncmp(line, "--- casulo serve:", 17) != 0) {
            last = line;
            last_len = l;
            if (memmem(line, l, "error:", 6)) {
                last_error = line;
                error_len = l;
            }
        }
        line = strchr(line, '\n');
    }
    if (last_error) {
        last = last_error;
        last_len = error_len;
    }
    if (last)
        snprintf(buf, len, "%.*s", (int)last_len, last);
}
