// SPDX-License-Identifier: Apache-2.0
/*
 * The migration wire format (include/migration/stream.h): building and
 * checking the header, framing messages with their checksum, and the
 * destination's RAM phase. Nothing here knows about sockets or KVM, so the
 * whole parser runs in unit tests and under the fuzzer over a buffer.
 */
#include "migration/stream.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "core/guest_mem.h"
#include "snapshot/format.h"

_Static_assert(sizeof(struct mig_header) == 64, "mig_header is 64 bytes on the wire");
_Static_assert(sizeof(struct mig_msg_header) == 16, "mig_msg_header is 16 bytes");
_Static_assert(sizeof(struct mig_pages_head) == 16, "mig_pages_head is 16 bytes");
_Static_assert(sizeof(struct mig_zero) == 16, "mig_zero is 16 bytes");
_Static_assert(sizeof(struct mig_iter) == 16, "mig_iter is 16 bytes");

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
    }
    uint32_t c32 = (uint32_t)c;
    for (; len; p++, len--)
        c32 = __builtin_ia32_crc32qi(c32, *p);
    return ~c32;
}

uint32_t mig_crc32c(uint32_t crc, const void *buf, size_t len)
{
    if (__builtin_cpu_supports("sse4.2"))
        return crc32c_hw(crc, buf, len);
    return snap_crc32c(crc, buf, len);
}

const char *mig_msg_name(uint32_t type)
{
    static const char *const names[] = {
        [MIG_MSG_PAGES] = "PAGES", [MIG_MSG_ZERO] = "ZERO", [MIG_MSG_ITER] = "ITER",
        [MIG_MSG_STATE] = "STATE", [MIG_MSG_ACCEPT] = "ACCEPT", [MIG_MSG_READY] = "READY",
        [MIG_MSG_COMMIT] = "COMMIT", [MIG_MSG_RUNNING] = "RUNNING", [MIG_MSG_ERROR] = "ERROR",
        [MIG_MSG_PAGES_ZSTD] = "PAGES_ZSTD",
    };
    return type >= 1 && type <= MIG_MSG_TYPE_MAX ? names[type] : "unknown";
}

void mig_header_build(struct mig_header *h, const struct mig_vm_shape *shape, uint32_t features)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, MIG_MAGIC, sizeof(h->magic));
    h->version = MIG_VERSION;
    h->header_size = sizeof(*h);
    h->page_size = MIG_PAGE_SIZE;
    h->nr_vcpus = shape->nr_vcpus;
    h->memory_size = shape->memory_size;
    h->nr_disks = shape->nr_disks;
    h->nr_nets = shape->nr_nets;
    h->rng = shape->rng;
    h->balloon = shape->balloon;
    h->features = features;
    h->header_crc = mig_crc32c(0, h, offsetof(struct mig_header, header_crc));
}

int mig_header_check(const struct mig_header *h, const struct mig_vm_shape *local, char *err,
                     size_t errlen)
{
    if (memcmp(h->magic, MIG_MAGIC, sizeof(h->magic)) != 0) {
        snprintf(err, errlen, "not a casulo migration stream (bad magic)");
        return -EPROTO;
    }
    if (h->version != MIG_VERSION) {
        snprintf(err, errlen, "migration stream version %u is not supported (this casulo speaks %u)",
                 h->version, MIG_VERSION);
        return -EPROTO;
    }
    if (h->header_size != sizeof(*h) || h->page_size != MIG_PAGE_SIZE ||
        h->header_crc != mig_crc32c(0, h, offsetof(struct mig_header, header_crc))) {
        snprintf(err, errlen, "migration stream header is corrupt");
        return -EPROTO;
    }
    if (h->nr_vcpus != local->nr_vcpus) {
        snprintf(err, errlen, "the incoming VM has %u vCPUs but this one is configured with %u",
                 h->nr_vcpus, local->nr_vcpus);
        return -EINVAL;
    }
    if (h->memory_size != local->memory_size) {
        snprintf(err, errlen, "the incoming VM has %llu MiB of memory but this one is configured "
                 "with %llu MiB", (unsigned long long)(h->memory_size >> 20),
                 (unsigned long long)(local->memory_size >> 20));
        return -EINVAL;
    }
    if (h->nr_disks != local->nr_disks || h->nr_nets != local->nr_nets ||
        !h->rng != !local->rng || !h->balloon != !local->balloon) {
        snprintf(err, errlen, "the incoming VM has %u disks, %u nets, %s rng and %s balloon; this "
                 "one is configured with %u, %u, %s and %s", h->nr_disks, h->nr_nets,
                 h->rng ? "an" : "no", h->balloon ? "a" : "no", local->nr_disks, local->nr_nets,
                 local->rng ? "an" : "no", local->balloon ? "a" : "no");
        return -EINVAL;
    }
    return 0;
}

