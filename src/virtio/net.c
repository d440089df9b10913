// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net device (see virtio/net.h, docs/net.md). All data-path work runs
 * under the device lock on the I/O thread: queue kicks arrive through
 * queue_notify(), the tap through net_dev_tap_ready(). The lock only orders
 * that thread against config reads (vCPU threads), announce/link changes
 * (the API thread) and activate/reset, wherever the transport runs them.
 *
 * RX without a way to peek at the next frame's length: the device keeps a
 * small stash of RX chains it popped but has not used yet, readv()s into the
 * stash's buffers plus a host overflow buffer, and hands back exactly the
 * chains the frame filled. Chains left over serve the next frame, so a
 * usable chain is never returned empty. With mergeable buffers the stash is topped
 * up to one maximal frame first, so the overflow buffer is only touched when
 * the guest posted less than that in total.
 */
#include "virtio/net.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/evloop.h"
#include "util/error.h"
#include "util/log.h"
#include "virtio/virtqueue.h"

#define BIT(n) (1ull << (n))

#define NET_FRAME_BUF    (VIRTIO_NET_HDR_LEN + NET_MAX_FRAME)
/* Linux posts at most MAX_SKB_FRAGS + 2 buffers per RX chain; more is refused. */
#define NET_RX_CHAIN_BUFS 64u
#define NET_RX_SLOTS      NET_QUEUE_SIZE        /* no more chains can be in flight */
#define NET_RX_IOVS       (2u * IOV_MAX)
#define NET_RX_BUDGET     64u                   /* frames per tap wake-up, for fairness with TX */

#define NET_FEATURES_FIXED (BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | \
                            BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CTRL_VQ) | \
                            BIT(VIRTIO_NET_F_GUEST_ANNOUNCE))

/* An RX chain popped and not yet returned: its writable buffers are rx_iov[first, first+nr). */
struct net_rx_slot {
    uint16_t head;
    unsigned first, nr;
    uint64_t bytes;
};

struct net_dev {
    pthread_mutex_t lock;
    struct tap tap;
    uint8_t mac[6];
    uint16_t status;
    uint64_t offered;

    struct virtio_device *vdev;
    struct evloop *loop;
    bool registered;            /* tap fd on the loop (kept across resets, removed at destroy) */
    uint32_t events;            /* current epoll interest */
    bool tap_failed;            /* EPOLLERR/HUP: stop watching */

    bool active;
    bool quiesced;              /* snapshot: the tap is not watched, the queues stay still */
    uint64_t features;
    unsigned hdr_len;           /* 12, or 10 for a legacy driver without MRG_RXBUF */
    bool mrg;
    unsigned rx_allowed, tx_allowed;   /* NET_OFF_* */

    /* RX */
    bool rx_waiting;            /* no guest buffers: EPOLLIN off until the driver kicks queue 0 */
    struct net_rx_slot rx_slots[NET_RX_SLOTS];
    unsigned rx_nr;
    struct iovec rx_iov[NET_RX_IOVS];
    unsigned rx_iov_nr;
    uint64_t rx_stash_bytes;
    /* A frame that overflowed the stash: `rx_pend_len` bytes read, the tail in rx_bounce. */
    bool rx_pending;
    uint64_t rx_pend_len;
    unsigned rx_pend_chains;    /* stash chains the in-buffer part filled */
    struct virtio_net_hdr_v1 rx_pend_hdr;
    struct virtq_chain rx_chain;

    /* TX */
    bool tx_held;               /* tx_chain popped, not yet written (EAGAIN) */
    bool tx_blocked;            /* waiting for EPOLLOUT */
    struct virtq_chain tx_chain;
    struct iovec tx_iov[IOV_MAX];

    struct net_stats stats;
    uint8_t rx_bounce[NET_FRAME_BUF];
    uint8_t tx_bounce[NET_FRAME_BUF];
};

/* --- iovec copy helpers ----------------------------------------------- */

static size_t iov_copy(const struct iovec *iov, unsigned nr, uint64_t off, void *buf,
                       size_t len, bool to_iov)
{
    size_t done = 0;
    for (unsigned i = 0; i < nr && done < len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t n = MIN(iov[i].iov_len - off, len - done);
        uint8_t *p = (uint8_t *)iov[i].iov_base + off;
        if (to_iov)
            memcpy(p, (const uint8_t *)buf + done, n);
        else
            memcpy((uint8_t *)buf + done, p, n);
        done += n;
        off = 0;
    }
    return done;
}

