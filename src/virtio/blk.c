// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-blk device. queue_notify() pops chains on the I/O thread,
 * parses each into a slot of the queue's preallocated request pool and
 * submits it to the block back-end with iovecs into guest RAM (zero copy).
 * Completions (inline for the sync engine, from the io_uring eventfd
 * otherwise) write the status byte, push the chain and raise at most one
 * interrupt per queue per batch.
 *
 * One mutex serialises the I/O thread's work with reset(), which runs on a
 * vCPU thread and must wait for in-flight I/O: those buffers are guest RAM
 * the driver will reuse. It is uncontended except during a reset.
 *
 * The request counters are relaxed atomics rather than state under that
 * mutex, so a metrics read never waits behind a reset's drain.
 */
#include "virtio/blk.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/block.h"
#include "util/error.h"
#include "util/log.h"
#include "virtio/blk_request.h"
#include "virtio/virtqueue.h"

#define VBLK_CFG_OFFSET(field, off) \
    _Static_assert(offsetof(struct virtio_blk_config, field) == (off), #field)
VBLK_CFG_OFFSET(capacity, 0);
VBLK_CFG_OFFSET(size_max, 8);
VBLK_CFG_OFFSET(seg_max, 12);
VBLK_CFG_OFFSET(geometry_cylinders, 16);
VBLK_CFG_OFFSET(blk_size, 20);
VBLK_CFG_OFFSET(physical_block_exp, 24);
VBLK_CFG_OFFSET(opt_io_size, 28);
VBLK_CFG_OFFSET(writeback, 32);
VBLK_CFG_OFFSET(num_queues, 34);
VBLK_CFG_OFFSET(max_discard_sectors, 36);
VBLK_CFG_OFFSET(max_discard_seg, 40);
VBLK_CFG_OFFSET(discard_sector_alignment, 44);
VBLK_CFG_OFFSET(max_write_zeroes_sectors, 48);
VBLK_CFG_OFFSET(max_write_zeroes_seg, 52);
VBLK_CFG_OFFSET(write_zeroes_may_unmap, 56);
_Static_assert(sizeof(struct virtio_blk_config) == 60, "virtio_blk_config size");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "config and headers are little-endian");

struct vblk_queue;

struct vblk_req {
    struct block_req io;
    struct vblk_queue *q;
    uint16_t head;
    uint32_t written;           /* what the used ring reports */
    uint8_t stat_op;            /* enum vblk_stat_op */
    uint64_t stat_bytes;        /* counted if it succeeds */
    uint8_t *status;
    struct iovec iov[VBLK_SEG_MAX];
};

struct vblk_queue {
    struct vblk *vb;
    struct virtq *vq;           /* NULL when the driver did not enable it */
    struct vblk_req *pool;      /* VBLK_QUEUE_SIZE slots */
    uint16_t *free_slots;       /* stack of free pool indices */
    unsigned nr_free;
    bool irq_pending;
};

struct vblk {
    struct disk_config cfg;
    struct block_file file;
    struct block_backend *be;
    struct virtio_device *vdev;
    pthread_mutex_t lock;
    bool active;
    bool broken;                /* NEEDS_RESET was raised: ignore kicks until reset */
    bool draining;              /* reset: completions are dropped, not pushed */
    bool logged_io_error;
    struct vblk_limits lim;
    struct virtio_blk_config config;
    char serial[VIRTIO_BLK_ID_BYTES];
    struct virtq_chain chain;   /* scratch for virtq_pop: 16 KiB, not on the stack */
    unsigned nr_queues;
    struct vblk_queue queues[DISK_QUEUES_MAX];
    struct vblk_stats stats;    /* written on the I/O thread, read anywhere */
};

static void vblk_queue_reset_pool(struct vblk_queue *q)
{
    q->nr_free = VBLK_QUEUE_SIZE;
    for (unsigned i = 0; i < VBLK_QUEUE_SIZE; i++)
        q->free_slots[i] = (uint16_t)(VBLK_QUEUE_SIZE - 1 - i);
}

