// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for virtio/net_hdr (and, with a longer input, the --net
 * option parser). The first 4 bytes pick the offloads, the direction and the
 * frame length (up to 128 KiB, so lengths past the 65550-byte limit occur);
 * the next 12 are the header exactly as a guest or tap would hand it over.
 * An accepted header must satisfy every rule net_hdr.h promises, and
 * checking the canonical copy again must give the same copy. Any bytes after
 * that are parsed as a --net spec, whose successful results must be sane.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "backends/net_config.h"
#include "virtio/net_hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HDR 4

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static void check_accepted(const struct virtio_net_hdr_v1 *o, size_t len, unsigned allowed,
                           enum net_hdr_dir dir)
{
    unsigned gso = o->gso_type & 0x7f;
    bool ecn = o->gso_type & VIRTIO_NET_HDR_GSO_ECN;
    bool needs = o->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, valid = o->flags & VIRTIO_NET_HDR_F_DATA_VALID;

    fuzz_check(len >= 1 && len <= NET_MAX_FRAME);
    fuzz_check((o->flags & ~3u) == 0);
    fuzz_check(o->num_buffers == 0);
    fuzz_check(o->hdr_len <= len);
    if (valid)
        fuzz_check(dir == NET_HDR_RX && (allowed & NET_OFF_CSUM));
    if (needs)
        fuzz_check((allowed & NET_OFF_CSUM) && (uint32_t)o->csum_start + o->csum_offset + 2 <= len);
    else
        fuzz_check(o->csum_start == 0 && o->csum_offset == 0);
    switch (gso) {
    case VIRTIO_NET_HDR_GSO_NONE:
        fuzz_check(!ecn && o->gso_size == 0);
        return;
    case VIRTIO_NET_HDR_GSO_TCPV4:
        fuzz_check(allowed & NET_OFF_TSO4);
        break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        fuzz_check(allowed & NET_OFF_TSO6);
        break;
    case VIRTIO_NET_HDR_GSO_UDP:
        fuzz_check((allowed & NET_OFF_UFO) && !ecn);
        break;
    case VIRTIO_NET_HDR_GSO_UDP_L4:
        fuzz_check((allowed & NET_OFF_USO) && !ecn);
        break;
    default:
        fuzz_check(0);
    }
    if (ecn)
        fuzz_check(allowed & NET_OFF_ECN);
    fuzz_check(o->gso_size > 0);
    fuzz_check(needs || (dir == NET_HDR_RX && valid));
}

static void fuzz_config(const uint8_t *data, size_t size)
{
    char spec[256];
    struct net_config c;
    char err[128];
    size_t n = size < sizeof(spec) - 1 ? size : sizeof(spec) - 1;
    memcpy(spec, data, n);
    spec[n] = '\0';
    if (net_config_parse(spec, &c, err, sizeof(err)) == 0) {
        size_t l = strnlen(c.tap, sizeof(c.tap));
        fuzz_check(l >= 1 && l < sizeof(c.tap));
        fuzz_check(!strchr(c.tap, '/') && !strchr(c.tap, ':') && !strchr(c.tap, ','));
        fuzz_check((c.mac[0] & 1) == 0);
        static const uint8_t zero[6];
        fuzz_check(memcmp(c.mac, zero, 6) != 0);
        if (c.mac_random)
            fuzz_check((c.mac[0] & 2) == 2);
    } else {
        fuzz_check(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_HDR + sizeof(struct virtio_net_hdr_v1))
        return 0;
    unsigned allowed = data[0] & 0x3f;
    enum net_hdr_dir dir = (data[0] & 0x80) ? NET_HDR_RX : NET_HDR_TX;
    size_t len = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)(data[3] & 1) << 16;
    struct virtio_net_hdr_v1 in, out, again;
    memcpy(&in, data + FUZZ_HDR, sizeof(in));

    const char *why = NULL;
    int r = net_hdr_check(&in, len, allowed, dir, &out, &why);
    fuzz_check(why != NULL);
    if (r == 0) {
        check_accepted(&out, len, allowed, dir);
        /* Canonical means stable: the copy passes again, unchanged. */
        fuzz_check(net_hdr_check(&out, len, allowed, dir, &again, NULL) == 0);
        fuzz_check(memcmp(&out, &again, sizeof(out)) == 0);
        /* More offloads never turn an accepted header into a refused one. */
        fuzz_check(net_hdr_check(&in, len, 0x3f, dir, &again, NULL) == 0);
    } else {
        fuzz_check(r == -22 && why[0] != '\0');
    }

    size_t rest = size - FUZZ_HDR - sizeof(in);
    if (rest)
        fuzz_config(data + FUZZ_HDR + sizeof(in), rest);
    return 0;
}
