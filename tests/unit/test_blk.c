// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio/blk, the whole device without KVM: this file plays
 * the transport (it defines the virtio_* services the device calls, which
 * resolve before the library) and the guest driver (rings in a guest_mem,
 * kicks through an eventfd on a real event loop thread, as the transport's
 * ioeventfd would). Requests go to a temporary raw image and are checked
 * against the file. Every I/O case runs on both engines; where io_uring is
 * unavailable the io_uring run says so and only sync runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/block.h"
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "virtio/blk.h"
#include "virtio/blk_request.h"
#include "virtio/virtqueue.h"

#define IMG_SECTORS  512u
#define IMG_SIZE     (IMG_SECTORS * 512u)
#define RAM          (4 * MiB)
#define QSIZE        128u
#define SLOTS        16u              /* requests a queue can have in flight here */
#define SLOT_DESCS   8u
#define MAXQ         2u

/* --- the fake transport --- */

struct virtio_device {
    struct guest_mem gm;
    struct evloop loop;
    struct virtq vqs[MAXQ];
    uint64_t features;
    atomic_int irqs[MAXQ];
    atomic_int needs_reset;
    char reason[128];
};

struct virtq *virtio_queue(struct virtio_device *vdev, unsigned queue)
{
    return queue < MAXQ && vdev->vqs[queue].ready ? &vdev->vqs[queue] : NULL;
}

uint64_t virtio_features(const struct virtio_device *vdev)
{
    return vdev->features;
}

void virtio_queue_interrupt(struct virtio_device *vdev, unsigned queue)
{
    if (queue < MAXQ && virtq_needs_notify(&vdev->vqs[queue]))
        atomic_fetch_add(&vdev->irqs[queue], 1);
}

void virtio_config_interrupt(struct virtio_device *vdev)
{
}

void virtio_set_needs_reset(struct virtio_device *vdev, const char *reason)
{
    snprintf(vdev->reason, sizeof(vdev->reason), "%s", reason);
    atomic_fetch_add(&vdev->needs_reset, 1);
}

const struct guest_mem *virtio_guest_mem(const struct virtio_device *vdev)
{
    return &vdev->gm;
}

struct evloop *virtio_io_loop(struct virtio_device *vdev)
{
    return &vdev->loop;
}

/* --- the driver --- */

struct tq {
    uint64_t desc, avail, used;
    uint16_t avail_idx;        /* chains made available */
    unsigned next_slot;
    int kick_fd;
    struct t *t;
    unsigned index;
};

struct t {
    struct virtio_device vdev;
    struct vblk *dev;
    struct disk_config cfg;
    char path[256];
    pthread_t loop_thread;
    bool loop_running;
    unsigned nq;
    struct tq q[MAXQ];
};

static char err[256];

static uint64_t slot_gpa(unsigned q, unsigned slot)
{
    return 0x100000 + (uint64_t)q * 0x100000 + (uint64_t)slot * 0x10000;
}

static uint8_t *hva(struct t *t, uint64_t gpa)
{
    uint8_t *p = guest_mem_ptr(&t->vdev.gm, gpa, 1);
    assert_non_null(p);
    return p;
}

static void make_image(char *path, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, len, "%s/casulo-vblk-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static uint8_t buf[IMG_SIZE];
    for (size_t i = 0; i < IMG_SIZE; i++)
        buf[i] = (uint8_t)(i * 13 + i / 512 + 1);
    assert_int_equal(pwrite(fd, buf, IMG_SIZE, 0), IMG_SIZE);
    close(fd);
}

