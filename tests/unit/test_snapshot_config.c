// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for snapshot/config: the "vm.config" record round trip, its
 * refusal of hostile payloads, and the merge of `run --restore`'s
 * --cpus/--memory/--disk/--net into the snapshot's VM (clones keep the
 * snapshot's machine and get their own disks and MACs).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "snapshot/config.h"

struct membuf {
    uint8_t data[1 << 17];
    size_t len;
};

static int mem_sink(void *opaque, const void *buf, size_t len)
{
    struct membuf *m = opaque;
    if (len > sizeof(m->data) - m->len)
        return -ENOSPC;
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return 0;
}

static void add_disk(struct vm_config *cfg, const char *path, const char *id, unsigned queues,
                     bool ro)
{
    cfg->disks = realloc(cfg->disks, (cfg->nr_disks + 1) * sizeof(*cfg->disks));
    assert_non_null(cfg->disks);
    struct disk_config *d = &cfg->disks[cfg->nr_disks++];
    memset(d, 0, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "%s", path);
    snprintf(d->id, sizeof(d->id), "%s", id);
    d->queues = queues;
    d->readonly = ro;
    d->io = DISK_IO_AUTO;
}

static void add_net(struct vm_config *cfg, const char *tap, uint8_t last)
{
    cfg->nets = realloc(cfg->nets, (cfg->nr_nets + 1) * sizeof(*cfg->nets));
    assert_non_null(cfg->nets);
    struct net_config *n = &cfg->nets[cfg->nr_nets++];
    memset(n, 0, sizeof(*n));
    snprintf(n->tap, sizeof(n->tap), "%s", tap);
    const uint8_t mac[6] = { 0x52, 0x54, 0, 0, 0, last };
    memcpy(n->mac, mac, sizeof(mac));
}

/* The snapshotted VM: 2 vCPUs, 256 MiB, disks root (id) and data (no id), one net. */
static void snapshot_vm(struct vm_config *cfg, struct snap_summary *s)
{
    vm_config_init(cfg);
    cfg->cpus = 2;
    cfg->memory = 256ULL << 20;
    add_disk(cfg, "/img/root.raw", "root", 2, false);
    add_disk(cfg, "/img/data.raw", "", 1, true);
    add_net(cfg, "tap0", 1);
    *s = (struct snap_summary){ .nr_vcpus = 2, .memory_size = 256ULL << 20, .nr_disks = 2,
                                .nr_nets = 1 };
}

/* Writes cfg's record and reads it back as a record of a verified image. */
static void roundtrip(const struct vm_config *cfg, const struct snap_summary *s,
                      struct snap_image *img)
{
    static struct membuf m;
    m.len = 0;
    struct snap_writer w;
    snap_writer_init(&w, mem_sink, &m);
    assert_int_equal(snap_write_header(&w, s), 0);
    assert_int_equal(snap_config_save(&w, cfg), 0);
    assert_int_equal(snap_write_end(&w), 0);
    struct snap_buf_source src = { .data = m.data, .len = m.len };
    char err[200];
    assert_int_equal(snap_image_read(img, snap_buf_source, &src, err, sizeof(err)), 0);
}

static void test_record_roundtrip(void **state)
{
    (void)state;
    struct vm_config cfg;
    struct snap_summary s;
    snapshot_vm(&cfg, &s);
    struct snap_image img;
    roundtrip(&cfg, &s, &img);
    const struct snap_record *rec = snap_image_find(&img, SNAP_CONFIG_RECORD);
    assert_non_null(rec);
    struct disk_config *d;
    struct net_config *n;
    char err[200];
    assert_int_equal(snap_config_load(rec, &s, &d, &n, err, sizeof(err)), 0);
    assert_string_equal(d[0].path, "/img/root.raw");
    assert_string_equal(d[0].id, "root");
    assert_int_equal(d[0].queues, 2);
    assert_false(d[0].readonly);
    assert_string_equal(d[1].path, "/img/data.raw");
    assert_true(d[1].readonly);
    assert_string_equal(n[0].tap, "tap0");
    assert_int_equal(n[0].mac[5], 1);
    free(d);
    free(n);

    /* The header's counts must agree with the record's. */
    struct snap_summary other = s;
    other.nr_disks = 1;
    assert_int_equal(snap_config_load(rec, &other, &d, &n, err, sizeof(err)), -EBADMSG);
    assert_null(d);
    snap_image_free(&img);
    vm_config_free(&cfg);
}

