// SPDX-License-Identifier: Apache-2.0
/*
 * Human byte sizes for the command line and config files. Strict on purpose:
 * "512Mx", "-1", "" and "1.5G" are errors, not something silently rounded.
 */
#include "util/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int suffix_shift(const char *s, unsigned *shift)
{
    static const struct { const char *name; unsigned shift; } table[] = {
        { "", 0 },     { "B", 0 },
        { "K", 10 },   { "KB", 10 },  { "KIB", 10 },
        { "M", 20 },   { "MB", 20 },  { "MIB", 20 },
        { "G", 30 },   { "GB", 30 },  { "GIB", 30 },
        { "T", 40 },   { "TB", 40 },  { "TIB", 40 },
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcasecmp(s, table[i].name) == 0) {
            *shift = table[i].shift;
            return 0;
        }
    }
    return -EINVAL;
}

int size_parse(const char *text, uint64_t *bytes)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -EINVAL;

    uint64_t value = 0;
    const char *p = text;
    while (isdigit((unsigned char)*p)) {
        unsigned digit = (unsigned)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return -ERANGE;
        value = value * 10 + digit;
        p++;
    }

    unsigned shift;
    if (suffix_shift(p, &shift) < 0)
        return -EINVAL;
    if (shift && value > (UINT64_MAX >> shift))
        return -ERANGE;
    *bytes = value << shift;
    return 0;
}

void size_format(uint64_t bytes, char *buf, size_t buflen)
{
    static const char units[] = { 'T', 'G', 'M', 'K' };
    static const unsigned shifts[] = { 40, 30, 20, 10 };
    for (size_t i = 0; i < sizeof(units); i++) {
        uint64_t unit = 1ULL << shifts[i];
        if (bytes && bytes % unit == 0) {
            snprintf(buf, buflen, "%llu%c", (unsigned long long)(bytes / unit), units[i]);
            return;
        }
    }
    snprintf(buf, buflen, "%llu", (unsigned long long)bytes);
}
