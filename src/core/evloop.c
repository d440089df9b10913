// SPDX-License-Identifier: Apache-2.0
/*
 * epoll loop. Handlers are kept in a singly linked list owned by the loop;
 * removal during dispatch is safe because the list node is only freed after
 * the batch of events has been dispatched.
 */
#include "core/evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct evloop_handler {
    int fd;
    evloop_fn fn;
    void *opaque;
    bool removed;
    struct evloop_handler *next;
};

int evloop_init(struct evloop *loop)
{
    memset(loop, 0, sizeof(*loop));
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -errno;
    loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->wake_fd < 0) {
        int err = -errno;
        close(loop->epfd);
        return err;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0) {
        int err = -errno;
        close(loop->wake_fd);
        close(loop->epfd);
        return err;
    }
    return 0;
}

static void reap_removed(struct evloop *loop)
{
    struct evloop_handler **pp = &loop->handlers;
    while (*pp) {
        struct evloop_handler *h = *pp;
        if (h->removed) {
            *pp = h->next;
            free(h);
        } else {
            pp = &h->next;
        }
    }
}

void evloop_destroy(struct evloop *loop)
{
    for (struct evloop_handler *h = loop->handlers; h; h = h->next)
        h->removed = true;
    reap_removed(loop);
    if (loop->wake_fd >= 0)
        close(loop->wake_fd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->wake_fd = loop->epfd = -1;
}

static struct evloop_handler *find(struct evloop *loop, int fd)
{
    for (struct evloop_handler *h = loop->handlers; h; h = h->next)
        if (h->fd == fd && !h->removed)
            return h;
    return NULL;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
    if (find(loop, fd))
        return -EEXIST;
    struct evloop_handler *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    *h = (struct evloop_handler){ .fd = fd, .fn = fn, .opaque = opaque, .next = loop->handlers };
    struct epoll_event ev = { .events = events, .data.ptr = h };
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        free(h);
        return err;
    }
    loop->handlers = h;
    return 0;
}

int evloop_modify(struct evloop *loop, int fd, uint32_t events)
{
    struct evloop_handler *h = find(loop, fd);
    if (!h)
        return -ENOENT;
    struct epoll_event ev = { .events = events, .data.ptr = h };
    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evloop_remove(struct evloop *loop, int fd)
{
    struct evloop_handler *h = find(loop, fd);
    if (!h)
        return -ENOENT;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    h->removed = true;
    return 0;
}

int evloop_run(struct evloop *loop)
{
    struct epoll_event events[16];
    while (!loop->stop) {
        int n = epoll_wait(loop->epfd, events, (int)ARRAY_SIZE(events), -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < n; i++) {
            struct evloop_handler *h = events[i].data.ptr;
            if (!h) {
                uint64_t v;
                ssize_t r = read(loop->wake_fd, &v, sizeof(v));
                (void)r;
                continue;
            }
            if (!h->removed)
                h->fn(h->opaque, events[i].events);
        }
        reap_removed(loop);
    }
    return 0;
}

void evloop_stop(struct evloop *loop)
{
    loop->stop = true;
    uint64_t one = 1;
    ssize_t r = write(loop->wake_fd, &one, sizeof(one));
    (void)r;
}
