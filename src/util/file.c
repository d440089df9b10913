// SPDX-License-Identifier: Apache-2.0
/*
 * Opening user-named input files. Shared by configuration checks (before
 * /dev/kvm is touched) and the loaders, so both say the same thing about the
 * same problem.
 */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_open_regular(const char *what, const char *path, uint64_t *size, char *err, size_t errlen)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(e));
        return -e;
    }
    struct stat st;
    int ret = 0;
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot stat %s '%s': %s", what, path, strerror(-ret));
    } else if (!S_ISREG(st.st_mode)) {
        ret = -EINVAL;
        snprintf(err, errlen, "%s '%s' is not a regular file", what, path);
    } else if (st.st_size == 0) {
        ret = -ENOEXEC;
        snprintf(err, errlen, "%s '%s' is empty", what, path);
    }
    if (ret) {
        close(fd);
        return ret;
    }
    /* Reads from here on may block as usual (a regular file never does for long). */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *size = (uint64_t)st.st_size;
    return fd;
}
