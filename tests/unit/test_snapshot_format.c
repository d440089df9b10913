// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for snapshot/format: CRC32C, a write/read round trip, and every
 * class of corruption the reader must refuse (a flipped byte anywhere, a
 * truncation at any length, wrong magic or version, bad names, duplicate
 * records, oversized lengths, trailing bytes), plus atomic file replacement.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "snapshot/format.h"

struct membuf {
    uint8_t *data;
    size_t len, cap;
};

static int mem_sink(void *opaque, const void *buf, size_t len)
{
    struct membuf *m = opaque;
    if (m->len + len > m->cap) {
        size_t nc = (m->len + len) * 2;
        uint8_t *p = realloc(m->data, nc);
        if (!p)
            return -ENOMEM;
        m->data = p;
        m->cap = nc;
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return 0;
}

static const struct snap_summary summary = {
    .nr_vcpus = 2, .memory_size = 64ULL << 20, .nr_disks = 1, .rng = 1,
};

/* A stream with three records, one of them empty. */
static void build(struct membuf *m)
{
    memset(m, 0, sizeof(*m));
    struct snap_writer w;
    snap_writer_init(&w, mem_sink, m);
    uint8_t big[300];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(snap_write_header(&w, &summary), 0);
    assert_int_equal(snap_write_record(&w, "cpu.0", 1, big, sizeof(big)), 0);
    assert_int_equal(snap_write_record(&w, "dev.serial", 3, "abc", 3), 0);
    assert_int_equal(snap_write_record(&w, "empty", 1, NULL, 0), 0);
    assert_int_equal(snap_write_end(&w), 0);
}

static int read_buf(const uint8_t *data, size_t len, struct snap_image *img, char *err, size_t errlen)
{
    struct snap_buf_source src = { .data = data, .len = len };
    err[0] = '\0';
    int ret = snap_image_read(img, snap_buf_source, &src, err, errlen);
    if (ret) {
        /* A refusal is one line that says something, and leaves nothing behind. */
        assert_true(strlen(err) > 10);
        assert_null(strchr(err, '\n'));
        assert_null(img->records);
        assert_int_equal(img->nr_records, 0);
    }
    return ret;
}

static void crc32c_known_values(void **state)
{
    (void)state;
    assert_int_equal(snap_crc32c(0, "123456789", 9), 0xe3069283);
    assert_int_equal(snap_crc32c(0, "", 0), 0);
    /* Continuing a CRC equals computing it in one go. */
    uint32_t part = snap_crc32c(0, "1234", 4);
    assert_int_equal(snap_crc32c(part, "56789", 5), 0xe3069283);
}

static void round_trip(void **state)
{
    (void)state;
    struct membuf m;
    build(&m);
    struct snap_image img;
    char err[256];
    assert_int_equal(read_buf(m.data, m.len, &img, err, sizeof(err)), 0);
    assert_int_equal(img.summary.nr_vcpus, 2);
    assert_int_equal(img.summary.memory_size, 64ULL << 20);
    assert_int_equal(img.summary.nr_disks, 1);
    assert_int_equal(img.summary.rng, 1);
    assert_int_equal(img.nr_records, 3);
    const struct snap_record *r = snap_image_find(&img, "cpu.0");
    assert_non_null(r);
    assert_int_equal(r->version, 1);
    assert_int_equal(r->length, 300);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(r->payload[i], (uint8_t)(i * 7));
    r = snap_image_find(&img, "dev.serial");
    assert_non_null(r);
    assert_int_equal(r->version, 3);
    assert_memory_equal(r->payload, "abc", 3);
    r = snap_image_find(&img, "empty");
    assert_non_null(r);
    assert_int_equal(r->length, 0);
    assert_null(snap_image_find(&img, "missing"));
    snap_image_free(&img);
    free(m.data);
}

static void every_flipped_byte_is_refused(void **state)
{
    (void)state;
    struct membuf m;
    build(&m);
    char err[256];
    for (size_t pos = 0; pos < m.len; pos++) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            m.data[pos] ^= (uint8_t)(1u << bit);
            struct snap_image img;
            int ret = read_buf(m.data, m.len, &img, err, sizeof(err));
            if (ret == 0)
                fail_msg("flipping bit %u of byte %zu was not noticed", bit, pos);
            m.data[pos] ^= (uint8_t)(1u << bit);
        }
    }
    free(m.data);
}