/* --- epoll interest --------------------------------------------------- */

static void update_events(struct net_dev *d)
{
    uint32_t want = 0;
    if (d->active && !d->tap_failed && !d->quiesced) {
        if (!d->rx_waiting && d->vdev && virtio_queue(d->vdev, NET_QUEUE_RX))
            want |= EPOLLIN;
        if (d->tx_blocked)
            want |= EPOLLOUT;
    }
    if (!d->registered || want == d->events)
        return;
    if (evloop_modify(d->loop, d->tap.fd, want) < 0)
        log_warn("virtio-net", "%s: cannot change the tap's epoll interest", d->tap.name);
    else
        d->events = want;
}

/* --- TX: guest -> tap ------------------------------------------------- */

/* Writes the held chain's frame. 0 when the chain is done with (sent or dropped), -EAGAIN to retry. */
static int tx_send(struct net_dev *d)
{
    const struct virtq_chain *c = &d->tx_chain;
    struct virtio_net_hdr_v1 h, out;
    const char *why;

    if (c->readable_bytes < d->hdr_len) {
        d->stats.tx_errors++;
        return 0;
    }
    uint64_t frame_len = c->readable_bytes - d->hdr_len;
    if (frame_len > NET_MAX_FRAME) {
        d->stats.tx_dropped++;
        return 0;
    }
    memset(&h, 0, sizeof(h));
    virtq_chain_read(c, 0, &h, d->hdr_len);
    if (net_hdr_check(&h, frame_len, d->tx_allowed, NET_HDR_TX, &out, &why) < 0) {
        log_debug("virtio-net", "%s: TX header refused: %s", d->tap.name, why);
        d->stats.tx_errors++;
        return 0;
    }

    /* The header goes from our validated copy; the frame straight from guest memory. */
    unsigned n = 0;
    d->tx_iov[n++] = (struct iovec){ .iov_base = &out, .iov_len = d->hdr_len };
    uint64_t skip = d->hdr_len;
    bool linear = false;
    for (unsigned i = 0; i < c->nr_readable; i++) {
        const struct virtq_buf *b = &c->bufs[i];
        if (skip >= b->len) {
            skip -= b->len;
            continue;
        }
        if (n == IOV_MAX) {
            linear = true;
            break;
        }
        d->tx_iov[n++] = (struct iovec){ .iov_base = b->hva + skip, .iov_len = b->len - skip };
        skip = 0;
    }
    if (linear) {
        /* More pieces than writev takes: one copy, rare enough not to matter. */
        virtq_chain_read(c, d->hdr_len, d->tx_bounce, frame_len);
        d->tx_iov[1] = (struct iovec){ .iov_base = d->tx_bounce, .iov_len = frame_len };
        n = 2;
    }
    ssize_t w = writev(d->tap.fd, d->tx_iov, (int)n);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -EAGAIN;
        /* EIO (tap down), EINVAL (kernel refused the frame): the frame is lost, the queue goes on. */
        d->stats.tx_errors++;
        return 0;
    }
    d->stats.tx_packets++;
    d->stats.tx_bytes += frame_len;
    return 0;
}

static void tx_process(struct net_dev *d)
{
    struct virtq *q = d->vdev ? virtio_queue(d->vdev, NET_QUEUE_TX) : NULL;
    bool pushed = false;
    if (!d->active || !q || d->tx_blocked)
        return;
    for (;;) {
        virtq_disable_notify(q);
        for (;;) {
            if (!d->tx_held) {
                int r = virtq_pop(q, &d->tx_chain);
                if (r < 0) {
                    virtio_set_needs_reset(d->vdev, virtq_broken_reason(q));
                    goto out;
                }
                if (r == 0)
                    break;
                d->tx_held = true;
            }
            if (tx_send(d) == -EAGAIN) {
                /* Keep the chain; kicks stay off, EPOLLOUT brings us back. */
                d->tx_blocked = true;
                d->stats.tx_blocked++;
                update_events(d);
                goto out;
            }
            virtq_push(q, d->tx_chain.head, 0);
            d->tx_held = false;
            pushed = true;
        }
        if (!virtq_enable_notify(q))
            break;
    }
out:
    if (pushed)
        virtio_queue_interrupt(d->vdev, NET_QUEUE_TX);
}

