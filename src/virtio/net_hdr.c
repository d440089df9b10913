// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net header validation (see virtio/net_hdr.h). Both directions go
 * through one function so the guest-facing and tap-facing rules cannot drift
 * apart. The frame length is the caller's count of bytes after the header,
 * never a value read from the header itself.
 */
#include "virtio/net_hdr.h"

#include <errno.h>
#include <stdbool.h>

#define BIT(n) (1ull << (n))

unsigned net_hdr_tx_offloads(uint64_t f)
{
    unsigned o = 0;
    if (!(f & BIT(VIRTIO_NET_F_CSUM)))
        return 0;   /* every segmentation offload depends on checksum offload */
    o |= NET_OFF_CSUM;
    if (f & BIT(VIRTIO_NET_F_HOST_TSO4))
        o |= NET_OFF_TSO4;
    if (f & BIT(VIRTIO_NET_F_HOST_TSO6))
        o |= NET_OFF_TSO6;
    if ((f & BIT(VIRTIO_NET_F_HOST_ECN)) && (o & (NET_OFF_TSO4 | NET_OFF_TSO6)))
        o |= NET_OFF_ECN;
    if (f & BIT(VIRTIO_NET_F_HOST_UFO))
        o |= NET_OFF_UFO;
    if (f & BIT(VIRTIO_NET_F_HOST_USO))
        o |= NET_OFF_USO;
    return o;
}

unsigned net_hdr_rx_offloads(uint64_t f)
{
    unsigned o = 0;
    if (!(f & BIT(VIRTIO_NET_F_GUEST_CSUM)))
        return 0;
    o |= NET_OFF_CSUM;
    if (f & BIT(VIRTIO_NET_F_GUEST_TSO4))
        o |= NET_OFF_TSO4;
    if (f & BIT(VIRTIO_NET_F_GUEST_TSO6))
        o |= NET_OFF_TSO6;
    if ((f & BIT(VIRTIO_NET_F_GUEST_ECN)) && (o & (NET_OFF_TSO4 | NET_OFF_TSO6)))
        o |= NET_OFF_ECN;
    if (f & BIT(VIRTIO_NET_F_GUEST_UFO))
        o |= NET_OFF_UFO;
    /* Receiving USO needs both halves: the tap has no per-family switch we could honour apart. */
    if ((f & BIT(VIRTIO_NET_F_GUEST_USO4)) && (f & BIT(VIRTIO_NET_F_GUEST_USO6)))
        o |= NET_OFF_USO;
    return o;
}

static int refuse(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -EINVAL;
}

int net_hdr_check(const struct virtio_net_hdr_v1 *in, size_t frame_len, unsigned allowed,
                  enum net_hdr_dir dir, struct virtio_net_hdr_v1 *out, const char **why)
{
    /* Copy first: `in` may alias `out`, and may be guest memory that changes under us. */
    struct virtio_net_hdr_v1 h = *in;
    uint8_t flags = h.flags;
    unsigned gso = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    bool ecn = h.gso_type & VIRTIO_NET_HDR_GSO_ECN;

    if (why)
        *why = "";
    if (frame_len == 0)
        return refuse(why, "empty frame");
    if (frame_len > NET_MAX_FRAME)
        return refuse(why, "frame longer than 65550 bytes");
    if (flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
        return refuse(why, "unknown flags");
    if (flags & VIRTIO_NET_HDR_F_DATA_VALID) {
        if (dir == NET_HDR_TX)
            return refuse(why, "DATA_VALID set by the driver");
        if (!(allowed & NET_OFF_CSUM))
            flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;   /* a hint the guest did not ask for */
    }
    if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if (!(allowed & NET_OFF_CSUM))
            return refuse(why, "NEEDS_CSUM without checksum offload");
        if ((uint32_t)h.csum_start + h.csum_offset + 2u > frame_len)
            return refuse(why, "checksum field beyond the frame");
    } else {
        h.csum_start = 0;
        h.csum_offset = 0;
    }

    switch (gso) {
    case VIRTIO_NET_HDR_GSO_NONE:
        if (ecn)
            return refuse(why, "ECN without segmentation");
        h.gso_size = 0;
        if (h.hdr_len > frame_len)
            h.hdr_len = (uint16_t)frame_len;
        break;
    case VIRTIO_NET_HDR_GSO_TCPV4:
    case VIRTIO_NET_HDR_GSO_TCPV6:
        if (!(allowed & (gso == VIRTIO_NET_HDR_GSO_TCPV4 ? NET_OFF_TSO4 : NET_OFF_TSO6)))
            return refuse(why, "TCP segmentation not negotiated");
        if (ecn && !(allowed & NET_OFF_ECN))
            return refuse(why, "ECN segmentation not negotiated");
        if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h.csum_offset != 16)
            return refuse(why, "TCP checksum offset is not 16");
        break;
    case VIRTIO_NET_HDR_GSO_UDP:
        if (!(allowed & NET_OFF_UFO))
            return refuse(why, "UDP fragmentation not negotiated");
        if (ecn)
            return refuse(why, "ECN with UDP");
        break;
    case VIRTIO_NET_HDR_GSO_UDP_L4:
        if (!(allowed & NET_OFF_USO))
            return refuse(why, "UDP segmentation not negotiated");
        if (ecn)
            return refuse(why, "ECN with UDP");
        if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h.csum_offset != 6)
            return refuse(why, "UDP checksum offset is not 6");
        break;
    default:
        return refuse(why, "unknown gso_type");
    }
    if (gso != VIRTIO_NET_HDR_GSO_NONE) {
        /*
         * The driver must ask for checksums on a GSO frame (5.1.6.2). The host
         * kernel may instead hand us a GRO-merged frame it already verified.
         */
        if (!(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
            (dir == NET_HDR_TX || !(flags & VIRTIO_NET_HDR_F_DATA_VALID)))
            return refuse(why, "segmentation without a checksum flag");
        if (h.gso_size == 0)
            return refuse(why, "segmentation with gso_size 0");
        if (h.hdr_len > frame_len)
            return refuse(why, "hdr_len beyond the frame");
    }

    h.flags = flags;
    h.num_buffers = 0;
    *out = h;
    return 0;
}
