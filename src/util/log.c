// SPDX-License-Identifier: Apache-2.0
/*
 * stderr logger, in text for people or JSON lines for programs. Each message
 * is formatted into one buffer and written with a single write(2) so lines
 * from vCPU threads never interleave mid-line. When the console is in raw
 * mode the terminal does not translate "\n", so we always end lines with
 * "\r\n" on a TTY.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A message longer than this is cut; enough for a register dump line. */
#define LOG_MSG_MAX       1024
/* Component names are short module names; a longer one is cut. */
#define LOG_COMPONENT_MAX 64
/* Worst case of one escaped byte: \u00XX, or U+FFFD's 6 characters. */
#define LOG_ESCAPE_MAX    6

static _Atomic int current_level = LOG_NOTICE;
static _Atomic int current_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = { "error", "warn", "notice", "info", "debug" };

void log_set_level(enum log_level level) { atomic_store(&current_level, (int)level); }
enum log_level log_get_level(void) { return (enum log_level)atomic_load(&current_level); }
void log_set_format(enum log_format format) { atomic_store(&current_format, (int)format); }
enum log_format log_get_format(void) { return (enum log_format)atomic_load(&current_format); }

int log_parse_level(const char *name, enum log_level *level)
{
    for (unsigned i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
    if ((unsigned)level >= ARRAY_SIZE(level_names))
        return "debug";
    return level_names[level];
}

int log_parse_format(const char *name, enum log_format *format)
{
    if (strcasecmp(name, "text") == 0) {
        *format = LOG_FORMAT_TEXT;
        return 0;
    }
    if (strcasecmp(name, "json") == 0) {
        *format = LOG_FORMAT_JSON;
        return 0;
    }
    return -EINVAL;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0 if there is none. */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;   /* bounds of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;   /* overlong */
        else if (c == 0xed)
            hi = 0x9f;   /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;   /* overlong */
        else if (c == 0xf4)
            hi = 0x8f;   /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

size_t log_json_escape(const char *text, char *out, size_t outlen)
{
    if (!outlen)
        return 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0;
    while (*s) {
        char esc[8];
        const char *piece = esc;
        size_t len;
        size_t adv = 1;
        unsigned char c = *s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            len = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            len = 2;
        } else if (c < 0x20 || c == 0x7f) {
            len = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
        } else {
            adv = utf8_sequence(s);
            if (adv) {
                piece = (const char *)s;
                len = adv;
            } else {
                piece = "\\ufffd";
                len = 6;
                adv = 1;
            }
        }
        if (n + len >= outlen)
            break;
        memcpy(out + n, piece, len);
        n += len;
        s += adv;
    }
    out[n] = '\0';
    return n;
}

/* "2026-11-28T23:40:01.123Z": UTC with milliseconds, so lines from several hosts sort. */
static void format_timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static size_t format_json(char *line, size_t size, enum log_level level, const char *component,
                          const char *msg)
{
    char ts[40], comp[LOG_COMPONENT_MAX + 1];
    format_timestamp(ts, sizeof(ts));
    snprintf(comp, sizeof(comp), "%s", component ? component : "casulo");
    int n = snprintf(line, size, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"", ts,
                     log_level_name(level));
    size_t pos = (size_t)n;
    pos += log_json_escape(comp, line + pos, size - pos);
    pos += (size_t)snprintf(line + pos, size - pos, "\",\"msg\":\"");
    pos += log_json_escape(msg, line + pos, size - pos);
    pos += (size_t)snprintf(line + pos, size - pos, "\"}");
    return pos;
}

static size_t format_text(char *line, size_t size, enum log_level level, const char *component,
                          const char *msg)
{
    static const char *const tags[] = { "error: ", "warning: ", "", "", "debug: " };
    int n = snprintf(line, size, "casulo: %s%s%s%s", tags[level], component ? component : "",
                     component ? ": " : "", msg);
    if (n < 0)
        return 0;
    return (size_t)n >= size ? size - 1 : (size_t)n;
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
    if ((int)level > atomic_load(&current_level))
        return;

    int saved_errno = errno;
    char msg[LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);

    /* Sized for the worst case, so a JSON line is never cut inside an escape or a brace. */
    char line[LOG_MSG_MAX * LOG_ESCAPE_MAX + LOG_COMPONENT_MAX * LOG_ESCAPE_MAX + 160];
    size_t size = sizeof(line) - 2;   /* room for "\r\n" */
    size_t n = atomic_load(&current_format) == LOG_FORMAT_JSON
                   ? format_json(line, size, level, component, msg)
                   : format_text(line, size, level, component, msg);
    if (isatty(STDERR_FILENO))
        line[n++] = '\r';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
    errno = saved_errno;
}
