// SPDX-License-Identifier: Apache-2.0
/*
 * The MC146818 model through ports 0x70/0x71: the clock matches the host's
 * UTC time in BCD and binary, 12-hour mode, register A/C/D behaviour, and
 * the CMOS memory-size fields.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "core/bus.h"
#include "devices/rtc.h"

struct fixture {
    struct bus bus;
    struct rtc rtc;
    time_t fake_now;
};

static time_t fake_clock(void *opaque)
{
    struct fixture *f = opaque;
    return f->fake_now;
}

static struct fixture *make(bool fake)
{
    struct fixture *f = test_calloc(1, sizeof(*f));
    assert_int_equal(bus_init(&f->bus, "pio"), 0);
    f->fake_now = 1700000000; /* 2023-11-14 22:13:20 UTC, a Tuesday */
    assert_int_equal(rtc_init(&f->rtc, fake ? fake_clock : NULL, f), 0);
    assert_int_equal(bus_register(&f->bus, 0x70, RTC_NR_PORTS, &rtc_bus_ops, &f->rtc, "rtc"), 0);
    return f;
}

static int setup_host(void **state)
{
    *state = make(false);
    return 0;
}

static int setup_fake(void **state)
{
    *state = make(true);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rtc_destroy(&f->rtc);
    bus_destroy(&f->bus);
    test_free(f);
    return 0;
}

static uint8_t cmos_read(struct fixture *f, uint8_t reg)
{
    uint8_t v = 0;
    /* Linux sets the NMI-disable bit on some paths: it must not matter. */
    uint8_t idx = reg | 0x80;
    assert_true(bus_write(&f->bus, 0x70, &idx, 1));
    assert_true(bus_read(&f->bus, 0x71, &v, 1));
    return v;
}

static void cmos_write(struct fixture *f, uint8_t reg, uint8_t v)
{
    assert_true(bus_write(&f->bus, 0x70, &reg, 1));
    assert_true(bus_write(&f->bus, 0x71, &v, 1));
}

static unsigned bcd(uint8_t v)
{
    assert_true((v & 0x0f) <= 9 && (v >> 4) <= 9);
    return (v >> 4) * 10 + (v & 0x0f);
}

/* Reads the clock like Linux's mach_get_cmos_time and converts it back. */
static time_t read_clock(struct fixture *f, bool binary)
{
    struct tm tm = { 0 };
    unsigned (*dec)(uint8_t) = binary ? NULL : bcd;
#define DEC(r) (dec ? dec(cmos_read(f, r)) : cmos_read(f, r))
    assert_false(cmos_read(f, RTC_REG_A) & RTC_A_UIP);
    tm.tm_sec = (int)DEC(RTC_SECONDS);
    tm.tm_min = (int)DEC(RTC_MINUTES);
    tm.tm_hour = (int)DEC(RTC_HOURS);
    tm.tm_mday = (int)DEC(RTC_DAY_OF_MONTH);
    tm.tm_mon = (int)DEC(RTC_MONTH) - 1;
    tm.tm_year = (int)(DEC(RTC_CENTURY) * 100 + DEC(RTC_YEAR)) - 1900;
#undef DEC
    return timegm(&tm);
}

/* Fields are read one by one, so a read can straddle a minute boundary:
 * like Linux, read until two reads agree. */
static time_t read_clock_stable(struct fixture *f, bool binary)
{
    time_t a = read_clock(f, binary);
    for (int tries = 0; tries < 5; tries++) {
        time_t b = read_clock(f, binary);
        if (a == b)
            break;
        a = b;
    }
    return a;
}

static void test_host_time_bcd(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(cmos_read(f, RTC_REG_B) & (RTC_B_DM_BIN | RTC_B_24H), RTC_B_24H);
    time_t before = time(NULL);
    time_t t = read_clock_stable(f, false);
    time_t after = time(NULL);
    /* A correctness check with slack for a slow machine, not a timing test. */
    assert_true(t >= before - 2 && t <= after + 2);
}

static void test_host_time_binary(void **state)
{
    struct fixture *f = *state;
    cmos_write(f, RTC_REG_B, RTC_B_24H | RTC_B_DM_BIN);
    assert_int_equal(cmos_read(f, RTC_REG_B), RTC_B_24H | RTC_B_DM_BIN);
    time_t before = time(NULL);
    time_t t = read_clock_stable(f, true);
    time_t after = time(NULL);
    assert_true(t >= before - 2 && t <= after + 2);
}

