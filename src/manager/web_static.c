// SPDX-License-Identifier: Apache-2.0
/*
 * The dashboard's files, served from the copies compiled into the binary
 * (manager/web_assets.h). Every response may be cached but must be
 * revalidated ("no-cache" + ETag): URLs carry no version, and a 304 costs
 * the browser one round trip. The page gets a Content-Security-Policy that
 * allows only its own scripts and connections to its own origin, and may
 * not be framed (the buttons power VMs off).
 *
 * A page opened as /?token=T (the daemon checked T before calling us) also
 * gets T as a cookie: the page's own <script> and <link> loads and the
 * console WebSocket cannot carry an Authorization header, and the daemon
 * accepts the casulo_token cookie. HttpOnly keeps it from scripts,
 * SameSite=Strict from other sites' requests.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "manager/web.h"
#include "manager/web_assets.h"

#define WEB_CSP                                                                            \
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "           \
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "         \
    "form-action 'none'; frame-ancestors 'none'"

static const struct web_asset *find_asset(const char *url)
{
    if (strcmp(url, "/") == 0)
        url = "/index.html";
    for (unsigned i = 0; i < web_nr_assets; i++)
        if (strcmp(web_assets[i].path, url) == 0)
            return &web_assets[i];
    return NULL;
}

static void add_common_headers(struct MHD_Response *r, const struct web_asset *a)
{
    MHD_add_response_header(r, "ETag", a->etag);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

bool web_serve_static(struct MHD_Connection *c, const char *url, int *ret)
{
    const struct web_asset *a = url ? find_asset(url) : NULL;
    if (!a)
        return false;

    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = inm && strstr(inm, a->etag);
    struct MHD_Response *r = fresh
        ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
        : MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        *ret = MHD_NO;
        return true;
    }
    add_common_headers(r, a);
    if (!fresh)
        MHD_add_response_header(r, "Content-Type", a->content_type);
    if (strcmp(a->path, "/index.html") == 0) {
        MHD_add_response_header(r, "Content-Security-Policy", WEB_CSP);
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        char cookie[512];
        /* Only a token that needs no quoting in a cookie value. */
        if (token && *token && strlen(token) < 256 && strspn(token,
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=") ==
                strlen(token)) {
            snprintf(cookie, sizeof(cookie), "casulo_token=%s; Path=/; HttpOnly; SameSite=Strict",
                     token);
            MHD_add_response_header(r, "Set-Cookie", cookie);
        }
    }
    *ret = MHD_queue_response(c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return true;
}
