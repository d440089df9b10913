// SPDX-License-Identifier: Apache-2.0
/*
 * nettle (SHA-1 and base64 for the dashboard's WebSocket handshake), loaded
 * on first use (see lazylib.h) so that `casulo run` does not map it at every
 * start. Each wrapper has the library's prototype; the caller loads the
 * library first (lazy_nettle_load) and answers 500 when it cannot, so the
 * not-loaded branches below (zeroed output, decode failure) never make a
 * handshake succeed.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "util/lazylib.h"

#define NETTLE_SONAME "libnettle.so.8"

static struct {
    pthread_once_t once;
    bool ok;
    char why[256];
    void (*sha1_init)(struct sha1_ctx *);
    void (*sha1_update)(struct sha1_ctx *, size_t, const uint8_t *);
    void (*sha1_digest)(struct sha1_ctx *, size_t, uint8_t *);
    void (*b64_encode_raw)(char *, size_t, const uint8_t *);
    void (*b64_decode_init)(struct base64_decode_ctx *);
    int (*b64_decode_update)(struct base64_decode_ctx *, size_t *, uint8_t *, size_t, const char *);
    int (*b64_decode_final)(struct base64_decode_ctx *);
} nt = { .once = PTHREAD_ONCE_INIT };

static void load(void)
{
    void *h = dlopen(NETTLE_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(nt.why, sizeof(nt.why), "cannot load %s: %s", NETTLE_SONAME, dlerror());
        return;
    }
    struct { void **slot; const char *name; } syms[] = {
        { (void **)&nt.sha1_init, "nettle_sha1_init" },
        { (void **)&nt.sha1_update, "nettle_sha1_update" },
        { (void **)&nt.sha1_digest, "nettle_sha1_digest" },
        { (void **)&nt.b64_encode_raw, "nettle_base64_encode_raw" },
        { (void **)&nt.b64_decode_init, "nettle_base64_decode_init" },
        { (void **)&nt.b64_decode_update, "nettle_base64_decode_update" },
        { (void **)&nt.b64_decode_final, "nettle_base64_decode_final" },
    };
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        *syms[i].slot = dlsym(h, syms[i].name);
        if (!*syms[i].slot) {
            snprintf(nt.why, sizeof(nt.why), "%s lacks %s", NETTLE_SONAME, syms[i].name);
            return;
        }
    }
    nt.ok = true;
}

bool lazy_nettle_load(char *err, size_t errlen)
{
    pthread_once(&nt.once, load);
    if (!nt.ok && err)
        snprintf(err, errlen, "%s", nt.why);
    return nt.ok;
}

void nettle_sha1_init(struct sha1_ctx *ctx)
{
    if (lazy_nettle_load(NULL, 0))
        nt.sha1_init(ctx);
    else
        memset(ctx, 0, sizeof(*ctx));
}

void nettle_sha1_update(struct sha1_ctx *ctx, size_t length, const uint8_t *data)
{
    if (lazy_nettle_load(NULL, 0))
        nt.sha1_update(ctx, length, data);
}

void nettle_sha1_digest(struct sha1_ctx *ctx, size_t length, uint8_t *digest)
{
    if (lazy_nettle_load(NULL, 0))
        nt.sha1_digest(ctx, length, digest);
    else
        memset(digest, 0, length);
}

void nettle_base64_encode_raw(char *dst, size_t length, const uint8_t *src)
{
    if (lazy_nettle_load(NULL, 0))
        nt.b64_encode_raw(dst, length, src);
    else
        memset(dst, '=', BASE64_ENCODE_RAW_LENGTH(length));
}

void nettle_base64_decode_init(struct base64_decode_ctx *ctx)
{
    if (lazy_nettle_load(NULL, 0))
        nt.b64_decode_init(ctx);
    else
        memset(ctx, 0, sizeof(*ctx));
}

int nettle_base64_decode_update(struct base64_decode_ctx *ctx, size_t *dst_length, uint8_t *dst,
                                size_t src_length, const char *src)
{
    if (!lazy_nettle_load(NULL, 0)) {
        *dst_length = 0;
        return 0;
    }
    return nt.b64_decode_update(ctx, dst_length, dst, src_length, src);
}

int nettle_base64_decode_final(struct base64_decode_ctx *ctx)
{
    return lazy_nettle_load(NULL, 0) ? nt.b64_decode_final(ctx) : 0;
}
