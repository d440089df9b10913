/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict request bodies: a body must be one JSON object whose fields are all
 * known and of the right type. A typo in a field name is an error, never
 * silently ignored. Errors are one line meant for the client.
 */
#ifndef CASULO_API_JSON_BODY_H
#define CASULO_API_JSON_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum api_field_type { API_FIELD_STRING, API_FIELD_UINT, API_FIELD_BOOL };

struct api_field {
    const char *name;
    enum api_field_type type;
    bool required;
};

/*
 * Parses body[0..len) into a JSON object (an empty body is an empty object
 * unless `required`) and checks it against fields[]. Returns 0 with *out
 * set, or -EINVAL with err filled.
 */
int api_json_body(const char *body, size_t len, bool required, const struct api_field *fields,
                  size_t nr_fields, json_t **out, char *err, size_t errlen);

#endif