/* --- RX: tap -> guest ------------------------------------------------- */

static uint64_t rx_need(const struct net_dev *d)
{
    return d->mrg ? NET_FRAME_BUF : 1;
}

/*
 * Pops RX chains into the stash until it holds `need` bytes. Returns 0, or
 * -EIO when the queue broke. Unusable chains (device-readable parts, too
 * short for the header, too many pieces) go back empty and count as errors.
 */
static int rx_fill(struct net_dev *d, struct virtq *q, uint64_t need, bool *pushed)
{
    while (d->rx_stash_bytes < need && d->rx_nr < NET_RX_SLOTS &&
           d->rx_iov_nr + NET_RX_CHAIN_BUFS <= NET_RX_IOVS) {
        struct virtq_chain *c = &d->rx_chain;
        int r = virtq_pop(q, c);
        if (r < 0) {
            virtio_set_needs_reset(d->vdev, virtq_broken_reason(q));
            return -EIO;
        }
        if (r == 0)
            return 0;
        unsigned nw = c->nr - c->nr_readable;
        if (c->nr_readable || c->writable_bytes < d->hdr_len || nw > NET_RX_CHAIN_BUFS) {
            virtq_push(q, c->head, 0);
            *pushed = true;
            d->stats.rx_errors++;
            continue;
        }
        struct net_rx_slot *s = &d->rx_slots[d->rx_nr++];
        *s = (struct net_rx_slot){ .head = c->head, .first = d->rx_iov_nr, .nr = nw,
                                   .bytes = c->writable_bytes };
        for (unsigned i = c->nr_readable; i < c->nr; i++)
            d->rx_iov[d->rx_iov_nr++] = (struct iovec){ .iov_base = c->bufs[i].hva,
                                                        .iov_len = c->bufs[i].len };
        d->rx_stash_bytes += c->writable_bytes;
    }
    return 0;
}

/* Drops the first k stash slots (their chains were pushed). */
static void rx_consume(struct net_dev *d, unsigned k)
{
    if (k == 0)
        return;
    unsigned iov_used = k < d->rx_nr ? d->rx_slots[k].first : d->rx_iov_nr;
    for (unsigned i = 0; i < k; i++)
        d->rx_stash_bytes -= d->rx_slots[i].bytes;
    memmove(d->rx_slots, d->rx_slots + k, (d->rx_nr - k) * sizeof(d->rx_slots[0]));
    d->rx_nr -= k;
    memmove(d->rx_iov, d->rx_iov + iov_used, (d->rx_iov_nr - iov_used) * sizeof(d->rx_iov[0]));
    d->rx_iov_nr -= iov_used;
    for (unsigned i = 0; i < d->rx_nr; i++)
        d->rx_slots[i].first -= iov_used;
}

/* Writes into stash slot `s` at `off` (within that chain's writable bytes). */
static void rx_slot_write(struct net_dev *d, unsigned s, uint64_t off, const void *src, size_t len)
{
    const struct net_rx_slot *sl = &d->rx_slots[s];
    iov_copy(d->rx_iov + sl->first, sl->nr, off, (void *)src, len, true);
}

/* Hands the first k stash chains to the guest, holding `total` bytes (header included). */
static void rx_commit(struct net_dev *d, struct virtq *q, unsigned k, uint64_t total,
                      struct virtio_net_hdr_v1 *h)
{
    h->num_buffers = (uint16_t)k;
    rx_slot_write(d, 0, 0, h, d->hdr_len);
    uint64_t left = total;
    for (unsigned i = 0; i < k; i++) {
        uint64_t len = MIN(left, d->rx_slots[i].bytes);
        virtq_push(q, d->rx_slots[i].head, (uint32_t)len);
        left -= len;
    }
    rx_consume(d, k);
    d->stats.rx_packets++;
    d->stats.rx_bytes += total - d->hdr_len;
}

/*
 * Moves the overflow of a pending frame from the bounce buffer into stash
 * chains after the ones it already fills. Returns 1 when delivered, 0 when
 * the guest has to post more buffers first, -EIO when the queue broke.
 */
