// SPDX-License-Identifier: Apache-2.0
/*
 * Placeholder for the WebSocket console bridge (a later commit): answers
 * 501 Not Implemented so the daemon links and says plainly what is missing.
 */
#include <microhttpd.h>
#include <string.h>

#include "manager/web.h"

int web_console_upgrade(struct MHD_Connection *c, const char *console_path)
{
    static const char body[] = "{\"error\": \"the console bridge is not built yet\"}";
    (void)console_path;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    int ret = MHD_queue_response(c, MHD_HTTP_NOT_IMPLEMENTED, r);
    MHD_destroy_response(r);
    return ret;
}
