// SPDX-License-Identifier: Apache-2.0
/*
 * Request body parsing for the API: jansson does the syntax (its error text
 * goes back to the client), this file does the schema — object only, no
 * unknown or duplicate fields, each field of its declared type.
 */
#include "api/json_body.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct api_field *find_field(const struct api_field *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

static bool type_ok(const struct api_field *f, const json_t *v)
{
    switch (f->type) {
    case API_FIELD_STRING:
        return json_is_string(v);
    case API_FIELD_UINT:
        return json_is_integer(v) && json_integer_value(v) >= 0;
    case API_FIELD_BOOL:
        return json_is_boolean(v);
    }
    return false;
}

static const char *type_name(enum api_field_type t)
{
    return t == API_FIELD_STRING ? "a string" : t == API_FIELD_BOOL ? "true or false"
                                                                     : "a non-negative integer";
}

static int check_fields(json_t *obj, const struct api_field *fields, size_t n, char *err, size_t errlen)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        const struct api_field *f = find_field(fields, n, key);
        if (!f) {
            /* Keys are valid UTF-8 (jansson checked), so they can be quoted back. */
            snprintf(err, errlen, "unknown field '%.64s'", key);
            return -EINVAL;
        }
        if (!type_ok(f, value)) {
            snprintf(err, errlen, "field '%s' must be %s", f->name, type_name(f->type));
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (fields[i].required && !json_object_get(obj, fields[i].name)) {
            snprintf(err, errlen, "missing field '%s'", fields[i].name);
            return -EINVAL;
        }
    }
    return 0;
}

int api_json_body(const char *body, size_t len, bool required, const struct api_field *fields,
                  size_t nr_fields, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len == 0) {
        if (required) {
            snprintf(err, errlen, "missing request body: expected a JSON object");
            return -EINVAL;
        }
        *out = json_object();
        if (!*out) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        return check_fields(*out, fields, nr_fields, err, errlen);
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        snprintf(err, errlen, "invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        return -EINVAL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "the request body must be a JSON object");
        return -EINVAL;
    }
    int ret = check_fields(root, fields, nr_fields, err, errlen);
    if (ret) {
        json_decref(root);
        return ret;
    }
    *out = root;
    return 0;
}