static int rx_finish_pending(struct net_dev *d, struct virtq *q, bool *pushed)
{
    uint64_t in_chains = 0;
    for (unsigned i = 0; i < d->rx_pend_chains; i++)
        in_chains += d->rx_slots[i].bytes;
    uint64_t tail = d->rx_pend_len - in_chains;
    if (rx_fill(d, q, in_chains + tail, pushed) < 0)
        return -EIO;
    if (d->rx_stash_bytes < in_chains + tail) {
        if (d->rx_nr < NET_RX_SLOTS && d->rx_iov_nr + NET_RX_CHAIN_BUFS <= NET_RX_IOVS)
            return 0;
        /* The stash is full of buffers too small for this frame: give up on it. */
        d->rx_pending = false;
        d->stats.rx_dropped++;
        return 1;
    }
    unsigned k = d->rx_pend_chains;
    for (uint64_t off = 0; off < tail; k++) {
        uint64_t n = MIN(tail - off, d->rx_slots[k].bytes);
        rx_slot_write(d, k, 0, d->rx_bounce + off, n);
        off += n;
    }
    rx_commit(d, q, k, d->rx_pend_len, &d->rx_pend_hdr);
    d->rx_pending = false;
    *pushed = true;
    return 1;
}

/* Reads one frame. 1: one frame handled (delivered or dropped); 0: tap empty; -EIO: stop. */
static int rx_read_one(struct net_dev *d, struct virtq *q, bool *pushed)
{
    /* The chains readv may fill: one without mergeable buffers, else as many as fit in IOV_MAX. */
    unsigned k = 0, niov = 0;
    uint64_t cap = 0;
    while (k < d->rx_nr && (d->mrg || k == 0) &&
           niov + d->rx_slots[k].nr < (unsigned)IOV_MAX) {
        niov += d->rx_slots[k].nr;
        cap += d->rx_slots[k].bytes;
        k++;
    }
    struct iovec bounce = { .iov_base = d->rx_bounce, .iov_len = sizeof(d->rx_bounce) };
    /* readv takes the chains' iovecs in place; the bounce entry is borrowed right after them. */
    struct iovec saved = d->rx_iov[niov];
    d->rx_iov[niov] = bounce;
    ssize_t n = readv(d->tap.fd, d->rx_iov, (int)niov + 1);
    int err = errno;
    d->rx_iov[niov] = saved;
    if (n < 0) {
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
            return 0;
        d->stats.rx_errors++;
        return 0;
    }
    if (n == 0)
        return 0;

    struct virtio_net_hdr_v1 h;
    const char *why;
    uint64_t total = (uint64_t)n;
    if (total < d->hdr_len + 1u) {
        d->stats.rx_errors++;
        return 1;
    }
    if (total - d->hdr_len > NET_MAX_FRAME || total > cap + sizeof(d->rx_bounce)) {
        d->stats.rx_dropped++;
        return 1;
    }
    /* The header is in the first chain, which holds at least hdr_len bytes (rx_fill). */
    memset(&h, 0, sizeof(h));
    iov_copy(d->rx_iov, d->rx_slots[0].nr, 0, &h, d->hdr_len, false);
    if (net_hdr_check(&h, total - d->hdr_len, d->rx_allowed, NET_HDR_RX, &h, &why) < 0) {
        log_debug("virtio-net", "%s: RX header refused: %s", d->tap.name, why);
        d->stats.rx_errors++;
        return 1;   /* the chains stay in the stash for the next frame */
    }
    if (total <= cap) {
        unsigned used = 0;
        for (uint64_t sum = 0; sum < total; used++)
            sum += d->rx_slots[used].bytes;
        rx_commit(d, q, used, total, &h);
        *pushed = true;
        return 1;
    }
    if (!d->mrg) {
        d->stats.rx_dropped++;   /* larger than the one buffer the driver gave */
        return 1;
    }
    /* Overflow: the frame's tail, from byte `cap` on, waits at the start of rx_bounce. */
    d->rx_pending = true;
    d->rx_pend_len = total;
    d->rx_pend_chains = k;
    d->rx_pend_hdr = h;
    int r = rx_finish_pending(d, q, pushed);
    return r < 0 ? r : 1;
}

