// SPDX-License-Identifier: Apache-2.0
/*
 * The --config file: one JSON object whose keys are the command-line option
 * names. Each value is turned into the text its option would get and handed
 * to run_options_set, so the file and the command line share every check and
 * message; only what JSON adds (types, objects for disks, NICs and the
 * console) is checked here. Keys may be spelled with '_' or, like the
 * options, with '-'.
 */
#include "cli/config_file.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"

enum cfg_kind {
    CFG_STRING,     /* a string, passed to the option as it is */
    CFG_CPUS,       /* a whole number */
    CFG_MEMORY,     /* a size string or a number of bytes */
    CFG_CONSOLE,    /* an option string or {"file": PATH} */
    CFG_DISKS,      /* an array of option strings or objects */
    CFG_NETS,
    CFG_RNG,        /* true or false */
    CFG_BALLOON,    /* true or false */
    CFG_START,
};

struct cfg_key {
    const char *name;    /* canonical, as docs/config.md spells it */
    const char *alias;   /* the option's spelling when it differs */
    const char *option;  /* the run_options_set name */
    enum cfg_kind kind;
};

static const struct cfg_key cfg_keys[] = {
    { "kernel", NULL, "kernel", CFG_STRING },
    { "initrd", NULL, "initrd", CFG_STRING },
    { "cmdline", NULL, "cmdline", CFG_STRING },
    { "cpus", NULL, "cpus", CFG_CPUS },
    { "memory", NULL, "memory", CFG_MEMORY },
    { "console", NULL, "console", CFG_CONSOLE },
    { "on_reboot", "on-reboot", "on-reboot", CFG_STRING },
    { "disks", "disk", "disk", CFG_DISKS },
    { "nets", "net", "net", CFG_NETS },
    { "rng", NULL, "rng", CFG_RNG },
    { "balloon", NULL, "balloon", CFG_BALLOON },
    { "log_level", "log-level", "log-level", CFG_STRING },
    { "log_format", "log-format", "log-format", CFG_STRING },
    { "api_socket", "api-socket", "api-socket", CFG_STRING },
    { "incoming", NULL, "incoming", CFG_STRING },
    { "start", NULL, NULL, CFG_START },
};

/* Where a message is going: the file's name and the key being applied. */
struct cfg_ctx {
    const char *name;
    struct run_options *opts;
    char *err;
    size_t errlen;
};

static int cfg_fail(const struct cfg_ctx *c, const char *fmt, ...) PRINTF_LIKE(2, 3);

static int cfg_fail(const struct cfg_ctx *c, const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "config '%s': ", c->name);
    if (n < 0 || (size_t)n >= c->errlen)
        return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/*
 * An option's message talks about "--memory" or "--disk io"; in a file the
 * same thing is the key "memory" or "io". Drops "--NAME: " / "--NAME " of the
 * item options and the dashes of every other option name.
 */
static void unflag_message(char *msg, const char *item_option)
{
    if (item_option) {
        char prefix[32];
        size_t len = (size_t)snprintf(prefix, sizeof(prefix), "--%s", item_option);
        char *p = strstr(msg, prefix);
        if (p && (p[len] == ' ' || p[len] == ':')) {
            size_t cut = len + 1 + (p[len] == ':' && p[len + 1] == ' ');
            memmove(p, p + cut, strlen(p + cut) + 1);
        }
    }
    for (char *p = msg; (p = strstr(p, "--")) != NULL;) {
        if ((p == msg || p[-1] == ' ') && p[2] >= 'a' && p[2] <= 'z')
            memmove(p, p + 2, strlen(p + 2) + 1);
        else
            p += 2;
    }
}

/* Applies `value` to an option; on error, the option's message with `where` in front. */
static int cfg_set(const struct cfg_ctx *c, const char *where, const char *option,
                   const char *value, bool item)
{
    char msg[512];
    if (run_options_set(c->opts, option, value, msg, sizeof(msg)) == RUN_PARSE_OK)
        return 0;
    unflag_message(msg, item ? option : NULL);
    return where ? cfg_fail(c, "%s: %s", where, msg) : cfg_fail(c, "%s", msg);
}

static int cfg_string(const struct cfg_ctx *c, const struct cfg_key *k, const json_t *v)
{
    if (!json_is_string(v))
        return cfg_fail(c, "'%s' must be a string", k->name);
    return cfg_set(c, NULL, k->option, json_string_value(v), false);
}

