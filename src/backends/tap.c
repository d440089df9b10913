// SPDX-License-Identifier: Apache-2.0
/*
 * TAP back-end (see backends/tap.h). The errors name the TAP and say what to
 * do, because "Operation not permitted" from an ioctl is the most common way
 * a first --net attempt fails.
 */
#include "backends/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/error.h"

#define TAP_HDR_SZ 12

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* The kernel refuses TSO/UFO/USO without CSUM, so each is probed together with CSUM. */
static unsigned probe_offloads(int fd)
{
    static const unsigned bits[] = { TAP_OFF_TSO4, TAP_OFF_TSO6, TAP_OFF_TSO_ECN,
                                     TAP_OFF_UFO, TAP_OFF_USO4 | TAP_OFF_USO6 };
    unsigned ok = 0;
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)TAP_OFF_CSUM) < 0)
        return 0;
    ok = TAP_OFF_CSUM;
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        unsigned try = TAP_OFF_CSUM | bits[i];
        if (bits[i] == TAP_OFF_TSO_ECN)
            try |= TAP_OFF_TSO4;    /* ECN only means something with TSO */
        if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)try) == 0)
            ok |= bits[i];
    }
    return ok;
}

int tap_open(struct tap *t, const char *name, char *err, size_t errlen)
{
    struct ifreq ifr;
    int r;
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    if (strlen(name) >= IFNAMSIZ)
        return error_set(err, errlen, -EINVAL, "cannot open TAP '%s': name longer than %d characters",
                         name, IFNAMSIZ - 1);

    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        r = -errno;
        if (r == -ENOENT || r == -ENODEV || r == -ENXIO)
            return error_set(err, errlen, r, "cannot open TAP '%s': /dev/net/tun is missing (load the tun module)",
                             name);
        if (r == -EACCES || r == -EPERM)
            return error_set(err, errlen, r,
                             "cannot open TAP '%s': permission denied on /dev/net/tun (needs CAP_NET_ADMIN or a TAP owned by your user)",
                             name);
        return error_set(err, errlen, r, "cannot open TAP '%s': /dev/net/tun: %s", name, strerror(-r));
    }

    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        r = -errno;
        switch (r) {
        case -EPERM:
        case -EACCES:
            error_set(err, errlen, r,
                      "cannot open TAP '%s': permission denied (needs CAP_NET_ADMIN or a TAP owned by your user)",
                      name);
            break;
        case -EBUSY:
            error_set(err, errlen, r, "cannot open TAP '%s': name busy (another process has it open)", name);
            break;
        case -EINVAL:
            error_set(err, errlen, r,
                      "cannot open TAP '%s': an interface of that name exists and is not a single-queue TAP",
                      name);
            break;
        default:
            error_set(err, errlen, r, "cannot open TAP '%s': %s", name, strerror(-r));
            break;
        }
        goto fail;
    }
    int sz = TAP_HDR_SZ;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
        r = -errno;
        error_set(err, errlen, r, "cannot open TAP '%s': setting the 12-byte virtio-net header: %s",
                  name, strerror(-r));
        goto fail;
    }
    t->supported = probe_offloads(fd);
    /* Nothing is offloaded until the guest negotiates it (activate). */
    if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
        r = -errno;
        error_set(err, errlen, r, "cannot open TAP '%s': clearing offloads: %s", name, strerror(-r));
        goto fail;
    }
    t->fd = fd;
    t->is_tun = true;
    t->vnet_hdr_sz = TAP_HDR_SZ;
    snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
    return 0;

fail:
    close(fd);
    return r;
}

int tap_open_fd(struct tap *t, int fd, unsigned supported)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    int r = set_nonblock(fd);
    if (r < 0)
        return r;
    t->fd = fd;
    t->supported = supported;
    t->vnet_hdr_sz = TAP_HDR_SZ;
    snprintf(t->name, sizeof(t->name), "fd%d", fd);
    return 0;
}

int tap_set_offload(struct tap *t, unsigned offloads)
{
    if (offloads & ~t->supported)
        return -EOPNOTSUPP;
    if (t->is_tun && ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0)
        return -errno;
    t->offloads = offloads;
    return 0;
}

int tap_set_vnet_hdr_sz(struct tap *t, int size)
{
    if (size != 10 && size != 12)
        return -EINVAL;
    if (t->is_tun && ioctl(t->fd, TUNSETVNETHDRSZ, &size) < 0)
        return -errno;
    t->vnet_hdr_sz = size;
    return 0;
}

void tap_close(struct tap *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}
