// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-balloon device (see virtio/balloon.h, docs/balloon.md).
 *
 * Queue numbers follow the negotiated features: inflateq 0, deflateq 1, then
 * statsq, free_page_vq and reporting_vq in that order, each only when its
 * feature was negotiated, numbered without gaps (what Linux's driver does;
 * free_page_vq is never offered). With every feature the driver accepts,
 * reporting_vq is queue 3; without STATS_VQ it is queue 2.
 *
 * Locking: the device lock serialises queue work (I/O thread) against the
 * API thread (balloon_request_stats pushes the held stats buffer) and
 * activate/reset. Config space is two atomics and takes no lock, because the
 * transport may call config_read with the PCI host lock held, while this
 * device raises interrupts (which may take that lock) with its own lock held:
 * order is balloon lock -> transport locks, never the reverse.
 */
#include "virtio/balloon.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/guest_mem.h"
#include "util/log.h"
#include "virtio/virtqueue.h"

#define BIT(n) (1ull << (n))

#define BALLOON_FEATURES (BIT(VIRTIO_BALLOON_F_STATS_VQ) | BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) | \
                          BIT(VIRTIO_BALLOON_F_PAGE_REPORTING))

/* Config: num_pages le32 @0, actual le32 @4, free_page_hint_cmd_id @8, poison_val @12. */
#define BALLOON_CONFIG_SIZE 16u

#define BALLOON_STAT_ENTRY 10u      /* le16 tag + le64 val, packed */
#define PFN_BATCH 256u              /* PFNs copied out of a chain at a time */

enum balloon_role { ROLE_NONE, ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_REPORTING };

struct balloon {
    pthread_mutex_t lock;
    /* Config space: read by vCPUs without the lock (see the file comment). */
    uint32_t num_pages;         /* atomic */
    uint32_t actual;            /* atomic */

    struct virtio_device *vdev;
    const struct guest_mem *mem;
    bool active;
    bool quiesced;              /* snapshot: the stats buffer stays where it is */
    uint64_t features;
    enum balloon_role roles[BALLOON_MAX_QUEUES];
    unsigned stats_queue;       /* queue index of statsq when negotiated */

    bool stats_held;            /* the driver's stats buffer, kept to ask for the next update */
    uint16_t stats_head;

    int timer_fd;               /* stats polling */
    struct evloop *loop;        /* where timer_fd is registered; NULL until the first activate */

    struct balloon_info info;   /* stats and counters; config fields are filled on read */
    bool madvise_warned;
    struct virtq_chain chain;   /* 16 KiB: kept here, not on the I/O thread's stack */
};

static uint64_t now_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Gives host pages back: guest RAM is MAP_PRIVATE anonymous, so they read as zero afterwards. */
static void balloon_discard(struct balloon *b, uint8_t *hva, uint64_t len)
{
    if (len == 0)
        return;
    if (madvise(hva, len, MADV_DONTNEED) == 0)
        return;
    b->info.madvise_errors++;
    if (!b->madvise_warned) {
        b->madvise_warned = true;
        log_warn("virtio-balloon", "madvise(MADV_DONTNEED) of %llu bytes failed: %s",
                 (unsigned long long)len, strerror(errno));
    }
}

/* --- inflate / deflate ------------------------------------------------- */

/*
 * Walks the chain's PFN array; on inflate, frees each valid page, merging
 * runs of host-contiguous pages into one madvise. Returns false when the
 * chain breaks the protocol (the device then needs a reset).
 */
static bool balloon_pfn_chain(struct balloon *b, const struct virtq_chain *chain, bool inflate)
{
    if (chain->readable_bytes % 4 != 0 ||
        chain->readable_bytes / 4 > BALLOON_MAX_PFNS_PER_CHAIN)
        return false;
    uint32_t pfns[PFN_BATCH];
    uint64_t total = chain->readable_bytes / 4;
    uint8_t *run = NULL;
    uint64_t run_len = 0;
    for (uint64_t done = 0; done < total;) {
        unsigned n = (unsigned)MIN(total - done, (uint64_t)PFN_BATCH);
        size_t got = virtq_chain_read(chain, done * 4, pfns, n * 4u);
        if (got != n * 4u)
            return false;       /* cannot happen: readable_bytes covers it */
        for (unsigned i = 0; i < n; i++) {
            uint64_t gpa = (uint64_t)pfns[i] << BALLOON_PAGE_SHIFT;
            uint8_t *hva = guest_mem_ptr(b->mem, gpa, BALLOON_PAGE_SIZE);
            if (!hva) {
                b->info.invalid_pfns++;
                continue;
            }
            if (!inflate) {
                b->info.deflated_pages++;
                continue;
            }
            b->info.inflated_pages++;
            if (run && hva == run + run_len) {
                run_len += BALLOON_PAGE_SIZE;
                continue;
            }
            balloon_discard(b, run, run_len);
            run = hva;
            run_len = BALLOON_PAGE_SIZE;
        }
        done += n;
    }
    balloon_discard(b, run, run_len);
    return true;
}

