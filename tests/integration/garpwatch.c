// SPDX-License-Identifier: Apache-2.0
/*
 * garpwatch IFACE MAC: prints one line "GARP MAC IP" for every gratuitous
 * ARP (sender IP == target IP) that arrives on IFACE from MAC, until killed.
 * tests/integration/migrate.sh builds it statically and runs it in L1 on
 * the destination's TAP, where only the migrated guest can send from MAC: a
 * line there is the guest's answer to casulo's VIRTIO_NET_S_ANNOUNCE, which
 * ordinary traffic (the guest's TCP stream) cannot be mistaken for. L1 has
 * only busybox, which has no packet sniffer.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* An Ethernet frame's ARP payload for IPv4 over Ethernet. */
struct garp_arp {
    unsigned char htype[2], ptype[2], hlen, plen, op[2];
    unsigned char sha[6], spa[4], tha[6], tpa[4];
};

static int garp_parse_mac(const char *s, unsigned char mac[6])
{
    unsigned int b[6];

    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (b[i] > 255)
            return -1;
        mac[i] = (unsigned char)b[i];
    }
    return 0;
}

int main(int argc, char **argv)
{
    unsigned char mac[6], frame[2048];
    /*
     * ETH_P_ALL: on a bridge port the bridge takes every incoming frame
     * before a socket bound to one protocol would see it; the taps for all
     * protocols run first.
     */
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
    int fd;

    if (argc != 3 || garp_parse_mac(argv[2], mac) < 0) {
        fprintf(stderr, "usage: garpwatch IFACE MAC\n");
        return 2;
    }
    sll.sll_ifindex = (int)if_nametoindex(argv[1]);
    if (sll.sll_ifindex == 0) {
        perror(argv[1]);
        return 1;
    }
    fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
    if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        perror("garpwatch: packet socket");
        return 1;
    }
    for (;;) {
        struct sockaddr_ll from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, frame, sizeof(frame), 0, (struct sockaddr *)&from, &fl);
        struct garp_arp a;

        if (n < 0) {
            perror("garpwatch: recvfrom");
            return 1;
        }
        /* Frames the bridge floods out of this TAP are not the guest's. */
        if (from.sll_pkttype == PACKET_OUTGOING || from.sll_protocol != htons(ETH_P_ARP) ||
            (size_t)n < sizeof(a))
            continue;
        memcpy(&a, frame, sizeof(a));
        if (a.hlen != 6 || a.plen != 4 || memcmp(a.sha, mac, 6) != 0 ||
            memcmp(a.spa, a.tpa, 4) != 0)
            continue;
        printf("GARP %s %u.%u.%u.%u\n", argv[2], a.spa[0], a.spa[1], a.spa[2], a.spa[3]);
        fflush(stdout);
    }
}
