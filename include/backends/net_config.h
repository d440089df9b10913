/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `--net tap=NAME[,mac=aa:bb:cc:dd:ee:ff]` option of one network
 * interface, parsed and checked before anything is opened, and the MAC
 * address policy: a MAC the user gives must be unicast and not all zeroes;
 * without one, a random locally-administered unicast MAC is drawn.
 */
#ifndef CASULO_BACKENDS_NET_CONFIG_H
#define CASULO_BACKENDS_NET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define NET_IFNAME_MAX 16   /* IFNAMSIZ: 15 characters and the NUL */
#define NET_MAC_STR    18   /* "aa:bb:cc:dd:ee:ff" and the NUL */

struct net_config {
    char tap[NET_IFNAME_MAX];
    uint8_t mac[6];
    bool mac_random;    /* the MAC was drawn, not given */
};

/*
 * Parses a comma-separated key=value list: tap= (required, a valid Linux
 * interface name) and mac= (optional). Each key at most once. Returns 0, or
 * -EINVAL with a one-line message in err; -errno if no random MAC could be drawn.
 */
int net_config_parse(const char *spec, struct net_config *out, char *err, size_t errlen) MUST_CHECK;

/* "aa:bb:cc:dd:ee:ff" (either case) to bytes; -EINVAL on anything else. Any MAC kind. */
int net_mac_parse(const char *s, uint8_t mac[6]) MUST_CHECK;
void net_mac_format(const uint8_t mac[6], char out[NET_MAC_STR]);
/* A random unicast MAC with the locally-administered bit set (getrandom). */
int net_mac_random(uint8_t mac[6]) MUST_CHECK;

#endif
