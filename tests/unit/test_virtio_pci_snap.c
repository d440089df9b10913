// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot and restore of a virtio-pci function (virtio_pci_snap.c): a
 * virtio-rng driven to DRIVER_OK with MSI-X and buffers used is quiesced
 * (a kick then waits), saved, and loaded into a second, freshly built
 * device over a copy of its RAM; the copy must carry on at the same ring
 * indices, BAR address and MSI-X vectors. Records that do not fit the
 * device are refused without changing it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "snapshot/format.h"
#include "test_virtio_pci_driver.h"

struct membuf {
    uint8_t *data;
    size_t len;
};

static int mem_sink(void *opaque, const void *buf, size_t len)
{
    struct membuf *m = opaque;
    uint8_t *p = realloc(m->data, m->len + len);
    if (!p)
        return -ENOMEM;
    memcpy(p + m->len, buf, len);
    m->data = p;
    m->len += len;
    return 0;
}

static void post_buffer(struct vd *t, unsigned dev, uint16_t desc, uint64_t gpa, uint32_t len)
{
    memset(vd_hva(t, gpa, len), 0, len);
    vd_desc(t, dev, desc, gpa, len, VIRTQ_DESC_F_WRITE, 0);
    vd_avail(t, dev, desc);
}

struct quiescer {
    struct virtio_device *vdev;
    int ret;
    int done;
};

static void *quiesce_thread(void *arg)
{
    struct quiescer *q = arg;
    q->ret = virtio_pci_quiesce(q->vdev);
    __atomic_store_n(&q->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Quiesces from another thread while this one plays the I/O thread. */
static void quiesce(struct vd *t, unsigned dev)
{
    struct quiescer q = { .vdev = t->vdev[dev] };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, quiesce_thread, &q), 0);
    while (!__atomic_load_n(&q.done, __ATOMIC_ACQUIRE))
        vd_run(t);
    pthread_join(th, NULL);
    assert_int_equal(q.ret, 0);
}

/* A saved running rng: two buffers used, a third posted and kicked while quiesced. */
struct saved {
    struct membuf stream;
    uint8_t *ram;
    uint64_t bar;
};

static void save_running(struct saved *s)
{
    struct vd *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    vd_init(t);
    vd_add_rng(t, NULL, NULL);
    vd_bring_up(t, 0, VD_BASIC_FEATURES | 1ULL << VIRTIO_F_EVENT_IDX, 16, true);
    for (uint16_t i = 0; i < 2; i++) {
        post_buffer(t, 0, i, vd_gpa(0, VD_BUF) + 0x100 * i, 32);
        vd_kick(t, 0);
        vd_run(t);
    }
    assert_int_equal(vd_used_idx(t, 0), 2);

    quiesce(t, 0);
    post_buffer(t, 0, 5, vd_gpa(0, VD_BUF) + 0x400, 48);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 2);       /* held while quiesced */

    struct snap_writer w;
    memset(s, 0, sizeof(*s));
    snap_writer_init(&w, mem_sink, &s->stream);
    struct snap_summary sum = { .nr_vcpus = 1, .memory_size = VD_RAM };
    assert_int_equal(snap_write_header(&w, &sum), 0);
    assert_int_equal(virtio_pci_save(t->vdev[0], &w), 0);
    assert_int_equal(snap_write_end(&w), 0);
    s->ram = malloc(VD_RAM);
    assert_non_null(s->ram);
    memcpy(s->ram, vd_hva(t, 0, VD_RAM), VD_RAM);
    s->bar = vd_bar(t, 0);

    /* The saved VM goes on: the held kick is delivered on resume. */
    virtio_pci_resume(t->vdev[0]);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 3);
    vd_fini(t);
    free(t);
}

static struct vd *fresh_vd(const struct saved *s)
{
    struct vd *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    vd_init(t);
    vd_add_rng(t, NULL, NULL);
    memcpy(vd_hva(t, 0, VD_RAM), s->ram, VD_RAM);
    return t;
}