int mig_write_msg(struct mig_writer *w, uint32_t type, const void *head, size_t head_len,
                  const void *data, size_t data_len)
{
    if (head_len + data_len > MIG_MSG_MAX)
        return -EMSGSIZE;
    struct mig_msg_header mh = { .type = type, .length = (uint32_t)(head_len + data_len) };
    uint32_t crc = mig_crc32c(0, &mh, offsetof(struct mig_msg_header, crc));
    crc = mig_crc32c(crc, head, head_len);
    mh.crc = mig_crc32c(crc, data, data_len);
    int ret = w->write(w->opaque, &mh, sizeof(mh));
    if (!ret && head_len)
        ret = w->write(w->opaque, head, head_len);
    if (!ret && data_len)
        ret = w->write(w->opaque, data, data_len);
    if (!ret)
        w->bytes += sizeof(mh) + head_len + data_len;
    return ret;
}

int mig_write_error(struct mig_writer *w, const char *text)
{
    size_t len = strlen(text);
    return mig_write_msg(w, MIG_MSG_ERROR, text, len > MIG_ERROR_MAX ? MIG_ERROR_MAX : len, NULL, 0);
}

void mig_reader_init(struct mig_reader *r, mig_read_fn read, void *opaque)
{
    *r = (struct mig_reader){ .read = read, .opaque = opaque };
}

void mig_reader_free(struct mig_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

/* The payload length a type allows: exact for fixed messages, a range for the rest. */
static bool length_ok(uint32_t type, uint32_t len)
{
    switch (type) {
    case MIG_MSG_PAGES:
        return len > sizeof(struct mig_pages_head) &&
               len <= sizeof(struct mig_pages_head) + MIG_PAGES_PER_MSG * MIG_PAGE_SIZE &&
               (len - sizeof(struct mig_pages_head)) % MIG_PAGE_SIZE == 0;
    case MIG_MSG_PAGES_ZSTD:
        /* Sent only when smaller than the pages themselves. */
        return len > sizeof(struct mig_pages_head) &&
               len < sizeof(struct mig_pages_head) + MIG_PAGES_PER_MSG * MIG_PAGE_SIZE;
    case MIG_MSG_ZERO:
        return len == sizeof(struct mig_zero);
    case MIG_MSG_ITER:
        return len == sizeof(struct mig_iter);
    case MIG_MSG_STATE:
        return len > 0 && len <= MIG_STATE_MAX;
    case MIG_MSG_ACCEPT:
        return len == 0 || len == sizeof(struct mig_accept);
    case MIG_MSG_READY:
    case MIG_MSG_COMMIT:
    case MIG_MSG_RUNNING:
        return len == 0;
    case MIG_MSG_ERROR:
        return len <= MIG_ERROR_MAX;
    default:
        return false;
    }
}

int mig_read_msg(struct mig_reader *r, struct mig_msg *m, char *err, size_t errlen)
{
    struct mig_msg_header mh;
    int ret = r->read(r->opaque, &mh, sizeof(mh));
    if (ret) {
        if (ret == -ETIMEDOUT)
            snprintf(err, errlen, "the peer sent nothing for too long (link down?)");
        else
            snprintf(err, errlen, ret == -ENODATA ? "migration stream ended early (the peer closed it)"
                                                  : "cannot read the migration stream: %s",
                     strerror(-ret));
        return ret == -ENODATA ? -ECONNRESET : ret;
    }
    if (mh.type < 1 || mh.type > MIG_MSG_TYPE_MAX || mh.reserved) {
        snprintf(err, errlen, "migration stream is corrupt: unknown message type %u at byte %llu",
                 mh.type, (unsigned long long)r->bytes);
        return -EPROTO;
    }
    if (!length_ok(mh.type, mh.length)) {
        snprintf(err, errlen, "migration stream is corrupt: %s message of %u bytes at byte %llu",
                 mig_msg_name(mh.type), mh.length, (unsigned long long)r->bytes);
        return -EPROTO;
    }
    if (mh.length > r->cap) {
        /* Bounded by length_ok: at most MIG_STATE_MAX. */
        uint8_t *nb = realloc(r->buf, mh.length);
        if (!nb) {
            snprintf(err, errlen, "out of memory for a %u-byte migration message", mh.length);
            return -ENOMEM;
        }
        r->buf = nb;
        r->cap = mh.length;
    }
    if (mh.length && (ret = r->read(r->opaque, r->buf, mh.length)) != 0) {
        snprintf(err, errlen, ret == -ENODATA ? "migration stream ended inside a %s message"
                                              : "cannot read the migration stream: %s",
                 ret == -ENODATA ? mig_msg_name(mh.type) : strerror(-ret));
        return ret == -ENODATA ? -ECONNRESET : ret;
    }
    uint32_t crc = mig_crc32c(0, &mh, offsetof(struct mig_msg_header, crc));
    if (mig_crc32c(crc, r->buf, mh.length) != mh.crc) {
        snprintf(err, errlen, "migration stream is corrupt: checksum mismatch in a %s message at "
                 "byte %llu", mig_msg_name(mh.type), (unsigned long long)r->bytes);
        return -EPROTO;
    }
    r->bytes += sizeof(mh) + mh.length;
    *m = (struct mig_msg){ .type = mh.type, .length = mh.length, .payload = r->buf };
    return 0;
}

void mig_error_text(const struct mig_msg *m, char *buf, size_t len)
{
    if (!len)
        return;
    size_t n = m->type == MIG_MSG_ERROR ? m->length : 0;
    if (n > len - 1)
        n = len - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = m->payload[i];
        buf[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    buf[n] = '\0';
}

/* Whole pages [gpa, gpa + count pages) inside one region: its host pointer, else NULL. */
static uint8_t *ram_range(const struct guest_mem *gm, uint64_t gpa, uint64_t count)
{
    if (gpa % MIG_PAGE_SIZE || count == 0 || count > gm->ram_size / MIG_PAGE_SIZE)
        return NULL;
    return guest_mem_ptr(gm, gpa, count * MIG_PAGE_SIZE);
}

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (unsigned i = 0; i < MIG_PAGE_SIZE / 8; i++)
        if (w[i])
            return false;
    return true;
}

struct ZSTD_DCtx_s *mig_zstd_dctx_new(void)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    /* One message's pages need a 256 KiB window; refuse frames that ask for more. */
    if (d && ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 18))) {
        ZSTD_freeDCtx(d);
        d = NULL;
    }
    return d;
}

