/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-net packet header (virtio 1.2, 5.1.6) and its validation. The
 * same 12-byte header travels between the guest and the TAP (IFF_VNET_HDR),
 * so no translation of layout is needed; what this module does is decide
 * whether a header is acceptable in one direction, given the offloads that
 * direction negotiated and the length of the frame that follows it, and
 * produce the canonical copy the other side gets (ignored fields zeroed).
 * Pure functions, no I/O: the fuzz target drives them directly.
 */
#ifndef CASULO_VIRTIO_NET_HDR_H
#define CASULO_VIRTIO_NET_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2

#define VIRTIO_NET_HDR_GSO_NONE   0
#define VIRTIO_NET_HDR_GSO_TCPV4  1
#define VIRTIO_NET_HDR_GSO_UDP    3
#define VIRTIO_NET_HDR_GSO_TCPV6  4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#define VIRTIO_NET_HDR_GSO_ECN    0x80

/* virtio-net feature bits (virtio 1.2, 5.1.3); the device offers a subset. */
#define VIRTIO_NET_F_CSUM            0
#define VIRTIO_NET_F_GUEST_CSUM      1
#define VIRTIO_NET_F_MAC             5
#define VIRTIO_NET_F_GUEST_TSO4      7
#define VIRTIO_NET_F_GUEST_TSO6      8
#define VIRTIO_NET_F_GUEST_ECN       9
#define VIRTIO_NET_F_GUEST_UFO       10
#define VIRTIO_NET_F_HOST_TSO4       11
#define VIRTIO_NET_F_HOST_TSO6       12
#define VIRTIO_NET_F_HOST_ECN        13
#define VIRTIO_NET_F_HOST_UFO        14
#define VIRTIO_NET_F_MRG_RXBUF       15
#define VIRTIO_NET_F_STATUS          16
#define VIRTIO_NET_F_CTRL_VQ         17
#define VIRTIO_NET_F_GUEST_ANNOUNCE  21
#define VIRTIO_NET_F_MQ              22
#define VIRTIO_NET_F_GUEST_USO4      54
#define VIRTIO_NET_F_GUEST_USO6      55
#define VIRTIO_NET_F_HOST_USO        56

/* Little-endian on the wire; casulo only runs on little-endian x86-64 hosts. */
struct virtio_net_hdr_v1 {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;   /* VERSION_1 or MRG_RXBUF only */
};
_Static_assert(sizeof(struct virtio_net_hdr_v1) == 12, "virtio_net_hdr_v1 is 12 bytes");

/* Header length: 12 bytes with VERSION_1 or MRG_RXBUF, 10 for a legacy driver. */
#define VIRTIO_NET_HDR_LEN        12u
#define VIRTIO_NET_HDR_LEGACY_LEN 10u

/* The largest frame (without the header) the device moves: 64 KiB GSO + Ethernet + VLAN. */
#define NET_MAX_FRAME 65550u

/* Offloads a direction allows; derived from the negotiated feature bits. */
#define NET_OFF_CSUM 0x01u
#define NET_OFF_TSO4 0x02u
#define NET_OFF_TSO6 0x04u
#define NET_OFF_ECN  0x08u
#define NET_OFF_UFO  0x10u
#define NET_OFF_USO  0x20u

/* Direction, because the rules differ: only the device may set DATA_VALID. */
enum net_hdr_dir {
    NET_HDR_TX,   /* guest -> tap: the header the driver wrote */
    NET_HDR_RX,   /* tap -> guest: the header the host kernel wrote */
};

/* What the guest may send (VIRTIO_NET_F_CSUM, HOST_*) and receive (GUEST_*). */
unsigned net_hdr_tx_offloads(uint64_t features);
unsigned net_hdr_rx_offloads(uint64_t features);

/*
 * Checks `in` for a frame of `frame_len` bytes (header excluded) against the
 * offloads `allowed`, and writes the canonical header to `out` (num_buffers
 * is zeroed: the RX path fills it). Returns 0, or -EINVAL with a static
 * reason in *why (why may be NULL). `in` and `out` may alias.
 *
 * Rules: unknown flags refused; NEEDS_CSUM needs NET_OFF_CSUM and
 * csum_start + csum_offset + 2 <= frame_len; DATA_VALID refused on TX and
 * dropped on RX unless NET_OFF_CSUM; a GSO type needs its offload, NEEDS_CSUM
 * (on RX, DATA_VALID will do: GRO-merged frames),
 * gso_size > 0 and hdr_len <= frame_len, with csum_offset 16 for TCP and 6
 * for UDP_L4; ECN only with TCP and NET_OFF_ECN. Without GSO, gso_size is
 * zeroed and hdr_len clamped to the frame.
 */
int net_hdr_check(const struct virtio_net_hdr_v1 *in, size_t frame_len, unsigned allowed,
                  enum net_hdr_dir dir, struct virtio_net_hdr_v1 *out, const char **why) MUST_CHECK;

#endif