static void read_image(const struct saved *s, struct snap_image *img)
{
    struct snap_buf_source src = { .data = s->stream.data, .len = s->stream.len };
    char err[200];
    assert_int_equal(snap_image_read(img, snap_buf_source, &src, err, sizeof(err)), 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct saved s;
    save_running(&s);
    struct vd *t = fresh_vd(&s);
    struct snap_image img;
    read_image(&s, &img);
    char err[200] = "";
    assert_int_equal(virtio_pci_check(t->vdev[0], &img, err, sizeof(err)), 0);
    assert_int_equal(virtio_pci_load(t->vdev[0], &img, err, sizeof(err)), 0);

    /* The BAR decodes where the guest had it, with the notify ioeventfd there. */
    assert_true(s.bar != 0);
    assert_int_equal(vd_bar(t, 0), s.bar);
    bool installed = false;
    for (unsigned i = 0; i < t->nr_ioev; i++)
        installed |= !t->ioev[i].deassign && t->ioev[i].addr == s.bar + VIRTIO_PCI_NOTIFY_OFF;
    assert_true(installed);
    assert_int_equal(vd_status(t, 0), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_MSIX, 2), 1);
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_MSIX_OFF + PCI_MSIX_ENTRY_DATA, 4), 0x40);

    /* The buffer posted while quiesced is found at start, on the saved indices. */
    t->qsize[0] = 16;
    unsigned msgs = t->nr_msgs;
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 3);
    uint32_t id, len;
    vd_used_elem(t, 0, 2, &id, &len);
    assert_int_equal(id, 5);
    assert_int_equal(len, 48);
    assert_false(vd_all_zero(vd_hva(t, vd_gpa(0, VD_BUF) + 0x400, 48), 48));
    assert_int_equal(t->nr_msgs, msgs + 1);
    assert_int_equal(t->msgs[msgs].vector, 0);

    /* And the queue keeps going. */
    t->avail_idx[0] = 3;
    post_buffer(t, 0, 7, vd_gpa(0, VD_BUF) + 0x800, 16);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 4);
    vd_used_elem(t, 0, 3, &id, &len);
    assert_int_equal(id, 7);

    snap_image_free(&img);
    vd_fini(t);
    free(t);
    free(s.ram);
    free(s.stream.data);
}

/* Loads `img` with byte `off` of the virtio record's payload replaced: must be refused. */
static void expect_refused(const struct saved *s, size_t off, const void *val, size_t n,
                           const char *msg)
{
    struct vd *t = fresh_vd(s);
    struct snap_image img;
    read_image(s, &img);
    char name[32], pname[32];
    virtio_pci_record_names(t->vdev[0], pname, name);
    unsigned r = 0;
    while (r < img.nr_records && strcmp(img.records[r].name, name))
        r++;
    assert_true(r < img.nr_records);
    uint8_t *copy = malloc(img.records[r].length);
    assert_non_null(copy);
    memcpy(copy, img.records[r].payload, img.records[r].length);
    memcpy(copy + off, val, n);
    img.records[r].payload = copy;
    uint64_t bar_before = vd_bar(t, 0);
    uint32_t cmd_before = vd_cfg_read(t, 0, PCI_COMMAND, 2);
    char err[200] = "";
    assert_int_not_equal(virtio_pci_load(t->vdev[0], &img, err, sizeof(err)), 0);
    assert_non_null(strstr(err, msg));
    /* Nothing changed: no decoding turned on, no BAR moved, no queue live. */
    assert_int_equal(vd_cfg_read(t, 0, PCI_COMMAND, 2), cmd_before);
    assert_int_equal(vd_bar(t, 0), bar_before);
    assert_null(virtio_queue(t->vdev[0], 0));
    free(copy);
    snap_image_free(&img);
    vd_fini(t);
    free(t);
}

static void test_refused(void **state)
{
    (void)state;
    struct saved s;
    save_running(&s);
    uint16_t blk = VIRTIO_ID_BLOCK, size3 = 3;
    uint64_t far = 1ull << 40;
    expect_refused(&s, 0, &blk, 2, "snapshot has virtio-blk there but this VM has virtio-rng");
    expect_refused(&s, 48 + 24, &size3, 2, "queue 0");               /* queue size 3 */
    expect_refused(&s, 48 + 0, &far, 8, "queue 0");                  /* descriptors at 1 TiB */
    uint8_t status = VIRTIO_STATUS_DRIVER_OK;                        /* without FEATURES_OK */
    expect_refused(&s, 44, &status, 1, "inconsistent");
    uint16_t vec = 9;                                                /* only 2 vectors */
    expect_refused(&s, 40, &vec, 2, "inconsistent");
    free(s.ram);
    free(s.stream.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
