// SPDX-License-Identifier: Apache-2.0
/* The `casulo vm` client's requests to the daemon (see vm_client.h), on libcurl. */
#include "cli/vm_client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct grow {
    char *data;
    size_t len;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct grow *b = opaque;
    size_t n = size * nmemb;
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->data = grown;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

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
    CURL *curl = curl_easy_init();
    if (!curl) {
        fprintf(err, "casulo: error: cannot initialise libcurl\n");
        return -1;
    }
    struct grow b = { 0 };
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[600];
    if (c->token && *c->token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
        headers = curl_slist_append(headers, auth);
    }
    if (sock)
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, c->timeout_s > 0 ? c->timeout_s : 300L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    int ret = 0;
    if (rc != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        fprintf(err, "casulo: error: cannot reach the casulo daemon at %s: %s (is `casulo serve` "
                "running? --connect or CASULO_CONNECT say where)\n", target,
                os_errno ? strerror((int)os_errno) : curl_easy_strerror(rc));
        free(b.data);
        ret = -1;
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
        reply->body = b.data;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return ret;
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
