// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the WebSocket frame parser (manager/websocket). The
 * first byte picks a chunk size; the rest is what a browser (or anyone who
 * reaches the daemon) sends after the handshake. The stream is parsed twice,
 * whole and in chunks, and both runs must agree on every callback and on
 * the outcome: the parser's state must not depend on how TCP splits bytes.
 * Delivered data can never exceed the input, and a failed parser stays
 * failed. The first 24 bytes are also tried as a Sec-WebSocket-Key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manager/websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

struct trace {
    uint64_t data_len;
    uint32_t data_hash;
    unsigned pings, closes;
    uint32_t ping_hash;
    uint16_t close_code;
};

static uint32_t mix(uint32_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void on_data(void *opaque, const uint8_t *buf, size_t len)
{
    struct trace *t = opaque;
    fuzz_check(len > 0);
    t->data_len += len;
    t->data_hash = mix(t->data_hash, buf, len);
}

static void on_ping(void *opaque, const uint8_t *buf, size_t len)
{
    struct trace *t = opaque;
    fuzz_check(len <= WS_MAX_CONTROL);
    t->pings++;
    t->ping_hash = mix(t->ping_hash, buf, len) + (uint32_t)len;
}

static void on_close(void *opaque, uint16_t code)
{
    struct trace *t = opaque;
    t->closes++;
    t->close_code = code;
}

static const struct ws_callbacks cbs = { .data = on_data, .ping = on_ping, .close = on_close };

static int run(const uint8_t *in, size_t size, size_t chunk, struct trace *t, struct ws_parser *p)
{
    uint8_t *buf = malloc(size ? size : 1);
    fuzz_check(buf != NULL);
    memcpy(buf, in, size);
    memset(t, 0, sizeof(*t));
    ws_parser_init(p);
    int ret = 0;
    for (size_t off = 0; off < size && ret == 0; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        ret = ws_parser_feed(p, buf + off, n, &cbs, t);
    }
    free(buf);
    return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    data++;
    size--;

    if (size >= WS_KEY_LEN) {
        char key[WS_KEY_LEN + 1], out[WS_ACCEPT_LEN + 1];
        memcpy(key, data, WS_KEY_LEN);
        key[WS_KEY_LEN] = '\0';
        if (ws_accept_key(key, out) == 0)
            fuzz_check(strlen(out) == WS_ACCEPT_LEN);
    }

    struct trace whole, pieces;
    struct ws_parser pw, pp;
    int rw = run(data, size, size ? size : 1, &whole, &pw);
    int rp = run(data, size, chunk, &pieces, &pp);
    fuzz_check(rw == rp);
    fuzz_check(pw.error == pp.error);
    fuzz_check(whole.data_len == pieces.data_len && whole.data_hash == pieces.data_hash);
    fuzz_check(whole.pings == pieces.pings && whole.ping_hash == pieces.ping_hash);
    fuzz_check(whole.closes == pieces.closes && whole.close_code == pieces.close_code);
    fuzz_check(whole.data_len <= size);
    fuzz_check(whole.closes <= 1);
    if (rw) {
        fuzz_check(pw.error == WS_CLOSE_PROTOCOL || pw.error == WS_CLOSE_TOO_BIG ||
                   pw.error == WS_CLOSE_BAD_DATA);
        uint8_t more[6] = { 0x82, 0x80, 0, 0, 0, 0 };
        fuzz_check(ws_parser_feed(&pw, more, sizeof(more), &cbs, &whole) != 0);
    }
    return 0;
}
