/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The --disk option: `path=FILE[,readonly=on][,id=NAME][,serial=STR]
 * [,io=uring|sync|auto][,direct=on][,queues=N]`, parsed into plain data
 * before any file is opened, so the CLI and the API can both validate a
 * disk the same way. The syntax and its rules are in docs/blk.md.
 */
#ifndef CASULO_BACKENDS_DISK_CONFIG_H
#define CASULO_BACKENDS_DISK_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/compiler.h"

/* GET_ID answers with at most 20 bytes (virtio 1.2, 5.2.6). */
#define DISK_ID_MAX      20
#define DISK_QUEUES_MAX  16

enum disk_io {
    DISK_IO_AUTO,     /* io_uring when the host allows it, else sync */
    DISK_IO_URING,    /* io_uring or fail */
    DISK_IO_SYNC,     /* blocking calls on the I/O thread */
};

struct disk_config {
    char path[PATH_MAX];
    bool readonly;
    bool direct;                    /* O_DIRECT: bypass the host page cache */
    enum disk_io io;
    unsigned queues;                /* 1..DISK_QUEUES_MAX */
    char id[DISK_ID_MAX + 1];       /* the device's name; "" when not given */
    char serial[DISK_ID_MAX + 1];   /* GET_ID string; "" means use id */
    bool defer_lock;                /* incoming migration: lock taken at the handover */
};

/*
 * Parses one --disk value. Returns 0, or -EINVAL with a one-line message in
 * err (e.g. "unknown --disk key 'foo'"). *out is only meaningful on success.
 */
int disk_config_parse(const char *spec, struct disk_config *out, char *err, size_t errlen) MUST_CHECK;

/* The GET_ID string of a disk: serial when set, else id. */
const char *disk_config_serial(const struct disk_config *cfg);

const char *disk_io_name(enum disk_io io);

#endif
