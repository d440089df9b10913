// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio/net: the device driven through its ops table by a
 * fake transport defined here (the transport services resolve to these
 * definitions before the library archive is searched), with rings built in
 * a small guest memory as a driver would, and an AF_UNIX datagram socketpair
 * standing in for the TAP: the test holds the far end and sees exactly what
 * the device wrote, header included. Covers TX (zero copy, bad headers,
 * oversize, EAGAIN then EPOLLOUT), RX (single and mergeable buffers, a frame
 * across three chains, overflow waiting for buffers, no buffers ->
 * backpressure, hostile tap headers), config space, features, the control
 * queue with GUEST_ANNOUNCE, reset and broken rings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/evloop.h"
#include "core/guest_mem.h"
#include "virtio/net.h"
#include "virtio/virtqueue.h"

#define B(n) (1ull << (n))

/* --- the fake transport ------------------------------------------------ */

struct virtio_device {
    struct guest_mem gm;
    struct virtq q[3];
    bool enabled[3];
    uint64_t features;
    unsigned irq[3];
    unsigned config_irq;
    unsigned needs_reset;
    struct evloop loop;
};

struct virtq *virtio_queue(struct virtio_device *v, unsigned queue)
{
    return queue < 3 && v->enabled[queue] ? &v->q[queue] : NULL;
}

uint64_t virtio_features(const struct virtio_device *v)
{
    return v->features;
}

void virtio_queue_interrupt(struct virtio_device *v, unsigned queue)
{
    assert_true(queue < 3);
    v->irq[queue]++;
}

void virtio_config_interrupt(struct virtio_device *v)
{
    v->config_irq++;
}

void virtio_set_needs_reset(struct virtio_device *v, const char *reason)
{
    (void)reason;
    v->needs_reset++;
}

const struct guest_mem *virtio_guest_mem(const struct virtio_device *v)
{
    return &v->gm;
}

struct evloop *virtio_io_loop(struct virtio_device *v)
{
    return &v->loop;
}

/* --- the driver side ----------------------------------------------------- */

#define QSIZE   16
#define BUF_GPA 0x20000ull      /* buffers from here; RAM is [0, 512 KiB) and [1 MiB, 1.5 MiB) */

struct drv {
    uint64_t desc, avail, used;
    uint16_t avail_idx, used_seen, next_desc;
};

struct t {
    struct virtio_device v;
    struct drv q[3];
    struct net_dev *dev;
    int peer;               /* our end of the socketpair: the "network" */
    int dev_fd;
    uint64_t next_buf;
};

static void w16(struct t *t, uint64_t gpa, uint16_t x)
{
    assert_int_equal(guest_mem_write(&t->v.gm, gpa, &x, 2), 0);
}

static uint16_t r16(struct t *t, uint64_t gpa)
{
    uint16_t x;
    assert_int_equal(guest_mem_read(&t->v.gm, gpa, &x, 2), 0);
    return x;
}

static uint32_t r32(struct t *t, uint64_t gpa)
{
    uint32_t x;
    assert_int_equal(guest_mem_read(&t->v.gm, gpa, &x, 4), 0);
    return x;
}

static uint8_t *hva(struct t *t, uint64_t gpa, uint64_t len)
{
    uint8_t *p = guest_mem_ptr(&t->v.gm, gpa, len);
    assert_non_null(p);
    return p;
}

static uint64_t alloc_buf(struct t *t, uint64_t len)
{
    uint64_t g = t->next_buf;
    t->next_buf = (g + len + 63) & ~63ull;
    assert_true(t->next_buf <= 512 * KiB);
    return g;
}

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

/* Builds a chain from `segs` and makes it available. Returns the head. */
static uint16_t drv_add(struct t *t, unsigned qi, const struct seg *segs, unsigned n)
{
    struct drv *d = &t->q[qi];
    uint16_t head = d->next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % QSIZE);
        uint16_t flags = (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        uint16_t next = (uint16_t)((idx + 1) % QSIZE);
        uint8_t raw[16];
        memcpy(raw, &segs[i].gpa, 8);
        memcpy(raw + 8, &segs[i].len, 4);
        memcpy(raw + 12, &flags, 2);
        memcpy(raw + 14, &next, 2);
        assert_int_equal(guest_mem_write(&t->v.gm, d->desc + 16ull * idx, raw, 16), 0);
    }
    d->next_desc = (uint16_t)((head + n) % QSIZE);
    w16(t, d->avail + 4 + 2ull * (d->avail_idx % QSIZE), head);
    d->avail_idx++;
    w16(t, d->avail + 2, d->avail_idx);
    return head;
}

/* One device-writable RX buffer of `len` bytes; returns its head, *gpa its address. */
static uint16_t rx_post(struct t *t, uint32_t len, uint64_t *gpa)
{
    struct seg s = { alloc_buf(t, len), len, true };
    memset(hva(t, s.gpa, len), 0xee, len);
    if (gpa)
        *gpa = s.gpa;
    return drv_add(t, NET_QUEUE_RX, &s, 1);
}