static void vblk_fill_config(struct vblk *vb)
{
    struct virtio_blk_config *c = &vb->config;
    memset(c, 0, sizeof(*c));
    c->capacity = vb->file.size / VIRTIO_BLK_SECTOR_SIZE;
    c->seg_max = VBLK_SEG_MAX;
    c->blk_size = VIRTIO_BLK_SECTOR_SIZE;
    c->num_queues = (uint16_t)vb->nr_queues;
    if (!vb->cfg.readonly) {
        c->max_discard_sectors = VBLK_MAX_DWZ_SECTORS;
        c->max_discard_seg = 1;
        c->discard_sector_alignment = 1;
        c->max_write_zeroes_sectors = VBLK_MAX_DWZ_SECTORS;
        c->max_write_zeroes_seg = 1;
        c->write_zeroes_may_unmap = 1;
    }
    vb->lim = (struct vblk_limits){
        .capacity = c->capacity,
        .readonly = vb->cfg.readonly,
        .max_discard_sectors = c->max_discard_sectors,
        .max_discard_seg = c->max_discard_seg,
        .max_write_zeroes_sectors = c->max_write_zeroes_sectors,
        .max_write_zeroes_seg = c->max_write_zeroes_seg,
    };
}

static void vblk_backend_ready(void *opaque);

static void vblk_free(struct vblk *vb)
{
    for (unsigned i = 0; i < DISK_QUEUES_MAX; i++) {
        free(vb->queues[i].pool);
        free(vb->queues[i].free_slots);
    }
    pthread_mutex_destroy(&vb->lock);
    free(vb);
}

int vblk_create(struct vblk **out, const struct disk_config *cfg, struct evloop *loop,
                char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->queues < 1 || cfg->queues > DISK_QUEUES_MAX)
        return error_set(err, errlen, -EINVAL, "disk '%s': %u queues", cfg->path, cfg->queues);
    struct vblk *vb = calloc(1, sizeof(*vb));
    if (!vb)
        return error_set(err, errlen, -ENOMEM, "virtio-blk: out of memory");
    int rc = pthread_mutex_init(&vb->lock, NULL);
    if (rc) {
        free(vb);
        return error_set(err, errlen, -rc, "virtio-blk: mutex");
    }
    vb->cfg = *cfg;
    vb->nr_queues = cfg->queues;
    for (unsigned i = 0; i < vb->nr_queues; i++) {
        struct vblk_queue *q = &vb->queues[i];
        q->vb = vb;
        q->pool = calloc(VBLK_QUEUE_SIZE, sizeof(*q->pool));
        q->free_slots = calloc(VBLK_QUEUE_SIZE, sizeof(*q->free_slots));
        if (!q->pool || !q->free_slots) {
            rc = error_set(err, errlen, -ENOMEM, "virtio-blk: out of memory");
            goto fail_free;
        }
        vblk_queue_reset_pool(q);
    }
    const char *serial = disk_config_serial(cfg);
    memcpy(vb->serial, serial, strnlen(serial, VIRTIO_BLK_ID_BYTES));

    rc = cfg->defer_lock
             ? block_file_open_unlocked(&vb->file, cfg->path, cfg->readonly, cfg->direct, err, errlen)
             : block_file_open(&vb->file, cfg->path, cfg->readonly, cfg->direct, err, errlen);
    if (rc < 0)
        goto fail_free;
    if (vb->file.size < VIRTIO_BLK_SECTOR_SIZE) {
        rc = error_set(err, errlen, -EINVAL, "disk '%s' is smaller than one 512-byte sector",
                       cfg->path);
        goto fail_file;
    }
    if (vb->file.size % VIRTIO_BLK_SECTOR_SIZE)
        log_warn("virtio-blk", "disk '%s': the last %u bytes are not a whole sector and are not visible",
                 cfg->path, (unsigned)(vb->file.size % VIRTIO_BLK_SECTOR_SIZE));
    vblk_fill_config(vb);
    rc = block_backend_create(&vb->be, &vb->file, cfg->io, vb->nr_queues * VBLK_QUEUE_SIZE,
                              loop, vblk_backend_ready, vb, err, errlen);
    if (rc < 0)
        goto fail_file;
    log_info("virtio-blk", "disk '%s': %llu sectors, %s, %s I/O", cfg->path,
             (unsigned long long)vb->lim.capacity, cfg->readonly ? "read-only" : "read-write",
             block_backend_name(vb->be));
    *out = vb;
    return 0;
