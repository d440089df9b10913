// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the migration wire format (migration/stream.h) and its
 * addresses (migration/sock.h): header round trip and every mismatch the
 * destination must name; message round trips into guest RAM; a flipped
 * bit anywhere or a truncation at any length is refused; hostile page
 * addresses, counts and lengths are refused before anything is written;
 * zstd page batches round-trip when negotiated, and a frame that is not
 * negotiated, not zstd, of another size or corrupt is refused.
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
#include <zstd.h>

#include "core/guest_mem.h"
#include "migration/sock.h"
#include "migration/stream.h"
#include "snapshot/format.h"

struct membuf {
    uint8_t *data;
    size_t len;
};

static int mem_write(void *opaque, const void *buf, size_t len)
{
    struct membuf *m = opaque;
    uint8_t *p = realloc(m->data, m->len + len + 1);
    if (!p)
        return -ENOMEM;
    memcpy(p + m->len, buf, len);
    m->data = p;
    m->len += len;
    return 0;
}

static const struct mig_vm_shape shape = {
    .nr_vcpus = 2, .memory_size = 8ULL << 20, .nr_disks = 1, .nr_nets = 1, .rng = 1,
};

#define RAM (8ULL << 20)

static void header_round_trip_and_mismatches(void **state)
{
    (void)state;
    struct mig_header h;
    char err[300];
    mig_header_build(&h, &shape, 0);
    assert_int_equal(mig_header_check(&h, &shape, err, sizeof(err)), 0);

    struct mig_vm_shape other = shape;
    other.nr_vcpus = 4;
    assert_int_equal(mig_header_check(&h, &other, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "2 vCPUs"));
    other = shape;
    other.memory_size = 16ULL << 20;
    assert_int_equal(mig_header_check(&h, &other, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "8 MiB of memory but this one is configured with 16 MiB"));
    other = shape;
    other.nr_nets = 0;
    assert_int_equal(mig_header_check(&h, &other, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "1 nets"));
    other = shape;
    other.balloon = 1;
    assert_int_equal(mig_header_check(&h, &other, err, sizeof(err)), -EINVAL);

    struct mig_header bad = h;
    bad.magic[0] = 'X';
    assert_int_equal(mig_header_check(&bad, &shape, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "bad magic"));
    bad = h;
    bad.version = 99;
    assert_int_equal(mig_header_check(&bad, &shape, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "version 99"));
    /* Every other byte is covered by the checksum. */
    for (size_t i = 12; i < sizeof(h); i++) {
        bad = h;
        ((uint8_t *)&bad)[i] ^= 0x01;
        assert_int_not_equal(mig_header_check(&bad, &shape, err, sizeof(err)), 0);
    }
}

static void crc_matches_software(void **state)
{
    (void)state;
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    for (size_t len = 0; len < sizeof(buf); len += 37)
        assert_int_equal(mig_crc32c(0, buf, len), snap_crc32c(0, buf, len));
    /* Continuation gives the same as one call. */
    assert_int_equal(mig_crc32c(mig_crc32c(0, buf, 333), buf + 333, 667), snap_crc32c(0, buf, 1000));
}

/* A stream: 3 data pages at 1 MiB, a zero run over the second, ITER, STATE. */
static void build_stream(struct membuf *m, uint8_t pages[3][MIG_PAGE_SIZE])
{
    memset(m, 0, sizeof(*m));
    struct mig_writer w = { .write = mem_write, .opaque = m };
    for (int p = 0; p < 3; p++)
        memset(pages[p], 0xa0 + p, MIG_PAGE_SIZE);
    struct mig_pages_head ph = { .gpa = 1 << 20, .count = 3 };
    assert_int_equal(mig_write_msg(&w, MIG_MSG_PAGES, &ph, sizeof(ph), pages, 3 * MIG_PAGE_SIZE), 0);
    struct mig_zero z = { .gpa = (1 << 20) + MIG_PAGE_SIZE, .count = 1 };
    assert_int_equal(mig_write_msg(&w, MIG_MSG_ZERO, &z, sizeof(z), NULL, 0), 0);
    struct mig_iter it = { .iteration = 1, .pages = 4 };
    assert_int_equal(mig_write_msg(&w, MIG_MSG_ITER, &it, sizeof(it), NULL, 0), 0);
    assert_int_equal(mig_write_msg(&w, MIG_MSG_STATE, "state!", 6, NULL, 0), 0);
    assert_int_equal(w.bytes, m->len);
}

