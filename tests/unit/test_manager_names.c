// SPDX-License-Identifier: Apache-2.0
/* Unit tests for manager/names: which VM names the daemon accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "manager/names.h"

static void accepts_plain_names(void **state)
{
    (void)state;
    static const char *const good[] = { "a", "web-1", "db_2.prod", "9lives", "A.B-C_D" };
    char err[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(mgr_name_valid(good[i], err, sizeof(err)));
    char longest[MGR_NAME_MAX + 1];
    memset(longest, 'x', MGR_NAME_MAX);
    longest[MGR_NAME_MAX] = '\0';
    assert_true(mgr_name_valid(longest, err, sizeof(err)));
}

static void refuses_unsafe_names(void **state)
{
    (void)state;
    /* Path tricks, URL and shell characters, leading punctuation, spaces, non-ASCII. */
    static const char *const bad[] = { ".", "..", "../x", "a/b", "-x", ".hidden", "_x", "a b",
                                       "a?b", "a%2f", "a\nb", "caf\xc3\xa9", "a;b", "a\\b" };
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_false(mgr_name_valid(bad[i], err, sizeof(err)));
        assert_non_null(strstr(err, "must start with a letter or digit"));
    }
    assert_false(mgr_name_valid("", err, sizeof(err)));
    assert_non_null(strstr(err, "must not be empty"));
    assert_false(mgr_name_valid(NULL, err, sizeof(err)));
    char toolong[MGR_NAME_MAX + 2];
    memset(toolong, 'x', MGR_NAME_MAX + 1);
    toolong[MGR_NAME_MAX + 1] = '\0';
    assert_false(mgr_name_valid(toolong, err, sizeof(err)));
    assert_non_null(strstr(err, "longer than"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_plain_names),
        cmocka_unit_test(refuses_unsafe_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