/* A payload with one field broken at a time: every one refused, nothing handed out. */
static void test_record_hostile(void **state)
{
    (void)state;
    struct vm_config cfg;
    struct snap_summary s;
    snapshot_vm(&cfg, &s);
    struct snap_image img;
    roundtrip(&cfg, &s, &img);
    const struct snap_record *good = snap_image_find(&img, SNAP_CONFIG_RECORD);
    static uint8_t bad[1 << 14];
    assert_true(good->length <= sizeof(bad));
    const size_t head = sizeof(struct snap_config_head);
    const size_t disk1 = head + sizeof(struct snap_disk_v1);
    const size_t net0 = head + 2 * sizeof(struct snap_disk_v1);
    struct {
        size_t at;
        uint8_t value;
        size_t fill;   /* bytes from `at` set to value */
    } breaks[] = {
        { 0, 3, 1 },                                                           /* nr_disks */
        { 4, 9, 1 },                                                           /* nr_nets */
        { head, 0, 1 },                                                        /* empty path */
        { head, 'a', SNAP_DISK_PATH_LEN },                                     /* unterminated */
        { disk1 + offsetof(struct snap_disk_v1, id), 'x', SNAP_DISK_ID_LEN },
        { disk1 + offsetof(struct snap_disk_v1, serial), 'x', DISK_ID_MAX + 1 },
        { disk1 + offsetof(struct snap_disk_v1, readonly), 2, 1 },
        { disk1 + offsetof(struct snap_disk_v1, queues), 0, 2 },
        { disk1 + offsetof(struct snap_disk_v1, queues), 0xff, 1 },
        { disk1 + offsetof(struct snap_disk_v1, io), 7, 1 },
        { net0, 0, 1 },                                                        /* empty tap */
        { net0, 't', SNAP_NET_TAP_LEN },
    };
    char err[200];
    for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
        memcpy(bad, good->payload, good->length);
        memset(bad + breaks[i].at, breaks[i].value, breaks[i].fill);
        struct snap_record rec = *good;
        rec.payload = bad;
        struct disk_config *d = (void *)1;
        struct net_config *n = (void *)1;
        int ret = snap_config_load(&rec, &s, &d, &n, err, sizeof(err));
        if (ret != -EBADMSG)
            fail_msg("break %zu was accepted (%d)", i, ret);
        assert_null(d);
        assert_null(n);
    }
    /* Short, long, another version. */
    struct snap_record rec = *good;
    struct disk_config *d;
    struct net_config *n;
    rec.length = 3;
    assert_int_equal(snap_config_load(&rec, &s, &d, &n, err, sizeof(err)), -EBADMSG);
    rec.length = good->length - 1;
    assert_int_equal(snap_config_load(&rec, &s, &d, &n, err, sizeof(err)), -EBADMSG);
    rec = *good;
    rec.version = 2;
    assert_int_equal(snap_config_load(&rec, &s, &d, &n, err, sizeof(err)), -EPROTONOSUPPORT);
    snap_image_free(&img);
    vm_config_free(&cfg);
}

static void test_merge_keeps_snapshot(void **state)
{
    (void)state;
    struct vm_config saved, cfg;
    struct snap_summary s;
    snapshot_vm(&saved, &s);
    vm_config_init(&cfg);
    char err[200];
    /* Nothing given: the snapshot's machine and devices. */
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg, 0, err, sizeof(err)), 0);
    assert_int_equal(cfg.cpus, 2);
    assert_int_equal(cfg.memory, 256ULL << 20);
    assert_int_equal(cfg.nr_disks, 2);
    assert_string_equal(cfg.disks[0].path, "/img/root.raw");
    assert_string_equal(cfg.disks[1].path, "/img/data.raw");
    assert_int_equal(cfg.nr_nets, 1);
    assert_string_equal(cfg.nets[0].tap, "tap0");
    vm_config_free(&cfg);

    /* --cpus/--memory given: must be the snapshot's; cfg stays as it was. */
    vm_config_init(&cfg);
    cfg.cpus = 4;
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg, SNAPSHOT_GIVEN_CPUS,
                                       err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "2 vCPUs"));
    assert_int_equal(cfg.cpus, 4);
    assert_int_equal(cfg.nr_disks, 0);
    cfg.cpus = 2;
    cfg.memory = 128ULL << 20;
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg,
                                       SNAPSHOT_GIVEN_CPUS | SNAPSHOT_GIVEN_MEMORY, err,
                                       sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "256 MiB"));
    cfg.memory = 256ULL << 20;
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg,
                                       SNAPSHOT_GIVEN_CPUS | SNAPSHOT_GIVEN_MEMORY, err,
                                       sizeof(err)), 0);
    cfg.rng = true;
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg, SNAPSHOT_GIVEN_RNG, err,
                                       sizeof(err)), -EINVAL);
    vm_config_free(&cfg);
    vm_config_free(&saved);
}