static unsigned used_count(struct t *t, unsigned qi)
{
    return (uint16_t)(r16(t, t->q[qi].used + 2) - t->q[qi].used_seen);
}

static void used_next(struct t *t, unsigned qi, uint32_t *id, uint32_t *len)
{
    struct drv *d = &t->q[qi];
    assert_true(used_count(t, qi) > 0);
    uint64_t e = d->used + 4 + 8ull * (d->used_seen % QSIZE);
    *id = r32(t, e);
    *len = r32(t, e + 4);
    d->used_seen++;
}

/* --- fixture ------------------------------------------------------------- */

#define TAP_ALL (TAP_OFF_CSUM | TAP_OFF_TSO4 | TAP_OFF_TSO6 | TAP_OFF_TSO_ECN)
#define F_BASE  (B(VIRTIO_F_VERSION_1) | B(VIRTIO_NET_F_MAC) | B(VIRTIO_NET_F_STATUS) | \
                 B(VIRTIO_NET_F_CSUM) | B(VIRTIO_NET_F_HOST_TSO4) | B(VIRTIO_NET_F_GUEST_CSUM) | \
                 B(VIRTIO_NET_F_GUEST_TSO4) | B(VIRTIO_NET_F_CTRL_VQ) | B(VIRTIO_NET_F_GUEST_ANNOUNCE))
#define F_MRG   (F_BASE | B(VIRTIO_NET_F_MRG_RXBUF))

static const uint8_t test_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

static struct t *setup(uint64_t features, bool activate)
{
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(guest_mem_init(&t->v.gm, 1 * MiB, 512 * KiB, 1 * MiB), 0);
    assert_int_equal(evloop_init(&t->v.loop), 0);
    t->next_buf = BUF_GPA;
    for (unsigned i = 0; i < 3; i++) {
        t->q[i] = (struct drv){ .desc = 0x1000 + 0x3000ull * i, .avail = 0x2000 + 0x3000ull * i,
                                .used = 0x3000 + 0x3000ull * i };
        virtq_reset(&t->v.q[i]);
        struct virtq_config cfg = { .size = QSIZE, .desc_gpa = t->q[i].desc, .avail_gpa = t->q[i].avail,
                                    .used_gpa = t->q[i].used, .name = "net/q" };
        assert_int_equal(virtq_enable(&t->v.q[i], &t->v.gm, &cfg), 0);
        t->v.enabled[i] = true;
    }
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    t->peer = sv[1];
    t->dev_fd = sv[0];
    struct tap tap;
    assert_int_equal(tap_open_fd(&tap, sv[0], TAP_ALL), 0);
    assert_int_equal(net_dev_create_with_tap(&tap, test_mac, &t->dev), 0);
    assert_int_equal(tap.fd, -1);     /* the device owns it now */
    t->v.features = features;
    if (activate)
        assert_int_equal(net_device_ops.activate(t->dev, &t->v), 0);
    return t;
}

static void teardown(struct t *t)
{
    net_device_ops.reset(t->dev);
    net_device_ops.destroy(t->dev);
    close(t->peer);
    evloop_destroy(&t->v.loop);
    guest_mem_destroy(&t->v.gm);
    free(t);
}

static struct net_stats stats(struct t *t)
{
    struct net_stats s;
    net_dev_get_stats(t->dev, &s);
    return s;
}

/* How many fds the device's epoll interest reports ready right now. */
static int ready_fds(struct t *t, uint32_t *events)
{
    struct epoll_event ev[4];
    int n = epoll_wait(t->v.loop.epfd, ev, 4, 0);
    assert_true(n >= 0);
    if (events)
        *events = n > 0 ? ev[0].events : 0;
    return n;
}

/* The network sends a frame to the guest: a vnet header and `len` bytes of pattern `seed`. */
static void net_send(struct t *t, const struct virtio_net_hdr_v1 *h, size_t len, uint8_t seed)
{
    static uint8_t frame[NET_MAX_FRAME + 64];
    for (size_t i = 0; i < len; i++)
        frame[i] = (uint8_t)(seed + i * 7);
    struct iovec iov[2] = { { (void *)h, sizeof(*h) }, { frame, len } };
    assert_int_equal(writev(t->peer, iov, 2), (ssize_t)(sizeof(*h) + len));
}

static bool pattern_ok(const uint8_t *p, size_t len, uint8_t seed, size_t from)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)(seed + (from + i) * 7))
            return false;
    return true;
}

/* --- features, config ----------------------------------------------------- */