static void every_truncation_is_refused(void **state)
{
    (void)state;
    struct membuf m;
    build(&m);
    char err[256];
    for (size_t len = 0; len < m.len; len++) {
        struct snap_image img;
        assert_int_not_equal(read_buf(m.data, len, &img, err, sizeof(err)), 0);
    }
    struct snap_image img;
    read_buf(m.data, 10, &img, err, sizeof(err));
    assert_non_null(strstr(err, "truncated"));
    free(m.data);
}

/* Rewrites the header and its checksum, as a buggy or hostile writer would. */
static void reseal_header(struct membuf *m)
{
    struct snap_header *h = (struct snap_header *)m->data;
    h->header_crc = snap_crc32c(0, h, offsetof(struct snap_header, header_crc));
}

static void wrong_magic_and_version(void **state)
{
    (void)state;
    struct membuf m;
    build(&m);
    char err[256];
    struct snap_image img;
    struct snap_header *h = (struct snap_header *)m.data;

    h->format_version = SNAP_FORMAT_VERSION + 1;
    reseal_header(&m);
    assert_int_equal(read_buf(m.data, m.len, &img, err, sizeof(err)), -EPROTONOSUPPORT);
    assert_non_null(strstr(err, "version"));
    h->format_version = SNAP_FORMAT_VERSION;

    memcpy(h->magic, "CASULOXX", 8);
    reseal_header(&m);
    assert_int_equal(read_buf(m.data, m.len, &img, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "magic"));
    free(m.data);
}

/*
 * Builds a stream by hand so that records can break the rules while every
 * checksum stays right: only the rule itself can catch them.
 */
struct rawrec {
    const char *name;       /* copied into the name field as-is (32 bytes) */
    uint64_t length;        /* as claimed */
    size_t actual;          /* payload bytes really present */
};

static void build_raw(struct membuf *m, const struct rawrec *recs, size_t n, bool fix_count,
                      const char *trailer)
{
    memset(m, 0, sizeof(*m));
    struct snap_writer w;
    snap_writer_init(&w, mem_sink, m);
    assert_int_equal(snap_write_header(&w, &summary), 0);
    for (size_t i = 0; i < n; i++) {
        struct snap_record_header rh = { .version = 1, .length = recs[i].length };
        memcpy(rh.name, recs[i].name, strnlen(recs[i].name, SNAP_NAME_LEN));
        uint8_t *payload = calloc(1, recs[i].actual + 1);
        rh.crc = snap_crc32c(0, payload, recs[i].actual);
        assert_int_equal(mem_sink(m, &rh, sizeof(rh)), 0);
        assert_int_equal(mem_sink(m, payload, recs[i].actual), 0);
        free(payload);
    }
    struct snap_end end = {
        .nr_records = fix_count ? n : n + 1,
        .stream_crc = snap_crc32c(0, m->data, m->len),
    };
    struct snap_record_header rh = { .version = 1, .length = sizeof(end) };
    strcpy(rh.name, SNAP_END_NAME);
    rh.crc = snap_crc32c(0, &end, sizeof(end));
    assert_int_equal(mem_sink(m, &rh, sizeof(rh)), 0);
    assert_int_equal(mem_sink(m, &end, sizeof(end)), 0);
    if (trailer)
        assert_int_equal(mem_sink(m, trailer, strlen(trailer)), 0);
}

static void expect_refused(const struct rawrec *recs, size_t n, bool fix_count, const char *trailer,
                           const char *needle)
{
    struct membuf m;
    build_raw(&m, recs, n, fix_count, trailer);
    struct snap_image img;
    char err[256];
    int ret = read_buf(m.data, m.len, &img, err, sizeof(err));
    if (ret == 0)
        fail_msg("accepted a stream that should contain: %s", needle);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
    free(m.data);
}

