// SPDX-License-Identifier: Apache-2.0
/*
 * The router's doors to the browser side, forwarded to the web module
 * (include/manager/web.h: the dashboard's files and the console bridge).
 */
#include "manager/dashboard.h"

#include "manager/web.h"

bool mgr_dash_serve_static(struct MHD_Connection *c, const char *url, int *ret)
{
    return web_serve_static(c, url, ret);
}

int mgr_dash_console_upgrade(struct MHD_Connection *c, const char *path)
{
    return web_console_upgrade(c, path);
}