static void file_read(struct t *t, uint64_t off, void *dst, size_t len)
{
    int fd = open(t->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, dst, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void on_kick(void *opaque, uint32_t events)
{
    struct tq *q = opaque;
    uint64_t v;
    ssize_t n = read(q->kick_fd, &v, sizeof(v));
    (void)n;
    vblk_ops.queue_notify(q->t->dev, q->index);
}

static void *loop_main(void *opaque)
{
    return (void *)(intptr_t)evloop_run(opaque);
}

static void enable_queues(struct t *t)
{
    for (unsigned i = 0; i < t->nq; i++) {
        struct tq *q = &t->q[i];
        q->desc = 0x10000 + 0x10000ull * i;
        q->avail = q->desc + 0x1000;
        q->used = q->desc + 0x2000;
        q->avail_idx = 0;
        q->next_slot = 0;
        memset(hva(t, q->desc), 0, 0x3000);
        struct virtq_config c = {
            .size = QSIZE, .desc_gpa = q->desc, .avail_gpa = q->avail, .used_gpa = q->used,
            .event_idx = false, .indirect = false, .name = "blk/q",
        };
        virtq_reset(&t->vdev.vqs[i]);
        assert_int_equal(virtq_enable(&t->vdev.vqs[i], &t->vdev.gm, &c), 0);
    }
}

/*
 * Creates the device from a --disk spec (path= is added) and activates it
 * with every offered feature minus `drop`. Returns false when the engine
 * asked for is unavailable here.
 */
static bool t_start(struct t *t, const char *spec, uint64_t drop)
{
    memset(t, 0, sizeof(*t));
    make_image(t->path, sizeof(t->path));
    char full[512];
    snprintf(full, sizeof(full), "path=%s%s%s", t->path, *spec ? "," : "", spec);
    assert_int_equal(disk_config_parse(full, &t->cfg, err, sizeof(err)), 0);
    assert_int_equal(guest_mem_init(&t->vdev.gm, RAM, RAM, RAM), 0);
    assert_int_equal(evloop_init(&t->vdev.loop), 0);
    int rc = vblk_create(&t->dev, &t->cfg, &t->vdev.loop, err, sizeof(err));
    if (rc < 0 && t->cfg.io == DISK_IO_URING) {
        print_message("io_uring unavailable here (%s): this run is skipped, sync runs\n", err);
        evloop_destroy(&t->vdev.loop);
        guest_mem_destroy(&t->vdev.gm);
        unlink(t->path);
        return false;
    }
    assert_int_equal(rc, 0);
    t->nq = vblk_ops.num_queues(t->dev);
    assert_true(t->nq <= MAXQ);
    t->vdev.features = (vblk_ops.features(t->dev) | 1ull << VIRTIO_F_VERSION_1) & ~drop;
    enable_queues(t);
    assert_int_equal(vblk_ops.activate(t->dev, &t->vdev), 0);
    for (unsigned i = 0; i < t->nq; i++) {
        t->q[i].t = t;
        t->q[i].index = i;
        t->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(t->q[i].kick_fd >= 0);
        assert_int_equal(evloop_add(&t->vdev.loop, t->q[i].kick_fd, EPOLLIN, on_kick, &t->q[i]), 0);
    }
    assert_int_equal(pthread_create(&t->loop_thread, NULL, loop_main, &t->vdev.loop), 0);
    t->loop_running = true;
    return true;
}

static void t_stop(struct t *t)
{
    evloop_stop(&t->vdev.loop);
    void *ret;
    assert_int_equal(pthread_join(t->loop_thread, &ret), 0);
    assert_int_equal((intptr_t)ret, 0);
    vblk_ops.destroy(t->dev);
    for (unsigned i = 0; i < t->nq; i++)
        close(t->q[i].kick_fd);
    evloop_destroy(&t->vdev.loop);
    guest_mem_destroy(&t->vdev.gm);
    unlink(t->path);
}

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

/* Writes a chain into the queue's next slot of descriptors and makes it available. */
static uint16_t t_post(struct t *t, unsigned qi, const struct seg *segs, unsigned n)
{
    struct tq *q = &t->q[qi];
    assert_true(n <= SLOT_DESCS);
    uint16_t head = (uint16_t)((q->next_slot++ % SLOTS) * SLOT_DESCS);
    for (unsigned i = 0; i < n; i++) {
        uint8_t d[16];
        uint16_t flags = (uint16_t)((segs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        uint16_t next = (uint16_t)(head + i + 1);
        memcpy(d, &segs[i].gpa, 8);
        memcpy(d + 8, &segs[i].len, 4);
        memcpy(d + 12, &flags, 2);
        memcpy(d + 14, &next, 2);
        memcpy(hva(t, q->desc + 16ull * (head + i)), d, 16);
    }
    uint16_t slot = (uint16_t)(q->avail_idx % QSIZE);
    memcpy(hva(t, q->avail + 4 + 2ull * slot), &head, 2);
    q->avail_idx++;
    __atomic_store_n((uint16_t *)hva(t, q->avail + 2), q->avail_idx, __ATOMIC_RELEASE);
    return head;
}

static uint16_t used_idx(struct t *t, unsigned qi)
{
    return __atomic_load_n((uint16_t *)hva(t, t->q[qi].used + 2), __ATOMIC_ACQUIRE);
}

static void used_elem(struct t *t, unsigned qi, uint16_t idx, uint32_t *id, uint32_t *len)
{
    uint8_t *e = hva(t, t->q[qi].used + 4 + 8ull * (idx % QSIZE));
    memcpy(id, e, 4);
    memcpy(len, e + 4, 4);
}

/* Kicks the queue and waits (with a generous deadline, never asserted on) for `until`. */
static void t_kick_wait(struct t *t, unsigned qi, uint16_t until)
{
    uint64_t one = 1;
    assert_int_equal(write(t->q[qi].kick_fd, &one, sizeof(one)), sizeof(one));
    for (int i = 0; i < 20000 && used_idx(t, qi) != until; i++)
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    if (used_idx(t, qi) != until)
        fail_msg("queue %u: used idx %u, expected %u", qi, used_idx(t, qi), until);
}

static void put_hdr(struct t *t, uint64_t gpa, uint32_t type, uint64_t sector)
{
    uint8_t h[16] = { 0 };
    memcpy(h, &type, 4);
    memcpy(h + 8, &sector, 8);
    memcpy(hva(t, gpa), h, 16);
}

/*
 * One request in the usual shape: header, data (in two descriptors when it
 * is over one sector), status. Returns the status byte; checks the used
 * element (the right head, the whole writable length).
 */
static uint8_t t_req(struct t *t, unsigned qi, uint32_t type, uint64_t sector,
                     const void *out, void *in, uint32_t len)
{
    struct tq *q = &t->q[qi];
    uint64_t base = slot_gpa(qi, q->next_slot % SLOTS);
    uint64_t data = base + 0x1000, status = base + 0xf000;
    put_hdr(t, base, type, sector);
    *hva(t, status) = 0xee;
    bool w = in != NULL;
    if (out)
        memcpy(hva(t, data), out, len);
    struct seg segs[4] = { { base, 16, false } };
    unsigned n = 1;
    if (len > 512) {
        segs[n++] = (struct seg){ data, 512, w };
        segs[n++] = (struct seg){ data + 512, len - 512, w };
    } else if (len) {
        segs[n++] = (struct seg){ data, len, w };
    }
    segs[n++] = (struct seg){ status, 1, true };
    uint16_t idx = used_idx(t, qi);
    uint16_t head = t_post(t, qi, segs, n);
    t_kick_wait(t, qi, (uint16_t)(idx + 1));
    uint32_t id, ulen;
    used_elem(t, qi, idx, &id, &ulen);
    assert_int_equal(id, head);
    assert_int_equal(ulen, (w ? len : 0) + 1);
    if (in)
        memcpy(in, hva(t, data), len);
    return *hva(t, status);
}

static uint8_t t_dwz(struct t *t, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags)
{
    uint8_t seg[16];
    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &num, 4);
    memcpy(seg + 12, &flags, 4);
    return t_req(t, 0, type, 0, seg, NULL, sizeof(seg));
}

static const char *const engines[] = { "io=uring", "io=sync" };
#define FOR_EACH_ENGINE(t, extra, drop)                                              \
    for (unsigned e_ = 0; e_ < ARRAY_SIZE(engines); e_++)                           \
        if (start_engine(t, engines[e_], extra, drop))

static bool start_engine(struct t *t, const char *engine, const char *extra, uint64_t drop)
{
    char spec[128];
    snprintf(spec, sizeof(spec), "%s%s%s", engine, *extra ? "," : "", extra);
    if (!t_start(t, spec, drop))
        return false;
    print_message("running with %s\n", vblk_backend_name(t->dev));
    return true;
}

/* --- tests --- */

static void config_and_features(void **state)
{
    (void)state;
    struct t t;
    assert_true(t_start(&t, "io=sync", 0));
    uint64_t f = vblk_ops.features(t.dev);
    assert_true(f & 1ull << VIRTIO_BLK_F_SEG_MAX);
    assert_true(f & 1ull << VIRTIO_BLK_F_BLK_SIZE);
    assert_true(f & 1ull << VIRTIO_BLK_F_FLUSH);
    assert_true(f & 1ull << VIRTIO_BLK_F_DISCARD);
    assert_true(f & 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
    assert_false(f & 1ull << VIRTIO_BLK_F_RO);
    assert_false(f & 1ull << VIRTIO_BLK_F_MQ);
    assert_int_equal(vblk_ops.device_id, VIRTIO_ID_BLOCK);
    assert_int_equal(vblk_ops.queue_max_size(t.dev, 0), VBLK_QUEUE_SIZE);
    assert_int_equal(vblk_ops.config_size(t.dev), sizeof(struct virtio_blk_config));
    struct virtio_blk_config c;
    vblk_ops.config_read(t.dev, 0, &c, sizeof(c));
    assert_int_equal(c.capacity, IMG_SECTORS);
    assert_int_equal(c.seg_max, VBLK_SEG_MAX);
    assert_int_equal(c.blk_size, 512);
    assert_int_equal(c.num_queues, 1);
    assert_int_equal(c.max_discard_seg, 1);
    assert_int_equal(c.max_write_zeroes_seg, 1);
    assert_int_equal(c.write_zeroes_may_unmap, 1);
    assert_true(c.max_discard_sectors > 0);
    /* A 4-byte read at an offset, as a driver does field by field. */
    uint32_t v = 0;
    vblk_ops.config_read(t.dev, offsetof(struct virtio_blk_config, max_write_zeroes_sectors), &v, 4);
    assert_int_equal(v, c.max_write_zeroes_sectors);
    uint32_t lo = 0;
    vblk_ops.config_read(t.dev, 0, &lo, 4);
    assert_int_equal(lo, IMG_SECTORS);
    t_stop(&t);

    assert_true(t_start(&t, "io=sync,readonly=on,queues=2", 0));
    f = vblk_ops.features(t.dev);
    assert_true(f & 1ull << VIRTIO_BLK_F_RO);
    assert_true(f & 1ull << VIRTIO_BLK_F_MQ);
    assert_false(f & 1ull << VIRTIO_BLK_F_DISCARD);
    assert_false(f & 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
    vblk_ops.config_read(t.dev, 0, &c, sizeof(c));
    assert_int_equal(c.num_queues, 2);
    assert_int_equal(c.max_discard_seg, 0);
    t_stop(&t);
}

static void create_errors(void **state)
{
    (void)state;
    struct evloop loop;
    assert_int_equal(evloop_init(&loop), 0);
    struct disk_config cfg;
    assert_int_equal(disk_config_parse("path=/nonexistent/disk.img", &cfg, err, sizeof(err)), 0);
    struct vblk *dev;
    assert_int_equal(vblk_create(&dev, &cfg, &loop, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/disk.img"));

    /* Smaller than a sector. */
    char path[256];
    make_image(path, sizeof(path));
    assert_int_equal(truncate(path, 100), 0);
    char spec[300];
    snprintf(spec, sizeof(spec), "path=%s", path);
    assert_int_equal(disk_config_parse(spec, &cfg, err, sizeof(err)), 0);
    assert_int_equal(vblk_create(&dev, &cfg, &loop, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "smaller than one 512-byte sector"));
    unlink(path);
    evloop_destroy(&loop);
}

static void read_write(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "", 0) {
        uint8_t got[2048], want[2048];
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, 8, NULL, got, sizeof(got)), VIRTIO_BLK_S_OK);
        file_read(&t, 8 * 512, want, sizeof(want));
        assert_memory_equal(got, want, sizeof(got));
        assert_true(atomic_load(&t.vdev.irqs[0]) >= 1);

        uint8_t pat[1536];
        for (size_t i = 0; i < sizeof(pat); i++)
            pat[i] = (uint8_t)(0x40 + i % 61);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, IMG_SECTORS - 3, pat, NULL, sizeof(pat)),
                         VIRTIO_BLK_S_OK);
        file_read(&t, (IMG_SECTORS - 3) * 512ull, want, sizeof(pat));
        assert_memory_equal(want, pat, sizeof(pat));
        /* Read back through the device. */
        memset(got, 0, sizeof(got));
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, IMG_SECTORS - 3, NULL, got, sizeof(pat)),
                         VIRTIO_BLK_S_OK);
        assert_memory_equal(got, pat, sizeof(pat));
        assert_int_equal(atomic_load(&t.vdev.needs_reset), 0);
        t_stop(&t);
    }
}