static void rule_breaking_records(void **state)
{
    (void)state;
    /* The valid baseline passes, so the refusals below are due to their one change. */
    struct rawrec ok[] = { { "a", 4, 4 }, { "b", 0, 0 } };
    struct membuf m;
    build_raw(&m, ok, 2, true, NULL);
    struct snap_image img;
    char err[256];
    assert_int_equal(read_buf(m.data, m.len, &img, err, sizeof(err)), 0);
    snap_image_free(&img);
    free(m.data);

    struct rawrec dup[] = { { "a", 4, 4 }, { "a", 4, 4 } };
    expect_refused(dup, 2, true, NULL, "twice");
    struct rawrec upper[] = { { "Cpu", 4, 4 } };
    expect_refused(upper, 1, true, NULL, "invalid name");
    struct rawrec empty[] = { { "", 4, 4 } };
    expect_refused(empty, 1, true, NULL, "invalid name");
    struct rawrec unterminated[] = { { "abcdefghijklmnopqrstuvwxyz0123456", 4, 4 } };
    expect_refused(unterminated, 1, true, NULL, "invalid name");
    /* A length past the bound is refused before anything is allocated or read. */
    struct rawrec huge[] = { { "a", (uint64_t)SNAP_RECORD_MAX + 1, 0 } };
    expect_refused(huge, 1, true, NULL, "too large");
    struct rawrec giant[] = { { "a", UINT64_MAX, 0 } };
    expect_refused(giant, 1, true, NULL, "too large");
    expect_refused(ok, 2, false, NULL, "counts");
    expect_refused(ok, 2, true, "x", "after its end");
}

static void name_rules(void **state)
{
    (void)state;
    assert_true(snap_name_valid("cpu.0"));
    assert_true(snap_name_valid("dev.uart16550-com1_x"));
    assert_false(snap_name_valid(""));
    assert_false(snap_name_valid("a b"));
    assert_false(snap_name_valid("A"));
    assert_false(snap_name_valid("0123456789012345678901234567890123"));
    struct membuf m = { 0 };
    struct snap_writer w;
    snap_writer_init(&w, mem_sink, &m);
    assert_int_equal(snap_write_record(&w, "end", 1, "x", 1), -EINVAL);
    assert_int_equal(snap_write_record(&w, "Bad", 1, "x", 1), -EINVAL);
    free(m.data);
}

static int failing_sink(void *opaque, const void *buf, size_t len)
{
    unsigned *calls = opaque;
    (void)buf;
    (void)len;
    return ++*calls >= 2 ? -ENOSPC : 0;
}

static void sink_error_sticks(void **state)
{
    (void)state;
    unsigned calls = 0;
    struct snap_writer w;
    snap_writer_init(&w, failing_sink, &calls);
    assert_int_equal(snap_write_header(&w, &summary), 0);
    assert_int_equal(snap_write_record(&w, "a", 1, "x", 1), -ENOSPC);
    unsigned before = calls;
    assert_int_equal(snap_write_record(&w, "b", 1, "x", 1), -ENOSPC);
    assert_int_equal(snap_write_end(&w), -ENOSPC);
    assert_int_equal(calls, before);
}

static void atomic_file_appears_only_on_commit(void **state)
{
    (void)state;
    char dir[] = "/tmp/casulo-snap-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    /* An old file stays intact until the new one is committed. */
    int old = openat(dfd, "state", O_WRONLY | O_CREAT, 0600);
    assert_int_equal(write(old, "old", 3), 3);
    close(old);

    struct snap_atomic_file f;
    assert_int_equal(snap_atomic_open(&f, dfd, "state"), 0);
    assert_int_equal(write(f.fd, "new!", 4), 4);
    struct stat st;
    assert_int_equal(fstatat(dfd, "state", &st, 0), 0);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(snap_atomic_commit(&f), 0);
    assert_int_equal(fstatat(dfd, "state", &st, 0), 0);
    assert_int_equal(st.st_size, 4);
    snap_atomic_abort(&f);   /* harmless after commit */
    assert_int_equal(fstatat(dfd, "state", &st, 0), 0);

    /* An aborted write leaves the committed file and no temporary behind. */
    assert_int_equal(snap_atomic_open(&f, dfd, "state"), 0);
    assert_int_equal(write(f.fd, "partial", 7), 7);
    char tmp[sizeof(f.tmp_name)];
    memcpy(tmp, f.tmp_name, sizeof(tmp));
    snap_atomic_abort(&f);
    assert_int_equal(fstatat(dfd, tmp, &st, 0), -1);
    assert_int_equal(fstatat(dfd, "state", &st, 0), 0);
    assert_int_equal(st.st_size, 4);

    unlinkat(dfd, "state", 0);
    close(dfd);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_known_values),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(every_flipped_byte_is_refused),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(wrong_magic_and_version),
        cmocka_unit_test(rule_breaking_records),
        cmocka_unit_test(name_rules),
        cmocka_unit_test(sink_error_sticks),
        cmocka_unit_test(atomic_file_appears_only_on_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
