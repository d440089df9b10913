/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk requests (virtio 1.2, 5.2.6), parsed and validated from a
 * popped chain without touching any file: the header copied out of guest
 * memory, the data placed as iovecs into guest RAM, the status byte located.
 * Pure, so the fuzzer can drive it. The rules are listed in docs/blk.md.
 */
#ifndef CASULO_VIRTIO_BLK_REQUEST_H
#define CASULO_VIRTIO_BLK_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/compiler.h"
#include "virtio/virtqueue.h"

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR_SIZE  512u
#define VIRTIO_BLK_ID_BYTES     20u
#define VIRTIO_BLK_HDR_SIZE     16u
#define VIRTIO_BLK_DWZ_SEG_SIZE 16u
#define VIRTIO_BLK_WZ_FLAG_UNMAP 1u

/* What the device offers and the driver accepted. */
struct vblk_limits {
    uint64_t capacity;              /* 512-byte sectors */
    bool readonly;
    bool discard;                   /* VIRTIO_BLK_F_DISCARD negotiated */
    bool write_zeroes;              /* VIRTIO_BLK_F_WRITE_ZEROES negotiated */
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
};

struct vblk_request {
    uint32_t type;
    uint64_t sector;
    uint64_t offset;     /* bytes into the disk */
    uint64_t len;        /* bytes: the data (IN, OUT, GET_ID) or the range (DISCARD, WRITE_ZEROES) */
    bool unmap;          /* WRITE_ZEROES may deallocate */
    uint8_t *status;     /* the chain's last writable byte */
    unsigned nr_iov;     /* data iovecs filled (IN, OUT) */
};

/*
 * Parses `chain` into *req, filling at most iov_max iovecs that point into
 * the chain's buffers. Returns VIRTIO_BLK_S_OK when the request may run,
 * VIRTIO_BLK_S_IOERR or VIRTIO_BLK_S_UNSUPP as the status to answer with
 * (req->status is set), or -EINVAL when the chain has no writable byte to
 * carry a status at all (the driver broke the protocol).
 */
int vblk_request_parse(const struct virtq_chain *chain, const struct vblk_limits *lim,
                       struct vblk_request *req, struct iovec *iov, unsigned iov_max) MUST_CHECK;

#endif
