// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for backends/disk_config: every --disk key, its defaults, and
 * the message for each kind of mistake.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "backends/disk_config.h"

static struct disk_config cfg;
static char err[256];

static int parse(const char *spec)
{
    err[0] = '\0';
    return disk_config_parse(spec, &cfg, err, sizeof(err));
}

static void expect_error(const char *spec, const char *msg_part)
{
    assert_int_equal(parse(spec), -EINVAL);
    if (!strstr(err, msg_part))
        fail_msg("'%s': message '%s' lacks '%s'", spec, err, msg_part);
}

static void defaults(void **state)
{
    (void)state;
    assert_int_equal(parse("path=/img/root.raw"), 0);
    assert_string_equal(cfg.path, "/img/root.raw");
    assert_false(cfg.readonly);
    assert_false(cfg.direct);
    assert_int_equal(cfg.io, DISK_IO_AUTO);
    assert_int_equal(cfg.queues, 1);
    assert_string_equal(cfg.id, "");
    assert_string_equal(disk_config_serial(&cfg), "");
}

static void every_key(void **state)
{
    (void)state;
    assert_int_equal(parse("path=a.img,readonly=on,id=root,serial=SN-42,io=sync,direct=on,queues=4"), 0);
    assert_string_equal(cfg.path, "a.img");
    assert_true(cfg.readonly);
    assert_true(cfg.direct);
    assert_int_equal(cfg.io, DISK_IO_SYNC);
    assert_int_equal(cfg.queues, 4);
    assert_string_equal(cfg.id, "root");
    assert_string_equal(cfg.serial, "SN-42");
    assert_string_equal(disk_config_serial(&cfg), "SN-42");

    /* Order does not matter; off and the other io values. */
    assert_int_equal(parse("io=uring,readonly=off,direct=off,path=b,queues=16"), 0);
    assert_int_equal(cfg.io, DISK_IO_URING);
    assert_false(cfg.readonly);
    assert_false(cfg.direct);
    assert_int_equal(cfg.queues, 16);
    assert_int_equal(parse("path=b,io=auto"), 0);
    assert_int_equal(cfg.io, DISK_IO_AUTO);
    assert_string_equal(disk_io_name(DISK_IO_URING), "uring");
    assert_string_equal(disk_io_name(DISK_IO_SYNC), "sync");
}

static void id_is_the_default_serial(void **state)
{
    (void)state;
    assert_int_equal(parse("path=x,id=data1"), 0);
    assert_string_equal(disk_config_serial(&cfg), "data1");
    /* Exactly 20 bytes fits. */
    assert_int_equal(parse("path=x,serial=12345678901234567890"), 0);
    assert_string_equal(cfg.serial, "12345678901234567890");
}

static void comma_escape_in_path(void **state)
{
    (void)state;
    assert_int_equal(parse("path=/a,,b/c.img,readonly=on"), 0);
    assert_string_equal(cfg.path, "/a,b/c.img");
    assert_true(cfg.readonly);
    /* '=' inside a value is just a character. */
    assert_int_equal(parse("path=/x=y"), 0);
    assert_string_equal(cfg.path, "/x=y");
}

static void errors(void **state)
{
    (void)state;
    expect_error("", "path=FILE");
    expect_error("readonly=on", "needs path=FILE");
    expect_error("path=a,foo=1", "unknown --disk key 'foo'");
    expect_error("path=a,path=b", "'path' given twice");
    expect_error("path=a,readonly", "'readonly' is not key=value");
    expect_error("path=", "path has an empty value");
    expect_error("path=a,readonly=yes", "readonly must be 'on' or 'off', not 'yes'");
    expect_error("path=a,direct=1", "direct must be 'on' or 'off'");
    expect_error("path=a,io=aio", "io must be 'uring', 'sync' or 'auto', not 'aio'");
    expect_error("path=a,queues=0", "queues must be a number from 1 to 16, not '0'");
    expect_error("path=a,queues=17", "not '17'");
    expect_error("path=a,queues=-1", "not '-1'");
    expect_error("path=a,queues=2x", "not '2x'");
    expect_error("path=a,queues=99999999999999999999", "queues must be");
    expect_error("path=a,id=123456789012345678901", "id '123456789012345678901' is longer than 20 bytes");
    expect_error("path=a,serial=123456789012345678901", "serial");
    expect_error("path=a,serial=tab\there", "printable ASCII");
}

static void separators(void **state)
{
    (void)state;
    /* A trailing separator ends the list. */
    assert_int_equal(parse("path=a,"), 0);
    assert_string_equal(cfg.path, "a");
    /* ",," is always a literal comma, so these stay inside the path. */
    assert_int_equal(parse("path=a,,id=x"), 0);
    assert_string_equal(cfg.path, "a,id=x");
    assert_string_equal(cfg.id, "");
    assert_int_equal(parse("path=a,,,id=x"), 0);
    assert_string_equal(cfg.path, "a,");
    assert_string_equal(cfg.id, "x");
    expect_error(",path=a", "empty item");
    expect_error("path=a,,,,,id", "'id' is not key=value");
}

static void long_path(void **state)
{
    (void)state;
    static char spec[PATH_MAX + 64];
    strcpy(spec, "path=");
    memset(spec + 5, 'p', PATH_MAX + 10);
    spec[5 + PATH_MAX + 10] = '\0';
    expect_error(spec, "too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(every_key),
        cmocka_unit_test(id_is_the_default_serial),
        cmocka_unit_test(comma_escape_in_path),
        cmocka_unit_test(errors),
        cmocka_unit_test(separators),
        cmocka_unit_test(long_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