static void features_and_config(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, false);
    uint64_t f = net_device_ops.features(t->dev);
    uint64_t want = B(VIRTIO_NET_F_MAC) | B(VIRTIO_NET_F_STATUS) | B(VIRTIO_NET_F_MRG_RXBUF) |
                    B(VIRTIO_NET_F_CSUM) | B(VIRTIO_NET_F_GUEST_CSUM) | B(VIRTIO_NET_F_HOST_TSO4) |
                    B(VIRTIO_NET_F_HOST_TSO6) | B(VIRTIO_NET_F_HOST_ECN) | B(VIRTIO_NET_F_GUEST_TSO4) |
                    B(VIRTIO_NET_F_GUEST_TSO6) | B(VIRTIO_NET_F_GUEST_ECN) | B(VIRTIO_NET_F_CTRL_VQ) |
                    B(VIRTIO_NET_F_GUEST_ANNOUNCE);
    assert_int_equal(f & want, want);
    /* The fake tap takes no UFO/USO: neither direction may offer them. */
    assert_int_equal(f & (B(VIRTIO_NET_F_GUEST_UFO) | B(VIRTIO_NET_F_HOST_UFO) | B(VIRTIO_NET_F_HOST_USO) |
                          B(VIRTIO_NET_F_GUEST_USO4) | B(VIRTIO_NET_F_GUEST_USO6) | B(VIRTIO_NET_F_MQ)), 0);
    assert_int_equal(net_device_ops.device_id, VIRTIO_ID_NET);
    assert_int_equal(net_device_ops.num_queues(t->dev), 3);
    assert_int_equal(net_device_ops.queue_max_size(t->dev, NET_QUEUE_RX), NET_QUEUE_SIZE);
    assert_int_equal(net_device_ops.queue_max_size(t->dev, NET_QUEUE_TX), NET_QUEUE_SIZE);
    uint32_t size = net_device_ops.config_size(t->dev);
    assert_int_equal(size, 10);
    uint8_t cfg[10];
    net_device_ops.config_read(t->dev, 0, cfg, size);
    assert_memory_equal(cfg, test_mac, 6);
    uint16_t status, pairs;
    memcpy(&status, cfg + 6, 2);
    memcpy(&pairs, cfg + 8, 2);
    assert_int_equal(status, VIRTIO_NET_S_LINK_UP);
    assert_int_equal(pairs, 1);
    uint8_t b = 0;
    net_device_ops.config_read(t->dev, 3, &b, 1);
    assert_int_equal(b, 0x33);
    /* Writes are ignored: the MAC stays. */
    uint8_t junk[6] = { 1, 2, 3, 4, 5, 6 };
    net_device_ops.config_write(t->dev, 0, junk, 6);
    net_device_ops.config_read(t->dev, 0, cfg, 6);
    assert_memory_equal(cfg, test_mac, 6);

    /* Without checksum offload in the tap, no offload is offered at all. */
    struct tap tap;
    int sv[2];
    struct net_dev *d2;
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    assert_int_equal(tap_open_fd(&tap, sv[0], 0), 0);
    assert_int_equal(net_dev_create_with_tap(&tap, test_mac, &d2), 0);
    f = net_device_ops.features(d2);
    assert_int_equal(f & (B(VIRTIO_NET_F_CSUM) | B(VIRTIO_NET_F_GUEST_CSUM) | B(VIRTIO_NET_F_HOST_TSO4) |
                          B(VIRTIO_NET_F_GUEST_TSO4)), 0);
    assert_true(f & B(VIRTIO_NET_F_MRG_RXBUF));
    net_device_ops.destroy(d2);
    close(sv[1]);
    teardown(t);
}

static void activate_offloads_and_polling(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, false);
    const struct tap *tap = net_dev_tap(t->dev);
    assert_int_equal(tap->offloads, 0);
    assert_int_equal(net_device_ops.activate(t->dev, &t->v), 0);
    assert_int_equal(tap->offloads, TAP_OFF_CSUM | TAP_OFF_TSO4);
    assert_int_equal(tap->vnet_hdr_sz, 12);
    /* RX is polled: a frame from the network makes the loop report the tap. */
    struct virtio_net_hdr_v1 h = { 0 };
    assert_int_equal(ready_fds(t, NULL), 0);
    net_send(t, &h, 60, 1);
    uint32_t ev;
    assert_int_equal(ready_fds(t, &ev), 1);
    assert_true(ev & EPOLLIN);
    /* Reset: offloads cleared, tap no longer polled. */
    net_device_ops.reset(t->dev);
    assert_int_equal(tap->offloads, 0);
    assert_int_equal(ready_fds(t, NULL), 0);
    /* Re-activation without GUEST_CSUM: nothing offloaded towards the guest. */
    t->v.features = F_MRG & ~(B(VIRTIO_NET_F_GUEST_CSUM) | B(VIRTIO_NET_F_GUEST_TSO4));
    assert_int_equal(net_device_ops.activate(t->dev, &t->v), 0);
    assert_int_equal(tap->offloads, 0);
    assert_int_equal(ready_fds(t, NULL), 1);
    net_device_ops.reset(t->dev);
    /* Inconsistent feature sets are refused. */
    t->v.features = F_MRG & ~B(VIRTIO_NET_F_GUEST_CSUM);
    assert_int_equal(net_device_ops.activate(t->dev, &t->v), -EINVAL);
    t->v.features = F_MRG & ~B(VIRTIO_NET_F_CSUM);
    assert_int_equal(net_device_ops.activate(t->dev, &t->v), -EINVAL);
    t->v.features = F_MRG & ~B(VIRTIO_NET_F_CTRL_VQ);
    assert_int_equal(net_device_ops.activate(t->dev, &t->v), -EINVAL);
    /* A legacy driver without MRG_RXBUF gets the 10-byte header. */
    t->v.features = F_BASE & ~B(VIRTIO_F_VERSION_1);
    assert_int_equal(net_device_ops.activate(t->dev, &t->v), 0);
    assert_int_equal(tap->vnet_hdr_sz, 10);
    teardown(t);
}

