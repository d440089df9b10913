// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk request parsing. Everything the driver wrote is copied out of
 * guest memory once and checked there (it may change under us), and the
 * chain's shape must match the request type exactly: a 16-byte readable
 * header, data only where the type has data, and the status as the last
 * writable byte. Anything else answers IOERR (or UNSUPP for what the spec
 * says is unsupported) without touching the disk.
 */
#include "virtio/blk_request.h"

#include <errno.h>
#include <string.h>

struct vblk_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
_Static_assert(sizeof(struct vblk_hdr) == VIRTIO_BLK_HDR_SIZE, "virtio_blk_req header");

struct vblk_dwz_seg {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};
_Static_assert(sizeof(struct vblk_dwz_seg) == VIRTIO_BLK_DWZ_SEG_SIZE, "discard/write-zeroes segment");

/* [sector, sector + nr_sectors) inside the disk, without overflow. */
static bool vblk_range_ok(const struct vblk_limits *lim, uint64_t sector, uint64_t nr_sectors)
{
    return sector <= lim->capacity && nr_sectors <= lim->capacity - sector;
}

/*
 * Describes `len` bytes of the chain's buffers [first, end), starting `skip`
 * bytes in, as iovecs. Returns the count, or -1 when more than iov_max are needed.
 */
static int vblk_build_iov(const struct virtq_chain *c, unsigned first, unsigned end,
                          uint64_t skip, uint64_t len, struct iovec *iov, unsigned iov_max)
{
    unsigned n = 0;
    for (unsigned i = first; i < end && len; i++) {
        const struct virtq_buf *b = &c->bufs[i];
        if (skip >= b->len) {
            skip -= b->len;
            continue;
        }
        uint64_t take = MIN((uint64_t)b->len - skip, len);
        if (n == iov_max)
            return -1;
        iov[n].iov_base = b->hva + skip;
        iov[n].iov_len = (size_t)take;
        n++;
        len -= take;
        skip = 0;
    }
    return len ? -1 : (int)n;
}

static int vblk_parse_rw(const struct virtq_chain *c, const struct vblk_limits *lim,
                         struct vblk_request *req, struct iovec *iov, unsigned iov_max)
{
    bool in = req->type == VIRTIO_BLK_T_IN;
    int n;
    if (in) {
        if (c->readable_bytes != VIRTIO_BLK_HDR_SIZE)
            return VIRTIO_BLK_S_IOERR;
        req->len = c->writable_bytes - 1;
    } else {
        if (lim->readonly || c->writable_bytes != 1)
            return VIRTIO_BLK_S_IOERR;
        req->len = c->readable_bytes - VIRTIO_BLK_HDR_SIZE;
    }
    if (req->len % VIRTIO_BLK_SECTOR_SIZE ||
        !vblk_range_ok(lim, req->sector, req->len / VIRTIO_BLK_SECTOR_SIZE))
        return VIRTIO_BLK_S_IOERR;
    if (in)
        n = vblk_build_iov(c, c->nr_readable, c->nr, 0, req->len, iov, iov_max);
    else
        n = vblk_build_iov(c, 0, c->nr_readable, VIRTIO_BLK_HDR_SIZE, req->len, iov, iov_max);
    if (n < 0)
        return VIRTIO_BLK_S_IOERR;   /* more segments than SEG_MAX offered */
    req->nr_iov = (unsigned)n;
    req->offset = req->sector * VIRTIO_BLK_SECTOR_SIZE;
    return VIRTIO_BLK_S_OK;
}

static int vblk_parse_dwz(const struct virtq_chain *c, const struct vblk_limits *lim,
                          struct vblk_request *req)
{
    bool discard = req->type == VIRTIO_BLK_T_DISCARD;
    if (!(discard ? lim->discard : lim->write_zeroes))
        return VIRTIO_BLK_S_UNSUPP;
    if (lim->readonly || c->writable_bytes != 1)
        return VIRTIO_BLK_S_IOERR;
    uint64_t payload = c->readable_bytes - VIRTIO_BLK_HDR_SIZE;
    if (payload == 0 || payload % VIRTIO_BLK_DWZ_SEG_SIZE)
        return VIRTIO_BLK_S_IOERR;
    if (payload / VIRTIO_BLK_DWZ_SEG_SIZE > (discard ? lim->max_discard_seg : lim->max_write_zeroes_seg))
        return VIRTIO_BLK_S_UNSUPP;
    /* One segment is all a device offering max_*_seg = 1 must handle. */
    struct vblk_dwz_seg seg;
    if (virtq_chain_read(c, VIRTIO_BLK_HDR_SIZE, &seg, sizeof(seg)) != sizeof(seg))
        return VIRTIO_BLK_S_IOERR;
    if (seg.flags & ~VIRTIO_BLK_WZ_FLAG_UNMAP)
        return VIRTIO_BLK_S_UNSUPP;
    if (discard && (seg.flags & VIRTIO_BLK_WZ_FLAG_UNMAP))
        return VIRTIO_BLK_S_UNSUPP;
    if (seg.num_sectors > (discard ? lim->max_discard_sectors : lim->max_write_zeroes_sectors) ||
        !vblk_range_ok(lim, seg.sector, seg.num_sectors))
        return VIRTIO_BLK_S_IOERR;
    req->sector = seg.sector;
    req->offset = seg.sector * VIRTIO_BLK_SECTOR_SIZE;
    req->len = (uint64_t)seg.num_sectors * VIRTIO_BLK_SECTOR_SIZE;
    req->unmap = seg.flags & VIRTIO_BLK_WZ_FLAG_UNMAP;
    return VIRTIO_BLK_S_OK;
}

int vblk_request_parse(const struct virtq_chain *c, const struct vblk_limits *lim,
                       struct vblk_request *req, struct iovec *iov, unsigned iov_max)
{
    memset(req, 0, sizeof(*req));
    if (c->writable_bytes == 0 || c->nr <= c->nr_readable)
        return -EINVAL;
    const struct virtq_buf *last = &c->bufs[c->nr - 1];
    req->status = last->hva + last->len - 1;

    struct vblk_hdr hdr;
    if (c->readable_bytes < VIRTIO_BLK_HDR_SIZE ||
        virtq_chain_read(c, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
        return VIRTIO_BLK_S_IOERR;
    req->type = hdr.type;
    req->sector = hdr.sector;

    switch (hdr.type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        return vblk_parse_rw(c, lim, req, iov, iov_max);
    case VIRTIO_BLK_T_FLUSH:
        /* The sector field is ignored, as the spec allows drivers to leave it. */
        if (c->readable_bytes != VIRTIO_BLK_HDR_SIZE || c->writable_bytes != 1)
            return VIRTIO_BLK_S_IOERR;
        return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_GET_ID:
        if (c->readable_bytes != VIRTIO_BLK_HDR_SIZE || c->writable_bytes < 2)
            return VIRTIO_BLK_S_IOERR;
        req->len = MIN(c->writable_bytes - 1, (uint64_t)VIRTIO_BLK_ID_BYTES);
        return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        return vblk_parse_dwz(c, lim, req);
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
}