static int receive_tracked(const uint8_t *data, size_t len, struct guest_mem *gm, struct mig_msg *st,
                           uint64_t *written, char *err, size_t errlen)
{
    struct snap_buf_source src = { .data = data, .len = len };
    struct mig_reader r;
    mig_reader_init(&r, snap_buf_source, &src);
    struct mig_ram_stats stats = { .written = written };
    int ret = mig_receive_ram(&r, gm, st, &stats, err, errlen);
    if (!ret) {
        assert_int_equal(stats.pages, 3);
        assert_int_equal(stats.zero_pages, 1);
        assert_int_equal(stats.iterations, 1);
        assert_int_equal(st->length, 6);
        assert_memory_equal(st->payload, "state!", 6);
    }
    mig_reader_free(&r);
    return ret;
}

static int receive(const uint8_t *data, size_t len, struct guest_mem *gm, struct mig_msg *st,
                   char *err, size_t errlen)
{
    return receive_tracked(data, len, gm, st, NULL, err, errlen);
}

static void ram_round_trip(void **state)
{
    (void)state;
    static uint8_t pages[3][MIG_PAGE_SIZE];
    struct membuf m;
    build_stream(&m, pages);
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, RAM, 3ULL << 30, 4ULL << 30), 0);
    char err[300];
    struct mig_msg st;
    assert_int_equal(receive(m.data, m.len, &gm, &st, err, sizeof(err)), 0);
    const uint8_t *p = guest_mem_ptr(&gm, 1 << 20, 3 * MIG_PAGE_SIZE);
    assert_memory_equal(p, pages[0], MIG_PAGE_SIZE);
    for (unsigned i = 0; i < MIG_PAGE_SIZE; i++)
        assert_int_equal(p[MIG_PAGE_SIZE + i], 0);   /* the zero run cleared page 2 */
    assert_memory_equal(p + 2 * MIG_PAGE_SIZE, pages[2], MIG_PAGE_SIZE);
    guest_mem_destroy(&gm);

    /* With the written-pages bitmap (the destination's way): the same result. */
    assert_int_equal(guest_mem_init(&gm, RAM, 3ULL << 30, 4ULL << 30), 0);
    uint64_t written[RAM / MIG_PAGE_SIZE / 64] = { 0 };
    assert_int_equal(receive_tracked(m.data, m.len, &gm, &st, written, err, sizeof(err)), 0);
    p = guest_mem_ptr(&gm, 1 << 20, 3 * MIG_PAGE_SIZE);
    assert_memory_equal(p, pages[0], MIG_PAGE_SIZE);
    for (unsigned i = 0; i < MIG_PAGE_SIZE; i++)
        assert_int_equal(p[MIG_PAGE_SIZE + i], 0);
    assert_memory_equal(p + 2 * MIG_PAGE_SIZE, pages[2], MIG_PAGE_SIZE);
    uint64_t first = (1 << 20) / MIG_PAGE_SIZE;
    assert_true(written[first / 64] >> (first % 64) & 1);
    assert_false(written[(first + 1) / 64] >> ((first + 1) % 64) & 1);
    guest_mem_destroy(&gm);
    free(m.data);
}

static void every_flip_and_truncation_refused(void **state)
{
    (void)state;
    static uint8_t pages[3][MIG_PAGE_SIZE];
    struct membuf m;
    build_stream(&m, pages);
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, RAM, 3ULL << 30, 4ULL << 30), 0);
    char err[300];
    struct mig_msg st;
    /* Flip one bit in each of the 16-byte frame headers and in a spread of payload bytes. */
    for (size_t i = 0; i < m.len; i += (i < 64 || i > m.len - 200) ? 1 : 97) {
        m.data[i] ^= 0x04;
        assert_int_not_equal(receive(m.data, m.len, &gm, &st, err, sizeof(err)), 0);
        assert_null(strchr(err, '\n'));
        m.data[i] ^= 0x04;
    }
    for (size_t len = 0; len < m.len; len += (len < 64 || len > m.len - 64) ? 1 : 501)
        assert_int_not_equal(receive(m.data, len, &gm, &st, err, sizeof(err)), 0);
    assert_int_equal(receive(m.data, m.len, &gm, &st, err, sizeof(err)), 0);
    guest_mem_destroy(&gm);
    free(m.data);
}