static int cfg_cpus(const struct cfg_ctx *c, const struct cfg_key *k, const json_t *v)
{
    if (json_is_real(v))
        return cfg_fail(c, "'%s' must be a whole number, not %g", k->name, json_real_value(v));
    if (!json_is_integer(v))
        return cfg_fail(c, "'%s' must be a number", k->name);
    char text[32];
    snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return cfg_set(c, NULL, k->option, text, false);
}

static int cfg_memory(const struct cfg_ctx *c, const struct cfg_key *k, const json_t *v)
{
    if (json_is_string(v))
        return cfg_set(c, NULL, k->option, json_string_value(v), false);
    if (!json_is_integer(v))
        return cfg_fail(c, "'%s' must be a size (\"512M\") or a number of bytes", k->name);
    json_int_t bytes = json_integer_value(v);
    if (bytes < 0)
        return cfg_fail(c, "'%s' %" JSON_INTEGER_FORMAT " is not a size", k->name, bytes);
    char text[32];
    snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, bytes);
    return cfg_set(c, NULL, k->option, text, false);
}

/* The fields of an object in "disks" or "nets", and the JSON type each must have. */
enum item_type { ITEM_STRING, ITEM_BOOL, ITEM_COUNT };

struct item_field {
    const char *name;
    enum item_type type;
};

static const struct item_field disk_fields[] = {
    { "path", ITEM_STRING }, { "readonly", ITEM_BOOL }, { "id", ITEM_STRING },
    { "serial", ITEM_STRING }, { "io", ITEM_STRING }, { "direct", ITEM_BOOL },
    { "queues", ITEM_COUNT },
};

static const struct item_field net_fields[] = {
    { "tap", ITEM_STRING }, { "mac", ITEM_STRING },
};

/* Appends `s` to the spec at *pos, each ',' doubled as the option syntax wants. */
static bool spec_append(char *spec, size_t size, size_t *pos, const char *s, bool escape)
{
    for (; *s; s++) {
        size_t need = escape && *s == ',' ? 2 : 1;
        if (*pos + need >= size)
            return false;
        spec[(*pos)++] = *s;
        if (need == 2)
            spec[(*pos)++] = ',';
    }
    spec[*pos] = '\0';
    return true;
}

/*
 * "console": an option string, {"file": PATH} or {"socket": PATH, "log": FILE}
 * (log optional), turned into the --console option text.
 */
static int cfg_console(const struct cfg_ctx *c, const struct cfg_key *k, const json_t *v)
{
    if (json_is_string(v))
        return cfg_set(c, NULL, k->option, json_string_value(v), false);
    if (!json_is_object(v))
        return cfg_fail(c, "'%s' must be \"stdio\", \"off\", \"file=PATH\", {\"file\": PATH} or "
                           "{\"socket\": PATH, \"log\": FILE}", k->name);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (strcmp(key, "file") != 0 && strcmp(key, "socket") != 0 && strcmp(key, "log") != 0)
            return cfg_fail(c, "unknown key '%s' in '%s'", key, k->name);
        if (!json_is_string(val))
            return cfg_fail(c, "'%s.%s' must be a string", k->name, key);
        if (!*json_string_value(val))
            return cfg_fail(c, "'%s.%s' must not be empty", k->name, key);
    }
    const json_t *file = json_object_get(v, "file");
    const json_t *sock = json_object_get(v, "socket");
    const json_t *log = json_object_get(v, "log");
    if (!file == !sock)
        return cfg_fail(c, "'%s' object needs either \"file\" or \"socket\"", k->name);
    if (file && log)
        return cfg_fail(c, "'%s.log' goes with \"socket\", not \"file\"", k->name);

    /* Every ',' may double in the socket form: twice the text, plus the keys. */
    size_t len = 2 * (strlen(json_string_value(file ? file : sock)) +
                      (log ? strlen(json_string_value(log)) : 0)) + 32;
    char *text = malloc(len);
    if (!text)
        return cfg_fail(c, "out of memory");
    size_t pos = 0;
    text[0] = '\0';
    if (file) {
        spec_append(text, len, &pos, "file=", false);
        spec_append(text, len, &pos, json_string_value(file), false);
    } else {
        spec_append(text, len, &pos, "socket=", false);
        spec_append(text, len, &pos, json_string_value(sock), true);
        if (log) {
            spec_append(text, len, &pos, ",log=", false);
            spec_append(text, len, &pos, json_string_value(log), true);
        }
    }
    int ret = cfg_set(c, NULL, k->option, text, false);
    free(text);
    return ret;
}

/*
 * Turns {"path": "a.img", "readonly": true} into "path=a.img,readonly=on",
 * checking each field's JSON type, so the option parser does the rest.
 */
