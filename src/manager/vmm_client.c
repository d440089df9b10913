// SPDX-License-Identifier: Apache-2.0
/* The daemon's client for VMM API sockets (see vmm_client.h), on libcurl. */
#include "manager/vmm_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VMM_REPLY_MAX (4 * 1024 * 1024)

struct collect_buf {
    char *data;
    size_t len;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct collect_buf *b = opaque;
    size_t n = size * nmemb;
    if (b->len + n > VMM_REPLY_MAX)
        return 0;
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->data = grown;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

int mgr_vmm_request(const char *sock, const char *method, const char *path, const char *body,
                    long timeout_ms, struct mgr_vmm_reply *reply, char *err, size_t errlen)
{
    *reply = (struct mgr_vmm_reply){ 0 };
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -ENOMEM;
    }
    char url[256];
    snprintf(url, sizeof(url), "http://localhost%s", path);
    struct collect_buf b = { 0 };
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    int ret = 0;
    if (rc != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        snprintf(err, errlen, "the VMM's API socket %s did not answer %s %s: %s", sock, method,
                 path, os_errno ? strerror((int)os_errno) : curl_easy_strerror(rc));
        ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
        free(b.data);
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
        reply->body = b.data;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return ret;
}

void mgr_vmm_reply_free(struct mgr_vmm_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
}

const char *mgr_vmm_reply_error(const struct mgr_vmm_reply *reply, char *buf, size_t len)
{
    snprintf(buf, len, "HTTP %ld", reply->status);
    if (!reply->body)
        return buf;
    json_t *j = json_loads(reply->body, 0, NULL);
    const char *e = j ? json_string_value(json_object_get(j, "error")) : NULL;
    snprintf(buf, len, "%s", e ? e : reply->body);
    json_decref(j);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}