/* One message through mig_receive_ram, with a zstd context or without; returns its result. */
static int one_z(struct guest_mem *gm, struct ZSTD_DCtx_s *dctx, uint32_t type, const void *head,
                 size_t hlen, const void *data, size_t dlen, uint64_t *compressed, char *err,
                 size_t errlen)
{
    struct membuf m = { 0 };
    struct mig_writer w = { .write = mem_write, .opaque = &m };
    assert_int_equal(mig_write_msg(&w, type, head, hlen, data, dlen), 0);
    struct snap_buf_source src = { .data = m.data, .len = m.len };
    struct mig_reader r;
    mig_reader_init(&r, snap_buf_source, &src);
    struct mig_ram_stats stats = { .dctx = dctx };
    struct mig_msg st;
    int ret = mig_receive_ram(&r, gm, &st, &stats, err, errlen);
    if (compressed)
        *compressed = stats.compressed_pages;
    mig_reader_free(&r);
    free(m.data);
    return ret;
}

static int one(struct guest_mem *gm, uint32_t type, const void *head, size_t hlen, const void *data,
               size_t dlen, char *err, size_t errlen)
{
    return one_z(gm, NULL, type, head, hlen, data, dlen, NULL, err, errlen);
}

/* Pages as the bench guest leaves them: one word each, the rest zero. */
static void word_pages(uint8_t *buf, unsigned count, uint64_t seed)
{
    memset(buf, 0, (size_t)count * MIG_PAGE_SIZE);
    for (unsigned i = 0; i < count; i++) {
        uint64_t v = seed + i;
        memcpy(buf + (size_t)i * MIG_PAGE_SIZE, &v, sizeof(v));
    }
}

