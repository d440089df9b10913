// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio/net_hdr: every header field in both directions,
 * with well-formed headers and hostile ones (checksum fields beyond the
 * frame, GSO without its feature, unknown types and flags, ECN misuse), and
 * the mapping from negotiated features to allowed offloads.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "virtio/net_hdr.h"

#define ALL (NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6 | NET_OFF_ECN | NET_OFF_UFO | NET_OFF_USO)
#define B(n) (1ull << (n))

static struct virtio_net_hdr_v1 hdr(uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
                                    uint16_t cs, uint16_t co)
{
    return (struct virtio_net_hdr_v1){ .flags = flags, .gso_type = gso, .hdr_len = hdr_len,
                                       .gso_size = gso_size, .csum_start = cs, .csum_offset = co,
                                       .num_buffers = 0xbeef };
}

static int check(struct virtio_net_hdr_v1 h, size_t len, unsigned allowed, enum net_hdr_dir dir,
                 struct virtio_net_hdr_v1 *out)
{
    struct virtio_net_hdr_v1 tmp;
    const char *why = NULL;
    int r = net_hdr_check(&h, len, allowed, dir, out ? out : &tmp, &why);
    assert_non_null(why);
    if (r < 0)
        assert_true(strlen(why) > 0);
    return r;
}

static void plain_frame(void **state)
{
    (void)state;
    struct virtio_net_hdr_v1 out;
    /* No offload: checksum fields and gso_size are ignored and zeroed, hdr_len clamped. */
    assert_int_equal(check(hdr(0, 0, 9000, 77, 1000, 1000), 60, 0, NET_HDR_TX, &out), 0);
    assert_int_equal(out.flags, 0);
    assert_int_equal(out.gso_type, 0);
    assert_int_equal(out.gso_size, 0);
    assert_int_equal(out.csum_start, 0);
    assert_int_equal(out.csum_offset, 0);
    assert_int_equal(out.hdr_len, 60);
    assert_int_equal(out.num_buffers, 0);
    assert_int_equal(check(hdr(0, 0, 14, 0, 0, 0), 60, ALL, NET_HDR_RX, &out), 0);
    assert_int_equal(out.hdr_len, 14);
}

static void frame_length_limits(void **state)
{
    (void)state;
    assert_int_equal(check(hdr(0, 0, 0, 0, 0, 0), 0, ALL, NET_HDR_TX, NULL), -EINVAL);
    assert_int_equal(check(hdr(0, 0, 0, 0, 0, 0), NET_MAX_FRAME, ALL, NET_HDR_TX, NULL), 0);
    assert_int_equal(check(hdr(0, 0, 0, 0, 0, 0), NET_MAX_FRAME + 1, ALL, NET_HDR_TX, NULL), -EINVAL);
    assert_int_equal(check(hdr(0, 0, 0, 0, 0, 0), SIZE_MAX, ALL, NET_HDR_RX, NULL), -EINVAL);
}

static void needs_csum(void **state)
{
    (void)state;
    struct virtio_net_hdr_v1 out;
    uint8_t f = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    /* TCP over IPv4: start 34, offset 16, field ends at 52. */
    assert_int_equal(check(hdr(f, 0, 54, 0, 34, 16), 60, NET_OFF_CSUM, NET_HDR_TX, &out), 0);
    assert_int_equal(out.flags, f);
    assert_int_equal(out.csum_start, 34);
    assert_int_equal(out.csum_offset, 16);
    /* The 2-byte field must end inside the frame: exactly at the end is fine, one past is not. */
    assert_int_equal(check(hdr(f, 0, 0, 0, 42, 16), 60, NET_OFF_CSUM, NET_HDR_TX, NULL), 0);
    assert_int_equal(check(hdr(f, 0, 0, 0, 43, 16), 60, NET_OFF_CSUM, NET_HDR_TX, NULL), -EINVAL);
    /* Hostile: sums that would wrap in 16-bit arithmetic, or end just past the largest frame. */
    assert_int_equal(check(hdr(f, 0, 0, 0, 0xffff, 0xffff), 60, NET_OFF_CSUM, NET_HDR_TX, NULL), -EINVAL);
    assert_int_equal(check(hdr(f, 0, 0, 0, 0xffff, 15), NET_MAX_FRAME, NET_OFF_CSUM, NET_HDR_TX, NULL), -EINVAL);
    /* Without checksum offload negotiated, in both directions. */
    assert_int_equal(check(hdr(f, 0, 0, 0, 34, 16), 60, 0, NET_HDR_TX, NULL), -EINVAL);
    assert_int_equal(check(hdr(f, 0, 0, 0, 34, 16), 60, 0, NET_HDR_RX, NULL), -EINVAL);
}

