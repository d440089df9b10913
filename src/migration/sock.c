// SPDX-License-Identifier: Apache-2.0
/*
 * TCP for migration (include/migration/sock.h). Sockets are non-blocking and
 * every wait is a poll with a short tick, so a cancel is seen within
 * 100 ms and a peer that stops reading or writing is given up on after
 * sock->timeout_ms without progress. TCP_USER_TIMEOUT bounds the kernel's
 * own retransmissions the same way.
 */
#include "migration/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS 100

int mig_parse_url(const char *url, struct mig_addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!url || strncmp(url, "tcp:", 4) != 0) {
        snprintf(err, errlen, "migration address '%s' must be tcp:HOST:PORT", url ? url : "");
        return -EINVAL;
    }
    const char *hp = url + 4, *colon;
    size_t hlen;
    if (*hp == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "migration address '%s': expected [IPv6]:PORT", url);
            return -EINVAL;
        }
        hp++;
        hlen = (size_t)(close - hp);
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon) {
            snprintf(err, errlen, "migration address '%s' has no port (tcp:HOST:PORT)", url);
            return -EINVAL;
        }
        hlen = (size_t)(colon - hp);
    }
    const char *port = colon + 1;
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 1 || p > 65535) {
        snprintf(err, errlen, "migration address '%s': port must be 1..65535", url);
        return -EINVAL;
    }
    if (hlen >= sizeof(out->host)) {
        snprintf(err, errlen, "migration address '%s': host name too long", url);
        return -EINVAL;
    }
    memcpy(out->host, hp, hlen);
    out->host[hlen] = '\0';
    snprintf(out->port, sizeof(out->port), "%ld", p);
    return 0;
}

static int resolve(const struct mig_addr *addr, bool passive, struct addrinfo **res, char *err,
                   size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = passive ? AI_PASSIVE : 0 };
    int r = getaddrinfo(addr->host[0] ? addr->host : NULL, addr->port, &hints, res);
    if (r) {
        snprintf(err, errlen, "cannot resolve '%s': %s", addr->host, gai_strerror(r));
        return -EHOSTUNREACH;
    }
    return 0;
}

static void tune(int fd, int timeout_ms)
{
    int one = 1;
    unsigned user_timeout = (unsigned)timeout_ms;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Waits for `events` on sock->fd: 0, -ETIMEDOUT, -ECANCELED or -errno. */
static int wait_fd(const struct mig_sock *sock, short events, int *idle_ms)
{
    for (;;) {
        if (sock->cancel && __atomic_load_n(sock->cancel, __ATOMIC_ACQUIRE))
            return -ECANCELED;
        if (sock->timeout_ms > 0 && *idle_ms >= sock->timeout_ms)
            return -ETIMEDOUT;
        struct pollfd p = { .fd = sock->fd, .events = events };
        int r = poll(&p, 1, TICK_MS);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r > 0)
            return 0;
        *idle_ms += TICK_MS;
    }
}

int mig_connect(struct mig_sock *sock, const struct mig_addr *addr, char *err, size_t errlen)
{
    struct addrinfo *res;
    int ret = resolve(addr, false, &res, err, errlen);
    if (ret)
        return ret;
    ret = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            ret = -errno;
            continue;
        }
        tune(fd, sock->timeout_ms);
        sock->fd = fd;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            ret = 0;
        } else if (errno == EINPROGRESS) {
            int idle = 0;
            ret = wait_fd(sock, POLLOUT, &idle);
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (!ret && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
                ret = -soerr;
        } else {
            ret = -errno;
        }
        if (!ret)
            break;
        close(fd);
        sock->fd = -1;
        if (ret == -ECANCELED)
            break;
    }
    freeaddrinfo(res);
    if (ret)
        snprintf(err, errlen, "cannot connect to %s:%s: %s", addr->host, addr->port, strerror(-ret));
    return ret;
}

int mig_listen(const struct mig_addr *addr, char *err, size_t errlen)
{
    struct addrinfo *res;
    int ret = resolve(addr, true, &res, err, errlen);
    if (ret)
        return ret;
    ret = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            ret = -errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        ret = -errno;
        close(fd);
    }
    freeaddrinfo(res);
    snprintf(err, errlen, "cannot listen on %s:%s: %s", addr->host, addr->port, strerror(-ret));
    return ret;
}

int mig_accept(int lfd, struct mig_sock *sock, char *err, size_t errlen)
{
    int fd;
    do
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        snprintf(err, errlen, "cannot accept the migration connection: %s", strerror(errno));
        return -errno;
    }
    tune(fd, sock->timeout_ms);
    sock->fd = fd;
    return 0;
}

int mig_sock_write(void *opaque, const void *buf, size_t len)
{
    struct mig_sock *sock = opaque;
    const uint8_t *p = buf;
    int idle = 0;
    while (len) {
        ssize_t n = send(sock->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            idle = 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return -errno;
        int ret = wait_fd(sock, POLLOUT, &idle);
        if (ret)
            return ret;
    }
    return 0;
}

int mig_sock_read(void *opaque, void *buf, size_t len)
{
    struct mig_sock *sock = opaque;
    uint8_t *p = buf;
    int idle = 0;
    while (len) {
        ssize_t n = recv(sock->fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            idle = 0;
            continue;
        }
        if (n == 0)
            return -ENODATA;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int ret = wait_fd(sock, POLLIN, &idle);
        if (ret)
            return ret;
    }
    return 0;
}

void mig_sock_close(struct mig_sock *sock)
{
    if (sock->fd >= 0)
        close(sock->fd);
    sock->fd = -1;
}