static void test_fields_and_12h(void **state)
{
    struct fixture *f = *state;
    /* 2023-11-14 22:13:20 UTC */
    assert_int_equal(cmos_read(f, RTC_SECONDS), 0x20);
    assert_int_equal(cmos_read(f, RTC_MINUTES), 0x13);
    assert_int_equal(cmos_read(f, RTC_HOURS), 0x22);
    assert_int_equal(cmos_read(f, RTC_DAY_OF_WEEK), 3); /* Sunday = 1 */
    assert_int_equal(cmos_read(f, RTC_DAY_OF_MONTH), 0x14);
    assert_int_equal(cmos_read(f, RTC_MONTH), 0x11);
    assert_int_equal(cmos_read(f, RTC_YEAR), 0x23);
    assert_int_equal(cmos_read(f, RTC_CENTURY), 0x20);

    cmos_write(f, RTC_REG_B, 0); /* 12-hour, BCD */
    assert_int_equal(cmos_read(f, RTC_HOURS), 0x80 | 0x10);
    cmos_write(f, RTC_REG_B, RTC_B_DM_BIN);
    assert_int_equal(cmos_read(f, RTC_HOURS), 0x80 | 10);
    f->fake_now -= 22 * 3600; /* 00:13: 12 AM */
    assert_int_equal(cmos_read(f, RTC_HOURS), 12);

    /* Guest writes to the clock are ignored: the host clock rules. */
    cmos_write(f, RTC_REG_B, RTC_B_24H);
    cmos_write(f, RTC_MINUTES, 0x59);
    assert_int_equal(cmos_read(f, RTC_MINUTES), 0x13);
}

static void test_registers_acd(void **state)
{
    struct fixture *f = *state;
    /* A: divider bits writable, UIP never set. */
    cmos_write(f, RTC_REG_A, 0xff);
    assert_int_equal(cmos_read(f, RTC_REG_A), 0x7f);
    cmos_write(f, RTC_REG_A, 0x26);
    assert_int_equal(cmos_read(f, RTC_REG_A), 0x26);
    /* D: valid RAM and time, read-only. */
    cmos_write(f, RTC_REG_D, 0);
    assert_int_equal(cmos_read(f, RTC_REG_D), RTC_D_VRT);

    /* C: nothing happened yet; after a second ticks, UF; reading clears it. */
    assert_int_equal(cmos_read(f, RTC_REG_C), 0);
    f->fake_now++;
    assert_int_equal(cmos_read(f, RTC_REG_C), RTC_C_UF);
    assert_int_equal(cmos_read(f, RTC_REG_C), 0);
    /* With UIE enabled, IRQF accompanies UF. */
    cmos_write(f, RTC_REG_B, RTC_B_24H | RTC_B_UIE);
    f->fake_now++;
    assert_int_equal(cmos_read(f, RTC_REG_C), RTC_C_IRQF | RTC_C_UF);
    assert_int_equal(cmos_read(f, RTC_REG_C), 0);
    /* C is read-only. */
    cmos_write(f, RTC_REG_C, 0xff);
    assert_int_equal(cmos_read(f, RTC_REG_C), 0);
}

static void test_cmos_memory(void **state)
{
    struct fixture *f = *state;
    /* 3 GiB below the hole, 1 GiB + 64 KiB above 4 GiB. */
    uint64_t low = 3ULL << 30, high = (1ULL << 30) + 0x10000;
    rtc_set_memory(&f->rtc, low, high);
    assert_int_equal(cmos_read(f, 0x15) | cmos_read(f, 0x16) << 8, 640);
    assert_int_equal(cmos_read(f, 0x17) | cmos_read(f, 0x18) << 8, 0xffff); /* capped */
    assert_int_equal(cmos_read(f, 0x30) | cmos_read(f, 0x31) << 8, 0xffff);
    assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8, (low - (16 << 20)) >> 16);
    unsigned above4g = cmos_read(f, 0x5b) | cmos_read(f, 0x5c) << 8 | cmos_read(f, 0x5d) << 16;
    assert_int_equal(above4g, high >> 16);

    /* A small VM: 32 MiB, nothing high. */
    rtc_set_memory(&f->rtc, 32 << 20, 0);
    assert_int_equal(cmos_read(f, 0x17) | cmos_read(f, 0x18) << 8, 31 * 1024);
    assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8, (16 << 20) >> 16);
    assert_int_equal(cmos_read(f, 0x5b) | cmos_read(f, 0x5c) | cmos_read(f, 0x5d), 0);

    /* Ordinary CMOS bytes are plain memory; the index wraps at 128. */
    cmos_write(f, 0x40, 0xa5);
    assert_int_equal(cmos_read(f, 0x40), 0xa5);
    assert_int_equal(cmos_read(f, 0xc0), 0xa5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_time_bcd, setup_host, teardown),
        cmocka_unit_test_setup_teardown(test_host_time_binary, setup_host, teardown),
        cmocka_unit_test_setup_teardown(test_fields_and_12h, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_registers_acd, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_cmos_memory, setup_fake, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