/* --- free page reporting ------------------------------------------------ */

/*
 * Each buffer is a free guest range (the transport checked that it lies in
 * guest RAM). Only the whole 4 KiB pages inside it are freed, so a
 * misaligned report never touches a neighbouring page.
 */
static void balloon_report_chain(struct balloon *b, const struct virtq_chain *chain)
{
    for (unsigned i = 0; i < chain->nr; i++) {
        const struct virtq_buf *buf = &chain->bufs[i];
        uintptr_t start = ALIGN_UP((uintptr_t)buf->hva, (uintptr_t)BALLOON_PAGE_SIZE);
        uintptr_t end = ALIGN_DOWN((uintptr_t)buf->hva + buf->len, (uintptr_t)BALLOON_PAGE_SIZE);
        if (end <= start)
            continue;
        balloon_discard(b, (uint8_t *)start, end - start);
        b->info.reported_bytes += end - start;
    }
}

/* --- statistics ------------------------------------------------------- */

static void balloon_parse_stats(struct balloon *b, const struct virtq_chain *chain)
{
    uint64_t entries = chain->readable_bytes / BALLOON_STAT_ENTRY;
    if (chain->readable_bytes % BALLOON_STAT_ENTRY)
        b->info.bad_stats_buffers++;        /* the whole entries still count */
    entries = MIN(entries, (uint64_t)BALLOON_MAX_STAT_ENTRIES);
    uint64_t stats[BALLOON_NR_STATS] = { 0 };
    uint32_t valid = 0;
    for (uint64_t i = 0; i < entries; i++) {
        uint8_t e[BALLOON_STAT_ENTRY];
        if (virtq_chain_read(chain, i * BALLOON_STAT_ENTRY, e, sizeof(e)) != sizeof(e))
            break;
        uint16_t tag;
        uint64_t val;
        memcpy(&tag, e, 2);
        memcpy(&val, e + 2, 8);
        if (tag >= BALLOON_NR_STATS)
            continue;           /* the spec: ignore tags we do not know */
        stats[tag] = val;
        valid |= 1u << tag;
    }
    memcpy(b->info.stats, stats, sizeof(stats));
    b->info.stats_valid = valid;
    b->info.stats_updated_at = now_realtime_ns();
}

/* Returns the held stats buffer, which the driver reads as "send new statistics". */
static int balloon_push_stats(struct balloon *b)
{
    if (!b->active || !(b->features & BIT(VIRTIO_BALLOON_F_STATS_VQ)))
        return -EOPNOTSUPP;
    if (!b->stats_held || b->quiesced)
        return -EAGAIN;
    struct virtq *vq = virtio_queue(b->vdev, b->stats_queue);
    if (!vq)
        return -EOPNOTSUPP;
    b->stats_held = false;
    virtq_push(vq, b->stats_head, 0);
    virtio_queue_interrupt(b->vdev, b->stats_queue);
    return 0;
}

/* --- queue processing ------------------------------------------------- */

static void balloon_process(struct balloon *b, unsigned queue, enum balloon_role role)
{
    struct virtq *vq = virtio_queue(b->vdev, queue);
    if (!vq)
        return;
    int r;
    while ((r = virtq_pop(vq, &b->chain)) == 1) {
        switch (role) {
        case ROLE_INFLATE:
        case ROLE_DEFLATE:
            if (!balloon_pfn_chain(b, &b->chain, role == ROLE_INFLATE)) {
                virtq_push(vq, b->chain.head, 0);
                virtio_queue_interrupt(b->vdev, queue);
                virtio_set_needs_reset(b->vdev, role == ROLE_INFLATE ?
                    "inflateq: a PFN array that is not a whole number of 32-bit PFNs, or too long" :
                    "deflateq: a PFN array that is not a whole number of 32-bit PFNs, or too long");
                return;
            }
            virtq_push(vq, b->chain.head, 0);
            break;
        case ROLE_STATS:
            /* One buffer at a time (spec); an extra one goes back so it is not lost. */
            if (b->stats_held)
                virtq_push(vq, b->stats_head, 0);
            balloon_parse_stats(b, &b->chain);
            b->stats_head = b->chain.head;
            b->stats_held = true;
            break;
        case ROLE_REPORTING:
            balloon_report_chain(b, &b->chain);
            virtq_push(vq, b->chain.head, 0);
            break;
        case ROLE_NONE:
            break;
        }
    }
    /* r < 0: the queue is broken and the transport has been told. */
    virtio_queue_interrupt(b->vdev, queue);
}