static void rx_process(struct net_dev *d)
{
    struct virtq *q = d->vdev ? virtio_queue(d->vdev, NET_QUEUE_RX) : NULL;
    bool pushed = false, progressed = false;
    if (!d->active || !q || d->rx_waiting || d->tap_failed)
        return;
    for (unsigned budget = NET_RX_BUDGET; budget > 0; budget--) {
        int r;
        if (d->rx_pending) {
            r = rx_finish_pending(d, q, &pushed);
        } else {
            r = rx_fill(d, q, rx_need(d), &pushed);
            if (r == 0)
                r = d->rx_nr ? 2 : 0;   /* 2: buffers to read into */
        }
        if (r < 0)
            break;
        if (r == 0) {
            /*
             * No room. Frames already delivered in this round say nothing about
             * whether the tap holds more: let epoll tell (one more wake-up)
             * rather than make the driver kick for every refill. A frame held
             * in the bounce buffer must wait for buffers, though.
             */
            if (progressed && !d->rx_pending)
                break;
            /* Stop polling the tap and ask the driver for a kick. */
            if (virtq_enable_notify(q)) {
                virtq_disable_notify(q);
                continue;           /* buffers arrived meanwhile */
            }
            d->rx_waiting = true;
            d->stats.rx_no_buffers++;
            update_events(d);
            break;
        }
        if (r == 1) {
            progressed = true;      /* a pending frame went out */
            continue;
        }
        r = rx_read_one(d, q, &pushed);
        if (r <= 0)
            break;
        progressed = true;
    }
    if (pushed)
        virtio_queue_interrupt(d->vdev, NET_QUEUE_RX);
}

/* --- control queue ---------------------------------------------------- */

static void ctrl_process(struct net_dev *d)
{
    struct virtq *q = d->vdev ? virtio_queue(d->vdev, NET_QUEUE_CTRL) : NULL;
    struct virtq_chain *c = &d->rx_chain;   /* RX never holds it across calls */
    bool pushed = false;
    int r;
    if (!d->active || !q)
        return;
    while ((r = virtq_pop(q, c)) == 1) {
        uint8_t cmd[2] = { 0xff, 0xff };
        uint8_t ack = VIRTIO_NET_ERR;
        virtq_chain_read(c, 0, cmd, sizeof(cmd));
        if (c->readable_bytes >= 2 && cmd[0] == VIRTIO_NET_CTRL_ANNOUNCE &&
            cmd[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK &&
            (d->features & BIT(VIRTIO_NET_F_GUEST_ANNOUNCE))) {
            d->status &= (uint16_t)~VIRTIO_NET_S_ANNOUNCE;
            ack = VIRTIO_NET_OK;
        }
        size_t w = virtq_chain_write(c, 0, &ack, 1);
        virtq_push(q, c->head, (uint32_t)w);
        pushed = true;
    }
    if (r < 0)
        virtio_set_needs_reset(d->vdev, virtq_broken_reason(q));
    if (pushed)
        virtio_queue_interrupt(d->vdev, NET_QUEUE_CTRL);
}

/* --- I/O loop entry points -------------------------------------------- */

void net_dev_tap_ready(void *opaque, uint32_t events)
{
    struct net_dev *d = opaque;
    pthread_mutex_lock(&d->lock);
    if (d->quiesced) {
        /* An event from the same epoll batch as the quiesce: it comes again after resume. */
        pthread_mutex_unlock(&d->lock);
        return;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
        if (!d->tap_failed)
            log_error("virtio-net", "%s: the tap reported an error or hang-up; the link stops", d->tap.name);
        d->tap_failed = true;
        update_events(d);
    } else {
        if ((events & EPOLLOUT) && d->tx_blocked) {
            d->tx_blocked = false;
            update_events(d);
            tx_process(d);
        }
        if (events & EPOLLIN)
            rx_process(d);
    }
    pthread_mutex_unlock(&d->lock);
}

static void net_queue_notify(void *opaque, unsigned queue)
{
    struct net_dev *d = opaque;
    pthread_mutex_lock(&d->lock);
    switch (queue) {
    case NET_QUEUE_RX:
        if (d->rx_waiting) {
            struct virtq *q = virtio_queue(d->vdev, NET_QUEUE_RX);
            d->rx_waiting = false;
            if (q)
                virtq_disable_notify(q);
            update_events(d);
            rx_process(d);
        }
        break;
    case NET_QUEUE_TX:
        tx_process(d);
        break;
    case NET_QUEUE_CTRL:
        ctrl_process(d);
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&d->lock);
}

/* --- virtio_device_ops ------------------------------------------------ */

static uint64_t net_features(void *opaque)
{
    return ((struct net_dev *)opaque)->offered;
}

static unsigned net_num_queues(void *opaque)
{
    return 3;
}

static uint16_t net_queue_max_size(void *opaque, unsigned queue)
{
    return queue == NET_QUEUE_CTRL ? NET_CTRL_QUEUE_SIZE : NET_QUEUE_SIZE;
}

/* Config: mac[6] @0, status u16 @6, max_virtqueue_pairs u16 @8. */
#define NET_CONFIG_SIZE 10u

static uint32_t net_config_size(void *opaque)
{
    return NET_CONFIG_SIZE;
}

static void net_config_read(void *opaque, uint32_t offset, void *data, unsigned size)
{
    struct net_dev *d = opaque;
    uint8_t cfg[NET_CONFIG_SIZE];
    pthread_mutex_lock(&d->lock);
    memcpy(cfg, d->mac, 6);
    memcpy(cfg + 6, &d->status, 2);
    uint16_t pairs = 1;
    memcpy(cfg + 8, &pairs, 2);
    pthread_mutex_unlock(&d->lock);
    memset(data, 0, size);
    if (offset < sizeof(cfg))
        memcpy(data, cfg + offset, MIN(size, sizeof(cfg) - offset));
}

static void net_config_write(void *opaque, uint32_t offset, const void *data, unsigned size)
{
    /* Read-only for a VERSION_1 driver (the MAC is set via the control queue, not offered). */
}

/* Feature combinations the spec forbids (5.1.3.1); the driver must not accept them. */
static bool features_consistent(uint64_t f)
{
    bool gcsum = f & BIT(VIRTIO_NET_F_GUEST_CSUM), hcsum = f & BIT(VIRTIO_NET_F_CSUM);
    if ((f & (BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
              BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(VIRTIO_NET_F_GUEST_USO4) |
              BIT(VIRTIO_NET_F_GUEST_USO6))) && !gcsum)
        return false;
    if ((f & BIT(VIRTIO_NET_F_GUEST_ECN)) &&
        !(f & (BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6))))
        return false;
    if ((f & (BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |
              BIT(VIRTIO_NET_F_HOST_UFO) | BIT(VIRTIO_NET_F_HOST_USO))) && !hcsum)
        return false;
    if ((f & BIT(VIRTIO_NET_F_HOST_ECN)) &&
        !(f & (BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6))))
        return false;
    if ((f & BIT(VIRTIO_NET_F_GUEST_ANNOUNCE)) && !(f & BIT(VIRTIO_NET_F_CTRL_VQ)))
        return false;
    return true;
}

