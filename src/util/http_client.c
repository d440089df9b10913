// SPDX-License-Identifier: Apache-2.0
/* One HTTP request with libcurl (see http_client.h). */
#include "util/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct collect {
    struct http_client_reply *reply;
    size_t max;
    bool too_large;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct collect *c = opaque;
    struct http_client_reply *r = c->reply;
    size_t n = size * nmemb;
    if (c->max && r->body_len + n > c->max) {
        c->too_large = true;
        return 0;   /* makes curl fail with CURLE_WRITE_ERROR */
    }
    char *grown = realloc(r->body, r->body_len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + r->body_len, ptr, n);
    r->body = grown;
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

int http_client_do(const struct http_client_request *req, struct http_client_reply *reply,
                   char *err, size_t errlen)
{
    *reply = (struct http_client_reply){ 0 };
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -ENOMEM;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[600];
    if (req->bearer_token && *req->bearer_token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", req->bearer_token);
        headers = curl_slist_append(headers, auth);
    }
    struct collect c = { .reply = reply, .max = req->max_reply };
    if (req->unix_socket)
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (req->body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);   /* threads: no SIGALRM for timeouts */
    CURLcode rc = curl_easy_perform(curl);
    int ret = 0;
    if (rc != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        if (c.too_large) {
            snprintf(err, errlen, "the reply is larger than %zu bytes", c.max);
            ret = -EMSGSIZE;
        } else {
            snprintf(err, errlen, "%s", os_errno ? strerror((int)os_errno) : curl_easy_strerror(rc));
            ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
                : rc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
        }
        http_client_reply_free(reply);
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return ret;
}

void http_client_reply_free(struct http_client_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
}

const char *http_client_reply_error(const struct http_client_reply *reply, char *buf, size_t len)
{
    snprintf(buf, len, "HTTP %ld", reply->status);
    if (!reply->body || !*reply->body)
        return buf;
    json_t *j = json_loads(reply->body, 0, NULL);
    const char *e = j ? json_string_value(json_object_get(j, "error")) : NULL;
    snprintf(buf, len, "%s", e ? e : reply->body);
    json_decref(j);
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf;
}
