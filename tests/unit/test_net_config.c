// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for backends/net_config: the --net tap=NAME[,mac=MAC] grammar,
 * interface-name rules, MAC validation (format, multicast, zero) and the
 * properties of the random MAC drawn when none is given.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "backends/net_config.h"

static void tap_and_mac(void **state)
{
    (void)state;
    struct net_config c;
    char err[256] = "";
    assert_int_equal(net_config_parse("tap=tap0,mac=52:54:00:AB:cd:ef", &c, err, sizeof(err)), 0);
    assert_string_equal(c.tap, "tap0");
    const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
    assert_memory_equal(c.mac, want, 6);
    assert_false(c.mac_random);
    /* Key order does not matter. */
    assert_int_equal(net_config_parse("mac=02:00:00:00:00:01,tap=vm-net.1", &c, err, sizeof(err)), 0);
    assert_string_equal(c.tap, "vm-net.1");
    assert_int_equal(c.mac[5], 1);
    char s[NET_MAC_STR];
    net_mac_format(c.mac, s);
    assert_string_equal(s, "02:00:00:00:00:01");
}

static void random_mac(void **state)
{
    (void)state;
    struct net_config a, b;
    assert_int_equal(net_config_parse("tap=t", &a, NULL, 0), 0);
    assert_true(a.mac_random);
    assert_int_equal(a.mac[0] & 0x01, 0);      /* unicast */
    assert_int_equal(a.mac[0] & 0x02, 0x02);   /* locally administered */
    /* 46 random bits: two draws colliding in all of them would mean no randomness. */
    unsigned same = 0;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(net_config_parse("tap=t", &b, NULL, 0), 0);
        assert_int_equal(b.mac[0] & 0x03, 0x02);
        same += !memcmp(a.mac, b.mac, 6);
    }
    assert_true(same < 8);
    /* Over many draws, each of the other 46 bits is seen both set and clear. */
    uint8_t ones[6] = { 0 }, zeros[6] = { 0 };
    for (int i = 0; i < 64; i++) {
        uint8_t m[6];
        assert_int_equal(net_mac_random(m), 0);
        for (int j = 0; j < 6; j++) {
            ones[j] |= m[j];
            zeros[j] |= (uint8_t)~m[j];
        }
    }
    assert_int_equal(ones[0], 0xfe);
    assert_int_equal(zeros[0], 0xfd);
    for (int j = 1; j < 6; j++) {
        assert_int_equal(ones[j], 0xff);
        assert_int_equal(zeros[j], 0xff);
    }
}

static void expect_error(const char *spec, const char *needle)
{
    struct net_config c;
    memset(&c, 0x5a, sizeof(c));
    struct net_config before = c;
    char err[256] = "";
    assert_int_equal(net_config_parse(spec, &c, err, sizeof(err)), -EINVAL);
    if (!strstr(err, needle))
        fail_msg("'%s': error '%s' lacks '%s'", spec ? spec : "(null)", err, needle);
    assert_memory_equal(&c, &before, sizeof(c));    /* untouched on failure */
}

static void bad_specs(void **state)
{
    (void)state;
    expect_error(NULL, "empty");
    expect_error("", "empty");
    expect_error("mac=02:00:00:00:00:01", "tap=NAME is required");
    expect_error("tap0", "not key=value");
    expect_error("tap=a,", "not key=value");
    expect_error("tap=a,,mac=02:00:00:00:00:01", "not key=value");
    expect_error("tap=a,vhost=on", "unknown key 'vhost'");
    expect_error("TAP=a", "unknown key 'TAP'");
    expect_error("tap=a,tap=b", "tap given twice");
    expect_error("tap=a,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02", "mac given twice");
}

static void bad_names(void **state)
{
    (void)state;
    expect_error("tap=", "not a valid interface name");
    expect_error("tap=0123456789abcdef", "not a valid interface name");   /* 16 characters */
    expect_error("tap=.", "not a valid interface name");
    expect_error("tap=..", "not a valid interface name");
    expect_error("tap=a/b", "not a valid interface name");
    expect_error("tap=a:b", "not a valid interface name");
    expect_error("tap=a b", "not a valid interface name");
    expect_error("tap=a\tb", "not a valid interface name");
    struct net_config c;
    assert_int_equal(net_config_parse("tap=0123456789abcde", &c, NULL, 0), 0);   /* 15 is fine */
    assert_string_equal(c.tap, "0123456789abcde");
    assert_int_equal(net_config_parse("tap=...", &c, NULL, 0), 0);
}

static void bad_macs(void **state)
{
    (void)state;
    expect_error("tap=a,mac=", "not six hex pairs");
    expect_error("tap=a,mac=02:00:00:00:00", "not six hex pairs");
    expect_error("tap=a,mac=02:00:00:00:00:001", "not six hex pairs");
    expect_error("tap=a,mac=02-00-00-00-00-01", "not six hex pairs");
    expect_error("tap=a,mac=02:00:00:00:0g:01", "not six hex pairs");
    expect_error("tap=a,mac=2:00:00:00:00:001", "not six hex pairs");
    expect_error("tap=a,mac= 2:00:00:00:00:01", "not six hex pairs");
    expect_error("tap=a,mac=01:00:5e:00:00:01", "multicast");
    expect_error("tap=a,mac=ff:ff:ff:ff:ff:ff", "multicast");
    expect_error("tap=a,mac=03:00:00:00:00:01", "multicast");
    expect_error("tap=a,mac=00:00:00:00:00:00", "not a valid address");
    uint8_t m[6];
    assert_int_equal(net_mac_parse("ff:ff:ff:ff:ff:ff", m), 0);   /* the raw parser takes any MAC */
    assert_int_equal(m[0], 0xff);
    assert_int_equal(net_mac_parse("ff:ff:ff:ff:ff:f", m), -EINVAL);
}

static void err_is_optional_and_bounded(void **state)
{
    (void)state;
    struct net_config c;
    char small[8];
    memset(small, 'x', sizeof(small));
    assert_int_equal(net_config_parse("bogus=1", &c, small, sizeof(small)), -EINVAL);
    assert_int_equal(small[sizeof(small) - 1], '\0');
    assert_int_equal(net_config_parse("bogus=1", &c, NULL, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tap_and_mac),
        cmocka_unit_test(random_mac),
        cmocka_unit_test(bad_specs),
        cmocka_unit_test(bad_names),
        cmocka_unit_test(bad_macs),
        cmocka_unit_test(err_is_optional_and_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
