/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One HTTP request with libcurl, for every client in casulo: the CLI verbs
 * to a VM's API socket, `casulo vm` to the daemon, the daemon to its VMMs.
 * They differ only in where they connect, the timeout and the token; the
 * request, the reply collection and the error line are the same.
 */
#ifndef CASULO_UTIL_HTTP_CLIENT_H
#define CASULO_UTIL_HTTP_CLIENT_H

#include <stddef.h>

#include "util/compiler.h"

struct http_client_request {
    const char *unix_socket;    /* connect here (URL host is then ignored), or NULL for TCP */
    const char *url;            /* "http://localhost/vm" */
    const char *method;         /* "GET", "PUT", ... */
    const char *body;           /* JSON, sent with Content-Type: application/json; NULL: none */
    const char *bearer_token;   /* Authorization: Bearer ...; NULL or "": none */
    long timeout_ms;            /* whole request */
    size_t max_reply;           /* a longer reply fails the request; 0: no bound */
};

struct http_client_reply {
    long status;                /* HTTP status */
    char *body;                 /* NUL-terminated, malloc'ed; NULL when empty */
    size_t body_len;
};

/*
 * 0 when an HTTP answer came (any status; the caller judges it), else
 * -ECONNREFUSED (could not connect), -ETIMEDOUT, -EIO (the transfer broke),
 * -EMSGSIZE (reply over max_reply) or -ENOMEM, with err holding the reason without context ("Connection
 * refused", "Timeout was reached") for the caller to put in its own line.
 */
int http_client_do(const struct http_client_request *req, struct http_client_reply *reply,
                   char *err, size_t errlen) MUST_CHECK;
void http_client_reply_free(struct http_client_reply *reply);

/* The "error" member of a JSON reply, else the body's first line, else "HTTP <status>". */
const char *http_client_reply_error(const struct http_client_reply *reply, char *buf, size_t len);

#endif