/* --- TX ------------------------------------------------------------------ */

static void tx_zero_copy(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    /* Header in its own buffer, frame split over two; a TSO frame with a checksum request. */
    uint64_t hg = alloc_buf(t, 12), f1 = alloc_buf(t, 100), f2 = alloc_buf(t, 3000);
    struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                   .hdr_len = 54, .gso_size = 1448, .csum_start = 34, .csum_offset = 16,
                                   .num_buffers = 77 };
    memcpy(hva(t, hg, 12), &h, 12);
    for (unsigned i = 0; i < 3100; i++)
        *hva(t, i < 100 ? f1 + i : f2 + i - 100, 1) = (uint8_t)(i * 13);
    struct seg s[3] = { { hg, 12, false }, { f1, 100, false }, { f2, 3000, false } };
    uint16_t head = drv_add(t, NET_QUEUE_TX, s, 3);
    /* Plus one with the header and frame in a single buffer. */
    uint64_t one = alloc_buf(t, 12 + 60);
    struct virtio_net_hdr_v1 h0 = { 0 };
    memcpy(hva(t, one, 12), &h0, 12);
    memset(hva(t, one + 12, 60), 0xab, 60);
    struct seg s1 = { one, 72, false };
    uint16_t head1 = drv_add(t, NET_QUEUE_TX, &s1, 1);

    net_device_ops.queue_notify(t->dev, NET_QUEUE_TX);
    assert_int_equal(used_count(t, NET_QUEUE_TX), 2);
    uint32_t id, len;
    used_next(t, NET_QUEUE_TX, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 0);
    used_next(t, NET_QUEUE_TX, &id, &len);
    assert_int_equal(id, head1);
    assert_int_equal(t->v.irq[NET_QUEUE_TX], 1);   /* one interrupt for the batch */

    uint8_t got[4096];
    ssize_t n = recv(t->peer, got, sizeof(got), MSG_DONTWAIT);
    assert_int_equal(n, 12 + 3100);
    struct virtio_net_hdr_v1 gh;
    memcpy(&gh, got, 12);
    assert_int_equal(gh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(gh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    assert_int_equal(gh.gso_size, 1448);
    assert_int_equal(gh.csum_start, 34);
    assert_int_equal(gh.num_buffers, 0);   /* canonical copy, not the guest's bytes */
    for (unsigned i = 0; i < 3100; i++)
        assert_int_equal(got[12 + i], (uint8_t)(i * 13));
    n = recv(t->peer, got, sizeof(got), MSG_DONTWAIT);
    assert_int_equal(n, 72);
    assert_int_equal(got[12], 0xab);
    struct net_stats st = stats(t);
    assert_int_equal(st.tx_packets, 2);
    assert_int_equal(st.tx_bytes, 3160);
    assert_int_equal(st.tx_errors + st.tx_dropped, 0);
    teardown(t);
}

static void tx_bad_frames_dropped(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    /* DATA_VALID from the driver; TSO6 not negotiated; shorter than a header; oversize. */
    struct virtio_net_hdr_v1 bad[2] = {
        { .flags = VIRTIO_NET_HDR_F_DATA_VALID },
        { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .hdr_len = 74,
          .gso_size = 1400, .csum_start = 54, .csum_offset = 16 },
    };
    for (unsigned i = 0; i < 2; i++) {
        uint64_t g = alloc_buf(t, 12 + 200);
        memcpy(hva(t, g, 12), &bad[i], 12);
        struct seg s = { g, 212, false };
        drv_add(t, NET_QUEUE_TX, &s, 1);
    }
    struct seg shrt = { alloc_buf(t, 8), 8, false };
    drv_add(t, NET_QUEUE_TX, &shrt, 1);
    uint64_t big = alloc_buf(t, 12 + NET_MAX_FRAME + 1);
    memset(hva(t, big, 12), 0, 12);
    struct seg sbig = { big, 12 + NET_MAX_FRAME + 1, false };
    drv_add(t, NET_QUEUE_TX, &sbig, 1);

    net_device_ops.queue_notify(t->dev, NET_QUEUE_TX);
    assert_int_equal(used_count(t, NET_QUEUE_TX), 4);   /* every chain is returned */
    struct net_stats st = stats(t);
    assert_int_equal(st.tx_errors, 3);
    assert_int_equal(st.tx_dropped, 1);
    assert_int_equal(st.tx_packets, 0);
    uint8_t got[64];
    assert_int_equal(recv(t->peer, got, sizeof(got), MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(t->v.needs_reset, 0);
    teardown(t);
}

static void tx_eagain_waits_for_epollout(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    /* Fill the network's receive queue so the device's writes block. */
    uint8_t pkt[1024] = { 0 };
    unsigned filled = 0;
    while (send(t->dev_fd, pkt, sizeof(pkt), MSG_DONTWAIT) > 0)
        filled++;
    assert_int_equal(errno, EAGAIN);
    assert_true(filled > 0);

    uint64_t g = alloc_buf(t, 12 + 100);
    memset(hva(t, g, 12), 0, 12);
    memset(hva(t, g + 12, 100), 0x77, 100);
    struct seg s = { g, 112, false };
    uint16_t head = drv_add(t, NET_QUEUE_TX, &s, 1);
    net_device_ops.queue_notify(t->dev, NET_QUEUE_TX);
    assert_int_equal(used_count(t, NET_QUEUE_TX), 0);     /* held, not dropped */
    assert_int_equal(stats(t).tx_blocked, 1);
    assert_int_equal(ready_fds(t, NULL), 0);               /* not writable yet */
    net_device_ops.queue_notify(t->dev, NET_QUEUE_TX);     /* a kick while blocked changes nothing */
    assert_int_equal(used_count(t, NET_QUEUE_TX), 0);

    /* The network drains: EPOLLOUT fires and the held frame goes out first. */
    uint8_t got[2048];
    for (unsigned i = 0; i < filled; i++)
        assert_int_equal(recv(t->peer, got, sizeof(got), MSG_DONTWAIT), (ssize_t)sizeof(pkt));
    uint32_t ev;
    assert_int_equal(ready_fds(t, &ev), 1);
    assert_true(ev & EPOLLOUT);
    net_dev_tap_ready(t->dev, EPOLLOUT);
    assert_int_equal(used_count(t, NET_QUEUE_TX), 1);
    uint32_t id, len;
    used_next(t, NET_QUEUE_TX, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(recv(t->peer, got, sizeof(got), MSG_DONTWAIT), 112);
    assert_int_equal(got[12], 0x77);
    assert_int_equal(ready_fds(t, NULL), 0);               /* EPOLLOUT interest dropped again */
    assert_int_equal(stats(t).tx_packets, 1);
    teardown(t);
}

static void tx_broken_ring_needs_reset(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    struct seg s = { 700 * KiB, 64, false };   /* in the MMIO hole */
    drv_add(t, NET_QUEUE_TX, &s, 1);
    net_device_ops.queue_notify(t->dev, NET_QUEUE_TX);
    assert_int_equal(t->v.needs_reset, 1);
    assert_int_equal(used_count(t, NET_QUEUE_TX), 0);
    teardown(t);
}

/* --- RX ------------------------------------------------------------------ */

static void rx_single_buffer(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    uint64_t g[3];
    uint16_t heads[3];
    for (int i = 0; i < 3; i++)
        heads[i] = rx_post(t, 2048, &g[i]);
    struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID, .num_buffers = 0x4444 };
    net_send(t, &h, 100, 5);
    net_dev_tap_ready(t->dev, EPOLLIN);
    assert_int_equal(used_count(t, NET_QUEUE_RX), 1);
    uint32_t id, len;
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, 112);
    struct virtio_net_hdr_v1 gh;
    memcpy(&gh, hva(t, g[0], 12), 12);
    assert_int_equal(gh.num_buffers, 1);
    assert_int_equal(gh.flags, VIRTIO_NET_HDR_F_DATA_VALID);
    assert_true(pattern_ok(hva(t, g[0] + 12, 100), 100, 5, 0));
    assert_int_equal(t->v.irq[NET_QUEUE_RX], 1);
    /* The next frame goes into the next posted chain. */
    net_send(t, &h, 60, 9);
    net_dev_tap_ready(t->dev, EPOLLIN);
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, heads[1]);
    assert_int_equal(len, 72);
    assert_true(pattern_ok(hva(t, g[1] + 12, 60), 60, 9, 0));
    struct net_stats st = stats(t);
    assert_int_equal(st.rx_packets, 2);
    assert_int_equal(st.rx_bytes, 160);
    teardown(t);
}

static void rx_mergeable_three_buffers(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    uint64_t g[4];
    uint16_t heads[4];
    for (int i = 0; i < 4; i++)
        heads[i] = rx_post(t, 1000, &g[i]);
    struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                   .hdr_len = 54, .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
    net_send(t, &h, 2500, 3);     /* 2512 bytes: 1000 + 1000 + 512 */
    net_dev_tap_ready(t->dev, EPOLLIN);
    assert_int_equal(used_count(t, NET_QUEUE_RX), 3);
    uint32_t id, len;
    const uint32_t want[3] = { 1000, 1000, 512 };
    for (int i = 0; i < 3; i++) {
        used_next(t, NET_QUEUE_RX, &id, &len);
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, want[i]);
    }
    struct virtio_net_hdr_v1 gh;
    memcpy(&gh, hva(t, g[0], 12), 12);
    assert_int_equal(gh.num_buffers, 3);
    assert_int_equal(gh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    assert_int_equal(gh.gso_size, 1448);
    assert_true(pattern_ok(hva(t, g[0] + 12, 988), 988, 3, 0));
    assert_true(pattern_ok(hva(t, g[1], 1000), 1000, 3, 988));
    assert_true(pattern_ok(hva(t, g[2], 512), 512, 3, 1988));
    assert_int_equal(*hva(t, g[2] + 512, 1), 0xee);    /* nothing past the frame */
    /* The fourth chain, popped but unused, carries the next frame. */
    struct virtio_net_hdr_v1 h0 = { 0 };
    net_send(t, &h0, 64, 4);
    net_dev_tap_ready(t->dev, EPOLLIN);
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, heads[3]);
    assert_int_equal(len, 76);
    memcpy(&gh, hva(t, g[3], 12), 12);
    assert_int_equal(gh.num_buffers, 1);
    assert_int_equal(t->v.irq[NET_QUEUE_RX], 2);
    teardown(t);
}

