// SPDX-License-Identifier: Apache-2.0
/*
 * Placeholder for the dashboard's static files (the embedded assets come in
 * a later commit): serves nothing yet, so the daemon answers 404.
 */
#include "manager/web.h"

bool web_serve_static(struct MHD_Connection *c, const char *url, int *ret)
{
    (void)c;
    (void)url;
    (void)ret;
    return false;
}
