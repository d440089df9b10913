/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TAP back-end of virtio-net: a /dev/net/tun file descriptor in TAP mode
 * with the 12-byte virtio-net header in front of every frame (IFF_VNET_HDR),
 * nonblocking, so the device can readv/writev guest buffers directly.
 *
 * tap_open_fd() wraps any datagram-like fd (a socketpair in the unit tests):
 * offload and header-size requests are then recorded but not sent to the
 * kernel, so the device's decisions can be checked without a TAP.
 */
#ifndef CASULO_BACKENDS_TAP_H
#define CASULO_BACKENDS_TAP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/compiler.h"

/* TUNSETOFFLOAD bits; USO arrived in Linux 6.2, after some installed headers. */
#define TAP_OFF_CSUM    0x01u
#define TAP_OFF_TSO4    0x02u
#define TAP_OFF_TSO6    0x04u
#define TAP_OFF_TSO_ECN 0x08u
#define TAP_OFF_UFO     0x10u
#define TAP_OFF_USO4    0x20u
#define TAP_OFF_USO6    0x40u

struct tap {
    int fd;
    bool is_tun;            /* a real /dev/net/tun fd: ioctls go to the kernel */
    char name[16];
    unsigned supported;     /* TAP_OFF_* the kernel accepted when probed */
    unsigned offloads;      /* TAP_OFF_* in force */
    int vnet_hdr_sz;
};

/*
 * Opens /dev/net/tun and attaches to (or creates) the TAP `name` with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte header, no offloads yet, and
 * O_NONBLOCK; probes which offloads the kernel takes. Returns 0 or -errno
 * with a message naming the TAP and the likely cause (permission, busy name,
 * name taken by another kind of interface, no tun driver).
 */
int tap_open(struct tap *t, const char *name, char *err, size_t errlen) MUST_CHECK;

/* Takes ownership of `fd` (made nonblocking) as a stand-in that accepts `supported` offloads. */
int tap_open_fd(struct tap *t, int fd, unsigned supported) MUST_CHECK;

/* TUNSETOFFLOAD. Bits outside `supported` give -EOPNOTSUPP and change nothing. */
int tap_set_offload(struct tap *t, unsigned offloads) MUST_CHECK;
/* TUNSETVNETHDRSZ: 10 (legacy driver) or 12. */
int tap_set_vnet_hdr_sz(struct tap *t, int size) MUST_CHECK;

void tap_close(struct tap *t);

#endif
