// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for `casulo migrate --watch`'s progress line: each GET
 * /migrate status gives its own line, with the measured figures once
 * completed, the reason once failed, and non-convergence called out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "cli/migrate.h"

static void line_for(const char *json, char *buf, size_t len)
{
    json_error_t jerr;
    json_t *m = json_loads(json, 0, &jerr);
    assert_non_null(m);
    migrate_progress_line(m, buf, len);
    json_decref(m);
}

static void lines(void **state)
{
    (void)state;
    char buf[512];
    line_for("{\"status\": \"active\", \"phase\": \"precopy\", \"iteration\": 3, \"bytes_sent\": 10485760, "
             "\"bytes_remaining\": 2097152, \"dirty_rate_mib_s\": 20.5, \"bandwidth_mib_s\": 16.0, "
             "\"expected_downtime_ms\": 125, \"converging\": false, \"throttle_percent\": 30}",
             buf, sizeof(buf));
    assert_string_equal(buf, "precopy, pass 3: sent 10.0 MiB, remaining 2.0 MiB, dirty 20.5 MiB/s, "
                             "link 16.0 MiB/s, expected downtime 125 ms (not converging), throttle 30%");
    line_for("{\"status\": \"active\", \"phase\": \"precopy\", \"converging\": true}", buf, sizeof(buf));
    assert_null(strstr(buf, "not converging"));
    line_for("{\"status\": \"completed\", \"downtime_ms\": 12, \"total_ms\": 3400, \"bytes_sent\": 1048576}",
             buf, sizeof(buf));
    assert_string_equal(buf, "completed: downtime 12 ms, total 3400 ms, 1.0 MiB sent");
    line_for("{\"status\": \"completed\", \"downtime_ms\": 3, \"total_ms\": 90, \"bytes_sent\": 1048576, "
             "\"compression\": \"zstd\", \"compression_ratio\": 12.5}", buf, sizeof(buf));
    assert_string_equal(buf, "completed: downtime 3 ms, total 90 ms, 1.0 MiB sent (pages compressed 12.5x)");
    line_for("{\"status\": \"failed\", \"error\": \"the destination refused the migration: x\"}", buf,
             sizeof(buf));
    assert_string_equal(buf, "failed: the destination refused the migration: x");
    line_for("{\"status\": \"cancelled\", \"error\": \"cancelled\"}", buf, sizeof(buf));
    assert_string_equal(buf, "cancelled: cancelled");
    line_for("{\"status\": \"none\"}", buf, sizeof(buf));
    assert_string_equal(buf, "none");
    /* A short buffer truncates, never overflows. */
    char small[8];
    line_for("{\"status\": \"failed\", \"error\": \"a long reason\"}", small, sizeof(small));
    assert_int_equal(strlen(small), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
