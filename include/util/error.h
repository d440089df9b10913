/* SPDX-License-Identifier: Apache-2.0 */
/* One-line error messages carried up to the boundary that reports them. */
#ifndef CASULO_UTIL_ERROR_H
#define CASULO_UTIL_ERROR_H

#include <stddef.h>

#include "util/compiler.h"

/* Formats the message into err (when err is non-NULL) and returns rc, so `return error_set(...)`. */
int error_set(char *err, size_t errlen, int rc, const char *fmt, ...) PRINTF_LIKE(4, 5);

#endif