static int item_to_spec(const struct cfg_ctx *c, const char *where, const json_t *obj,
                        const struct item_field *fields, size_t nr_fields, const char *required,
                        bool escape, char *spec, size_t size)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        size_t i;
        for (i = 0; i < nr_fields; i++)
            if (strcmp(key, fields[i].name) == 0)
                break;
        if (i == nr_fields)
            return cfg_fail(c, "unknown key '%s' in %s", key, where);
    }
    if (!json_object_get(obj, required))
        return cfg_fail(c, "%s needs \"%s\"", where, required);

    size_t pos = 0;
    spec[0] = '\0';
    for (size_t i = 0; i < nr_fields; i++) {
        const json_t *v = json_object_get(obj, fields[i].name);
        if (!v)
            continue;
        char num[32];
        const char *text;
        switch (fields[i].type) {
        case ITEM_STRING:
            if (!json_is_string(v))
                return cfg_fail(c, "'%s.%s' must be a string", where, fields[i].name);
            text = json_string_value(v);
            break;
        case ITEM_BOOL:
            if (!json_is_boolean(v))
                return cfg_fail(c, "'%s.%s' must be true or false", where, fields[i].name);
            text = json_is_true(v) ? "on" : "off";
            break;
        case ITEM_COUNT:
        default:
            if (!json_is_integer(v))
                return cfg_fail(c, "'%s.%s' must be a number", where, fields[i].name);
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            text = num;
            break;
        }
        if ((pos && !spec_append(spec, size, &pos, ",", false)) ||
            !spec_append(spec, size, &pos, fields[i].name, false) ||
            !spec_append(spec, size, &pos, "=", false) ||
            !spec_append(spec, size, &pos, text, escape))
            return cfg_fail(c, "%s is too long", where);
    }
    return 0;
}

static int cfg_list(const struct cfg_ctx *c, const struct cfg_key *k, const json_t *v)
{
    bool disks = k->kind == CFG_DISKS;
    unsigned max = disks ? VM_CONFIG_MAX_DISKS : VM_CONFIG_MAX_NETS;
    if (!json_is_array(v))
        return cfg_fail(c, "'%s' must be an array", k->name);
    if (json_array_size(v) > max)
        return cfg_fail(c, "'%s' holds %zu entries; at most %u", k->name, json_array_size(v), max);

    /* A disk path may be PATH_MAX long and have every ',' doubled. */
    size_t size = 2 * PATH_MAX + 256;
    char *spec = malloc(size);
    if (!spec)
        return cfg_fail(c, "out of memory");
    int ret = 0;
    size_t i;
    json_t *item;
    json_array_foreach((json_t *)v, i, item) {
        char where[48];
        snprintf(where, sizeof(where), "%s[%zu]", k->name, i);
        if (json_is_string(item)) {
            ret = cfg_set(c, where, k->option, json_string_value(item), true);
        } else if (json_is_object(item)) {
            ret = disks ? item_to_spec(c, where, item, disk_fields, ARRAY_SIZE(disk_fields), "path",
                                       true, spec, size)
                        : item_to_spec(c, where, item, net_fields, ARRAY_SIZE(net_fields), "tap",
                                       false, spec, size);
            if (!ret)
                ret = cfg_set(c, where, k->option, spec, true);
        } else {
            ret = cfg_fail(c, "'%s' must be a string (\"%s\") or an object", where,
                           disks ? "path=FILE,readonly=on" : "tap=NAME");
        }
        if (ret)
            break;
    }
    free(spec);
    return ret;
}

static int cfg_bool(const struct cfg_ctx *c, const struct cfg_key *k, const json_t *v)
{
    if (!json_is_boolean(v))
        return cfg_fail(c, "'%s' must be true or false", k->name);
    if (k->kind == CFG_RNG)
        c->opts->cfg.rng = json_is_true(v);
    else if (k->kind == CFG_BALLOON)
        c->opts->cfg.balloon = json_is_true(v);
    else
        c->opts->cfg.no_start = !json_is_true(v);
    return 0;
}

static int cfg_apply(const struct cfg_ctx *c, const struct cfg_key *k, const json_t *v)
{
    switch (k->kind) {
    case CFG_STRING:
        return cfg_string(c, k, v);
    case CFG_CPUS:
        return cfg_cpus(c, k, v);
    case CFG_MEMORY:
        return cfg_memory(c, k, v);
    case CFG_CONSOLE:
        return cfg_console(c, k, v);
    case CFG_DISKS:
    case CFG_NETS:
        return cfg_list(c, k, v);
    case CFG_RNG:
    case CFG_BALLOON:
    case CFG_START:
        return cfg_bool(c, k, v);
    }
    return -EINVAL;
}

