/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dashboard's files, compiled into the binary by scripts/build-web.sh
 * (build/gen/web_assets.c) so that `casulo serve` needs nothing on disk and
 * no network. web_static.c serves them.
 */
#ifndef CASULO_MANAGER_WEB_ASSETS_H
#define CASULO_MANAGER_WEB_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct web_asset {
    const char *path;           /* URL path: "/index.html", "/assets/app.js" */
    const char *content_type;
    const char *etag;           /* quoted, from the content's hash */
    const unsigned char *data;
    size_t len;
};

extern const struct web_asset web_assets[];
extern const unsigned web_nr_assets;
/* false when the build had no npm: no xterm.js, the page shows no terminal. */
extern const bool web_assets_have_console;

#endif