static void flush_and_get_id(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "id=root,serial=SERIAL-0123456789ABC", 0) {
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
        uint8_t id[20];
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_GET_ID, 0, NULL, id, sizeof(id)), VIRTIO_BLK_S_OK);
        assert_memory_equal(id, "SERIAL-0123456789ABC", 20);
        t_stop(&t);
    }
    /* Without a serial the id answers, zero-padded. */
    assert_true(t_start(&t, "io=sync,id=data", 0));
    uint8_t id[20], want[20] = "data";
    assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_GET_ID, 0, NULL, id, sizeof(id)), VIRTIO_BLK_S_OK);
    assert_memory_equal(id, want, sizeof(want));
    t_stop(&t);
}

static void discard_and_write_zeroes(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "", 0) {
        uint8_t got[8 * 512], zero[8 * 512] = { 0 }, before[512], after[512];
        file_read(&t, 29 * 512, before, 512);
        assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_WRITE_ZEROES, 30, 8, 0), VIRTIO_BLK_S_OK);
        file_read(&t, 30 * 512, got, sizeof(got));
        assert_memory_equal(got, zero, sizeof(got));
        file_read(&t, 29 * 512, after, 512);
        assert_memory_equal(before, after, 512);
        file_read(&t, 38 * 512, after, 512);
        assert_int_not_equal(after[0] | after[1] | after[2], 0);

        assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_WRITE_ZEROES, 64, 8, VIRTIO_BLK_WZ_FLAG_UNMAP),
                         VIRTIO_BLK_S_OK);
        file_read(&t, 64 * 512, got, sizeof(got));
        assert_memory_equal(got, zero, sizeof(got));

        assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_DISCARD, 128, 128, 0), VIRTIO_BLK_S_OK);
        assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_DISCARD, 128, 8, VIRTIO_BLK_WZ_FLAG_UNMAP),
                         VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_WRITE_ZEROES, IMG_SECTORS - 4, 8, 0),
                         VIRTIO_BLK_S_IOERR);
        t_stop(&t);
    }
    /* A driver that did not accept the features gets UNSUPP. */
    assert_true(t_start(&t, "io=sync", 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES));
    assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), VIRTIO_BLK_S_UNSUPP);
    t_stop(&t);
}

