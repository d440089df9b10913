// SPDX-License-Identifier: Apache-2.0
/* The daemon's client for VMM API sockets (see vmm_client.h), on libcurl. */
#include "manager/vmm_client.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/http_client.h"

#define VMM_REPLY_MAX (4 * 1024 * 1024)

int mgr_vmm_request(const char *sock, const char *method, const char *path, const char *body,
                    long timeout_ms, struct mgr_vmm_reply *reply, char *err, size_t errlen)
{
    *reply = (struct mgr_vmm_reply){ 0 };
    char url[256], why[256];
    snprintf(url, sizeof(url), "http://localhost%s", path);
    const struct http_client_request req = {
        .unix_socket = sock, .url = url, .method = method, .body = body,
        .timeout_ms = timeout_ms, .max_reply = VMM_REPLY_MAX,
    };
    struct http_client_reply r;
    int ret = http_client_do(&req, &r, why, sizeof(why));
    if (ret < 0) {
        snprintf(err, errlen, "the VMM's API socket %s did not answer %s %s: %s", sock, method,
                 path, why);
        return ret;
    }
    reply->status = r.status;
    reply->body = r.body;
    return 0;
}

void mgr_vmm_reply_free(struct mgr_vmm_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
}

const char *mgr_vmm_reply_error(const struct mgr_vmm_reply *reply, char *buf, size_t len)
{
    const struct http_client_reply r = { .status = reply->status, .body = reply->body };
    return http_client_reply_error(&r, buf, len);
}
