/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The migration transport: "tcp:HOST:PORT" addresses, the source's
 * connection and the destination's one-shot listener, and reads and writes
 * that give up when the peer makes no progress for a while (a cut link
 * otherwise blocks a TCP send for many minutes) or when cancelled.
 */
#ifndef CASULO_MIGRATION_SOCK_H
#define CASULO_MIGRATION_SOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "util/compiler.h"

#define MIG_URL_MAX 256
#define MIG_IO_TIMEOUT_MS 10000   /* no progress for this long: the peer is gone */

struct mig_addr {
    char host[MIG_URL_MAX];
    char port[8];
};

/* "tcp:HOST:PORT" (HOST may be [v6]); -EINVAL with one line otherwise. */
int mig_parse_url(const char *url, struct mig_addr *out, char *err, size_t errlen) MUST_CHECK;

struct mig_sock {
    int fd;
    int timeout_ms;
    const bool *cancel;         /* atomic; may be NULL */
};

/* Connects (bounded by sock->timeout_ms); returns 0 and sets sock->fd. */
int mig_connect(struct mig_sock *sock, const struct mig_addr *addr, char *err,
                size_t errlen) MUST_CHECK;
/* Binds and listens; returns the listening fd or -errno. */
int mig_listen(const struct mig_addr *addr, char *err, size_t errlen) MUST_CHECK;
/* Accepts one connection (no timeout: the destination waits for its source). */
int mig_accept(int lfd, struct mig_sock *sock, char *err, size_t errlen) MUST_CHECK;

/* mig_write_fn / mig_read_fn over a struct mig_sock. */
int mig_sock_write(void *opaque, const void *buf, size_t len);
int mig_sock_read(void *opaque, void *buf, size_t len);

void mig_sock_close(struct mig_sock *sock);

#endif