static int cfg_apply_object(const struct cfg_ctx *c, const json_t *root)
{
    if (!json_is_object(root))
        return cfg_fail(c, "must hold a JSON object ({ ... })");
    const char *seen[ARRAY_SIZE(cfg_keys)] = { NULL };
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)root, key, val) {
        size_t i;
        for (i = 0; i < ARRAY_SIZE(cfg_keys); i++)
            if (strcmp(key, cfg_keys[i].name) == 0 ||
                (cfg_keys[i].alias && strcmp(key, cfg_keys[i].alias) == 0))
                break;
        if (i == ARRAY_SIZE(cfg_keys))
            return cfg_fail(c, "unknown key '%s'", key);
        /* Duplicates of one spelling are refused by the JSON parser; this catches the two spellings. */
        if (seen[i])
            return cfg_fail(c, "'%s' and '%s' are the same setting; give one", seen[i], key);
        seen[i] = key;
        int ret = cfg_apply(c, &cfg_keys[i], val);
        if (ret)
            return ret;
    }
    return 0;
}

int config_file_parse(const char *name, const char *text, size_t len, struct run_options *opts,
                      char *err, size_t errlen)
{
    struct cfg_ctx c = { .name = name, .opts = opts, .err = err, .errlen = errlen };
    json_error_t jerr;
    /* Duplicate keys would make "which one wins" a guess. */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return cfg_fail(&c, "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                        jerr.column);
    int ret = cfg_apply_object(&c, root);
    json_decref(root);
    return ret;
}

/* Keys whose setting the API cannot change: the socket it is being served on. */
static int cfg_check_mergeable(const struct cfg_ctx *c, const json_t *root)
{
    if (json_object_get(root, "api_socket") || json_object_get(root, "api-socket"))
        return cfg_fail(c, "'api_socket' cannot be changed through the API");
    /* A VM waiting for PUT /vm/start boots; an incoming one is started by its source. */
    if (json_object_get(root, "incoming"))
        return cfg_fail(c, "'incoming' cannot be set through the API");
    return 0;
}

int config_file_merge(const char *name, const char *text, size_t len, struct run_options *opts,
                      char *err, size_t errlen)
{
    struct cfg_ctx c = { .name = name, .opts = opts, .err = err, .errlen = errlen };
    json_error_t jerr;
    json_t *root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return cfg_fail(&c, "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                        jerr.column);
    int ret = json_is_object(root) ? cfg_check_mergeable(&c, root) : 0;
    /*
     * A dry run on defaults first: every check is about the value itself, so
     * if the body applies there it applies to *opts too, and a bad body
     * leaves *opts as it was.
     */
    if (!ret) {
        struct run_options scratch = { .log_level = opts->log_level,
                                       .log_format = opts->log_format };
        vm_config_init(&scratch.cfg);
        struct cfg_ctx dry = c;
        dry.opts = &scratch;
        ret = cfg_apply_object(&dry, root);
        vm_config_free(&scratch.cfg);
    }
    if (!ret) {
        /* A list given replaces the list, as the first --disk on the command line does. */
        if (json_object_get(root, "disks") || json_object_get(root, "disk")) {
            free(opts->cfg.disks);
            opts->cfg.disks = NULL;
            opts->cfg.nr_disks = 0;
        }
        if (json_object_get(root, "nets") || json_object_get(root, "net")) {
            free(opts->cfg.nets);
            opts->cfg.nets = NULL;
            opts->cfg.nr_nets = 0;
        }
        ret = cfg_apply_object(&c, root);
    }
    json_decref(root);
    return ret;
}

int config_file_load(const char *path, struct run_options *opts, char *err, size_t errlen)
{
    uint64_t size;
    int fd = file_open_regular("config", path, &size, err, errlen);
    if (fd < 0)
        return fd;
    int ret;
    char *text = NULL;
    if (size > CONFIG_FILE_MAX) {
        ret = -EFBIG;
        snprintf(err, errlen, "config '%s' is larger than %d bytes", path, CONFIG_FILE_MAX);
        goto out;
    }
    text = malloc(size);
    if (!text) {
        ret = -ENOMEM;
        snprintf(err, errlen, "config '%s': out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, text + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ret = n < 0 ? -errno : -EIO;
            snprintf(err, errlen, "cannot read config '%s': %s", path, strerror(-ret));
            goto out;
        }
        got += (size_t)n;
    }
    ret = config_file_parse(path, text, got, opts, err, errlen);
out:
    free(text);
    close(fd);
    return ret;
}
