// SPDX-License-Identifier: Apache-2.0
/*
 * Until the dashboard and the console bridge (include/manager/web.h) are
 * part of this tree: no pages, and a clear 501 for the console WebSocket.
 */
#include "manager/dashboard.h"

#include <microhttpd.h>
#include <string.h>

bool mgr_dash_serve_static(struct MHD_Connection *c, const char *url, int *ret)
{
    (void)c;
    (void)url;
    (void)ret;
    return false;
}

int mgr_dash_console_upgrade(struct MHD_Connection *c, const char *path)
{
    static const char msg[] = "{\"error\":\"the console WebSocket is not part of this build\"}";
    (void)path;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(msg), (void *)msg,
                                                                MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    int ret = MHD_queue_response(c, MHD_HTTP_NOT_IMPLEMENTED, resp);
    MHD_destroy_response(resp);
    return ret;
}
