// SPDX-License-Identifier: Apache-2.0
/*
 * The snapshot container: CRC32C, the record writer over a sink, the
 * validating reader over a source, and atomic file replacement. Structures
 * are written as their in-memory layout; casulo is x86-64 only, so that is
 * little-endian with no padding (checked below).
 */
#include "snapshot/format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(struct snap_header) == 64, "snap_header is on disk");
_Static_assert(sizeof(struct snap_record_header) == 48, "snap_record_header is on disk");
_Static_assert(sizeof(struct snap_end) == 16, "snap_end is on disk");

/* CRC32C, reflected polynomial 0x82F63B78, four bits at a time. */
static const uint32_t crc32c_nibble[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
    0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
        crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
    }
    return ~crc;
}

bool snap_name_valid(const char *name)
{
    size_t n = strnlen(name, SNAP_NAME_LEN);
    if (n == 0 || n >= SNAP_NAME_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- writer ---- */

void snap_writer_init(struct snap_writer *w, snap_sink_fn sink, void *opaque)
{
    memset(w, 0, sizeof(*w));
    w->sink = sink;
    w->opaque = opaque;
}

static int emit(struct snap_writer *w, const void *buf, size_t len)
{
    if (w->error)
        return w->error;
    int ret = w->sink(w->opaque, buf, len);
    if (ret) {
        w->error = ret < 0 ? ret : -EIO;
        return w->error;
    }
    w->stream_crc = snap_crc32c(w->stream_crc, buf, len);
    return 0;
}

int snap_write_header(struct snap_writer *w, const struct snap_summary *s)
{
    struct snap_header h = {
        .format_version = SNAP_FORMAT_VERSION,
        .header_size = sizeof(h),
        .flags = s->flags,
        .nr_vcpus = s->nr_vcpus,
        .memory_size = s->memory_size,
        .nr_disks = s->nr_disks,
        .nr_nets = s->nr_nets,
        .rng = s->rng,
    };
    memcpy(h.magic, SNAP_MAGIC, sizeof(h.magic));
    h.header_crc = snap_crc32c(0, &h, offsetof(struct snap_header, header_crc));
    return emit(w, &h, sizeof(h));
}

static int write_record_raw(struct snap_writer *w, const char *name, uint32_t version,
                            const void *payload, size_t len)
{
    struct snap_record_header rh = { .version = version, .length = len };
    strncpy(rh.name, name, sizeof(rh.name) - 1);
    rh.crc = snap_crc32c(0, payload, len);
    int ret = emit(w, &rh, sizeof(rh));
    if (!ret && len)
        ret = emit(w, payload, len);
    return ret;
}

int snap_write_record(struct snap_writer *w, const char *name, uint32_t version,
                      const void *payload, size_t len)
{
    if (w->error)
        return w->error;
    if (!snap_name_valid(name) || strcmp(name, SNAP_END_NAME) == 0 || len > SNAP_RECORD_MAX ||
        (len && !payload))
        return -EINVAL;
    int ret = write_record_raw(w, name, version, payload, len);
    if (!ret)
        w->nr_records++;
    return ret;
}

int snap_write_end(struct snap_writer *w)
{
    struct snap_end end = { .nr_records = w->nr_records, .stream_crc = w->stream_crc };
    return write_record_raw(w, SNAP_END_NAME, 1, &end, sizeof(end));
}

int snap_fd_sink(void *opaque, const void *buf, size_t len)
{
    int fd = *(const int *)opaque;
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- reader ---- */

int snap_fd_source(void *opaque, void *buf, size_t len)
{
    int fd = *(const int *)opaque;
    uint8_t *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENODATA;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int snap_buf_source(void *opaque, void *buf, size_t len)
{
    struct snap_buf_source *s = opaque;
    if (len > s->len - s->pos)
        return -ENODATA;
    memcpy(buf, s->data + s->pos, len);
    s->pos += len;
    return 0;
}

struct reader {
    snap_source_fn source;
    void *opaque;
    uint32_t crc;
    char *err;
    size_t errlen;
};

static int pull(struct reader *r, void *buf, size_t len, const char *what)
{
    int ret = r->source(r->opaque, buf, len);
    if (ret == -ENODATA) {
        snprintf(r->err, r->errlen, "snapshot is truncated (in %s)", what);
        return -EINVAL;
    }
    if (ret) {
        snprintf(r->err, r->errlen, "cannot read the snapshot (%s): %s", what, strerror(-ret));
        return ret;
    }
    r->crc = snap_crc32c(r->crc, buf, len);
    return 0;
}

static int check_header(struct reader *r, const struct snap_header *h, struct snap_summary *s)
{
    if (memcmp(h->magic, SNAP_MAGIC, sizeof(h->magic)) != 0) {
        snprintf(r->err, r->errlen, "not a casulo snapshot (bad magic)");
        return -EINVAL;
    }
    if (h->format_version != SNAP_FORMAT_VERSION) {
        snprintf(r->err, r->errlen,
                 "snapshot format version %u is not supported (this casulo reads version %u)",
                 h->format_version, SNAP_FORMAT_VERSION);
        return -EPROTONOSUPPORT;
    }
    if (h->header_size != sizeof(*h) ||
        h->header_crc != snap_crc32c(0, h, offsetof(struct snap_header, header_crc))) {
        snprintf(r->err, r->errlen, "snapshot header is corrupt (checksum mismatch)");
        return -EBADMSG;
    }
    *s = (struct snap_summary){
        .flags = h->flags, .nr_vcpus = h->nr_vcpus, .memory_size = h->memory_size,
        .nr_disks = h->nr_disks, .nr_nets = h->nr_nets, .rng = h->rng,
    };
    return 0;
}

/* Payloads are kept in growing storage; records point into it once reading is done. */
struct pending {
    struct snap_record rec;
    size_t offset;
};

int snap_image_read(struct snap_image *img, snap_source_fn source, void *opaque, char *err,
                    size_t errlen)
{
    memset(img, 0, sizeof(*img));
    struct reader r = { .source = source, .opaque = opaque, .err = err, .errlen = errlen };
    struct pending *recs = NULL;
    uint8_t *storage = NULL;
    size_t used = 0, cap = 0;
    unsigned n = 0, recs_cap = 0;
    struct snap_summary summary;

    struct snap_header h;
    int ret = pull(&r, &h, sizeof(h), "header");
    if (!ret)
        ret = check_header(&r, &h, &summary);
    while (!ret) {
        uint32_t crc_before = r.crc;
        struct snap_record_header rh;
        ret = pull(&r, &rh, sizeof(rh), n ? "a record header" : "the first record header");
        if (ret)
            break;
        char name[SNAP_NAME_LEN];
        memcpy(name, rh.name, sizeof(name));
        name[SNAP_NAME_LEN - 1] = '\0';
        /* The whole name field must be the name plus NUL padding. */
        bool padded = rh.name[SNAP_NAME_LEN - 1] == '\0';
        for (size_t i = strlen(name); padded && i < SNAP_NAME_LEN; i++)
            padded = rh.name[i] == '\0';
        if (!padded || !snap_name_valid(name)) {
            snprintf(err, errlen, "snapshot record %u has an invalid name", n);
            ret = -EBADMSG;
            break;
        }
        if (strcmp(name, SNAP_END_NAME) == 0) {
            struct snap_end end;
            if (rh.length != sizeof(end) || rh.version != 1) {
                snprintf(err, errlen, "snapshot end record is malformed");
                ret = -EBADMSG;
                break;
            }
            ret = pull(&r, &end, sizeof(end), "the end record");
            if (ret)
                break;
            if (rh.crc != snap_crc32c(0, &end, sizeof(end)) || end.stream_crc != crc_before) {
                snprintf(err, errlen, "snapshot is corrupt (whole-file checksum mismatch)");
                ret = -EBADMSG;
            } else if (end.nr_records != n) {
                snprintf(err, errlen, "snapshot is corrupt (end record counts %llu records, found %u)",
                         (unsigned long long)end.nr_records, n);
                ret = -EBADMSG;
            } else {
                uint8_t extra;
                int more = source(opaque, &extra, 1);
                if (more == 0) {
                    snprintf(err, errlen, "snapshot has data after its end record");
                    ret = -EBADMSG;
                } else if (more != -ENODATA) {
                    ret = pull(&r, &extra, 1, "the end"); /* reports the error */
                }
            }
            break;
        }
        if (rh.length > SNAP_RECORD_MAX || rh.length > SNAP_STREAM_MAX - used) {
            snprintf(err, errlen, "snapshot record '%s' is too large (%llu bytes)", name,
                     (unsigned long long)rh.length);
            ret = -EFBIG;
            break;
        }
        if (n == SNAP_RECORDS_MAX) {
            snprintf(err, errlen, "snapshot has more than %u records", SNAP_RECORDS_MAX);
            ret = -EFBIG;
            break;
        }
        for (unsigned i = 0; i < n; i++) {
            if (strcmp(recs[i].rec.name, name) == 0) {
                snprintf(err, errlen, "snapshot has record '%s' twice", name);
                ret = -EBADMSG;
                break;
            }
        }
        if (ret)
            break;
        if (n == recs_cap) {
            unsigned nc = recs_cap ? recs_cap * 2 : 16;
            struct pending *p = realloc(recs, nc * sizeof(*p));
            if (!p) {
                ret = -ENOMEM;
                snprintf(err, errlen, "out of memory reading the snapshot");
                break;
            }
            recs = p;
            recs_cap = (unsigned)nc;
        }
        if (rh.length > cap - used) {
            size_t nc = cap ? cap : 4096;
            while (nc - used < rh.length)
                nc *= 2;
            uint8_t *p = realloc(storage, nc);
            if (!p) {
                ret = -ENOMEM;
                snprintf(err, errlen, "out of memory reading the snapshot");
                break;
            }
            storage = p;
            cap = nc;
        }
        if (rh.length) {
            ret = pull(&r, storage + used, rh.length, name);
            if (ret)
                break;
        }
        if (snap_crc32c(0, storage + used, rh.length) != rh.crc) {
            snprintf(err, errlen, "snapshot record '%s' is corrupt (checksum mismatch)", name);
            ret = -EBADMSG;
            break;
        }
        recs[n].rec = (struct snap_record){ .version = rh.version, .length = rh.length };
        memcpy(recs[n].rec.name, name, sizeof(name));
        recs[n].offset = used;
        used += rh.length;
        n++;
    }
    if (ret) {
        free(recs);
        free(storage);
        return ret;
    }
    img->summary = summary;
    img->storage = storage;
    img->nr_records = n;
    img->records = calloc(n ? n : 1, sizeof(*img->records));
    if (!img->records) {
        free(recs);
        free(storage);
        memset(img, 0, sizeof(*img));
        snprintf(err, errlen, "out of memory reading the snapshot");
        return -ENOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        img->records[i] = recs[i].rec;
        img->records[i].payload = storage + recs[i].offset;
    }
    free(recs);
    return 0;
}

void snap_image_free(struct snap_image *img)
{
    free(img->records);
    free(img->storage);
    memset(img, 0, sizeof(*img));
}

const struct snap_record *snap_image_find(const struct snap_image *img, const char *name)
{
    for (unsigned i = 0; i < img->nr_records; i++)
        if (strcmp(img->records[i].name, name) == 0)
            return &img->records[i];
    return NULL;
}

int snap_write_device(struct snap_writer *w, const char *device, uint32_t version,
                      const void *payload, size_t len)
{
    char name[SNAP_NAME_LEN];
    if ((size_t)snprintf(name, sizeof(name), SNAP_DEVICE_PREFIX "%s", device) >= sizeof(name))
        return -ENAMETOOLONG;
    return snap_write_record(w, name, version, payload, len);
}

int snap_record_copy(const struct snap_record *r, uint32_t version, void *out, size_t len)
{
    if (r->version != version)
        return -EPROTONOSUPPORT;
    if (r->length != len)
        return -EBADMSG;
    memcpy(out, r->payload, len);
    return 0;
}

/* ---- atomic files ---- */

int snap_atomic_open(struct snap_atomic_file *f, int dir_fd, const char *name)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    f->dir_fd = dir_fd;
    if (strlen(name) >= sizeof(f->name))
        return -ENAMETOOLONG;
    snprintf(f->name, sizeof(f->name), "%s", name);
    /* The pid keeps two casulo processes snapshotting into one directory apart. */
    snprintf(f->tmp_name, sizeof(f->tmp_name), ".%s.tmp.%ld", name, (long)getpid());
    f->fd = openat(dir_fd, f->tmp_name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (f->fd < 0) {
        f->tmp_name[0] = '\0';
        return -errno;
    }
    return 0;
}

int snap_atomic_commit(struct snap_atomic_file *f)
{
    if (f->fd < 0)
        return -EBADF;
    int ret = 0;
    if (fsync(f->fd) < 0)
        ret = -errno;
    if (close(f->fd) < 0 && !ret)
        ret = -errno;
    f->fd = -1;
    if (!ret && renameat(f->dir_fd, f->tmp_name, f->dir_fd, f->name) < 0)
        ret = -errno;
    if (!ret) {
        f->tmp_name[0] = '\0';
        if (fsync(f->dir_fd) < 0)
            ret = -errno;
    }
    return ret;
}

void snap_atomic_abort(struct snap_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp_name[0])
        unlinkat(f->dir_fd, f->tmp_name, 0);
    f->tmp_name[0] = '\0';
}
