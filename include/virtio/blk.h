/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk: a raw image behind a virtio block device (virtio 1.2, 5.2),
 * independent of the transport. Requests are parsed on the VM's I/O thread
 * and handed to an asynchronous block back-end whose iovecs point straight
 * into guest RAM; completions return on the same thread. See docs/blk.md.
 */
#ifndef CASULO_VIRTIO_BLK_H
#define CASULO_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "backends/disk_config.h"
#include "util/compiler.h"
#include "virtio/virtio_dev.h"

/* Feature bits (virtio 1.2, 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* What this device offers. */
#define VBLK_QUEUE_SIZE           256u
#define VBLK_SEG_MAX              126u   /* data segments per request */
#define VBLK_MAX_DWZ_SECTORS      (1u << 21)   /* 1 GiB per discard/write-zeroes */

/* Device configuration layout (virtio 1.2, 5.2.4), little-endian. */
struct virtio_blk_config {
    uint64_t capacity;
    uint32_t size_max;
    uint32_t seg_max;
    uint16_t geometry_cylinders;
    uint8_t geometry_heads;
    uint8_t geometry_sectors;
    uint32_t blk_size;
    uint8_t physical_block_exp;
    uint8_t alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
    uint8_t writeback;
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
} __attribute__((packed));

struct vblk;
struct evloop;

/*
 * Opens and locks the image and creates the I/O engine on `loop` (the VM's
 * I/O event loop, the one virtio_io_loop() returns). Errors name the file.
 */
int vblk_create(struct vblk **out, const struct disk_config *cfg, struct evloop *loop,
                char *err, size_t errlen) MUST_CHECK;

/* The ops table to register with the transport, with the vblk as `dev`. */
extern const struct virtio_device_ops vblk_ops;

/* "io_uring" or "sync": the engine io=auto settled on. */
const char *vblk_backend_name(const struct vblk *vb);
/* Takes or drops the image's advisory lock (live migration over shared storage). */
int vblk_set_locked(struct vblk *vb, bool locked, char *err, size_t errlen) MUST_CHECK;
/*
 * Request counters by operation. `requests` counts every request answered
 * with a status (errors included), `errors` those answered IOERR or UNSUPP,
 * `bytes` the data of successful ones (the range for discard/write-zeroes).
 * OTHER holds requests of unknown type or with no readable header.
 */
enum vblk_stat_op {
    VBLK_STAT_READ,
    VBLK_STAT_WRITE,
    VBLK_STAT_FLUSH,
    VBLK_STAT_DISCARD,
    VBLK_STAT_WRITE_ZEROES,
    VBLK_STAT_GET_ID,
    VBLK_STAT_OTHER,
    VBLK_STAT_NR
};

struct vblk_op_stats {
    uint64_t requests, bytes, errors;
};

struct vblk_stats {
    struct vblk_op_stats op[VBLK_STAT_NR];
};

/* Any thread, never blocks on I/O: each counter is read atomically (the set may lag a request). */
void vblk_get_stats(struct vblk *vb, struct vblk_stats *out);

/* Test hook: see block_backend_inject_error(). */
void vblk_inject_error(struct vblk *vb, int block_op, int error, unsigned count);

#endif