fail_file:
    block_file_close(&vb->file);
fail_free:
    vblk_free(vb);
    return rc;
}

int vblk_set_locked(struct vblk *vb, bool locked, char *err, size_t errlen)
{
    int rc = block_file_set_locked(&vb->file, locked);
    if (rc == -EBUSY)
        return error_set(err, errlen, rc, "disk '%s' is still locked by another VM", vb->cfg.path);
    if (rc)
        return error_set(err, errlen, rc, "disk '%s': cannot %s its lock: %s", vb->cfg.path,
                         locked ? "take" : "drop", strerror(-rc));
    return 0;
}

const char *vblk_backend_name(const struct vblk *vb)
{
    return block_backend_name(vb->be);
}

void vblk_inject_error(struct vblk *vb, int block_op, int error, unsigned count)
{
    block_backend_inject_error(vb->be, (enum block_op)block_op, error, count);
}

void vblk_get_stats(struct vblk *vb, struct vblk_stats *out)
{
    for (unsigned i = 0; i < VBLK_STAT_NR; i++) {
        const struct vblk_op_stats *c = &vb->stats.op[i];
        out->op[i] = (struct vblk_op_stats){
            .requests = __atomic_load_n(&c->requests, __ATOMIC_RELAXED),
            .bytes = __atomic_load_n(&c->bytes, __ATOMIC_RELAXED),
            .errors = __atomic_load_n(&c->errors, __ATOMIC_RELAXED),
        };
    }
}

/* --- requests --- */

static uint8_t vblk_stat_op_of(uint32_t type)
{
    switch (type) {
    case VIRTIO_BLK_T_IN: return VBLK_STAT_READ;
    case VIRTIO_BLK_T_OUT: return VBLK_STAT_WRITE;
    case VIRTIO_BLK_T_FLUSH: return VBLK_STAT_FLUSH;
    case VIRTIO_BLK_T_DISCARD: return VBLK_STAT_DISCARD;
    case VIRTIO_BLK_T_WRITE_ZEROES: return VBLK_STAT_WRITE_ZEROES;
    case VIRTIO_BLK_T_GET_ID: return VBLK_STAT_GET_ID;
    default: return VBLK_STAT_OTHER;
    }
}

/* Only the I/O thread (under vb->lock) writes: atomic adds keep readers from tearing. */
static void vblk_count(struct vblk *vb, const struct vblk_req *r, uint8_t status)
{
    struct vblk_op_stats *c = &vb->stats.op[r->stat_op < VBLK_STAT_NR ? r->stat_op : VBLK_STAT_OTHER];
    __atomic_fetch_add(&c->requests, 1, __ATOMIC_RELAXED);
    if (status == VIRTIO_BLK_S_OK)
        __atomic_fetch_add(&c->bytes, r->stat_bytes, __ATOMIC_RELAXED);
    else
        __atomic_fetch_add(&c->errors, 1, __ATOMIC_RELAXED);
}

static void vblk_req_release(struct vblk_req *r)
{
    struct vblk_queue *q = r->q;
    q->free_slots[q->nr_free++] = (uint16_t)(r - q->pool);
}

/* Answers the driver: the status byte, the used ring, an interrupt later. */
static void vblk_req_finish(struct vblk_req *r, uint8_t status)
{
    struct vblk_queue *q = r->q;
    vblk_count(q->vb, r, status);
    if (!q->vb->draining && q->vq) {
        *r->status = status;
        virtq_push(q->vq, r->head, r->written);
        q->irq_pending = true;
    }
    vblk_req_release(r);
}