static void data_valid(void **state)
{
    (void)state;
    struct virtio_net_hdr_v1 out;
    uint8_t f = VIRTIO_NET_HDR_F_DATA_VALID;
    /* Only the device may set it. */
    assert_int_equal(check(hdr(f, 0, 0, 0, 0, 0), 60, ALL, NET_HDR_TX, NULL), -EINVAL);
    /* From the tap: kept if the guest takes checksum offload, else quietly dropped. */
    assert_int_equal(check(hdr(f, 0, 0, 0, 0, 0), 60, NET_OFF_CSUM, NET_HDR_RX, &out), 0);
    assert_int_equal(out.flags, f);
    assert_int_equal(check(hdr(f, 0, 0, 0, 0, 0), 60, 0, NET_HDR_RX, &out), 0);
    assert_int_equal(out.flags, 0);
}

static void unknown_flags(void **state)
{
    (void)state;
    for (unsigned bit = 2; bit < 8; bit++) {
        assert_int_equal(check(hdr((uint8_t)(1u << bit), 0, 0, 0, 0, 0), 60, ALL, NET_HDR_TX, NULL), -EINVAL);
        assert_int_equal(check(hdr((uint8_t)(1u << bit), 0, 0, 0, 0, 0), 60, ALL, NET_HDR_RX, NULL), -EINVAL);
    }
}

static void gso_types(void **state)
{
    (void)state;
    struct virtio_net_hdr_v1 out;
    uint8_t f = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    struct { uint8_t type; unsigned off; uint16_t co; } ok[] = {
        { VIRTIO_NET_HDR_GSO_TCPV4, NET_OFF_TSO4, 16 },
        { VIRTIO_NET_HDR_GSO_TCPV6, NET_OFF_TSO6, 16 },
        { VIRTIO_NET_HDR_GSO_UDP, NET_OFF_UFO, 6 },
        { VIRTIO_NET_HDR_GSO_UDP_L4, NET_OFF_USO, 6 },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        unsigned allowed = NET_OFF_CSUM | ok[i].off;
        struct virtio_net_hdr_v1 h = hdr(f, ok[i].type, 66, 1448, 34, ok[i].co);
        assert_int_equal(check(h, 30000, allowed, NET_HDR_TX, &out), 0);
        assert_int_equal(out.gso_type, ok[i].type);
        assert_int_equal(out.gso_size, 1448);
        assert_int_equal(out.hdr_len, 66);
        /* Each needs its own offload... */
        assert_int_equal(check(h, 30000, ALL & ~ok[i].off, NET_HDR_TX, NULL), -EINVAL);
        assert_int_equal(check(h, 30000, ALL & ~ok[i].off, NET_HDR_RX, NULL), -EINVAL);
        /* ...NEEDS_CSUM from a driver, a non-zero MSS, and hdr_len inside the frame. */
        struct virtio_net_hdr_v1 bad = h;
        bad.flags = 0;
        assert_int_equal(check(bad, 30000, allowed, NET_HDR_TX, NULL), -EINVAL);
        bad = h;
        bad.gso_size = 0;
        assert_int_equal(check(bad, 30000, allowed, NET_HDR_TX, NULL), -EINVAL);
        bad = h;
        bad.hdr_len = 30001;
        assert_int_equal(check(bad, 30000, allowed, NET_HDR_TX, NULL), -EINVAL);
    }
    /* The tap may hand over a GRO-merged frame with DATA_VALID instead of NEEDS_CSUM. */
    assert_int_equal(check(hdr(VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 0, 0),
                           30000, ALL, NET_HDR_RX, &out), 0);
    assert_int_equal(check(hdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 0, 0), 30000, ALL, NET_HDR_RX, NULL),
                     -EINVAL);
    /* Checksum offsets that do not match the protocol. */
    assert_int_equal(check(hdr(f, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 34, 6), 30000, ALL, NET_HDR_TX, NULL),
                     -EINVAL);
    assert_int_equal(check(hdr(f, VIRTIO_NET_HDR_GSO_UDP_L4, 42, 1448, 34, 16), 30000, ALL, NET_HDR_TX, NULL),
                     -EINVAL);
    /* Unknown types, with and without the ECN bit. */
    for (unsigned t = 0; t < 0x80; t++) {
        if (t == 0 || t == 1 || t == 3 || t == 4 || t == 5)
            continue;
        assert_int_equal(check(hdr(f, (uint8_t)t, 66, 1448, 34, 16), 30000, ALL, NET_HDR_TX, NULL), -EINVAL);
        assert_int_equal(check(hdr(f, (uint8_t)(t | 0x80), 66, 1448, 34, 16), 30000, ALL, NET_HDR_RX, NULL),
                         -EINVAL);
    }
}

