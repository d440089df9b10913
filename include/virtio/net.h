/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net over a TAP, transport-independent (it plugs into any virtio
 * transport through net_device_ops). Queues: 0 RX, 1 TX, 2 control (for the
 * GUEST_ANNOUNCE acknowledgement). Config space: mac, status (LINK_UP,
 * ANNOUNCE), max_virtqueue_pairs = 1.
 *
 * Frames move between guest buffers and the TAP with readv/writev straight
 * from guest memory, on the VM's I/O thread (the tap fd is watched by
 * virtio_io_loop()), never on a vCPU thread. See docs/net.md.
 */
#ifndef CASULO_VIRTIO_NET_H
#define CASULO_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/net_config.h"
#include "backends/tap.h"
#include "util/compiler.h"
#include "virtio/net_hdr.h"
#include "virtio/virtio_dev.h"

#define NET_QUEUE_RX   0
#define NET_QUEUE_TX   1
#define NET_QUEUE_CTRL 2
#define NET_QUEUE_SIZE 256
#define NET_CTRL_QUEUE_SIZE 64

/* Config space status bits. */
#define VIRTIO_NET_S_LINK_UP  1
#define VIRTIO_NET_S_ANNOUNCE 2

/* Control queue (virtio 1.2, 5.1.6.5). */
#define VIRTIO_NET_CTRL_ANNOUNCE     3
#define VIRTIO_NET_CTRL_ANNOUNCE_ACK 0
#define VIRTIO_NET_OK  0
#define VIRTIO_NET_ERR 1

/* Per-device counters, for metrics. Drops: no room / too big; errors: malformed or failed I/O. */
struct net_stats {
    uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
    uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
    uint64_t rx_no_buffers;     /* times RX stopped polling the TAP for lack of guest buffers */
    uint64_t tx_blocked;        /* times the TAP said EAGAIN and TX waited for EPOLLOUT */
};

struct net_dev;

extern const struct virtio_device_ops net_device_ops;

/* Opens cfg->tap (see tap_open) and builds the device; the opaque for net_device_ops. */
int net_dev_create(const struct net_config *cfg, struct net_dev **out, char *err, size_t errlen) MUST_CHECK;
/* Builds the device over an already opened back-end, which it then owns (tests: a socketpair). */
int net_dev_create_with_tap(struct tap *tap, const uint8_t mac[6], struct net_dev **out) MUST_CHECK;

void net_dev_get_stats(struct net_dev *d, struct net_stats *out);
const struct tap *net_dev_tap(const struct net_dev *d);

/*
 * Asks the guest to announce itself (gratuitous ARP / unsolicited NA), e.g.
 * after live migration: sets VIRTIO_NET_S_ANNOUNCE and raises a config
 * interrupt; the driver acknowledges on the control queue. -EOPNOTSUPP when
 * the driver did not negotiate GUEST_ANNOUNCE or the device is not active.
 */
int net_dev_announce(struct net_dev *d) MUST_CHECK;
/* Link state seen by the guest (VIRTIO_NET_S_LINK_UP), with a config interrupt. */
void net_dev_set_link(struct net_dev *d, bool up);

/* The I/O loop's handler for the tap fd; public so tests can drive it without a loop thread. */
void net_dev_tap_ready(void *dev, uint32_t events);

#endif
