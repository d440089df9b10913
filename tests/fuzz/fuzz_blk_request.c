// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for virtio/blk_request: the parser on any chain a hostile
 * driver could hand the device. The input picks the device's limits and the
 * chain's shape (buffers, their lengths, overlaps, which are writable); the
 * rest fills the memory the buffers point into, header and segments
 * included. Whatever the input, the parser must not crash, and whatever it
 * accepts must be safe to run: data iovecs inside the chain's buffers of
 * the right direction and clear of the status byte, ranges inside the disk,
 * no write to a read-only disk.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "virtio/blk_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA    (64 * 1024)
#define MAX_BUFS 32
#define HDR      5
#define BUF_DESC 4

static uint8_t arena[ARENA];
static struct virtq_chain chain;

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

/* Whether [p, p+len) lies inside one buffer of bufs[first, end). */
static bool inside(const void *p, size_t len, unsigned first, unsigned end)
{
    const uint8_t *b = p;
    for (unsigned i = first; i < end; i++) {
        const struct virtq_buf *vb = &chain.bufs[i];
        if (b >= vb->hva && b + len <= vb->hva + vb->len)
            return true;
    }
    return false;
}

static void check_request(int st, const struct vblk_limits *lim, const struct vblk_request *req,
                          const struct iovec *iov, unsigned iov_max)
{
    fuzz_check(st == -EINVAL || st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR ||
               st == VIRTIO_BLK_S_UNSUPP);
    fuzz_check((st == -EINVAL) == (chain.writable_bytes == 0));
    if (st < 0)
        return;
    const struct virtq_buf *last = &chain.bufs[chain.nr - 1];
    fuzz_check(last->device_writable && req->status == last->hva + last->len - 1);
    if (st != VIRTIO_BLK_S_OK)
        return;
    switch (req->type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT: {
        bool in = req->type == VIRTIO_BLK_T_IN;
        fuzz_check(in || !lim->readonly);
        fuzz_check(req->len % 512 == 0 && req->offset == req->sector * 512);
        fuzz_check(req->sector <= lim->capacity && req->len / 512 <= lim->capacity - req->sector);
        fuzz_check(req->nr_iov <= iov_max);
        uint64_t total = 0;
        for (unsigned i = 0; i < req->nr_iov; i++) {
            const uint8_t *b = iov[i].iov_base;
            fuzz_check(iov[i].iov_len > 0);
            if (in) {
                fuzz_check(inside(b, iov[i].iov_len, chain.nr_readable, chain.nr));
            } else {
                fuzz_check(inside(b, iov[i].iov_len, 0, chain.nr_readable));
            }
            total += iov[i].iov_len;
        }
        fuzz_check(total == req->len);
        /*
         * The data is exactly the chain's payload: all writable bytes but the
         * status for a read (buffers may alias in guest memory, positions
         * in the chain may not), all readable bytes after the header for a write.
         */
        fuzz_check(in ? total == chain.writable_bytes - 1
                      : total == chain.readable_bytes - VIRTIO_BLK_HDR_SIZE);
        break;
    }
    case VIRTIO_BLK_T_FLUSH:
        break;
    case VIRTIO_BLK_T_GET_ID:
        fuzz_check(req->len >= 1 && req->len <= VIRTIO_BLK_ID_BYTES &&
                   req->len < chain.writable_bytes);
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES: {
        bool discard = req->type == VIRTIO_BLK_T_DISCARD;
        fuzz_check(!lim->readonly && (discard ? lim->discard : lim->write_zeroes));
        fuzz_check(!(discard && req->unmap));
        fuzz_check(req->len % 512 == 0 && req->offset == req->sector * 512);
        fuzz_check(req->len / 512 <= (discard ? lim->max_discard_sectors : lim->max_write_zeroes_sectors));
        fuzz_check(req->sector <= lim->capacity && req->len / 512 <= lim->capacity - req->sector);
        break;
    }
    default:
        fuzz_check(0);   /* any other type must be UNSUPP */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HDR)
        return 0;
    uint8_t flags = data[0];
    struct vblk_limits lim = {
        .capacity = (uint64_t)data[1] | (uint64_t)data[2] << 8,
        .readonly = flags & 1,
        .discard = flags & 2,
        .write_zeroes = flags & 4,
        .max_discard_sectors = 64,
        .max_discard_seg = 1,
        .max_write_zeroes_sectors = 64,
        .max_write_zeroes_seg = (flags & 8) ? 2 : 1,
    };
    if (flags & 0x10)
        lim.capacity = UINT64_MAX / 512;   /* a disk where only overflow limits a range */
    unsigned iov_max = 1 + (flags >> 5);    /* 1..8 */
    unsigned nbufs = 1 + data[3] % MAX_BUFS;
    if (size < HDR + (size_t)nbufs * BUF_DESC)
        return 0;
    unsigned nr_readable = data[4] % (nbufs + 1);

    const uint8_t *desc = data + HDR;
    size_t body = HDR + (size_t)nbufs * BUF_DESC;
    memset(arena, 0, sizeof(arena));
    memcpy(arena, data + body, size - body < ARENA ? size - body : ARENA);

    memset(&chain, 0, offsetof(struct virtq_chain, bufs));
    for (unsigned i = 0; i < nbufs; i++) {
        uint32_t off = (uint32_t)(desc[4 * i] | desc[4 * i + 1] << 8);
        uint32_t len = 1 + (uint32_t)((desc[4 * i + 2] | desc[4 * i + 3] << 8) % 4096);
        if (off + len > ARENA)
            off = ARENA - len;
        bool w = i >= nr_readable;
        chain.bufs[i] = (struct virtq_buf){ .hva = arena + off, .len = len, .device_writable = w };
        if (w)
            chain.writable_bytes += len;
        else
            chain.readable_bytes += len;
    }
    chain.nr = nbufs;
    chain.nr_readable = nr_readable;

    struct iovec iov[8];
    struct vblk_request req;
    int st = vblk_request_parse(&chain, &lim, &req, iov, iov_max);
    check_request(st, &lim, &req, iov, iov_max);
    return 0;
}