static unsigned tap_offloads_for(unsigned rx_allowed)
{
    unsigned t = 0;
    if (rx_allowed & NET_OFF_CSUM)
        t |= TAP_OFF_CSUM;
    if (rx_allowed & NET_OFF_TSO4)
        t |= TAP_OFF_TSO4;
    if (rx_allowed & NET_OFF_TSO6)
        t |= TAP_OFF_TSO6;
    if (rx_allowed & NET_OFF_ECN)
        t |= TAP_OFF_TSO_ECN;
    if (rx_allowed & NET_OFF_UFO)
        t |= TAP_OFF_UFO;
    if (rx_allowed & NET_OFF_USO)
        t |= TAP_OFF_USO4 | TAP_OFF_USO6;
    return t;
}

static int net_activate(void *opaque, struct virtio_device *vdev)
{
    struct net_dev *d = opaque;
    int r = 0;
    pthread_mutex_lock(&d->lock);
    uint64_t f = virtio_features(vdev);
    if (!features_consistent(f)) {
        log_warn("virtio-net", "%s: the driver accepted inconsistent features %#llx", d->tap.name,
                 (unsigned long long)f);
        r = -EINVAL;
        goto out;
    }
    d->vdev = vdev;
    d->features = f;
    d->mrg = f & BIT(VIRTIO_NET_F_MRG_RXBUF);
    d->hdr_len = (f & BIT(VIRTIO_F_VERSION_1)) || d->mrg ? VIRTIO_NET_HDR_LEN : VIRTIO_NET_HDR_LEGACY_LEN;
    d->rx_allowed = net_hdr_rx_offloads(f);
    d->tx_allowed = net_hdr_tx_offloads(f);
    r = tap_set_offload(&d->tap, tap_offloads_for(d->rx_allowed));
    if (r == 0)
        r = tap_set_vnet_hdr_sz(&d->tap, (int)d->hdr_len);
    if (r < 0) {
        log_error("virtio-net", "%s: cannot configure the tap for the negotiated features: %s",
                  d->tap.name, strerror(-r));
        goto out;
    }
    if (!d->registered) {
        d->loop = virtio_io_loop(vdev);
        r = evloop_add(d->loop, d->tap.fd, 0, net_dev_tap_ready, d);
        if (r < 0) {
            log_error("virtio-net", "%s: cannot watch the tap: %s", d->tap.name, strerror(-r));
            goto out;
        }
        d->registered = true;
        d->events = 0;
    }
    struct virtq *rxq = virtio_queue(vdev, NET_QUEUE_RX);
    if (rxq)
        virtq_disable_notify(rxq);   /* RX kicks only matter while we wait for buffers */
    d->active = true;
    update_events(d);
out:
    pthread_mutex_unlock(&d->lock);
    return r;
}