static void vblk_io_done(struct block_req *io, int result)
{
    struct vblk_req *r = io->opaque;
    struct vblk *vb = r->q->vb;
    if (result < 0) {
        /* One warning per device: a failing disk would otherwise flood the log. */
        if (!vb->logged_io_error)
            log_warn("virtio-blk", "disk '%s': host I/O error (%s); the guest gets IOERR",
                     vb->cfg.path, strerror(-result));
        vb->logged_io_error = true;
    }
    vblk_req_finish(r, result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

static void vblk_break(struct vblk *vb, const char *reason)
{
    vb->broken = true;
    virtio_set_needs_reset(vb->vdev, reason);
}

static const enum block_op vblk_type_op[] = {
    [VIRTIO_BLK_T_IN] = BLOCK_OP_READ,
    [VIRTIO_BLK_T_OUT] = BLOCK_OP_WRITE,
    [VIRTIO_BLK_T_FLUSH] = BLOCK_OP_FLUSH,
    [VIRTIO_BLK_T_DISCARD] = BLOCK_OP_DISCARD,
    [VIRTIO_BLK_T_WRITE_ZEROES] = BLOCK_OP_WRITE_ZEROES,
};

static void vblk_handle_chain(struct vblk_queue *q, const struct virtq_chain *c)
{
    struct vblk *vb = q->vb;
    if (q->nr_free == 0) {
        /* Only a driver with more chains in flight than the queue holds gets here. */
        virtq_push(q->vq, c->head, 0);
        vblk_break(vb, "virtio-blk: more requests in flight than the queue size");
        return;
    }
    struct vblk_req *r = &q->pool[q->free_slots[--q->nr_free]];
    r->q = q;
    r->head = c->head;
    r->written = (uint32_t)c->writable_bytes;

    struct vblk_request req;
    int status = vblk_request_parse(c, &vb->lim, &req, r->iov, VBLK_SEG_MAX);
    if (status < 0) {
        vblk_req_release(r);
        virtq_push(q->vq, c->head, 0);
        vblk_break(vb, "virtio-blk: request without a writable status byte");
        return;
    }
    r->status = req.status;
    /* Without a whole header the type field is not the guest's: call it OTHER. */
    r->stat_op = c->readable_bytes < VIRTIO_BLK_HDR_SIZE ? VBLK_STAT_OTHER : vblk_stat_op_of(req.type);
    r->stat_bytes = req.len;
    if (status != VIRTIO_BLK_S_OK) {
        vblk_req_finish(r, (uint8_t)status);
        return;
    }
    if (req.type == VIRTIO_BLK_T_GET_ID) {
        (void)virtq_chain_write(c, 0, vb->serial, (size_t)req.len);
        vblk_req_finish(r, VIRTIO_BLK_S_OK);
        return;
    }
    r->io = (struct block_req){
        .op = vblk_type_op[req.type],
        .may_unmap = req.unmap,
        .offset = req.offset,
        .len = req.len,
        .iov = r->iov,
        .iovcnt = req.nr_iov,
        .done = vblk_io_done,
        .opaque = r,
    };
    int rc = block_backend_submit(vb->be, &r->io);
    if (rc < 0)
        vblk_io_done(&r->io, rc);
}

static void vblk_raise_irqs(struct vblk *vb)
{
    for (unsigned i = 0; i < vb->nr_queues; i++) {
        if (vb->queues[i].irq_pending) {
            vb->queues[i].irq_pending = false;
            virtio_queue_interrupt(vb->vdev, i);
        }
    }
}

static void vblk_backend_ready(void *opaque)
{
    struct vblk *vb = opaque;
    pthread_mutex_lock(&vb->lock);
    block_backend_complete(vb->be);
    if (vb->active)
        vblk_raise_irqs(vb);
    pthread_mutex_unlock(&vb->lock);
}

/* --- virtio_device_ops --- */

static uint64_t vblk_features(void *dev)
{
    struct vblk *vb = dev;
    uint64_t f = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
                 1ull << VIRTIO_BLK_F_FLUSH;
    if (vb->cfg.readonly)
        f |= 1ull << VIRTIO_BLK_F_RO;
    else
        f |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
    if (vb->nr_queues > 1)
        f |= 1ull << VIRTIO_BLK_F_MQ;
    return f;
}

static unsigned vblk_num_queues(void *dev)
{
    return ((struct vblk *)dev)->nr_queues;
}

static uint16_t vblk_queue_max_size(void *dev, unsigned queue)
{
    return VBLK_QUEUE_SIZE;
}

static uint32_t vblk_config_size(void *dev)
{
    return sizeof(struct virtio_blk_config);
}

static void vblk_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
    struct vblk *vb = dev;
    memset(data, 0, size);
    if (offset < sizeof(vb->config))
        memcpy(data, (const uint8_t *)&vb->config + offset,
               MIN((size_t)size, sizeof(vb->config) - offset));
}

/* Only `writeback` is writable, and only with CONFIG_WCE, which is not offered. */
static void vblk_config_write(void *dev, uint32_t offset, const void *data, unsigned size)
{
}

static int vblk_activate(void *dev, struct virtio_device *vdev)
{
    struct vblk *vb = dev;
    pthread_mutex_lock(&vb->lock);
    vb->vdev = vdev;
    vb->lim.discard = virtio_has_feature(vdev, VIRTIO_BLK_F_DISCARD);
    vb->lim.write_zeroes = virtio_has_feature(vdev, VIRTIO_BLK_F_WRITE_ZEROES);
    /* Without MQ the driver only knows queue 0. */
    unsigned n = virtio_has_feature(vdev, VIRTIO_BLK_F_MQ) ? vb->nr_queues : 1;
    for (unsigned i = 0; i < vb->nr_queues; i++)
        vb->queues[i].vq = i < n ? virtio_queue(vdev, i) : NULL;
    vb->broken = false;
    vb->active = true;
    pthread_mutex_unlock(&vb->lock);
    return 0;
}

static void vblk_reset(void *dev)
{
    struct vblk *vb = dev;
    pthread_mutex_lock(&vb->lock);
    vb->draining = true;
    block_backend_drain(vb->be);
    vb->draining = false;
    vb->active = false;
    vb->broken = false;
    for (unsigned i = 0; i < vb->nr_queues; i++) {
        vb->queues[i].vq = NULL;
        vb->queues[i].irq_pending = false;
        vblk_queue_reset_pool(&vb->queues[i]);
    }
    pthread_mutex_unlock(&vb->lock);
}

static void vblk_queue_notify(void *dev, unsigned queue)
{
    struct vblk *vb = dev;
    pthread_mutex_lock(&vb->lock);
    struct vblk_queue *q = queue < vb->nr_queues ? &vb->queues[queue] : NULL;
    while (vb->active && !vb->broken && q && q->vq) {
        int r = virtq_pop(q->vq, &vb->chain);
        if (r < 0)
            vblk_break(vb, virtq_broken_reason(q->vq));
        if (r <= 0)
            break;
        vblk_handle_chain(q, &vb->chain);
    }
    if (vb->active)
        vblk_raise_irqs(vb);
    pthread_mutex_unlock(&vb->lock);
}

/*
 * Snapshot: every request in flight completes into the used ring (the
 * interrupts go out now, before the vCPUs' interrupt state is saved) and
 * what was written reaches the disk, so the saved RAM and the image agree
 * and a restored VM needs nothing of this process. The transport holds
 * kicks until resume, so nothing new starts meanwhile.
 */
static void vblk_quiesce(void *dev)
{
    struct vblk *vb = dev;
    pthread_mutex_lock(&vb->lock);
    block_backend_drain(vb->be);
    if (vb->active)
        vblk_raise_irqs(vb);
    if (!vb->file.readonly && fdatasync(vb->file.fd) < 0)
        log_warn("virtio-blk", "disk '%s': fdatasync before a snapshot: %s", vb->cfg.path,
                 strerror(errno));
    pthread_mutex_unlock(&vb->lock);
}

static void vblk_destroy(void *dev)
{
    struct vblk *vb = dev;
    if (!vb)
        return;
    vblk_reset(vb);
    block_backend_destroy(vb->be);
    block_file_close(&vb->file);
    vblk_free(vb);
}

const struct virtio_device_ops vblk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .pci_class = 0x0100,
    .features = vblk_features,
    .num_queues = vblk_num_queues,
    .queue_max_size = vblk_queue_max_size,
    .config_size = vblk_config_size,
    .config_read = vblk_config_read,
    .config_write = vblk_config_write,
    .activate = vblk_activate,
    .reset = vblk_reset,
    .queue_notify = vblk_queue_notify,
    .destroy = vblk_destroy,
    .quiesce = vblk_quiesce,
};
