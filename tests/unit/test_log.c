// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the logger: the text format people read, and the JSON-lines
 * format programs parse. Every JSON line is parsed back with jansson, so an
 * escaping mistake (a quote, a control character, bytes that are not UTF-8)
 * shows up as a line that does not parse.
 */
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/log.h"

/* Redirects stderr into a temporary file for the length of one test. */
struct capture {
    int saved;
    int fd;
    char path[64];
};

static void capture_begin(struct capture *c)
{
    strcpy(c->path, "/tmp/casulo-test-log-XXXXXX");
    c->fd = mkstemp(c->path);
    assert_true(c->fd >= 0);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
}

/* Restores stderr and returns what was written (caller frees). */
static char *capture_end(struct capture *c)
{
    assert_int_equal(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
    close(c->saved);
    off_t len = lseek(c->fd, 0, SEEK_END);
    assert_true(len >= 0);
    char *buf = calloc(1, (size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(pread(c->fd, buf, (size_t)len, 0), (ssize_t)len);
    close(c->fd);
    unlink(c->path);
    return buf;
}

static int reset(void **state)
{
    (void)state;
    log_set_level(LOG_NOTICE);
    log_set_format(LOG_FORMAT_TEXT);
    return 0;
}

static void parse_names(void **state)
{
    (void)state;
    enum log_level l;
    enum log_format f;
    assert_int_equal(log_parse_level("warn", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_parse_level("loud", &l), -EINVAL);
    assert_int_equal(log_parse_format("json", &f), 0);
    assert_int_equal(f, LOG_FORMAT_JSON);
    assert_int_equal(log_parse_format("text", &f), 0);
    assert_int_equal(f, LOG_FORMAT_TEXT);
    assert_int_equal(log_parse_format("xml", &f), -EINVAL);
    for (int i = LOG_ERROR; i <= LOG_DEBUG; i++) {
        assert_int_equal(log_parse_level(log_level_name((enum log_level)i), &l), 0);
        assert_int_equal(l, i);
    }
}

static void text_format(void **state)
{
    (void)state;
    struct capture c;
    capture_begin(&c);
    log_warn("virtio-blk", "queue %d is %s", 3, "stuck");
    log_notice(NULL, "guest powered off");
    log_info(NULL, "not shown at notice");
    char *out = capture_end(&c);
    assert_string_equal(out, "casulo: warning: virtio-blk: queue 3 is stuck\n"
                             "casulo: guest powered off\n");
    free(out);
}

/* Parses one JSON line and checks its four fields. */
static void check_json_line(const char *line, size_t len, const char *level, const char *component,
                            const char *msg)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        fail_msg("not JSON (%s): %.*s", jerr.text, (int)len, line);
    assert_int_equal(json_object_size(obj), 4);
    assert_string_equal(json_string_value(json_object_get(obj, "level")), level);
    assert_string_equal(json_string_value(json_object_get(obj, "component")), component);
    assert_string_equal(json_string_value(json_object_get(obj, "msg")), msg);
    const char *ts = json_string_value(json_object_get(obj, "ts"));
    assert_non_null(ts);
    regex_t re;
    assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                             REG_EXTENDED | REG_NOSUB), 0);
    if (regexec(&re, ts, 0, NULL, 0) != 0)
        fail_msg("ts '%s' is not an ISO 8601 UTC time with milliseconds", ts);
    regfree(&re);
    json_decref(obj);
}

static void json_format(void **state)
{
    (void)state;
    log_set_format(LOG_FORMAT_JSON);
    log_set_level(LOG_DEBUG);
    struct capture c;
    capture_begin(&c);
    log_warn("virtio-blk", "disk \"%s\" failed:\n\tEIO \\ %s", "a.img", "retrying");
    log_notice(NULL, "guest powered off");
    log_debug("pci", "bell\a nul-ish \x01 del\x7f");
    log_error("x\"y", "bad bytes: \xff\xfe | cut utf8: \xe2\x82 | ok: caf\xc3\xa9 \xe2\x82\xac");
    char *out = capture_end(&c);

    char *lines[5] = { 0 };
    size_t n = 0;
    for (char *p = out, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        assert_true(n < 4);
        *nl = '\0';
        lines[n++] = p;
    }
    assert_int_equal(n, 4);
    check_json_line(lines[0], strlen(lines[0]), "warn", "virtio-blk",
                    "disk \"a.img\" failed:\n\tEIO \\ retrying");
    check_json_line(lines[1], strlen(lines[1]), "notice", "casulo", "guest powered off");
    check_json_line(lines[2], strlen(lines[2]), "debug", "pci", "bell\a nul-ish \x01 del\x7f");
    check_json_line(lines[3], strlen(lines[3]), "error", "x\"y",
                    "bad bytes: \xef\xbf\xbd\xef\xbf\xbd | cut utf8: \xef\xbf\xbd\xef\xbf\xbd | "
                    "ok: caf\xc3\xa9 \xe2\x82\xac");
    /* Control characters never appear raw inside a line. */
    for (size_t i = 0; i < n; i++)
        for (const char *p = lines[i]; *p; p++)
            assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    free(out);
}

/* A message longer than the buffer is cut, and the line is still one valid JSON object. */
static void json_long_message(void **state)
{
    (void)state;
    log_set_format(LOG_FORMAT_JSON);
    char big[4000];
    memset(big, '"', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct capture c;
    capture_begin(&c);
    log_error("comp", "%s", big);
    char *out = capture_end(&c);
    size_t len = strlen(out);
    assert_true(len > 0 && out[len - 1] == '\n');
    assert_ptr_equal(strchr(out, '\n'), out + len - 1);   /* one line */
    json_error_t jerr;
    json_t *obj = json_loadb(out, len - 1, 0, &jerr);
    if (!obj)
        fail_msg("cut line is not JSON: %s", jerr.text);
    const char *msg = json_string_value(json_object_get(obj, "msg"));
    assert_non_null(msg);
    assert_true(strlen(msg) > 500);
    assert_true(strspn(msg, "\"") == strlen(msg));
    json_decref(obj);
    free(out);
}

static void escape_bounds(void **state)
{
    (void)state;
    char out[8];
    /* Room for 7 bytes: three 2-byte escapes fit, the fourth would not. */
    assert_int_equal(log_json_escape("\"\"\"\"", out, sizeof(out)), 6);
    assert_string_equal(out, "\\\"\\\"\\\"");
    /* \u0001 needs 6 bytes; only 4 are left after "a" and the NUL, so it is left out whole. */
    char small[8];
    assert_int_equal(log_json_escape("a\x01", small, 6), 1);
    assert_string_equal(small, "a");
    /* A 3-byte UTF-8 character is copied whole or not at all. */
    assert_int_equal(log_json_escape("ab\xe2\x82\xac", small, 5), 2);
    assert_string_equal(small, "ab");
    assert_int_equal(log_json_escape("ab\xe2\x82\xac", small, 6), 5);
    assert_string_equal(small, "ab\xe2\x82\xac");
    /* Overlong encodings and surrogates are not UTF-8. */
    char wide[64];
    log_json_escape("\xc0\xaf\xed\xa0\x80", wide, sizeof(wide));
    assert_null(strchr(wide, (char)0xc0));
    assert_null(strchr(wide, (char)0xed));
    assert_int_equal(log_json_escape("", wide, sizeof(wide)), 0);
    assert_string_equal(wide, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(parse_names, reset),
        cmocka_unit_test_setup(text_format, reset),
        cmocka_unit_test_setup(json_format, reset),
        cmocka_unit_test_setup(json_long_message, reset),
        cmocka_unit_test_setup(escape_bounds, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
