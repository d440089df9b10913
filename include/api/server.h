/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-VM API server: HTTP/1.1 on a Unix socket, served by
 * libmicrohttpd's own polling thread, so the VM's threads never wait for a
 * client and a client never waits for guest I/O. See docs/api.md.
 */
#ifndef CASULO_API_SERVER_H
#define CASULO_API_SERVER_H

#include <stddef.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "security/seccomp.h"

#include "api/actions.h"
#include "util/compiler.h"

struct MHD_Daemon;

struct api_server {
    const struct api_vm_ops *ops;
    void *vm;
    struct api_ctx ctx;
    struct MHD_Daemon *daemon;
    char *path;
    dev_t dev;                 /* the socket file we bound, so stop only removes ours */
    ino_t ino;
    /*
     * The owner thread installs the API's seccomp filter, then starts
     * libmicrohttpd, so every API thread (they are created by the owner)
     * runs under that filter; it also stops the daemon and removes the socket.
     */
    enum sandbox_mode sandbox;
    pthread_t owner;
    bool owner_started;
    int listen_fd;
    int stop_fd;               /* eventfd: api_server_stop() wakes the owner */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    bool start_done;
    int start_ret;
    char start_err[256];
};

/*
 * Binds `path` (mode 0600), replacing a stale socket file that nobody
 * listens on, and starts serving. A socket some process listens on is
 * refused: "API socket PATH is in use by another process". On failure
 * writes one line to err.
 */
/* As api_server_start, with every API thread under the seccomp filter for `mode`. */
int api_server_start_sandboxed(struct api_server *s, const char *path, const struct api_vm_ops *ops,
                               void *vm, enum sandbox_mode mode, char *err, size_t errlen) MUST_CHECK;

int api_server_start(struct api_server *s, const char *path, const struct api_vm_ops *ops,
                     void *vm, char *err, size_t errlen) MUST_CHECK;
/* Waits for requests in progress, closes and removes the socket. Idempotent. */
void api_server_stop(struct api_server *s);

#endif