static void zstd_pages(void **state)
{
    (void)state;
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, RAM, 3ULL << 30, 4ULL << 30), 0);
    struct ZSTD_DCtx_s *dctx = mig_zstd_dctx_new();
    assert_non_null(dctx);
    static uint8_t pages[4 * MIG_PAGE_SIZE], frame[8 * MIG_PAGE_SIZE];
    char err[300];
    uint64_t compressed = 0;
    word_pages(pages, 4, 0x1234567890ull);
    size_t z = ZSTD_compress(frame, sizeof(frame), pages, 2 * MIG_PAGE_SIZE, 1);
    assert_false(ZSTD_isError(z));
    assert_true(z < 2 * MIG_PAGE_SIZE);
    struct mig_pages_head ph = { .gpa = 2 << 20, .count = 2 };
    assert_int_equal(one_z(&gm, dctx, MIG_MSG_PAGES_ZSTD, &ph, sizeof(ph), frame, z, &compressed,
                           err, sizeof(err)), -ECONNRESET);   /* round trip, then the stream ends */
    assert_int_equal(compressed, 2);
    assert_memory_equal(guest_mem_ptr(&gm, 2 << 20, 2 * MIG_PAGE_SIZE), pages, 2 * MIG_PAGE_SIZE);

    /* Not negotiated: refused, nothing written. */
    ph.gpa = 3 << 20;
    assert_int_equal(one_z(&gm, NULL, MIG_MSG_PAGES_ZSTD, &ph, sizeof(ph), frame, z, NULL, err,
                           sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "not negotiated"));
    assert_int_equal(*(const uint64_t *)guest_mem_ptr(&gm, 3 << 20, 8), 0);
    /* The head says 3 pages, the frame holds 2. */
    ph.count = 3;
    assert_int_equal(one_z(&gm, dctx, MIG_MSG_PAGES_ZSTD, &ph, sizeof(ph), frame, z, NULL, err,
                           sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "another size"));
    /* Not zstd at all. */
    ph.count = 2;
    static const uint8_t junk[64] = { 1, 2, 3 };
    assert_int_equal(one_z(&gm, dctx, MIG_MSG_PAGES_ZSTD, &ph, sizeof(ph), junk, sizeof(junk), NULL,
                           err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "not a zstd frame"));
    /* A frame that does not say its size. */
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    assert_non_null(cctx);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
    size_t z2 = ZSTD_compress2(cctx, frame, sizeof(frame), pages, 2 * MIG_PAGE_SIZE);
    assert_false(ZSTD_isError(z2));
    assert_int_equal(ZSTD_getFrameContentSize(frame, z2), ZSTD_CONTENTSIZE_UNKNOWN);
    assert_int_equal(one_z(&gm, dctx, MIG_MSG_PAGES_ZSTD, &ph, sizeof(ph), frame, z2, NULL, err,
                           sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "does not say its size"));
    ZSTD_freeCCtx(cctx);
    /* The right size in its header, a body cut short: the decompressor's error, one line. */
    z = ZSTD_compress(frame, sizeof(frame), pages, 2 * MIG_PAGE_SIZE, 1);
    assert_false(ZSTD_isError(z));
    assert_int_equal(one_z(&gm, dctx, MIG_MSG_PAGES_ZSTD, &ph, sizeof(ph), frame, z - 2, NULL, err,
                           sizeof(err)), -EPROTO);
    assert_null(strchr(err, '\n'));
    /* Outside guest RAM. */
    ph.gpa = RAM - MIG_PAGE_SIZE;
    assert_int_equal(one_z(&gm, dctx, MIG_MSG_PAGES_ZSTD, &ph, sizeof(ph), frame, z, NULL, err,
                           sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "not guest RAM"));
    /* Not smaller than the pages: no such message. */
    ph.gpa = 0;
    ph.count = 1;
    static uint8_t big[MIG_PAGES_PER_MSG * MIG_PAGE_SIZE];
    assert_int_equal(one_z(&gm, dctx, MIG_MSG_PAGES_ZSTD, &ph, sizeof(ph), big, sizeof(big), NULL,
                           err, sizeof(err)), -EPROTO);
    mig_zstd_dctx_free(dctx);
    guest_mem_destroy(&gm);
}

/* The header carries the offer; ACCEPT is empty (an old destination) or struct mig_accept. */
static void feature_negotiation_framing(void **state)
{
    (void)state;
    struct mig_header h;
    char err[300];
    mig_header_build(&h, &shape, MIG_FEATURE_ZSTD);
    assert_int_equal(mig_header_check(&h, &shape, err, sizeof(err)), 0);
    assert_int_equal(h.features, MIG_FEATURE_ZSTD);
    struct mig_accept acc = { .features = MIG_FEATURE_ZSTD };
    for (size_t len = 0; len <= sizeof(acc); len++) {
        struct membuf m = { 0 };
        struct mig_writer w = { .write = mem_write, .opaque = &m };
        assert_int_equal(mig_write_msg(&w, MIG_MSG_ACCEPT, &acc, len, NULL, 0), 0);
        struct snap_buf_source src = { .data = m.data, .len = m.len };
        struct mig_reader r;
        mig_reader_init(&r, snap_buf_source, &src);
        struct mig_msg msg;
        int ret = mig_read_msg(&r, &msg, err, sizeof(err));
        if (len == 0 || len == sizeof(acc))
            assert_int_equal(ret, 0);
        else
            assert_int_equal(ret, -EPROTO);
        mig_reader_free(&r);
        free(m.data);
    }
}

