/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP side of the API without a socket: a request (method, path, body)
 * goes through the route table to a handler, which parses and checks the
 * JSON body strictly, calls a typed action and builds the response. The
 * server (src/api/server.c) only moves bytes; tests and the fuzzer call
 * api_http_handle() directly.
 */
#ifndef CASULO_API_HTTP_H
#define CASULO_API_HTTP_H

#include <stddef.h>

#include "api/actions.h"

/* Larger bodies are refused with 413 before they are parsed. */
#define API_MAX_BODY 65536

struct api_request {
    const char *method;
    const char *path;          /* without the query string */
    const char *body;          /* may hold NULs; NULL when len is 0 */
    size_t body_len;
    bool body_too_large;       /* the server stopped reading at API_MAX_BODY */
};

struct api_response {
    unsigned status;
    const char *content_type;  /* static string */
    char *body;                /* malloc'd */
    size_t body_len;
    char allow[64];            /* the Allow header of a 405, else "" */
};

/* Always fills *resp (500 with a fixed body if memory runs out while building it). */
void api_http_handle(struct api_ctx *ctx, const struct api_request *req, struct api_response *resp);
void api_response_free(struct api_response *resp);

#define API_JSON_TYPE    "application/json"
#define API_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