static void bad_requests(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "", 0) {
        uint8_t image[IMG_SIZE], now[IMG_SIZE], buf[1024];
        file_read(&t, 0, image, IMG_SIZE);
        memset(buf, 0x77, sizeof(buf));
        /* Past the end, overflowing, not whole sectors. */
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, NULL, buf, 1024), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, IMG_SECTORS - 1, buf, NULL, 1024), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, UINT64_MAX, buf, NULL, 512), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, 1ull << 55, buf, NULL, 512), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, 0, buf, NULL, 100), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, 0, NULL, buf, 700), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, 99, 0, NULL, NULL, 0), VIRTIO_BLK_S_UNSUPP);
        file_read(&t, 0, now, IMG_SIZE);
        assert_memory_equal(image, now, IMG_SIZE);

        /* An 8-byte header, then a write whose "data" is device-writable. */
        uint64_t base = slot_gpa(0, 0) + 0x8000;
        put_hdr(&t, base, VIRTIO_BLK_T_OUT, 0);
        struct seg shorthdr[] = { { base, 8, false }, { base + 0x100, 1, true } };
        uint16_t idx = used_idx(&t, 0);
        t_post(&t, 0, shorthdr, 2);
        t_kick_wait(&t, 0, (uint16_t)(idx + 1));
        assert_int_equal(*hva(&t, base + 0x100), VIRTIO_BLK_S_IOERR);
        struct seg wdata[] = { { base, 16, false }, { base + 0x200, 512, true }, { base + 0x100, 1, true } };
        t_post(&t, 0, wdata, 3);
        t_kick_wait(&t, 0, (uint16_t)(idx + 2));
        assert_int_equal(*hva(&t, base + 0x100), VIRTIO_BLK_S_IOERR);
        file_read(&t, 0, now, IMG_SIZE);
        assert_memory_equal(image, now, IMG_SIZE);
        assert_int_equal(atomic_load(&t.vdev.needs_reset), 0);
        t_stop(&t);
    }
}