static void hostile_messages_refused(void **state)
{
    (void)state;
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, RAM, 3ULL << 30, 4ULL << 30), 0);
    static uint8_t data[2 * MIG_PAGE_SIZE];
    char err[300];
    struct mig_pages_head ph = { .gpa = RAM - MIG_PAGE_SIZE, .count = 2 };   /* runs past RAM */
    assert_int_equal(one(&gm, MIG_MSG_PAGES, &ph, sizeof(ph), data, sizeof(data), err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "not guest RAM"));
    ph = (struct mig_pages_head){ .gpa = 4097, .count = 1 };                /* unaligned */
    assert_int_equal(one(&gm, MIG_MSG_PAGES, &ph, sizeof(ph), data, MIG_PAGE_SIZE, err, sizeof(err)), -EPROTO);
    ph = (struct mig_pages_head){ .gpa = 0, .count = 2 };                   /* count vs length */
    assert_int_equal(one(&gm, MIG_MSG_PAGES, &ph, sizeof(ph), data, MIG_PAGE_SIZE, err, sizeof(err)), -EPROTO);
    struct mig_zero z = { .gpa = 0, .count = UINT64_MAX };
    assert_int_equal(one(&gm, MIG_MSG_ZERO, &z, sizeof(z), NULL, 0, err, sizeof(err)), -EPROTO);
    z = (struct mig_zero){ .gpa = 1ULL << 40, .count = 1 };
    assert_int_equal(one(&gm, MIG_MSG_ZERO, &z, sizeof(z), NULL, 0, err, sizeof(err)), -EPROTO);
    /* Out of place in the RAM phase. */
    assert_int_equal(one(&gm, MIG_MSG_COMMIT, NULL, 0, NULL, 0, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "COMMIT"));
    /* The source's ERROR is passed on, sanitized to one line. */
    assert_int_equal(one(&gm, MIG_MSG_ERROR, "no\nway", 6, NULL, 0, err, sizeof(err)), -ECANCELED);
    assert_non_null(strstr(err, "no?way"));

    /* A frame header claiming a huge STATE is refused before any allocation. */
    struct mig_msg_header mh = { .type = MIG_MSG_STATE, .length = MIG_STATE_MAX + 1 };
    struct snap_buf_source src = { .data = (const uint8_t *)&mh, .len = sizeof(mh) };
    struct mig_reader r;
    mig_reader_init(&r, snap_buf_source, &src);
    struct mig_msg msg;
    assert_int_equal(mig_read_msg(&r, &msg, err, sizeof(err)), -EPROTO);
    assert_null(r.buf);
    mh = (struct mig_msg_header){ .type = 77 };
    src = (struct snap_buf_source){ .data = (const uint8_t *)&mh, .len = sizeof(mh) };
    assert_int_equal(mig_read_msg(&r, &msg, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "unknown message type 77"));
    mig_reader_free(&r);
    guest_mem_destroy(&gm);
}

static void urls(void **state)
{
    (void)state;
    struct mig_addr a;
    char err[200];
    assert_int_equal(mig_parse_url("tcp:10.0.0.2:4444", &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, "10.0.0.2");
    assert_string_equal(a.port, "4444");
    assert_int_equal(mig_parse_url("tcp:[::1]:80", &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, "::1");
    assert_int_equal(mig_parse_url("tcp::9000", &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, "");
    assert_int_equal(mig_parse_url("udp:1.2.3.4:5", &a, err, sizeof(err)), -EINVAL);
    assert_int_equal(mig_parse_url("tcp:1.2.3.4", &a, err, sizeof(err)), -EINVAL);
    assert_int_equal(mig_parse_url("tcp:1.2.3.4:0", &a, err, sizeof(err)), -EINVAL);
    assert_int_equal(mig_parse_url("tcp:1.2.3.4:65536", &a, err, sizeof(err)), -EINVAL);
    assert_int_equal(mig_parse_url("tcp:1.2.3.4:12x", &a, err, sizeof(err)), -EINVAL);
    assert_int_equal(mig_parse_url("tcp:[::1:80", &a, err, sizeof(err)), -EINVAL);
    assert_int_equal(mig_parse_url(NULL, &a, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_round_trip_and_mismatches),
        cmocka_unit_test(crc_matches_software),
        cmocka_unit_test(ram_round_trip),
        cmocka_unit_test(every_flip_and_truncation_refused),
        cmocka_unit_test(hostile_messages_refused),
        cmocka_unit_test(zstd_pages),
        cmocka_unit_test(feature_negotiation_framing),
        cmocka_unit_test(urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