static void test_merge_overrides(void **state)
{
    (void)state;
    struct vm_config saved, cfg;
    struct snap_summary s;
    snapshot_vm(&saved, &s);
    char err[200];

    /* By order: the first id-less --disk replaces the snapshot's first id-less disk. */
    vm_config_init(&cfg);
    add_disk(&cfg, "/clone1/data.raw", "", 1, false);
    add_net(&cfg, "tap7", 7);
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg, 0, err, sizeof(err)), 0);
    assert_int_equal(cfg.nr_disks, 2);
    assert_string_equal(cfg.disks[0].path, "/img/root.raw");
    assert_string_equal(cfg.disks[1].path, "/clone1/data.raw");
    assert_true(cfg.disks[1].readonly);   /* the guest negotiated read-only */
    assert_string_equal(cfg.nets[0].tap, "tap7");
    assert_int_equal(cfg.nets[0].mac[5], 7);
    vm_config_free(&cfg);

    /* By id, whatever the order, keeping the device's queues and id. */
    vm_config_init(&cfg);
    add_disk(&cfg, "/clone2/data.raw", "", 1, false);
    add_disk(&cfg, "/clone2/root.raw", "root", 1, false);
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg, 0, err, sizeof(err)), 0);
    assert_string_equal(cfg.disks[0].path, "/clone2/root.raw");
    assert_string_equal(cfg.disks[0].id, "root");
    assert_int_equal(cfg.disks[0].queues, 2);
    assert_string_equal(cfg.disks[1].path, "/clone2/data.raw");
    assert_string_equal(cfg.nets[0].tap, "tap0");
    vm_config_free(&cfg);

    /* Refused: an unknown id, one disk twice, more disks or nets than the snapshot. */
    vm_config_init(&cfg);
    add_disk(&cfg, "/x", "nosuch", 1, false);
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "nosuch"));
    vm_config_free(&cfg);
    vm_config_init(&cfg);
    add_disk(&cfg, "/x", "root", 1, false);
    add_disk(&cfg, "/y", "root", 1, false);
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg, 0, err, sizeof(err)), -EINVAL);
    vm_config_free(&cfg);
    vm_config_init(&cfg);
    add_disk(&cfg, "/x", "", 1, false);
    add_disk(&cfg, "/y", "", 1, false);
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg, 0, err, sizeof(err)), -EINVAL);
    assert_int_equal(cfg.nr_disks, 2);   /* unchanged on failure */
    vm_config_free(&cfg);
    vm_config_init(&cfg);
    add_net(&cfg, "tap1", 1);
    add_net(&cfg, "tap2", 2);
    assert_int_equal(snap_config_merge(&s, saved.disks, saved.nets, &cfg, 0, err, sizeof(err)), -EINVAL);
    vm_config_free(&cfg);

    /* A snapshot without the record: every device must be given. */
    vm_config_init(&cfg);
    add_disk(&cfg, "/a", "", 1, false);
    assert_int_equal(snap_config_merge(&s, NULL, NULL, &cfg, 0, err, sizeof(err)), -EINVAL);
    add_disk(&cfg, "/b", "", 1, false);
    assert_int_equal(snap_config_merge(&s, NULL, NULL, &cfg, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "net"));
    add_net(&cfg, "tap3", 3);
    assert_int_equal(snap_config_merge(&s, NULL, NULL, &cfg, 0, err, sizeof(err)), 0);
    assert_string_equal(cfg.disks[1].path, "/b");
    vm_config_free(&cfg);
    vm_config_free(&saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_record_hostile),
        cmocka_unit_test(test_merge_keeps_snapshot),
        cmocka_unit_test(test_merge_overrides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