static void net_reset(void *opaque)
{
    struct net_dev *d = opaque;
    pthread_mutex_lock(&d->lock);
    d->active = false;
    d->features = 0;
    d->rx_allowed = d->tx_allowed = 0;
    d->rx_waiting = d->rx_pending = false;
    d->rx_nr = d->rx_iov_nr = 0;
    d->rx_stash_bytes = 0;
    d->tx_held = d->tx_blocked = false;
    d->status &= (uint16_t)~VIRTIO_NET_S_ANNOUNCE;
    update_events(d);
    if (tap_set_offload(&d->tap, 0) < 0)
        log_warn("virtio-net", "%s: cannot clear the tap's offloads", d->tap.name);
    pthread_mutex_unlock(&d->lock);
}

/*
 * Snapshot: stop reading the tap and writing frames. The chains the device
 * holds (the RX stash, a TX chain waiting for room) are not saved: they were
 * popped and used in ring order, so the transport saves the queues rewound
 * to their used index and a restored device pops them again.
 */
static void net_quiesce(void *opaque)
{
    struct net_dev *d = opaque;
    pthread_mutex_lock(&d->lock);
    d->quiesced = true;
    update_events(d);
    pthread_mutex_unlock(&d->lock);
}

static void net_resume(void *opaque)
{
    struct net_dev *d = opaque;
    pthread_mutex_lock(&d->lock);
    d->quiesced = false;
    update_events(d);
    pthread_mutex_unlock(&d->lock);
}

/* The link status and a pending announcement: the config fields the host changes. */
static size_t net_state_size(void *opaque) { return sizeof(uint16_t); }

static void net_save_state(void *opaque, void *buf)
{
    struct net_dev *d = opaque;
    pthread_mutex_lock(&d->lock);
    memcpy(buf, &d->status, sizeof(d->status));
    pthread_mutex_unlock(&d->lock);
}

static int net_load_state(void *opaque, const void *buf, size_t len)
{
    struct net_dev *d = opaque;
    uint16_t st;
    if (len != sizeof(st))
        return -EBADMSG;
    memcpy(&st, buf, sizeof(st));
    if (st & ~(uint16_t)(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE))
        return -EBADMSG;
    pthread_mutex_lock(&d->lock);
    d->status = st;
    pthread_mutex_unlock(&d->lock);
    return 0;
}

static void net_destroy(void *opaque)
{
    struct net_dev *d = opaque;
    if (!d)
        return;
    if (d->registered)
        evloop_remove(d->loop, d->tap.fd);
    tap_close(&d->tap);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

const struct virtio_device_ops net_device_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .pci_class = 0x0200,   /* network controller, ethernet */
    .features = net_features,
    .num_queues = net_num_queues,
    .queue_max_size = net_queue_max_size,
    .config_size = net_config_size,
    .config_read = net_config_read,
    .config_write = net_config_write,
    .activate = net_activate,
    .reset = net_reset,
    .queue_notify = net_queue_notify,
    .destroy = net_destroy,
    .quiesce = net_quiesce,
    .resume = net_resume,
    .state_size = net_state_size,
    .save_state = net_save_state,
    .load_state = net_load_state,
};