static void balloon_queue_notify(void *dev, unsigned queue)
{
    struct balloon *b = dev;
    pthread_mutex_lock(&b->lock);
    if (b->active && queue < BALLOON_MAX_QUEUES && b->roles[queue] != ROLE_NONE)
        balloon_process(b, queue, b->roles[queue]);
    pthread_mutex_unlock(&b->lock);
}

static void balloon_timer_ready(void *opaque, uint32_t events)
{
    struct balloon *b = opaque;
    uint64_t expirations;
    ssize_t r = read(b->timer_fd, &expirations, sizeof(expirations));
    (void)r;
    pthread_mutex_lock(&b->lock);
    (void)balloon_push_stats(b);     /* not active, or a request outstanding: skip this tick */
    pthread_mutex_unlock(&b->lock);
}

/* --- snapshots --------------------------------------------------------- */

/*
 * The held statistics buffer is not saved: the transport saves the stats
 * queue rewound to its used index, so a restored balloon pops it again.
 */
static void balloon_quiesce(void *dev)
{
    struct balloon *b = dev;
    pthread_mutex_lock(&b->lock);
    b->quiesced = true;
    pthread_mutex_unlock(&b->lock);
}

static void balloon_resume(void *dev)
{
    struct balloon *b = dev;
    pthread_mutex_lock(&b->lock);
    b->quiesced = false;
    pthread_mutex_unlock(&b->lock);
}

/* The target the host set and the size the driver reports (both in 4 KiB pages). */
static size_t balloon_state_size(void *dev) { return 2 * sizeof(uint32_t); }

static void balloon_save_state(void *dev, void *buf)
{
    struct balloon *b = dev;
    uint32_t v[2] = { __atomic_load_n(&b->num_pages, __ATOMIC_RELAXED),
                      __atomic_load_n(&b->actual, __ATOMIC_RELAXED) };
    memcpy(buf, v, sizeof(v));
}

static int balloon_load_state(void *dev, const void *buf, size_t len)
{
    struct balloon *b = dev;
    uint32_t v[2];
    if (len != sizeof(v))
        return -EBADMSG;
    memcpy(v, buf, sizeof(v));
    __atomic_store_n(&b->num_pages, v[0], __ATOMIC_RELAXED);
    __atomic_store_n(&b->actual, v[1], __ATOMIC_RELAXED);
    return 0;
}

/* --- ops ---------------------------------------------------------------- */

static uint64_t balloon_features(void *dev) { return BALLOON_FEATURES; }
static unsigned balloon_num_queues(void *dev) { return BALLOON_MAX_QUEUES; }
static uint16_t balloon_queue_max_size(void *dev, unsigned queue) { return BALLOON_QUEUE_SIZE; }
static uint32_t balloon_config_size(void *dev) { return BALLOON_CONFIG_SIZE; }

static void balloon_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
    struct balloon *b = dev;
    uint8_t cfg[BALLOON_CONFIG_SIZE] = { 0 };
    uint32_t num = __atomic_load_n(&b->num_pages, __ATOMIC_ACQUIRE);
    uint32_t act = __atomic_load_n(&b->actual, __ATOMIC_ACQUIRE);
    memcpy(cfg, &num, 4);
    memcpy(cfg + 4, &act, 4);
    memset(data, 0, size);
    if (offset < sizeof(cfg))
        memcpy(data, cfg + offset, MIN(size, sizeof(cfg) - offset));
}

/* Only `actual` is the driver's; a partial write merges into it byte by byte. */
static void balloon_config_write(void *dev, uint32_t offset, const void *data, unsigned size)
{
    struct balloon *b = dev;
    if (offset >= 8 || offset + size <= 4)
        return;
    uint32_t act = __atomic_load_n(&b->actual, __ATOMIC_ACQUIRE);
    uint8_t bytes[4];
    memcpy(bytes, &act, 4);
    for (unsigned i = 0; i < size; i++) {
        uint32_t at = offset + i;
        if (at >= 4 && at < 8)
            bytes[at - 4] = ((const uint8_t *)data)[i];
    }
    memcpy(&act, bytes, 4);
    __atomic_store_n(&b->actual, act, __ATOMIC_RELEASE);
}