static void rx_no_buffers_backpressure(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    struct virtio_net_hdr_v1 h = { 0 };
    net_send(t, &h, 80, 6);
    assert_int_equal(ready_fds(t, NULL), 1);
    net_dev_tap_ready(t->dev, EPOLLIN);
    /* Nothing to receive into: the frame stays in the tap and the tap is no longer polled. */
    assert_int_equal(stats(t).rx_no_buffers, 1);
    assert_int_equal(ready_fds(t, NULL), 0);
    uint8_t peek[256];
    assert_int_equal(recv(t->dev_fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT), 92);
    /* The driver asked to be kicked: avail flags/event tell it to notify (no NO_NOTIFY). */
    assert_int_equal(r16(t, t->q[NET_QUEUE_RX].used) & VIRTQ_USED_F_NO_NOTIFY, 0);

    uint64_t g;
    uint16_t head = rx_post(t, 2048, &g);
    net_device_ops.queue_notify(t->dev, NET_QUEUE_RX);
    uint32_t id, len;
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 92);
    assert_true(pattern_ok(hva(t, g + 12, 80), 80, 6, 0));
    /* Polling again, and kicks are off while the device has what it needs. */
    net_send(t, &h, 80, 7);
    assert_int_equal(ready_fds(t, NULL), 1);
    assert_int_equal(r16(t, t->q[NET_QUEUE_RX].used) & VIRTQ_USED_F_NO_NOTIFY, VIRTQ_USED_F_NO_NOTIFY);
    teardown(t);
}

