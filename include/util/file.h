/* SPDX-License-Identifier: Apache-2.0 */
/* Opening the files a user names (kernel, initrd, disk images) with one clear error line. */
#ifndef CASULO_UTIL_FILE_H
#define CASULO_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Opens `path` read-only and checks it is a non-empty regular file. Never
 * blocks (a FIFO is refused, not waited on). Returns the fd and its size, or
 * -errno with "<what> '<path>': <problem>" in err.
 */
int file_open_regular(const char *what, const char *path, uint64_t *size, char *err, size_t errlen);

#endif
