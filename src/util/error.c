// SPDX-License-Identifier: Apache-2.0
/* See util/error.h. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

int error_set(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