/* A chain with no writable byte cannot even be answered: NEEDS_RESET, then a reset recovers. */
static void no_status_byte_needs_reset(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "", 0) {
        uint64_t base = slot_gpa(0, 0);
        put_hdr(&t, base, VIRTIO_BLK_T_OUT, 0);
        struct seg ro[] = { { base, 16, false }, { base + 0x1000, 512, false } };
        t_post(&t, 0, ro, 2);
        t_kick_wait(&t, 0, 1);
        uint32_t id, len;
        used_elem(&t, 0, 0, &id, &len);
        assert_int_equal(len, 0);
        assert_int_equal(atomic_load(&t.vdev.needs_reset), 1);
        assert_non_null(strstr(t.vdev.reason, "status"));

        /* Until the reset, further requests are left alone. */
        put_hdr(&t, base + 0x2000, VIRTIO_BLK_T_FLUSH, 0);
        struct seg fl[] = { { base + 0x2000, 16, false }, { base + 0x3000, 1, true } };
        t_post(&t, 0, fl, 2);
        vblk_ops.queue_notify(t.dev, 0);   /* synchronous: returns once the kick was handled */
        assert_int_equal(used_idx(&t, 0), 1);

        /* The driver resets the device and starts over on fresh rings. */
        vblk_ops.reset(t.dev);
        enable_queues(&t);
        assert_int_equal(vblk_ops.activate(t.dev, &t.vdev), 0);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
        t_stop(&t);
    }
}