void mig_zstd_dctx_free(struct ZSTD_DCtx_s *dctx)
{
    ZSTD_freeDCtx(dctx);
}

static void mark_written(const struct guest_mem *gm, struct mig_ram_stats *st, const uint8_t *dst,
                         uint32_t count)
{
    if (!st->written)
        return;
    uint64_t first = (uint64_t)(dst - (uint8_t *)gm->mapping) / MIG_PAGE_SIZE;
    for (uint64_t i = first; i < first + count; i++)
        st->written[i / 64] |= 1ull << (i % 64);
}

/*
 * The frame must say it holds exactly count pages and decompress to exactly
 * that many bytes into exactly that much room: a hostile frame can neither
 * write past the pages nor leave part of them stale.
 */
static int apply_zstd(const struct guest_mem *gm, const struct mig_msg *m, struct mig_ram_stats *st,
                      char *err, size_t errlen)
{
    struct mig_pages_head ph;
    memcpy(&ph, m->payload, sizeof(ph));
    if (!st->dctx) {
        snprintf(err, errlen, "migration stream is corrupt: compressed pages were not negotiated");
        return -EPROTO;
    }
    if (ph.count == 0 || ph.count > MIG_PAGES_PER_MSG || ph.reserved) {
        snprintf(err, errlen, "migration stream is corrupt: PAGES_ZSTD message says %u pages",
                 ph.count);
        return -EPROTO;
    }
    size_t want = (size_t)ph.count * MIG_PAGE_SIZE;
    const uint8_t *frame = m->payload + sizeof(ph);
    size_t frame_len = m->length - sizeof(ph);
    unsigned long long size = ZSTD_getFrameContentSize(frame, frame_len);
    if (size != want) {
        snprintf(err, errlen, "migration stream is corrupt: PAGES_ZSTD frame for %u pages %s",
                 ph.count, size == ZSTD_CONTENTSIZE_ERROR ? "is not a zstd frame"
                           : size == ZSTD_CONTENTSIZE_UNKNOWN ? "does not say its size"
                                                              : "holds another size");
        return -EPROTO;
    }
    uint8_t *dst = ram_range(gm, ph.gpa, ph.count);
    if (!dst) {
        snprintf(err, errlen, "migration stream is corrupt: %u pages at 0x%llx are not guest RAM",
                 ph.count, (unsigned long long)ph.gpa);
        return -EPROTO;
    }
    size_t got = ZSTD_decompressDCtx(st->dctx, dst, want, frame, frame_len);
    if (ZSTD_isError(got) || got != want) {
        snprintf(err, errlen, "migration stream is corrupt: PAGES_ZSTD frame at 0x%llx: %s",
                 (unsigned long long)ph.gpa,
                 ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output");
        return -EPROTO;
    }
    mark_written(gm, st, dst, ph.count);
    st->pages += ph.count;
    st->compressed_pages += ph.count;
    return 0;
}

int mig_apply_ram(const struct guest_mem *gm, const struct mig_msg *m, struct mig_ram_stats *st,
                  char *err, size_t errlen)
{
    if (m->type == MIG_MSG_PAGES_ZSTD)
        return apply_zstd(gm, m, st, err, errlen);
    if (m->type == MIG_MSG_PAGES) {
        struct mig_pages_head ph;
        memcpy(&ph, m->payload, sizeof(ph));
        uint64_t data = m->length - sizeof(ph);
        if (ph.count == 0 || ph.count > MIG_PAGES_PER_MSG || ph.reserved ||
            data != (uint64_t)ph.count * MIG_PAGE_SIZE) {
            snprintf(err, errlen, "migration stream is corrupt: PAGES message says %u pages in "
                     "%llu bytes", ph.count, (unsigned long long)data);
            return -EPROTO;
        }
        uint8_t *dst = ram_range(gm, ph.gpa, ph.count);
        if (!dst) {
            snprintf(err, errlen, "migration stream is corrupt: %u pages at 0x%llx are not guest RAM",
                     ph.count, (unsigned long long)ph.gpa);
            return -EPROTO;
        }
        memcpy(dst, m->payload + sizeof(ph), data);
        mark_written(gm, st, dst, ph.count);
        st->pages += ph.count;
        return 0;
    }
    if (m->type == MIG_MSG_ZERO) {
        struct mig_zero z;
        memcpy(&z, m->payload, sizeof(z));
        uint8_t *dst = ram_range(gm, z.gpa, z.count);
        if (!dst) {
            snprintf(err, errlen, "migration stream is corrupt: %llu zero pages at 0x%llx are not "
                     "guest RAM", (unsigned long long)z.count, (unsigned long long)z.gpa);
            return -EPROTO;
        }
        /* Fresh RAM is zero already: only a page sent with data earlier is written. */
        uint64_t first = (uint64_t)(dst - (uint8_t *)gm->mapping) / MIG_PAGE_SIZE;
        for (uint64_t i = 0; i < z.count; i++, dst += MIG_PAGE_SIZE) {
            uint64_t p = first + i;
            if (st->written) {
                if (!(st->written[p / 64] >> (p % 64) & 1))
                    continue;
                st->written[p / 64] &= ~(1ull << (p % 64));
                memset(dst, 0, MIG_PAGE_SIZE);
            } else if (!page_is_zero(dst)) {
                memset(dst, 0, MIG_PAGE_SIZE);
            }
        }
        st->zero_pages += z.count;
        return 0;
    }
    snprintf(err, errlen, "migration stream is corrupt: %s message where RAM was expected",
             mig_msg_name(m->type));
    return -EPROTO;
}

int mig_receive_ram(struct mig_reader *r, const struct guest_mem *gm, struct mig_msg *state,
                    struct mig_ram_stats *st, char *err, size_t errlen)
{
    for (;;) {
        struct mig_msg m;
        int ret = mig_read_msg(r, &m, err, errlen);
        if (ret)
            return ret;
        switch (m.type) {
        case MIG_MSG_PAGES:
        case MIG_MSG_PAGES_ZSTD:
        case MIG_MSG_ZERO:
            ret = mig_apply_ram(gm, &m, st, err, errlen);
            if (ret)
                return ret;
            break;
        case MIG_MSG_ITER:
            st->iterations++;
            if (st->ack && (ret = mig_write_msg(st->ack, MIG_MSG_ITER, m.payload, m.length, NULL,
                                                0)) != 0) {
                snprintf(err, errlen, "cannot acknowledge pass %llu to the source: %s",
                         (unsigned long long)st->iterations, strerror(-ret));
                return ret;
            }
            break;
        case MIG_MSG_STATE:
            *state = m;
            return 0;
        case MIG_MSG_ERROR: {
            char text[MIG_ERROR_MAX + 1];
            mig_error_text(&m, text, sizeof(text));
            snprintf(err, errlen, "the source gave up: %s", text);
            return -ECANCELED;
        }
        default:
            snprintf(err, errlen, "migration stream is corrupt: unexpected %s message during RAM "
                     "transfer", mig_msg_name(m.type));
            return -EPROTO;
        }
    }
}
