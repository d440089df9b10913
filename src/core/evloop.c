// SPDX-License-Identifier: Apache-2.0
/*
 * epoll loop. Handlers are kept in a singly linked list owned by the loop;
 * removal during dispatch is safe because the list node is only freed after
 * the batch of events has been dispatched.
 *
 * Before it sleeps, the loop may poll for a short while, adaptively (as KVM
 * polls before halting a vCPU): a synchronous guest's next kick often comes
 * a few microseconds after the loop has answered the previous one, and
 * sleeping in between costs more than that: the thread's sleep and wake-up,
 * and on the kicking vCPU thread the wake-up of a sleeping waiter (an IPI,
 * itself a VM exit on a nested host). The window grows while events keep
 * arriving soon after the loop goes idle and halves each time one takes
 * longer than EVLOOP_POLL_MAX_NS (a single preemption of this thread must
 * not cancel it), down to zero within a few waits, so an idle loop stops
 * spinning.
 */
#include "core/evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define EVLOOP_POLL_MAX_NS   10000
#define EVLOOP_POLL_START_NS 2500

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

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Waits for events, polling for up to *poll_ns first, and adapts *poll_ns
 * to how long the wait took: -> epoll_wait's result.
 */
static int wait_events(struct evloop *loop, struct epoll_event *events, int max, int64_t *poll_ns)
{
    int64_t start = now_ns();
    int n;
    if (*poll_ns > 0) {
        do {
            n = epoll_wait(loop->epfd, events, max, 0);
            if (n != 0)
                return n;           /* caught while polling: keep the window */
        } while (now_ns() - start < *poll_ns && !loop->stop);
    }
    n = epoll_wait(loop->epfd, events, max, -1);
    int64_t waited = now_ns() - start;
    if (waited > EVLOOP_POLL_MAX_NS)
        *poll_ns = *poll_ns / 2 < EVLOOP_POLL_START_NS ? 0 : *poll_ns / 2;
    else if (*poll_ns < EVLOOP_POLL_MAX_NS)
        *poll_ns = *poll_ns ? *poll_ns * 2 : EVLOOP_POLL_START_NS;
    if (*poll_ns > EVLOOP_POLL_MAX_NS)
        *poll_ns = EVLOOP_POLL_MAX_NS;
    return n;
}

int evloop_run(struct evloop *loop)
{
    struct epoll_event events[16];
    int64_t poll_ns = 0;
    while (!loop->stop) {
        int n = wait_events(loop, events, (int)ARRAY_SIZE(events), &poll_ns);
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