static void readonly_disk(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "readonly=on", 0) {
        uint8_t buf[512], want[512], image[IMG_SIZE], now[IMG_SIZE];
        file_read(&t, 0, image, IMG_SIZE);
        memset(buf, 0x11, sizeof(buf));
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, 0, buf, NULL, 512), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, 4, NULL, buf, 512), VIRTIO_BLK_S_OK);
        file_read(&t, 4 * 512, want, 512);
        assert_memory_equal(buf, want, 512);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
        file_read(&t, 0, now, IMG_SIZE);
        assert_memory_equal(image, now, IMG_SIZE);
        t_stop(&t);
    }
}

/* A host I/O error fails that request only; the next one succeeds. */
static void host_io_error(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "", 0) {
        uint8_t buf[1024], want[1024];
        vblk_inject_error(t.dev, BLOCK_OP_WRITE, -ENOSPC, 1);
        memset(buf, 0x3c, sizeof(buf));
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, 2, buf, NULL, 512), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, 2, buf, NULL, 512), VIRTIO_BLK_S_OK);
        vblk_inject_error(t.dev, BLOCK_OP_FLUSH, -EIO, 1);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, NULL, 0), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);

        /* A real one: the image shrinks under the VM; reading its lost tail fails. */
        assert_int_equal(truncate(t.path, IMG_SIZE / 2), 0);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, IMG_SECTORS - 2, NULL, buf, 1024),
                         VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, 0, NULL, buf, 1024), VIRTIO_BLK_S_OK);
        file_read(&t, 0, want, sizeof(want));
        assert_memory_equal(buf, want, sizeof(want));
        assert_int_equal(atomic_load(&t.vdev.needs_reset), 0);
        t_stop(&t);
    }
}