static void ecn(void **state)
{
    (void)state;
    struct virtio_net_hdr_v1 out;
    uint8_t f = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    uint8_t t = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
    assert_int_equal(check(hdr(f, t, 66, 1448, 34, 16), 30000, ALL, NET_HDR_TX, &out), 0);
    assert_int_equal(out.gso_type, t);
    assert_int_equal(check(hdr(f, t, 66, 1448, 34, 16), 30000, ALL & ~NET_OFF_ECN, NET_HDR_TX, NULL), -EINVAL);
    assert_int_equal(check(hdr(f, VIRTIO_NET_HDR_GSO_ECN, 0, 0, 34, 16), 60, ALL, NET_HDR_TX, NULL), -EINVAL);
    assert_int_equal(check(hdr(f, VIRTIO_NET_HDR_GSO_UDP | VIRTIO_NET_HDR_GSO_ECN, 42, 1448, 34, 6), 30000,
                           ALL, NET_HDR_TX, NULL), -EINVAL);
    assert_int_equal(check(hdr(f, VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN, 42, 1448, 34, 6), 30000,
                           ALL, NET_HDR_TX, NULL), -EINVAL);
}

static void in_place_and_null_why(void **state)
{
    (void)state;
    struct virtio_net_hdr_v1 h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 500, 9, 14, 6);
    assert_int_equal(net_hdr_check(&h, 100, NET_OFF_CSUM, NET_HDR_TX, &h, NULL), 0);
    assert_int_equal(h.hdr_len, 100);
    assert_int_equal(h.gso_size, 0);
    assert_int_equal(h.csum_start, 14);
    assert_int_equal(net_hdr_check(&h, 10, NET_OFF_CSUM, NET_HDR_TX, &h, NULL), -EINVAL);
}

static void offloads_from_features(void **state)
{
    (void)state;
    uint64_t all_host = B(VIRTIO_NET_F_CSUM) | B(VIRTIO_NET_F_HOST_TSO4) | B(VIRTIO_NET_F_HOST_TSO6) |
                        B(VIRTIO_NET_F_HOST_ECN) | B(VIRTIO_NET_F_HOST_UFO) | B(VIRTIO_NET_F_HOST_USO);
    uint64_t all_guest = B(VIRTIO_NET_F_GUEST_CSUM) | B(VIRTIO_NET_F_GUEST_TSO4) |
                         B(VIRTIO_NET_F_GUEST_TSO6) | B(VIRTIO_NET_F_GUEST_ECN) |
                         B(VIRTIO_NET_F_GUEST_UFO) | B(VIRTIO_NET_F_GUEST_USO4) | B(VIRTIO_NET_F_GUEST_USO6);
    assert_int_equal(net_hdr_tx_offloads(all_host), ALL);
    assert_int_equal(net_hdr_rx_offloads(all_host), 0);
    assert_int_equal(net_hdr_rx_offloads(all_guest), ALL);
    assert_int_equal(net_hdr_tx_offloads(all_guest), 0);
    /* Segmentation without checksum offload means nothing. */
    assert_int_equal(net_hdr_tx_offloads(all_host & ~B(VIRTIO_NET_F_CSUM)), 0);
    assert_int_equal(net_hdr_rx_offloads(all_guest & ~B(VIRTIO_NET_F_GUEST_CSUM)), 0);
    /* ECN needs TSO; USO on receive needs both families. */
    assert_int_equal(net_hdr_tx_offloads(B(VIRTIO_NET_F_CSUM) | B(VIRTIO_NET_F_HOST_ECN)), NET_OFF_CSUM);
    assert_int_equal(net_hdr_rx_offloads(B(VIRTIO_NET_F_GUEST_CSUM) | B(VIRTIO_NET_F_GUEST_USO4)), NET_OFF_CSUM);
    assert_int_equal(net_hdr_rx_offloads(B(VIRTIO_NET_F_GUEST_CSUM) | B(VIRTIO_NET_F_GUEST_TSO6)),
                     NET_OFF_CSUM | NET_OFF_TSO6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_frame),
        cmocka_unit_test(frame_length_limits),
        cmocka_unit_test(needs_csum),
        cmocka_unit_test(data_valid),
        cmocka_unit_test(unknown_flags),
        cmocka_unit_test(gso_types),
        cmocka_unit_test(ecn),
        cmocka_unit_test(in_place_and_null_why),
        cmocka_unit_test(offloads_from_features),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
