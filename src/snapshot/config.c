// SPDX-License-Identifier: Apache-2.0
/*
 * The "vm.config" record (a snapshot's disks and nets) and the merge of
 * `run --restore`'s command line into it (snapshot/config.h). The record is
 * guest-independent but still read as hostile: a snapshot directory may
 * come from anywhere, so every string and value is checked before use.
 */
#include "snapshot/config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"

_Static_assert(SNAP_DISK_PATH_LEN >= sizeof(((struct disk_config *)0)->path), "disk path");
_Static_assert(SNAP_DISK_ID_LEN >= DISK_ID_MAX + 1, "disk id");
_Static_assert(SNAP_NET_TAP_LEN >= NET_IFNAME_MAX, "tap name");
_Static_assert(sizeof(struct snap_disk_v1) == 4096 + 2 * 24 + 8, "record layout");
_Static_assert(sizeof(struct snap_net_v1) == 24, "record layout");

static size_t record_size(uint32_t nr_disks, uint32_t nr_nets)
{
    return sizeof(struct snap_config_head) + nr_disks * sizeof(struct snap_disk_v1) +
           nr_nets * sizeof(struct snap_net_v1);
}

int snap_config_save(struct snap_writer *w, const struct vm_config *cfg)
{
    size_t len = record_size(cfg->nr_disks, cfg->nr_nets);
    uint8_t *buf = calloc(1, len);
    if (!buf)
        return -ENOMEM;
    struct snap_config_head head = { .nr_disks = cfg->nr_disks, .nr_nets = cfg->nr_nets };
    memcpy(buf, &head, sizeof(head));
    size_t off = sizeof(head);
    for (unsigned i = 0; i < cfg->nr_disks; i++, off += sizeof(struct snap_disk_v1)) {
        const struct disk_config *d = &cfg->disks[i];
        struct snap_disk_v1 r = { .readonly = d->readonly, .direct = d->direct,
                                  .queues = (uint16_t)d->queues, .io = d->io };
        snprintf(r.path, sizeof(r.path), "%s", d->path);
        snprintf(r.id, sizeof(r.id), "%s", d->id);
        snprintf(r.serial, sizeof(r.serial), "%s", d->serial);
        memcpy(buf + off, &r, sizeof(r));
    }
    for (unsigned i = 0; i < cfg->nr_nets; i++, off += sizeof(struct snap_net_v1)) {
        struct snap_net_v1 r = { 0 };
        snprintf(r.tap, sizeof(r.tap), "%s", cfg->nets[i].tap);
        memcpy(r.mac, cfg->nets[i].mac, sizeof(r.mac));
        memcpy(buf + off, &r, sizeof(r));
    }
    int ret = snap_write_record(w, SNAP_CONFIG_RECORD, SNAP_CONFIG_VERSION, buf, len);
    free(buf);
    return ret;
}

static bool terminated(const char *s, size_t n, size_t max_len)
{
    size_t len = strnlen(s, n);
    return len < n && len <= max_len;
}

