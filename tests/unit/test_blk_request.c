// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio/blk_request: the parser alone, on chains built by
 * hand over a local buffer (no rings, no files). Each rule of docs/blk.md's
 * validation list has a case here, including the shapes a well-behaved
 * driver never sends.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "virtio/blk_request.h"

#define CAP 64   /* sectors */

static uint8_t mem[64 * 1024];
static struct virtq_chain chain;
static struct iovec iov[8];
static struct vblk_request req;

static const struct vblk_limits lim_rw = {
    .capacity = CAP, .discard = true, .write_zeroes = true,
    .max_discard_sectors = 16, .max_discard_seg = 1,
    .max_write_zeroes_sectors = 16, .max_write_zeroes_seg = 1,
};

/* Appends a buffer of `len` bytes at mem+off; readable ones must come first. */
static void add(size_t off, uint32_t len, bool writable)
{
    struct virtq_buf *b = &chain.bufs[chain.nr++];
    *b = (struct virtq_buf){ .hva = mem + off, .len = len, .device_writable = writable };
    if (writable) {
        chain.writable_bytes += len;
    } else {
        assert_int_equal(chain.nr_readable, chain.nr - 1);
        chain.nr_readable++;
        chain.readable_bytes += len;
    }
}

static void reset_chain(void)
{
    memset(&chain, 0, sizeof(chain));
    memset(mem, 0, sizeof(mem));
}

static void hdr_at(size_t off, uint32_t type, uint64_t sector)
{
    memcpy(mem + off, &type, 4);
    memset(mem + off + 4, 0, 4);
    memcpy(mem + off + 8, &sector, 8);
}

static void seg_at(size_t off, uint64_t sector, uint32_t num, uint32_t flags)
{
    memcpy(mem + off, &sector, 8);
    memcpy(mem + off + 8, &num, 4);
    memcpy(mem + off + 12, &flags, 4);
}

static int parse(const struct vblk_limits *lim)
{
    return vblk_request_parse(&chain, lim, &req, iov, ARRAY_SIZE(iov));
}

/* A read as Linux sends it: header, data pages, status. */
static void read_well_formed(void **state)
{
    (void)state;
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_IN, 10);
    add(0, 16, false);
    add(0x1000, 4096, true);
    add(0x3000, 1024, true);
    add(0x5000, 1, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_OK);
    assert_int_equal(req.type, VIRTIO_BLK_T_IN);
    assert_int_equal(req.offset, 10 * 512);
    assert_int_equal(req.len, 5120);
    assert_int_equal(req.nr_iov, 2);
    assert_ptr_equal(iov[0].iov_base, mem + 0x1000);
    assert_int_equal(iov[0].iov_len, 4096);
    assert_ptr_equal(iov[1].iov_base, mem + 0x3000);
    assert_int_equal(iov[1].iov_len, 1024);
    assert_ptr_equal(req.status, mem + 0x5000);
}

/* Odd but legal shapes: header split in two, status sharing the data buffer. */
static void split_header_and_shared_status(void **state)
{
    (void)state;
    reset_chain();
    hdr_at(0x100, VIRTIO_BLK_T_IN, 3);
    add(0x100, 5, false);
    add(0x105, 11, false);
    add(0x1000, 513, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_OK);
    assert_int_equal(req.sector, 3);
    assert_int_equal(req.nr_iov, 1);
    assert_int_equal(iov[0].iov_len, 512);
    assert_ptr_equal(req.status, mem + 0x1000 + 512);

    /* A write whose header and data share one buffer. */
    reset_chain();
    hdr_at(0x200, VIRTIO_BLK_T_OUT, CAP - 2);
    add(0x200, 16 + 1024, false);
    add(0x2000, 1, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_OK);
    assert_int_equal(req.nr_iov, 1);
    assert_ptr_equal(iov[0].iov_base, mem + 0x210);
    assert_int_equal(iov[0].iov_len, 1024);
}

static void sector_ranges(void **state)
{
    (void)state;
    static const struct { uint64_t sector; uint32_t len; int status; } cases[] = {
        { CAP - 1, 512, VIRTIO_BLK_S_OK },
        { CAP - 1, 1024, VIRTIO_BLK_S_IOERR },
        { CAP, 0, VIRTIO_BLK_S_OK },
        { CAP, 512, VIRTIO_BLK_S_IOERR },
        { CAP + 1, 0, VIRTIO_BLK_S_IOERR },
        { UINT64_MAX, 512, VIRTIO_BLK_S_IOERR },
        { UINT64_MAX / 512 + 1, 512, VIRTIO_BLK_S_IOERR },   /* sector * 512 overflows */
        { 0, 511, VIRTIO_BLK_S_IOERR },
        { 0, 513, VIRTIO_BLK_S_IOERR },
    };
    for (unsigned type = VIRTIO_BLK_T_IN; type <= VIRTIO_BLK_T_OUT; type++) {
        for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
            reset_chain();
            hdr_at(0, type, cases[i].sector);
            if (type == VIRTIO_BLK_T_IN) {
                add(0, 16, false);
                if (cases[i].len)
                    add(0x1000, cases[i].len, true);
            } else {
                add(0, 16, false);
                if (cases[i].len)
                    add(0x1000, cases[i].len, false);
            }
            add(0x8000, 1, true);
            int st = parse(&lim_rw);
            if (st != cases[i].status)
                fail_msg("type %u case %u: status %d, want %d", type, i, st, cases[i].status);
        }
    }
}

