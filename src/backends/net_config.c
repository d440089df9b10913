// SPDX-License-Identifier: Apache-2.0
/*
 * Parsing of the --net option (see backends/net_config.h). Interface names
 * follow the kernel's rule (dev_valid_name) so a bad name is reported here,
 * with the option, rather than as an obscure ioctl error later.
 */
#include "backends/net_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "util/error.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int net_mac_parse(const char *s, uint8_t mac[6])
{
    uint8_t m[6];
    if (strlen(s) != NET_MAC_STR - 1)
        return -EINVAL;
    for (unsigned i = 0; i < 6; i++) {
        const char *p = s + 3 * i;
        int hi = hexval(p[0]), lo = hexval(p[1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        if (i < 5 && p[2] != ':')
            return -EINVAL;
        m[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(mac, m, 6);
    return 0;
}

void net_mac_format(const uint8_t mac[6], char out[NET_MAC_STR])
{
    snprintf(out, NET_MAC_STR, "%02x:%02x:%02x:%02x:%02x:%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

int net_mac_random(uint8_t mac[6])
{
    uint8_t m[6];
    size_t got = 0;
    while (got < sizeof(m)) {
        ssize_t r = getrandom(m + got, sizeof(m) - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    m[0] = (uint8_t)((m[0] & ~0x01) | 0x02);   /* unicast, locally administered */
    memcpy(mac, m, 6);
    return 0;
}

/* The kernel's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or space. */
static bool ifname_valid(const char *s, size_t len)
{
    if (len == 0 || len >= NET_IFNAME_MAX)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/' || c == ':' || isspace(c) || c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static int parse_mac_value(const char *v, size_t len, uint8_t mac[6], char *err, size_t errlen)
{
    char buf[NET_MAC_STR];
    if (len != NET_MAC_STR - 1)
        return error_set(err, errlen, -EINVAL, "--net: mac '%.*s' is not six hex pairs aa:bb:cc:dd:ee:ff",
                         (int)MIN(len, 64), v);
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (net_mac_parse(buf, mac) < 0)
        return error_set(err, errlen, -EINVAL, "--net: mac '%s' is not six hex pairs aa:bb:cc:dd:ee:ff", buf);
    if (mac[0] & 0x01)
        return error_set(err, errlen, -EINVAL, "--net: mac '%s' is a multicast address; a NIC needs a unicast one", buf);
    static const uint8_t zero[6];
    if (!memcmp(mac, zero, 6))
        return error_set(err, errlen, -EINVAL, "--net: mac 00:00:00:00:00:00 is not a valid address");
    return 0;
}

int net_config_parse(const char *spec, struct net_config *out, char *err, size_t errlen)
{
    struct net_config c;
    bool have_tap = false, have_mac = false;
    memset(&c, 0, sizeof(c));
    if (!spec || !*spec)
        return error_set(err, errlen, -EINVAL, "--net: empty; expected tap=NAME[,mac=MAC]");

    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return error_set(err, errlen, -EINVAL, "--net: '%.*s' is not key=value; expected tap=NAME[,mac=MAC]",
                             (int)MIN(len, 64), p);
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vlen = len - klen - 1;
        if (klen == 3 && !memcmp(p, "tap", 3)) {
            if (have_tap)
                return error_set(err, errlen, -EINVAL, "--net: tap given twice");
            if (!ifname_valid(v, vlen))
                return error_set(err, errlen, -EINVAL,
                                 "--net: tap '%.*s' is not a valid interface name (1-15 characters, no '/', ':' or spaces)",
                                 (int)MIN(vlen, 64), v);
            memcpy(c.tap, v, vlen);
            c.tap[vlen] = '\0';
            have_tap = true;
        } else if (klen == 3 && !memcmp(p, "mac", 3)) {
            if (have_mac)
                return error_set(err, errlen, -EINVAL, "--net: mac given twice");
            int r = parse_mac_value(v, vlen, c.mac, err, errlen);
            if (r < 0)
                return r;
            have_mac = true;
        } else {
            return error_set(err, errlen, -EINVAL, "--net: unknown key '%.*s' (known: tap, mac)",
                             (int)MIN(klen, 64), p);
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (!have_tap)
        return error_set(err, errlen, -EINVAL, "--net: tap=NAME is required");
    if (!have_mac) {
        int r = net_mac_random(c.mac);
        if (r < 0)
            return error_set(err, errlen, r, "--net: cannot draw a random MAC: %s", strerror(-r));
        c.mac_random = true;
    }
    *out = c;
    return 0;
}