static void rx_overflow_waits_for_buffers(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    uint64_t g[3];
    uint16_t heads[3];
    heads[0] = rx_post(t, 1000, &g[0]);
    heads[1] = rx_post(t, 1000, &g[1]);
    struct virtio_net_hdr_v1 h = { 0 };
    net_send(t, &h, 2500, 8);
    net_send(t, &h, 50, 9);
    net_dev_tap_ready(t->dev, EPOLLIN);
    /* Read, but held: 2000 bytes of buffers for 2512. */
    assert_int_equal(used_count(t, NET_QUEUE_RX), 0);
    assert_int_equal(stats(t).rx_no_buffers, 1);
    assert_int_equal(ready_fds(t, NULL), 0);
    heads[2] = rx_post(t, 1000, &g[2]);
    net_device_ops.queue_notify(t->dev, NET_QUEUE_RX);
    assert_int_equal(used_count(t, NET_QUEUE_RX), 3);
    uint32_t id, len;
    const uint32_t want[3] = { 1000, 1000, 512 };
    for (int i = 0; i < 3; i++) {
        used_next(t, NET_QUEUE_RX, &id, &len);
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, want[i]);
    }
    struct virtio_net_hdr_v1 gh;
    memcpy(&gh, hva(t, g[0], 12), 12);
    assert_int_equal(gh.num_buffers, 3);
    assert_true(pattern_ok(hva(t, g[1], 1000), 1000, 8, 988));
    assert_true(pattern_ok(hva(t, g[2], 512), 512, 8, 1988));
    /* The second frame is still in the tap, which is polled again... */
    assert_int_equal(stats(t).rx_packets, 1);
    assert_int_equal(stats(t).rx_no_buffers, 1);
    assert_int_equal(ready_fds(t, NULL), 1);
    /* ...until a wake-up finds no buffers for it. */
    net_dev_tap_ready(t->dev, EPOLLIN);
    assert_int_equal(stats(t).rx_no_buffers, 2);
    assert_int_equal(ready_fds(t, NULL), 0);
    teardown(t);
}

