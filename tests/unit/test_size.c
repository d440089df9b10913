// SPDX-License-Identifier: Apache-2.0
/* Unit tests for util/size: parsing and printing of byte sizes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/size.h"

static void parses_suffixes(void **state)
{
    (void)state;
    static const struct { const char *text; uint64_t bytes; } cases[] = {
        { "0", 0 }, { "4096", 4096 }, { "1K", 1024 }, { "512M", 512ULL << 20 },
        { "4G", 4ULL << 30 }, { "4g", 4ULL << 30 }, { "2GiB", 2ULL << 30 }, { "3MB", 3ULL << 20 },
        { "1T", 1ULL << 40 }, { "16777215T", 16777215ULL << 40 }, { "10B", 10 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 1;
        assert_int_equal(size_parse(cases[i].text, &v), 0);
        assert_int_equal(v, cases[i].bytes);
    }
}

static void rejects_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = { "", "M", "-1", "1.5G", "12Q", "512Mx", " 1", "1 G", "0x10" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 7;
        assert_int_equal(size_parse(bad[i], &v), -EINVAL);
        assert_int_equal(v, 7);
    }
    uint64_t v;
    assert_int_equal(size_parse(NULL, &v), -EINVAL);
}

static void rejects_overflow(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(size_parse("18446744073709551615", &v), 0);
    assert_int_equal(v, UINT64_MAX);
    assert_int_equal(size_parse("18446744073709551616", &v), -ERANGE);
    assert_int_equal(size_parse("16777216T", &v), -ERANGE);
    assert_int_equal(size_parse("99999999999999999999999G", &v), -ERANGE);
}

static void formats_round_trip(void **state)
{
    (void)state;
    static const uint64_t values[] = { 0, 1, 1023, 1024, 1536ULL << 10, 512ULL << 20, 4ULL << 30,
                                       3ULL << 40, (4ULL << 30) + 4096 };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char buf[32];
        uint64_t back;
        size_format(values[i], buf, sizeof(buf));
        assert_int_equal(size_parse(buf, &back), 0);
        assert_int_equal(back, values[i]);
    }
    char buf[32];
    size_format(512ULL << 20, buf, sizeof(buf));
    assert_string_equal(buf, "512M");
    size_format(1536ULL << 10, buf, sizeof(buf));
    assert_string_equal(buf, "1536K");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_suffixes),
        cmocka_unit_test(rejects_garbage),
        cmocka_unit_test(rejects_overflow),
        cmocka_unit_test(formats_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