int snap_config_load(const struct snap_record *rec, const struct snap_summary *s,
                     struct disk_config **disks, struct net_config **nets, char *err,
                     size_t errlen)
{
    *disks = NULL;
    *nets = NULL;
    struct snap_config_head head;
    if (rec->version != SNAP_CONFIG_VERSION) {
        snprintf(err, errlen, "record '%s' has version %u, not %u", SNAP_CONFIG_RECORD,
                 rec->version, SNAP_CONFIG_VERSION);
        return -EPROTONOSUPPORT;
    }
    if (rec->length < sizeof(head))
        goto malformed;
    memcpy(&head, rec->payload, sizeof(head));
    if (head.nr_disks != s->nr_disks || head.nr_nets != s->nr_nets ||
        head.nr_disks > VM_CONFIG_MAX_DISKS || head.nr_nets > VM_CONFIG_MAX_NETS ||
        rec->length != record_size(head.nr_disks, head.nr_nets))
        goto malformed;
    struct disk_config *d = calloc(head.nr_disks ? head.nr_disks : 1, sizeof(*d));
    struct net_config *n = calloc(head.nr_nets ? head.nr_nets : 1, sizeof(*n));
    if (!d || !n) {
        free(d);
        free(n);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    size_t off = sizeof(head);
    for (unsigned i = 0; i < head.nr_disks; i++, off += sizeof(struct snap_disk_v1)) {
        struct snap_disk_v1 r;
        memcpy(&r, rec->payload + off, sizeof(r));
        if (!terminated(r.path, sizeof(r.path), sizeof(d[i].path) - 1) || !r.path[0] ||
            !terminated(r.id, sizeof(r.id), DISK_ID_MAX) ||
            !terminated(r.serial, sizeof(r.serial), DISK_ID_MAX) || r.readonly > 1 ||
            r.direct > 1 || r.queues < 1 || r.queues > DISK_QUEUES_MAX || r.io > DISK_IO_SYNC)
            goto malformed_free;
        strcpy(d[i].path, r.path);
        strcpy(d[i].id, r.id);
        strcpy(d[i].serial, r.serial);
        d[i].readonly = r.readonly;
        d[i].direct = r.direct;
        d[i].queues = r.queues;
        d[i].io = (enum disk_io)r.io;
    }
    for (unsigned i = 0; i < head.nr_nets; i++, off += sizeof(struct snap_net_v1)) {
        struct snap_net_v1 r;
        memcpy(&r, rec->payload + off, sizeof(r));
        if (!terminated(r.tap, sizeof(r.tap), NET_IFNAME_MAX - 1) || !r.tap[0])
            goto malformed_free;
        strcpy(n[i].tap, r.tap);
        memcpy(n[i].mac, r.mac, sizeof(r.mac));
    }
    *disks = d;
    *nets = n;
    return 0;
malformed_free:
    free(d);
    free(n);
malformed:
    snprintf(err, errlen, "snapshot record '%s' is malformed", SNAP_CONFIG_RECORD);
    return -EBADMSG;
}

/* The snapshot's disk that override `o` (the k-th without an id) replaces, or -1. */
static int disk_slot(const struct disk_config *saved, unsigned n, const struct disk_config *o,
                     unsigned k, char *err, size_t errlen)
{
    if (o->id[0]) {
        for (unsigned i = 0; saved && i < n; i++)
            if (strcmp(saved[i].id, o->id) == 0)
                return (int)i;
        snprintf(err, errlen, "--disk id=%s: the snapshot has no disk with that id", o->id);
        return -1;
    }
    /* Position k among the snapshot's disks that have no id. */
    for (unsigned i = 0; i < n; i++) {
        if (saved && saved[i].id[0])
            continue;
        if (k-- == 0)
            return (int)i;
    }
    snprintf(err, errlen, "more --disk given than the snapshot has disks (%u)", n);
    return -1;
}

int snap_config_merge(const struct snap_summary *s, const struct disk_config *saved_disks,
                      const struct net_config *saved_nets, struct vm_config *cfg,
                      unsigned given, char *err, size_t errlen)
{
    if ((given & SNAPSHOT_GIVEN_CPUS) && cfg->cpus != s->nr_vcpus) {
        snprintf(err, errlen, "snapshot has %u vCPUs but --cpus says %u", s->nr_vcpus, cfg->cpus);
        return -EINVAL;
    }
    if ((given & SNAPSHOT_GIVEN_MEMORY) && cfg->memory != s->memory_size) {
        snprintf(err, errlen, "snapshot has %llu MiB of memory but --memory says %llu MiB",
                 (unsigned long long)(s->memory_size >> 20), (unsigned long long)(cfg->memory >> 20));
        return -EINVAL;
    }
    if ((given & SNAPSHOT_GIVEN_RNG) && cfg->rng != !!s->rng) {
        snprintf(err, errlen, "snapshot has %s rng; a restored VM cannot %s one",
                 s->rng ? "an" : "no", s->rng ? "drop" : "add");
        return -EINVAL;
    }
    if (s->nr_disks > VM_CONFIG_MAX_DISKS || s->nr_nets > VM_CONFIG_MAX_NETS) {
        snprintf(err, errlen, "snapshot has more disks or nets than casulo supports");
        return -EINVAL;
    }
    if (cfg->nr_nets > s->nr_nets) {
        snprintf(err, errlen, "more --net given than the snapshot has nets (%u)", s->nr_nets);
        return -EINVAL;
    }
    struct disk_config *disks = calloc(s->nr_disks ? s->nr_disks : 1, sizeof(*disks));
    struct net_config *nets = calloc(s->nr_nets ? s->nr_nets : 1, sizeof(*nets));
    bool *replaced = calloc(s->nr_disks ? s->nr_disks : 1, sizeof(*replaced));
    int ret = -EINVAL;
    if (!disks || !nets || !replaced) {
        snprintf(err, errlen, "out of memory");
        ret = -ENOMEM;
        goto out;
    }
    if (saved_disks)
        memcpy(disks, saved_disks, s->nr_disks * sizeof(*disks));
    if (saved_nets)
        memcpy(nets, saved_nets, s->nr_nets * sizeof(*nets));
    unsigned k = 0;
    for (unsigned i = 0; i < cfg->nr_disks; i++) {
        const struct disk_config *o = &cfg->disks[i];
        int slot = disk_slot(saved_disks, s->nr_disks, o, o->id[0] ? 0 : k, err, errlen);
        if (slot < 0)
            goto out;
        if (!o->id[0])
            k++;
        if (replaced[slot]) {
            snprintf(err, errlen, "two --disk replace the snapshot's disk %d", slot);
            goto out;
        }
        replaced[slot] = true;
        struct disk_config *d = &disks[slot];
        if (saved_disks) {
            /* What the guest's driver already negotiated stays the snapshot's. */
            memcpy(d->path, o->path, sizeof(d->path));
            d->io = o->io;
            d->direct = o->direct;
        } else {
            *d = *o;
        }
    }
    for (unsigned i = 0; i < s->nr_disks; i++)
        if (!saved_disks && !replaced[i]) {
            snprintf(err, errlen, "snapshot does not record its disks: give a --disk for each "
                     "of its %u", s->nr_disks);
            goto out;
        }
    for (unsigned i = 0; i < s->nr_nets; i++) {
        if (i < cfg->nr_nets)
            nets[i] = cfg->nets[i];
        else if (!saved_nets) {
            snprintf(err, errlen, "snapshot does not record its nets: give a --net for each "
                     "of its %u", s->nr_nets);
            goto out;
        }
    }
    free(cfg->disks);
    free(cfg->nets);
    cfg->disks = disks;
    cfg->nr_disks = s->nr_disks;
    cfg->nets = nets;
    cfg->nr_nets = s->nr_nets;
    disks = NULL;
    nets = NULL;
    cfg->cpus = s->nr_vcpus;
    cfg->memory = s->memory_size;
    cfg->rng = !!s->rng;
    ret = 0;
out:
    free(disks);
    free(nets);
    free(replaced);
    return ret;
}

int snapshot_config_merge(const char *dir, struct vm_config *cfg, unsigned given, char *err,
                          size_t errlen)
{
    struct snapshot_restore *r;
    int ret = snapshot_restore_open(&r, dir, NULL, err, errlen);
    if (ret)
        return ret;
    const struct snap_summary *s = snapshot_restore_summary(r);
    const struct snap_record *rec = snap_image_find(snapshot_restore_image(r), SNAP_CONFIG_RECORD);
    struct disk_config *disks = NULL;
    struct net_config *nets = NULL;
    char why[200];
    if (rec)
        ret = snap_config_load(rec, s, &disks, &nets, why, sizeof(why));
    if (!ret)
        ret = snap_config_merge(s, disks, nets, cfg, given, why, sizeof(why));
    if (ret)
        snprintf(err, errlen, "cannot restore '%s': %s", dir, why);
    free(disks);
    free(nets);
    snapshot_restore_close(r);
    return ret;
}
