// SPDX-License-Identifier: Apache-2.0
/*
 * Parser for the --disk option value: comma-separated key=value pairs, with
 * ",," standing for a literal comma inside a value (so any path can be
 * named). Each key may appear once; every error names the offending key.
 */
#include "backends/disk_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

enum disk_key { KEY_PATH, KEY_READONLY, KEY_ID, KEY_SERIAL, KEY_IO, KEY_DIRECT, KEY_QUEUES, KEY_COUNT };

static const char *const disk_key_names[KEY_COUNT] = {
    [KEY_PATH] = "path", [KEY_READONLY] = "readonly", [KEY_ID] = "id",
    [KEY_SERIAL] = "serial", [KEY_IO] = "io", [KEY_DIRECT] = "direct",
    [KEY_QUEUES] = "queues",
};

const char *disk_io_name(enum disk_io io)
{
    switch (io) {
    case DISK_IO_URING: return "uring";
    case DISK_IO_SYNC: return "sync";
    case DISK_IO_AUTO: break;
    }
    return "auto";
}

const char *disk_config_serial(const struct disk_config *cfg)
{
    return cfg->serial[0] ? cfg->serial : cfg->id;
}

static int parse_onoff(const char *key, const char *val, bool *out, char *err, size_t errlen)
{
    if (!strcmp(val, "on")) {
        *out = true;
        return 0;
    }
    if (!strcmp(val, "off")) {
        *out = false;
        return 0;
    }
    return error_set(err, errlen, -EINVAL, "--disk %s must be 'on' or 'off', not '%s'", key, val);
}

/* id and serial travel to the guest in GET_ID: printable ASCII, at most 20 bytes. */
static int parse_ident(const char *key, const char *val, char *out, char *err, size_t errlen)
{
    size_t n = strlen(val);
    if (n > DISK_ID_MAX)
        return error_set(err, errlen, -EINVAL, "--disk %s '%s' is longer than %d bytes",
                         key, val, DISK_ID_MAX);
    for (size_t i = 0; i < n; i++)
        if (val[i] < 0x20 || val[i] > 0x7e)
            return error_set(err, errlen, -EINVAL,
                             "--disk %s may only hold printable ASCII characters", key);
    memcpy(out, val, n + 1);
    return 0;
}

static int parse_queues(const char *val, unsigned *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(val, &end, 10);
    if (val[0] < '0' || val[0] > '9' || *end || errno || n < 1 || n > DISK_QUEUES_MAX)
        return error_set(err, errlen, -EINVAL, "--disk queues must be a number from 1 to %d, not '%s'",
                         DISK_QUEUES_MAX, val);
    *out = (unsigned)n;
    return 0;
}

static int apply_key(enum disk_key key, const char *val, struct disk_config *out,
                     char *err, size_t errlen)
{
    const char *name = disk_key_names[key];
    switch (key) {
    case KEY_PATH:
        if (strlen(val) >= sizeof(out->path))
            return error_set(err, errlen, -EINVAL, "--disk path is too long");
        strcpy(out->path, val);
        return 0;
    case KEY_READONLY:
        return parse_onoff(name, val, &out->readonly, err, errlen);
    case KEY_DIRECT:
        return parse_onoff(name, val, &out->direct, err, errlen);
    case KEY_ID:
        return parse_ident(name, val, out->id, err, errlen);
    case KEY_SERIAL:
        return parse_ident(name, val, out->serial, err, errlen);
    case KEY_IO:
        if (!strcmp(val, "uring"))
            out->io = DISK_IO_URING;
        else if (!strcmp(val, "sync"))
            out->io = DISK_IO_SYNC;
        else if (!strcmp(val, "auto"))
            out->io = DISK_IO_AUTO;
        else
            return error_set(err, errlen, -EINVAL,
                             "--disk io must be 'uring', 'sync' or 'auto', not '%s'", val);
        return 0;
    case KEY_QUEUES:
        return parse_queues(val, &out->queues, err, errlen);
    case KEY_COUNT:
        break;
    }
    return -EINVAL;
}

/*
 * Copies one "key=value" item starting at *pos into item[], undoing ",,",
 * and leaves *pos after the separating comma. Returns the item's length, or
 * -1 when it does not fit.
 */
static int next_item(const char **pos, char *item, size_t size)
{
    const char *p = *pos;
    size_t n = 0;
    while (*p) {
        if (*p == ',') {
            if (p[1] != ',') {
                p++;
                break;
            }
            p++;   /* ",," is one literal comma */
        }
        if (n + 1 >= size)
            return -1;
        item[n++] = *p++;
    }
    item[n] = '\0';
    *pos = p;
    return (int)n;
}

int disk_config_parse(const char *spec, struct disk_config *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->queues = 1;
    out->io = DISK_IO_AUTO;
    if (!spec || !*spec)
        return error_set(err, errlen, -EINVAL, "--disk needs at least path=FILE");

    bool seen[KEY_COUNT] = { false };
    char item[PATH_MAX + 16];
    const char *pos = spec;
    while (*pos) {
        int n = next_item(&pos, item, sizeof(item));
        if (n < 0)
            return error_set(err, errlen, -EINVAL, "--disk item is too long");
        if (n == 0)
            return error_set(err, errlen, -EINVAL, "--disk has an empty item in '%s'", spec);
        char *eq = strchr(item, '=');
        if (!eq)
            return error_set(err, errlen, -EINVAL, "--disk item '%s' is not key=value", item);
        *eq = '\0';
        const char *val = eq + 1;
        enum disk_key key = KEY_COUNT;
        for (int k = 0; k < KEY_COUNT; k++)
            if (!strcmp(item, disk_key_names[k]))
                key = (enum disk_key)k;
        if (key == KEY_COUNT)
            return error_set(err, errlen, -EINVAL, "unknown --disk key '%s'", item);
        if (seen[key])
            return error_set(err, errlen, -EINVAL, "--disk key '%s' given twice", item);
        seen[key] = true;
        if (!*val)
            return error_set(err, errlen, -EINVAL, "--disk %s has an empty value", item);
        int rc = apply_key(key, val, out, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (!seen[KEY_PATH])
        return error_set(err, errlen, -EINVAL, "--disk needs path=FILE");
    return 0;
}
