/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging to stderr. One line per message: by default for people, prefixed
 * "casulo: " so a user can tell our lines from the guest console's; with
 * LOG_FORMAT_JSON for programs, one JSON object per line:
 *   {"ts":"2026-11-28T23:40:01.123Z","level":"warn","component":"virtio-blk","msg":"..."}
 * The level and format are process-wide state: they are configuration of the
 * process, not of a VM, so they live here rather than in struct vm.
 */
#ifndef CASULO_UTIL_LOG_H
#define CASULO_UTIL_LOG_H

#include <stdbool.h>

#include "util/compiler.h"

/* NOTICE (the default) is for normal but noteworthy events: why the VM stopped. */
enum log_level { LOG_ERROR, LOG_WARN, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

/* TEXT is the default. */
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "notice", "info", "debug"; returns -EINVAL otherwise. */
int log_parse_level(const char *name, enum log_level *level);
/* The name log_parse_level accepts, and JSON lines carry: "error", "warn", ... */
const char *log_level_name(enum log_level level);

void log_set_format(enum log_format format);
enum log_format log_get_format(void);
/* Parses "text" or "json"; returns -EINVAL otherwise. */
int log_parse_format(const char *name, enum log_format *format);

/*
 * Writes `text` as a JSON string body (no quotes) into out, escaping quotes,
 * backslashes and control characters, and replacing bytes that are not UTF-8
 * with U+FFFD, so every line stays valid JSON whatever a message holds.
 * Never writes more than outlen bytes, never cuts an escape in half, always
 * NUL-terminates (outlen > 0). Returns the length written.
 */
size_t log_json_escape(const char *text, char *out, size_t outlen);

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

#define log_error(comp, ...) log_msg(LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  log_msg(LOG_WARN, comp, __VA_ARGS__)
#define log_notice(comp, ...) log_msg(LOG_NOTICE, comp, __VA_ARGS__)
#define log_info(comp, ...)  log_msg(LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) log_msg(LOG_DEBUG, comp, __VA_ARGS__)

#endif