static void rx_without_mergeable(void **state)
{
    (void)state;
    struct t *t = setup(F_BASE, true);
    uint64_t g[2];
    uint16_t heads[2];
    heads[0] = rx_post(t, 500, &g[0]);
    heads[1] = rx_post(t, 500, &g[1]);
    struct virtio_net_hdr_v1 h = { 0 };
    net_send(t, &h, 600, 1);       /* does not fit one buffer: dropped */
    net_send(t, &h, 400, 2);
    net_dev_tap_ready(t->dev, EPOLLIN);
    assert_int_equal(stats(t).rx_dropped, 1);
    assert_int_equal(used_count(t, NET_QUEUE_RX), 1);
    uint32_t id, len;
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, heads[0]);    /* the chain the dropped frame touched is reused */
    assert_int_equal(len, 412);
    struct virtio_net_hdr_v1 gh;
    memcpy(&gh, hva(t, g[0], 12), 12);
    assert_int_equal(gh.num_buffers, 1);
    assert_true(pattern_ok(hva(t, g[0] + 12, 400), 400, 2, 0));
    teardown(t);
}

static void rx_hostile_tap_headers_and_chains(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    /* A device-readable RX chain is returned empty and counted. */
    struct seg ro = { alloc_buf(t, 256), 256, false };
    uint16_t bad_head = drv_add(t, NET_QUEUE_RX, &ro, 1);
    uint64_t g;
    uint16_t head = rx_post(t, 2048, &g);
    struct virtio_net_hdr_v1 h[] = {
        { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 90, .csum_offset = 16 },   /* past the end */
        { .gso_type = 9 },
        { .flags = 0x80 },
        { .gso_type = VIRTIO_NET_HDR_GSO_UDP, .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_size = 100,
          .csum_start = 34, .csum_offset = 6 },    /* UFO not negotiated */
    };
    for (unsigned i = 0; i < 4; i++)
        net_send(t, &h[i], 100, 1);
    struct virtio_net_hdr_v1 ok = { 0 };
    net_send(t, &ok, 100, 2);
    net_dev_tap_ready(t->dev, EPOLLIN);
    struct net_stats st = stats(t);
    assert_int_equal(st.rx_errors, 5);
    assert_int_equal(st.rx_packets, 1);
    uint32_t id, len;
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, bad_head);
    assert_int_equal(len, 0);
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 112);
    assert_true(pattern_ok(hva(t, g + 12, 100), 100, 2, 0));
    /* A runt shorter than a header: counted, and the buffer stays for a real frame. */
    head = rx_post(t, 2048, &g);
    assert_int_equal(send(t->peer, "abc", 3, 0), 3);
    net_dev_tap_ready(t->dev, EPOLLIN);
    assert_int_equal(stats(t).rx_errors, 6);
    assert_int_equal(used_count(t, NET_QUEUE_RX), 0);
    net_send(t, &ok, 10, 3);
    net_dev_tap_ready(t->dev, EPOLLIN);
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 22);
    assert_int_equal(t->v.needs_reset, 0);
    teardown(t);
}

static void rx_oversize_dropped(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    uint64_t g;
    uint16_t head = rx_post(t, 4100, &g);
    for (int i = 0; i < 15; i++)
        rx_post(t, 4100, NULL);
    struct virtio_net_hdr_v1 h = { 0 };
    net_send(t, &h, NET_MAX_FRAME + 1, 1);
    net_send(t, &h, NET_MAX_FRAME, 2);          /* the largest frame still passes */
    net_dev_tap_ready(t->dev, EPOLLIN);
    struct net_stats st = stats(t);
    assert_int_equal(st.rx_dropped, 1);
    assert_int_equal(st.rx_packets, 1);
    assert_int_equal(st.rx_bytes, NET_MAX_FRAME);
    assert_int_equal(used_count(t, NET_QUEUE_RX), 16);   /* 65562 bytes: 16 chains of 4100 */
    uint32_t id, len, total = 0;
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, head);
    total += len;
    for (int i = 1; i < 16; i++) {
        used_next(t, NET_QUEUE_RX, &id, &len);
        total += len;
    }
    assert_int_equal(total, 12 + NET_MAX_FRAME);
    struct virtio_net_hdr_v1 gh;
    memcpy(&gh, hva(t, g, 12), 12);
    assert_int_equal(gh.num_buffers, 16);
    assert_true(pattern_ok(hva(t, g + 12, 100), 100, 2, 0));
    teardown(t);
}

/* --- control queue, announce, link ---------------------------------------- */

