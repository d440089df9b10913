// SPDX-License-Identifier: Apache-2.0
/* The `casulo vm` client's requests to the daemon (see vm_client.h), on libcurl. */
#include "cli/vm_client.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/http_client.h"

int vm_client_request(const struct vm_client *c, const char *method, const char *path,
                      const char *body, struct vm_reply *reply, FILE *err)
{
    *reply = (struct vm_reply){ 0 };
    const char *target = c->connect;
    char url[1024];
    const char *sock = NULL;
    if (strncmp(target, "unix:", 5) == 0 || target[0] == '/') {
        sock = target + (target[0] == '/' ? 0 : 5);
        snprintf(url, sizeof(url), "http://localhost%s", path);
    } else if (strncmp(target, "http://", 7) == 0) {
        snprintf(url, sizeof(url), "%s%s", target, path);
        size_t base = strlen(target);
        if (base && target[base - 1] == '/')
            snprintf(url, sizeof(url), "%.*s%s", (int)base - 1, target, path);
    } else if (strncmp(target, "tcp:", 4) == 0) {
        snprintf(url, sizeof(url), "http://%s%s", target + 4, path);
    } else {
        fprintf(err, "casulo: error: --connect '%s' is not unix:PATH, http://HOST:PORT or "
                "tcp:HOST:PORT\n", target);
        return -1;
    }
    const struct http_client_request req = {
        .unix_socket = sock, .url = url, .method = method, .body = body,
        .bearer_token = c->token, .timeout_ms = (c->timeout_s > 0 ? c->timeout_s : 300L) * 1000,
    };
    struct http_client_reply r;
    char why[256];
    if (http_client_do(&req, &r, why, sizeof(why)) < 0) {
        fprintf(err, "casulo: error: cannot reach the casulo daemon at %s: %s (is `casulo serve` "
                "running? --connect or CASULO_CONNECT say where)\n", target, why);
        return -1;
    }
    reply->status = r.status;
    reply->body = r.body;
    return 0;
}

void vm_reply_free(struct vm_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
}

void vm_reply_print_error(const struct vm_reply *reply, FILE *err)
{
    json_t *j = reply->body ? json_loads(reply->body, 0, NULL) : NULL;
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    if (msg)
        fprintf(err, "casulo: error: %s\n", msg);
    else
        fprintf(err, "casulo: error: the daemon answered HTTP %ld%s%.200s\n", reply->status,
                reply->body && *reply->body ? ": " : "", reply->body ? reply->body : "");
    json_decref(j);
}
