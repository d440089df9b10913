// SPDX-License-Identifier: Apache-2.0
/*
 * What the two daemons of a live migration share (migration.h): a peer
 * daemon's address in the --connect syntax, one REST request to it, the
 * /proc/net/tcp reading that tells a destination its incoming VMM listens,
 * and the JSON of a migration record.
 */
#include "manager/migration.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/http_client.h"

#define PEER_REPLY_MAX (1024 * 1024)

static int host_port(const char *hp, struct mgr_peer *p, const char *addr, char *err,
                     size_t errlen)
{
    const char *colon = strrchr(hp, ':');
    size_t hlen = colon ? (size_t)(colon - hp) : 0;
    const char *port = colon ? colon + 1 : "";
    char *end;
    long n = strtol(port, &end, 10);
    if (!colon || !hlen || !*port || *end || n < 1 || n > 65535 || hlen >= sizeof(p->host) ||
        strchr(hp, '/') || strchr(hp, '@')) {
        snprintf(err, errlen, "'%s' is not unix:PATH, tcp:HOST:PORT or http://HOST:PORT", addr);
        return -EINVAL;
    }
    const char *h = hp;
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']') {
            snprintf(err, errlen, "'%s': an IPv6 address must be written [ADDR]:PORT", addr);
            return -EINVAL;
        }
        h++;
        hlen -= 2;
    } else if (memchr(h, ':', hlen)) {
        snprintf(err, errlen, "'%s': an IPv6 address must be written [ADDR]:PORT", addr);
        return -EINVAL;
    }
    memcpy(p->host, h, hlen);
    p->host[hlen] = '\0';
    snprintf(p->base_url, sizeof(p->base_url), "http://%.*s:%ld", (int)(colon - hp), hp, n);
    return 0;
}

int mgr_peer_parse(const char *addr, struct mgr_peer *p, char *err, size_t errlen)
{
    *p = (struct mgr_peer){ 0 };
    if (!addr || !*addr) {
        snprintf(err, errlen, "the destination address is empty");
        return -EINVAL;
    }
    if (strncmp(addr, "unix:", 5) == 0 || addr[0] == '/') {
        const char *path = addr[0] == '/' ? addr : addr + 5;
        if (path[0] != '/' || strlen(path) >= sizeof(p->unix_path)) {
            snprintf(err, errlen, "'%s': the socket path must be absolute and shorter than %zu bytes",
                     addr, sizeof(p->unix_path));
            return -EINVAL;
        }
        snprintf(p->unix_path, sizeof(p->unix_path), "%s", path);
        snprintf(p->base_url, sizeof(p->base_url), "http://localhost");
        snprintf(p->host, sizeof(p->host), "127.0.0.1");
        return 0;
    }
    char hp[MGR_PEER_ADDR_MAX];
    const char *rest;
    if (strncmp(addr, "tcp:", 4) == 0)
        rest = addr + 4;
    else if (strncmp(addr, "http://", 7) == 0)
        rest = addr + 7;
    else {
        snprintf(err, errlen, "'%s' is not unix:PATH, tcp:HOST:PORT or http://HOST:PORT", addr);
        return -EINVAL;
    }
    size_t len = strlen(rest);
    if (rest == addr + 7 && len && rest[len - 1] == '/')
        len--;   /* http://HOST:PORT/ as --connect takes it */
    if (len >= sizeof(hp)) {
        snprintf(err, errlen, "'%.64s...' is too long", addr);
        return -EINVAL;
    }
    memcpy(hp, rest, len);
    hp[len] = '\0';
    return host_port(hp, p, addr, err, errlen);
}

int mgr_peer_request(const struct mgr_peer *p, const char *token, const char *method,
                     const char *path, json_t *body, long timeout_ms, long *status,
                     json_t **reply, char *err, size_t errlen)
{
    *status = 0;
    *reply = NULL;
    char url[MGR_PEER_ADDR_MAX + 256], why[256];
    snprintf(url, sizeof(url), "%s%s", p->base_url, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    const struct http_client_request req = {
        .unix_socket = p->unix_path[0] ? p->unix_path : NULL, .url = url, .method = method,
        .body = text, .bearer_token = token, .timeout_ms = timeout_ms,
        .max_reply = PEER_REPLY_MAX,
    };
    struct http_client_reply r;
    int ret = http_client_do(&req, &r, why, sizeof(why));
    free(text);
    if (ret < 0) {
        snprintf(err, errlen, "%s", why);
        return ret;
    }
    *status = r.status;
    if (r.body)
        *reply = json_loads(r.body, 0, NULL);
    if (!*reply && r.status >= 400) {
        char line[256];
        *reply = json_pack("{s:s}", "error", http_client_reply_error(&r, line, sizeof(line)));
    }
    http_client_reply_free(&r);
    return 0;
}

/*
 * Lines of /proc/net/tcp: "  sl  local_address rem_address   st ...", then
 * "   0: 0100007F:1F90 00000000:0000 0A ...", the port in hex after the
 * last ':' of the local address, the state 0A for LISTEN.
 */
bool mgr_proc_net_listening(const char *text, unsigned port)
{
    const char *line = text;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        char buf[512];
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len < sizeof(buf)) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            char local[128], remote[128], st[8];
            unsigned slot;
            if (sscanf(buf, " %u: %127s %127s %7s", &slot, local, remote, st) == 4) {
                const char *colon = strrchr(local, ':');
                char *end;
                unsigned long lp = colon ? strtoul(colon + 1, &end, 16) : 0;
                if (colon && colon[1] && !*end && lp == port && strcmp(st, "0A") == 0)
                    return true;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

json_t *mgr_migration_json(const struct mgr_migration *mig)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(mig->status));
    json_object_set_new(o, "to", json_string(mig->to));
    json_object_set_new(o, "url", mig->url[0] ? json_string(mig->url) : json_null());
    json_object_set_new(o, "started_at", json_integer(mig->started_at));
    json_object_set_new(o, "finished_at", mig->finished_at ? json_integer(mig->finished_at)
                                                           : json_null());
    json_object_set_new(o, "error", mig->error[0] ? json_string(mig->error) : json_null());
    json_object_set_new(o, "progress", mig->progress ? json_deep_copy(mig->progress)
                                                     : json_null());
    return o;
}

void mgr_migration_free(struct mgr_migration *mig)
{
    if (!mig)
        return;
    json_decref(mig->progress);
    free(mig);
}