static void multiqueue(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "queues=2", 0) {
        assert_int_equal(t.nq, 2);
        uint8_t pat[512], got[512];
        memset(pat, 0x9d, sizeof(pat));
        int irq0 = atomic_load(&t.vdev.irqs[0]);
        assert_int_equal(t_req(&t, 1, VIRTIO_BLK_T_OUT, 50, pat, NULL, 512), VIRTIO_BLK_S_OK);
        assert_true(atomic_load(&t.vdev.irqs[1]) >= 1);
        assert_int_equal(atomic_load(&t.vdev.irqs[0]), irq0);
        assert_int_equal(used_idx(&t, 0), 0);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, 50, NULL, got, 512), VIRTIO_BLK_S_OK);
        assert_memory_equal(got, pat, 512);
        t_stop(&t);
    }
}

/* Many requests in flight at once, one kick, all answered, all on disk. */
static void many_in_flight(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "", 0) {
        for (unsigned i = 0; i < SLOTS; i++) {
            uint64_t base = slot_gpa(0, i);
            put_hdr(&t, base, VIRTIO_BLK_T_OUT, 200 + 2ull * i);
            memset(hva(&t, base + 0x1000), (int)(0xa0 + i), 1024);
            *hva(&t, base + 0xf000) = 0xee;
            struct seg s[] = { { base, 16, false }, { base + 0x1000, 1024, false }, { base + 0xf000, 1, true } };
            t_post(&t, 0, s, 3);
        }
        t_kick_wait(&t, 0, SLOTS);
        for (unsigned i = 0; i < SLOTS; i++) {
            assert_int_equal(*hva(&t, slot_gpa(0, i) + 0xf000), VIRTIO_BLK_S_OK);
            uint8_t got[1024], want[1024];
            file_read(&t, (200 + 2ull * i) * 512, got, sizeof(got));
            memset(want, (int)(0xa0 + i), sizeof(want));
            assert_memory_equal(got, want, sizeof(want));
        }
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
        t_stop(&t);
    }
}

