/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging to stderr. One line per message, prefixed "casulo: " so a user can
 * tell our lines from the guest console's. The level is process-wide state:
 * it is configuration of the process, not of a VM, so it lives here rather
 * than in struct vm.
 */
#ifndef CASULO_UTIL_LOG_H
#define CASULO_UTIL_LOG_H

#include <stdbool.h>

#include "util/compiler.h"

/* NOTICE (the default) is for normal but noteworthy events: why the VM stopped. */
enum log_level { LOG_ERROR, LOG_WARN, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "notice", "info", "debug"; returns -EINVAL otherwise. */
int log_parse_level(const char *name, enum log_level *level);

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

#define log_error(comp, ...) log_msg(LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  log_msg(LOG_WARN, comp, __VA_ARGS__)
#define log_notice(comp, ...) log_msg(LOG_NOTICE, comp, __VA_ARGS__)
#define log_info(comp, ...)  log_msg(LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) log_msg(LOG_DEBUG, comp, __VA_ARGS__)

#endif