static uint8_t ctrl_cmd(struct t *t, uint8_t cls, uint8_t cmd)
{
    uint64_t g = alloc_buf(t, 3);
    uint8_t c[3] = { cls, cmd, 0x55 };
    memcpy(hva(t, g, 3), c, 3);
    struct seg s[2] = { { g, 2, false }, { g + 2, 1, true } };
    uint16_t head = drv_add(t, NET_QUEUE_CTRL, s, 2);
    net_device_ops.queue_notify(t->dev, NET_QUEUE_CTRL);
    uint32_t id, len;
    used_next(t, NET_QUEUE_CTRL, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 1);
    return *hva(t, g + 2, 1);
}

static uint16_t cfg_status(struct t *t)
{
    uint16_t s;
    net_device_ops.config_read(t->dev, 6, &s, 2);
    return s;
}

static void announce_and_link(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, false);
    assert_int_equal(net_dev_announce(t->dev), -EOPNOTSUPP);    /* not active */
    assert_int_equal(net_device_ops.activate(t->dev, &t->v), 0);
    assert_int_equal(net_dev_announce(t->dev), 0);
    assert_int_equal(t->v.config_irq, 1);
    assert_int_equal(cfg_status(t), VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
    assert_int_equal(ctrl_cmd(t, 0 /* RX mode */, 0), VIRTIO_NET_ERR);
    assert_int_equal(cfg_status(t), VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
    assert_int_equal(ctrl_cmd(t, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK), VIRTIO_NET_OK);
    assert_int_equal(cfg_status(t), VIRTIO_NET_S_LINK_UP);
    assert_int_equal(t->v.irq[NET_QUEUE_CTRL], 2);

    net_dev_set_link(t->dev, false);
    assert_int_equal(cfg_status(t), 0);
    assert_int_equal(t->v.config_irq, 2);
    net_dev_set_link(t->dev, false);       /* no change, no interrupt */
    assert_int_equal(t->v.config_irq, 2);
    net_dev_set_link(t->dev, true);
    assert_int_equal(cfg_status(t), VIRTIO_NET_S_LINK_UP);

    /* Without GUEST_ANNOUNCE negotiated: refused, and the ack command is an error. */
    net_device_ops.reset(t->dev);
    t->v.features = F_MRG & ~B(VIRTIO_NET_F_GUEST_ANNOUNCE);
    assert_int_equal(net_device_ops.activate(t->dev, &t->v), 0);
    assert_int_equal(net_dev_announce(t->dev), -EOPNOTSUPP);
    assert_int_equal(ctrl_cmd(t, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK), VIRTIO_NET_ERR);
    teardown(t);
}

static void reset_forgets_in_flight(void **state)
{
    (void)state;
    struct t *t = setup(F_MRG, true);
    rx_post(t, 1000, NULL);
    struct virtio_net_hdr_v1 h = { 0 };
    net_send(t, &h, 2500, 1);
    net_dev_tap_ready(t->dev, EPOLLIN);       /* a pending, half-placed frame */
    assert_int_equal(used_count(t, NET_QUEUE_RX), 0);
    net_device_ops.reset(t->dev);
    assert_int_equal(ready_fds(t, NULL), 0);
    /* Fresh queues after reset: nothing from before leaks into them. */
    for (unsigned i = 0; i < 3; i++) {
        virtq_reset(&t->v.q[i]);
        struct virtq_config cfg = { .size = QSIZE, .desc_gpa = t->q[i].desc, .avail_gpa = t->q[i].avail,
                                    .used_gpa = t->q[i].used, .name = "net/q" };
        memset(hva(t, t->q[i].avail, 4), 0, 4);
        memset(hva(t, t->q[i].used, 4), 0, 4);
        t->q[i].avail_idx = t->q[i].used_seen = t->q[i].next_desc = 0;
        assert_int_equal(virtq_enable(&t->v.q[i], &t->v.gm, &cfg), 0);
    }
    assert_int_equal(net_device_ops.activate(t->dev, &t->v), 0);
    uint64_t g;
    uint16_t head = rx_post(t, 2048, &g);
    net_send(t, &h, 30, 2);
    net_dev_tap_ready(t->dev, EPOLLIN);
    uint32_t id, len;
    used_next(t, NET_QUEUE_RX, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 42);
    assert_true(pattern_ok(hva(t, g + 12, 30), 30, 2, 0));
    teardown(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(features_and_config),
        cmocka_unit_test(activate_offloads_and_polling),
        cmocka_unit_test(tx_zero_copy),
        cmocka_unit_test(tx_bad_frames_dropped),
        cmocka_unit_test(tx_eagain_waits_for_epollout),
        cmocka_unit_test(tx_broken_ring_needs_reset),
        cmocka_unit_test(rx_single_buffer),
        cmocka_unit_test(rx_mergeable_three_buffers),
        cmocka_unit_test(rx_no_buffers_backpressure),
        cmocka_unit_test(rx_overflow_waits_for_buffers),
        cmocka_unit_test(rx_without_mergeable),
        cmocka_unit_test(rx_hostile_tap_headers_and_chains),
        cmocka_unit_test(rx_oversize_dropped),
        cmocka_unit_test(announce_and_link),
        cmocka_unit_test(reset_forgets_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
