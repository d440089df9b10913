/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The epoll event loop that runs off the vCPU threads: console input, signals,
 * the stop request, later device back-ends. Handlers run on the loop thread.
 */
#ifndef CASULO_CORE_EVLOOP_H
#define CASULO_CORE_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "util/compiler.h"

typedef void (*evloop_fn)(void *opaque, uint32_t events);

struct evloop_handler;

struct evloop {
    int epfd;
    int wake_fd;          /* eventfd: evloop_stop() from any thread */
    volatile bool stop;
    struct evloop_handler *handlers;
};

int evloop_init(struct evloop *loop) MUST_CHECK;
void evloop_destroy(struct evloop *loop);

/* Watches fd for `events` (EPOLLIN, ...). One handler per fd. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque) MUST_CHECK;
int evloop_modify(struct evloop *loop, int fd, uint32_t events);
int evloop_remove(struct evloop *loop, int fd);

/* Runs handlers until evloop_stop(). Returns 0, or -errno if epoll fails. */
int evloop_run(struct evloop *loop);
/* Safe from any thread and from async-signal context. */
void evloop_stop(struct evloop *loop);

#endif
