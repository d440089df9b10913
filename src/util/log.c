// SPDX-License-Identifier: Apache-2.0
/*
 * stderr logger. Each message is formatted into one buffer and written with a
 * single write(2) so lines from vCPU threads never interleave mid-line. When
 * the console is in raw mode the terminal does not translate "\n", so we
 * always end lines with "\r\n" on a TTY.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int current_level = LOG_NOTICE;

void log_set_level(enum log_level level) { atomic_store(&current_level, (int)level); }
enum log_level log_get_level(void) { return (enum log_level)atomic_load(&current_level); }

int log_parse_level(const char *name, enum log_level *level)
{
    static const char *const names[] = { "error", "warn", "notice", "info", "debug" };
    for (unsigned i = 0; i < ARRAY_SIZE(names); i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
    if ((int)level > atomic_load(&current_level))
        return;

    int saved_errno = errno;
    char line[1024];
    static const char *const tags[] = { "error: ", "warning: ", "", "", "debug: " };
    int n = snprintf(line, sizeof(line), "casulo: %s%s%s", tags[level],
                     component ? component : "", component ? ": " : "");
    if (n < 0)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m > 0)
        n += m;
    if ((size_t)n > sizeof(line) - 3)
        n = (int)sizeof(line) - 3;
    if (isatty(STDERR_FILENO))
        line[n++] = '\r';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
    errno = saved_errno;
}