/* Two VMs on one image: the second read-write open fails clearly; readers share. */
static void image_lock(void **state)
{
    (void)state;
    struct t t;
    assert_true(t_start(&t, "io=sync", 0));
    struct disk_config cfg = t.cfg;
    struct vblk *second;
    assert_int_equal(vblk_create(&second, &cfg, &t.vdev.loop, err, sizeof(err)), -EBUSY);
    assert_non_null(strstr(err, t.path));
    assert_non_null(strstr(err, "already in use"));
    cfg.readonly = true;
    assert_int_equal(vblk_create(&second, &cfg, &t.vdev.loop, err, sizeof(err)), -EBUSY);
    t_stop(&t);

    assert_true(t_start(&t, "io=sync,readonly=on", 0));
    cfg = t.cfg;
    assert_int_equal(vblk_create(&second, &cfg, &t.vdev.loop, err, sizeof(err)), 0);
    vblk_ops.destroy(second);
    cfg.readonly = false;
    assert_int_equal(vblk_create(&second, &cfg, &t.vdev.loop, err, sizeof(err)), -EBUSY);
    t_stop(&t);
}

static void assert_op(const struct vblk_stats *s, enum vblk_stat_op op, uint64_t requests,
                      uint64_t bytes, uint64_t errors)
{
    assert_int_equal(s->op[op].requests, requests);
    assert_int_equal(s->op[op].bytes, bytes);
    assert_int_equal(s->op[op].errors, errors);
}

/* Every answered request is counted under its operation; failures count as errors, not bytes. */
static void stats_counters(void **state)
{
    (void)state;
    struct t t;
    FOR_EACH_ENGINE(&t, "", 0) {
        struct vblk_stats s;
        vblk_get_stats(t.dev, &s);
        for (unsigned i = 0; i < VBLK_STAT_NR; i++)
            assert_op(&s, i, 0, 0, 0);

        uint8_t buf[1024], id[20];
        memset(buf, 0x42, sizeof(buf));
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, 4, buf, NULL, 1024), VIRTIO_BLK_S_OK);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, 8, buf, NULL, 512), VIRTIO_BLK_S_OK);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, 4, NULL, buf, 1024), VIRTIO_BLK_S_OK);
        /* Out of range: answered IOERR by the parser, no bytes. */
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, NULL, buf, 1024),
                         VIRTIO_BLK_S_IOERR);
        /* Failed by the host. */
        vblk_inject_error(t.dev, BLOCK_OP_WRITE, -EIO, 1);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_OUT, 2, buf, NULL, 512), VIRTIO_BLK_S_IOERR);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
        assert_int_equal(t_req(&t, 0, VIRTIO_BLK_T_GET_ID, 0, NULL, id, sizeof(id)), VIRTIO_BLK_S_OK);
        assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_DISCARD, 128, 16, 0), VIRTIO_BLK_S_OK);
        assert_int_equal(t_dwz(&t, VIRTIO_BLK_T_WRITE_ZEROES, 30, 8, 0), VIRTIO_BLK_S_OK);
        assert_int_equal(t_req(&t, 0, 99, 0, NULL, NULL, 0), VIRTIO_BLK_S_UNSUPP);

        vblk_get_stats(t.dev, &s);
        assert_op(&s, VBLK_STAT_READ, 2, 1024, 1);
        assert_op(&s, VBLK_STAT_WRITE, 3, 1536, 1);
        assert_op(&s, VBLK_STAT_FLUSH, 1, 0, 0);
        assert_op(&s, VBLK_STAT_GET_ID, 1, 20, 0);
        assert_op(&s, VBLK_STAT_DISCARD, 1, 16 * 512, 0);
        assert_op(&s, VBLK_STAT_WRITE_ZEROES, 1, 8 * 512, 0);
        assert_op(&s, VBLK_STAT_OTHER, 1, 0, 1);
        t_stop(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_and_features),
        cmocka_unit_test(create_errors),
        cmocka_unit_test(read_write),
        cmocka_unit_test(flush_and_get_id),
        cmocka_unit_test(discard_and_write_zeroes),
        cmocka_unit_test(bad_requests),
        cmocka_unit_test(no_status_byte_needs_reset),
        cmocka_unit_test(readonly_disk),
        cmocka_unit_test(host_io_error),
        cmocka_unit_test(multiqueue),
        cmocka_unit_test(many_in_flight),
        cmocka_unit_test(image_lock),
        cmocka_unit_test(stats_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
