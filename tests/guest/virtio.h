/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Constants of the tiny guests' virtio driver (virtio_drv.h): the device
 * context layout, the per-queue memory layout and descriptor flags. A guest
 * includes this at its top, where its code uses them, and virtio_drv.h at
 * the end of its .text.
 */
#ifndef CASULO_TEST_GUEST_VIRTIO_H
#define CASULO_TEST_GUEST_VIRTIO_H

/* Device context layout. */
#define CTX_BAR         0       /* u64 BAR 4 address */
#define CTX_SLOT        8       /* u32 */
#define CTX_QMEM        16      /* u64 queue memory */
#define CTX_QSZ         24      /* u32 queue size in use */
#define CTX_Q           32      /* per queue, 4 bytes: u16 next avail idx, u16 last used idx */
#define QMEM_STRIDE     0x3000
#define QMEM_AVAIL      0x1000
#define QMEM_USED       0x2000

#define VQ_DESC_NEXT    1
#define VQ_DESC_WRITE   2

#endif