/* --- construction and control ----------------------------------------- */

static uint64_t offered_features(unsigned tap_supported)
{
    uint64_t f = NET_FEATURES_FIXED;
    if (!(tap_supported & TAP_OFF_CSUM))
        return f;
    /* Guest -> tap: the kernel takes these in any vnet header it can parse. */
    f |= BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |
         BIT(VIRTIO_NET_F_HOST_ECN);
    if (tap_supported & TAP_OFF_UFO)
        f |= BIT(VIRTIO_NET_F_HOST_UFO);
    if (tap_supported & TAP_OFF_USO4)
        f |= BIT(VIRTIO_NET_F_HOST_USO);
    /* Tap -> guest: only what TUNSETOFFLOAD accepted. */
    f |= BIT(VIRTIO_NET_F_GUEST_CSUM);
    if (tap_supported & TAP_OFF_TSO4)
        f |= BIT(VIRTIO_NET_F_GUEST_TSO4);
    if (tap_supported & TAP_OFF_TSO6)
        f |= BIT(VIRTIO_NET_F_GUEST_TSO6);
    if ((tap_supported & TAP_OFF_TSO_ECN) && (tap_supported & (TAP_OFF_TSO4 | TAP_OFF_TSO6)))
        f |= BIT(VIRTIO_NET_F_GUEST_ECN);
    if (tap_supported & TAP_OFF_UFO)
        f |= BIT(VIRTIO_NET_F_GUEST_UFO);
    if ((tap_supported & (TAP_OFF_USO4 | TAP_OFF_USO6)) == (TAP_OFF_USO4 | TAP_OFF_USO6))
        f |= BIT(VIRTIO_NET_F_GUEST_USO4) | BIT(VIRTIO_NET_F_GUEST_USO6);
    return f;
}

int net_dev_create_with_tap(struct tap *tap, const uint8_t mac[6], struct net_dev **out)
{
    struct net_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    int r = pthread_mutex_init(&d->lock, NULL);
    if (r) {
        free(d);
        return -r;
    }
    d->tap = *tap;
    tap->fd = -1;
    memcpy(d->mac, mac, 6);
    d->status = VIRTIO_NET_S_LINK_UP;
    d->offered = offered_features(d->tap.supported);
    d->hdr_len = VIRTIO_NET_HDR_LEN;
    *out = d;
    return 0;
}

int net_dev_create(const struct net_config *cfg, struct net_dev **out, char *err, size_t errlen)
{
    struct tap tap;
    int r = tap_open(&tap, cfg->tap, err, errlen);
    if (r < 0)
        return r;
    r = net_dev_create_with_tap(&tap, cfg->mac, out);
    if (r < 0) {
        tap_close(&tap);
        return error_set(err, errlen, r, "virtio-net %s: %s", cfg->tap, strerror(-r));
    }
    return 0;
}

void net_dev_get_stats(struct net_dev *d, struct net_stats *out)
{
    pthread_mutex_lock(&d->lock);
    *out = d->stats;
    pthread_mutex_unlock(&d->lock);
}

const struct tap *net_dev_tap(const struct net_dev *d)
{
    return &d->tap;
}

int net_dev_announce(struct net_dev *d)
{
    pthread_mutex_lock(&d->lock);
    if (!d->active || !(d->features & BIT(VIRTIO_NET_F_GUEST_ANNOUNCE))) {
        pthread_mutex_unlock(&d->lock);
        return -EOPNOTSUPP;
    }
    d->status |= VIRTIO_NET_S_ANNOUNCE;
    struct virtio_device *vdev = d->vdev;
    pthread_mutex_unlock(&d->lock);
    virtio_config_interrupt(vdev);
    return 0;
}

void net_dev_set_link(struct net_dev *d, bool up)
{
    pthread_mutex_lock(&d->lock);
    uint16_t old = d->status;
    if (up)
        d->status |= VIRTIO_NET_S_LINK_UP;
    else
        d->status &= (uint16_t)~VIRTIO_NET_S_LINK_UP;
    bool notify = old != d->status && d->active;
    struct virtio_device *vdev = d->vdev;
    pthread_mutex_unlock(&d->lock);
    if (notify)
        virtio_config_interrupt(vdev);
}