static int balloon_activate(void *dev, struct virtio_device *vdev)
{
    struct balloon *b = dev;
    int r = 0;
    pthread_mutex_lock(&b->lock);
    uint64_t f = virtio_features(vdev);
    b->vdev = vdev;
    b->mem = virtio_guest_mem(vdev);
    b->features = f;
    memset(b->roles, 0, sizeof(b->roles));
    unsigned q = 0;
    b->roles[q++] = ROLE_INFLATE;
    b->roles[q++] = ROLE_DEFLATE;
    if (f & BIT(VIRTIO_BALLOON_F_STATS_VQ)) {
        b->stats_queue = q;
        b->roles[q++] = ROLE_STATS;
    }
    if (f & BIT(VIRTIO_BALLOON_F_PAGE_REPORTING))
        b->roles[q++] = ROLE_REPORTING;
    b->stats_held = false;
    if (!b->loop) {
        struct evloop *loop = virtio_io_loop(vdev);
        r = loop ? evloop_add(loop, b->timer_fd, EPOLLIN, balloon_timer_ready, b) : 0;
        if (r < 0) {
            log_error("virtio-balloon", "cannot watch the statistics timer: %s", strerror(-r));
            goto out;
        }
        b->loop = loop;
    }
    b->active = true;
out:
    pthread_mutex_unlock(&b->lock);
    return r;
}

static void balloon_reset(void *dev)
{
    struct balloon *b = dev;
    pthread_mutex_lock(&b->lock);
    b->active = false;
    b->features = 0;
    memset(b->roles, 0, sizeof(b->roles));
    b->stats_held = false;
    /* The driver's balloon is gone with it; the host's target stays. */
    __atomic_store_n(&b->actual, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&b->lock);
}

static void balloon_destroy(void *dev)
{
    struct balloon *b = dev;
    if (!b)
        return;
    if (b->loop)
        evloop_remove(b->loop, b->timer_fd);
    close(b->timer_fd);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

const struct virtio_device_ops balloon_ops = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .pci_class = 0xff00,        /* unclassified device, like virtio-rng */
    .features = balloon_features,
    .num_queues = balloon_num_queues,
    .queue_max_size = balloon_queue_max_size,
    .config_size = balloon_config_size,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .activate = balloon_activate,
    .reset = balloon_reset,
    .queue_notify = balloon_queue_notify,
    .destroy = balloon_destroy,
    .quiesce = balloon_quiesce,
    .resume = balloon_resume,
    .state_size = balloon_state_size,
    .save_state = balloon_save_state,
    .load_state = balloon_load_state,
};

/* --- construction and control ----------------------------------------- */

int balloon_create(struct balloon **out)
{
    struct balloon *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    int r = pthread_mutex_init(&b->lock, NULL);
    if (r) {
        free(b);
        return -r;
    }
    b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (b->timer_fd < 0) {
        r = -errno;
        pthread_mutex_destroy(&b->lock);
        free(b);
        return r;
    }
    *out = b;
    return 0;
}

int balloon_set_target(struct balloon *b, uint64_t bytes)
{
    uint64_t pages = bytes >> BALLOON_PAGE_SHIFT;
    if (pages > UINT32_MAX)
        return -ERANGE;
    pthread_mutex_lock(&b->lock);
    uint32_t old = __atomic_exchange_n(&b->num_pages, (uint32_t)pages, __ATOMIC_ACQ_REL);
    struct virtio_device *vdev = b->active && old != pages ? b->vdev : NULL;
    pthread_mutex_unlock(&b->lock);
    /* Outside the lock: a reset racing with it costs at most a spurious config interrupt. */
    if (vdev)
        virtio_config_interrupt(vdev);
    return 0;
}

void balloon_get_info(struct balloon *b, struct balloon_info *out)
{
    pthread_mutex_lock(&b->lock);
    *out = b->info;
    out->target_bytes = (uint64_t)__atomic_load_n(&b->num_pages, __ATOMIC_ACQUIRE) << BALLOON_PAGE_SHIFT;
    out->actual_bytes = (uint64_t)__atomic_load_n(&b->actual, __ATOMIC_ACQUIRE) << BALLOON_PAGE_SHIFT;
    out->active = b->active;
    out->stats_enabled = b->active && (b->features & BIT(VIRTIO_BALLOON_F_STATS_VQ));
    out->reporting_enabled = b->active && (b->features & BIT(VIRTIO_BALLOON_F_PAGE_REPORTING));
    out->deflate_on_oom = b->active && (b->features & BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
    pthread_mutex_unlock(&b->lock);
}

int balloon_request_stats(struct balloon *b)
{
    pthread_mutex_lock(&b->lock);
    int r = balloon_push_stats(b);
    pthread_mutex_unlock(&b->lock);
    return r;
}

int balloon_set_stats_interval(struct balloon *b, unsigned seconds)
{
    struct itimerspec its = {
        .it_value = { .tv_sec = seconds },
        .it_interval = { .tv_sec = seconds },
    };
    if (timerfd_settime(b->timer_fd, 0, &its, NULL) < 0)
        return -errno;
    return 0;
}