static void bad_shapes(void **state)
{
    (void)state;
    /* No writable byte at all: nowhere to put a status. */
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_IN, 0);
    add(0, 16, false);
    add(0x1000, 512, false);
    assert_int_equal(parse(&lim_rw), -EINVAL);

    /* Header shorter than 16 bytes. */
    reset_chain();
    add(0, 15, false);
    add(0x1000, 1, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_IOERR);
    assert_ptr_equal(req.status, mem + 0x1000);

    /* Only a status byte. */
    reset_chain();
    add(0x1000, 1, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_IOERR);

    /* A read with readable data after the header. */
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_IN, 0);
    add(0, 16 + 512, false);
    add(0x1000, 513, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_IOERR);

    /* A write with writable data before the status. */
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_OUT, 0);
    add(0, 16 + 512, false);
    add(0x1000, 513, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_IOERR);

    /* A flush carrying data. */
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_FLUSH, 0);
    add(0, 16, false);
    add(0x1000, 513, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_IOERR);
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_FLUSH, 12345);   /* sector ignored */
    add(0, 16, false);
    add(0x1000, 1, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_OK);

    /* More data segments than the caller's iovec array (SEG_MAX). */
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_IN, 0);
    add(0, 16, false);
    for (unsigned i = 0; i < ARRAY_SIZE(iov) + 1; i++)
        add(0x1000 + 0x200 * i, 512, true);
    add(0x8000, 1, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_IOERR);
}

static void unsupported_types(void **state)
{
    (void)state;
    static const uint32_t types[] = { 2, 3, 5, 7, 9, 10, 12, 14, 15, 0x80000000u, UINT32_MAX };
    for (unsigned i = 0; i < ARRAY_SIZE(types); i++) {
        reset_chain();
        hdr_at(0, types[i], 0);
        add(0, 16, false);
        add(0x1000, 1, true);
        assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_UNSUPP);
    }
}

static void readonly_refuses_writes(void **state)
{
    (void)state;
    struct vblk_limits ro = { .capacity = CAP, .readonly = true };
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_OUT, 0);
    add(0, 16 + 512, false);
    add(0x1000, 1, true);
    assert_int_equal(parse(&ro), VIRTIO_BLK_S_IOERR);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_OK);
    /* Discard was not offered to a read-only disk. */
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_DISCARD, 0);
    seg_at(16, 0, 1, 0);
    add(0, 32, false);
    add(0x1000, 1, true);
    assert_int_equal(parse(&ro), VIRTIO_BLK_S_UNSUPP);
}

static void get_id(void **state)
{
    (void)state;
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_GET_ID, 0);
    add(0, 16, false);
    add(0x1000, 20, true);
    add(0x2000, 1, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_OK);
    assert_int_equal(req.len, 20);
    /* A larger buffer still gets 20 bytes; a smaller one what fits. */
    chain.bufs[1].len = 64;
    chain.writable_bytes = 65;
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_OK);
    assert_int_equal(req.len, 20);
    chain.bufs[1].len = 7;
    chain.writable_bytes = 8;
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_OK);
    assert_int_equal(req.len, 7);
    /* No room for any id byte. */
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_GET_ID, 0);
    add(0, 16, false);
    add(0x2000, 1, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_IOERR);
}

static int dwz(uint32_t type, uint64_t sector, uint32_t num, uint32_t flags, unsigned nseg,
               const struct vblk_limits *lim)
{
    reset_chain();
    hdr_at(0, type, 0);
    for (unsigned i = 0; i < nseg; i++)
        seg_at(16 + 16 * i, sector, num, flags);
    add(0, 16 + 16 * nseg, false);
    add(0x1000, 1, true);
    return parse(lim);
}

static void discard_and_write_zeroes(void **state)
{
    (void)state;
    assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 4, 8, 0, 1, &lim_rw), VIRTIO_BLK_S_OK);
    assert_int_equal(req.offset, 4 * 512);
    assert_int_equal(req.len, 8 * 512);
    assert_false(req.unmap);
    assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 4, 8, 1, 1, &lim_rw), VIRTIO_BLK_S_OK);
    assert_true(req.unmap);
    assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, CAP - 16, 16, 0, 1, &lim_rw), VIRTIO_BLK_S_OK);

    /* The spec's UNSUPP cases: unmap on discard, unknown flags, too many segments. */
    assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 4, 8, 1, 1, &lim_rw), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 4, 8, 2, 1, &lim_rw), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 4, 8, 0, 2, &lim_rw), VIRTIO_BLK_S_UNSUPP);
    /* Out of range, over the sector limit, malformed payloads. */
    assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, CAP - 1, 2, 0, 1, &lim_rw), VIRTIO_BLK_S_IOERR);
    assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX, 1, 0, 1, &lim_rw), VIRTIO_BLK_S_IOERR);
    assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 0, 17, 0, 1, &lim_rw), VIRTIO_BLK_S_IOERR);
    assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 0, 1, 0, 0, &lim_rw), VIRTIO_BLK_S_IOERR);
    reset_chain();
    hdr_at(0, VIRTIO_BLK_T_WRITE_ZEROES, 0);
    add(0, 16 + 15, false);
    add(0x1000, 1, true);
    assert_int_equal(parse(&lim_rw), VIRTIO_BLK_S_IOERR);
    /* Not negotiated. */
    struct vblk_limits plain = lim_rw;
    plain.discard = plain.write_zeroes = false;
    assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 4, 8, 0, 1, &plain), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 4, 8, 0, 1, &plain), VIRTIO_BLK_S_UNSUPP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_well_formed),
        cmocka_unit_test(split_header_and_shared_status),
        cmocka_unit_test(sector_ranges),
        cmocka_unit_test(bad_shapes),
        cmocka_unit_test(unsupported_types),
        cmocka_unit_test(readonly_refuses_writes),
        cmocka_unit_test(get_id),
        cmocka_unit_test(discard_and_write_zeroes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
