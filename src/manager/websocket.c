// SPDX-License-Identifier: Apache-2.0
/*
 * RFC 6455 for the server end of the dashboard's console. The parser is a
 * byte-at-a-time-safe state machine: a header is gathered into p->hdr
 * (however the network splits it) and checked field by field as soon as
 * the bytes that decide it are there; payload bytes are unmasked in place
 * and handed on without being buffered, except the at most 125 bytes of a
 * control frame. SHA-1 and base64 come from nettle, which libmicrohttpd's
 * TLS stack already brings along.
 */
#include "manager/websocket.h"

#include <errno.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "util/lazylib.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
    if (!key || strlen(key) != WS_KEY_LEN)
        return -EINVAL;
    if (!lazy_nettle_load(NULL, 0))
        return -ENOSYS;
    /* The key must decode to exactly 16 bytes ("==" padding, valid alphabet). */
    struct base64_decode_ctx dec;
    uint8_t raw[BASE64_DECODE_LENGTH(WS_KEY_LEN)];
    size_t raw_len = sizeof(raw);
    base64_decode_init(&dec);
    if (!base64_decode_update(&dec, &raw_len, raw, WS_KEY_LEN, key) || !base64_decode_final(&dec) ||
        raw_len != 16)
        return -EINVAL;

    struct sha1_ctx sha;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&sha);
    sha1_update(&sha, WS_KEY_LEN, (const uint8_t *)key);
    sha1_update(&sha, sizeof(ws_guid) - 1, (const uint8_t *)ws_guid);
    sha1_digest(&sha, sizeof(digest), digest);
    base64_encode_raw(out, sizeof(digest), digest);
    out[WS_ACCEPT_LEN] = '\0';
    return 0;
}

void ws_parser_init(struct ws_parser *p)
{
    memset(p, 0, sizeof(*p));
}

static int ws_fail(struct ws_parser *p, uint16_t code)
{
    p->error = code;
    return -EPROTO;
}

static bool is_control(uint8_t opcode)
{
    return opcode & 0x8;
}

/* Close codes a peer may send (RFC 6455 7.4 and the IANA registry). */
static bool close_code_ok(uint16_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/*
 * How many header bytes this frame has, once the first two are known, and
 * whether those two are acceptable. 0: the frame is refused (p->error set).
 */
static size_t header_size(struct ws_parser *p)
{
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
    uint8_t opcode = b0 & 0x0f;
    bool fin = b0 & 0x80;
    uint8_t len7 = b1 & 0x7f;

    if (b0 & 0x70)
        return ws_fail(p, WS_CLOSE_PROTOCOL), 0;   /* RSV: no extension was agreed */
    if (!(b1 & 0x80))
        return ws_fail(p, WS_CLOSE_PROTOCOL), 0;   /* clients must mask */
    switch (opcode) {
    case WS_OP_CONT:
        if (!p->in_message)
            return ws_fail(p, WS_CLOSE_PROTOCOL), 0;
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (p->in_message)
            return ws_fail(p, WS_CLOSE_PROTOCOL), 0;
        break;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        /* Control frames: never fragmented, at most 125 bytes. */
        if (!fin || len7 > WS_MAX_CONTROL)
            return ws_fail(p, WS_CLOSE_PROTOCOL), 0;
        break;
    default:
        return ws_fail(p, WS_CLOSE_PROTOCOL), 0;
    }
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

/* The whole header is in p->hdr: decode the length and the mask. */
static int finish_header(struct ws_parser *p, size_t size)
{
    uint8_t len7 = p->hdr[1] & 0x7f;
    uint64_t len = len7;
    if (len7 == 126) {
        len = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
        if (len < 126)
            return ws_fail(p, WS_CLOSE_PROTOCOL);   /* not the shortest form */
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p->hdr[2 + i];
        if (len >> 63 || len <= 0xffff)
            return ws_fail(p, WS_CLOSE_PROTOCOL);
    }
    if (len > WS_MAX_FRAME)
        return ws_fail(p, WS_CLOSE_TOO_BIG);
    p->opcode = p->hdr[0] & 0x0f;
    p->fin = p->hdr[0] & 0x80;
    if (p->opcode == WS_OP_TEXT || p->opcode == WS_OP_BINARY) {
        p->text = p->opcode == WS_OP_TEXT;
        p->utf8_need = 0;
    }
    p->len = len;
    p->got = 0;
    memcpy(p->mask, p->hdr + size - 4, 4);
    p->in_payload = true;
    return 0;
}

/*
 * Checks bytes as UTF-8, carrying a character split across calls in
 * p->utf8_*: no overlong forms, no surrogates, nothing above U+10FFFF
 * (the ranges of RFC 3629's table). Returns how many bytes are good: n,
 * or the offset of the first bad one.
 */
static size_t utf8_good(struct ws_parser *p, const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = buf[i];
        if (p->utf8_need) {
            if (c < p->utf8_lo || c > p->utf8_hi)
                return i;
            p->utf8_lo = 0x80;
            p->utf8_hi = 0xbf;
            p->utf8_need--;
            continue;
        }
        p->utf8_lo = 0x80;
        p->utf8_hi = 0xbf;
        if (c < 0x80)
            continue;
        else if (c >= 0xc2 && c <= 0xdf)
            p->utf8_need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            p->utf8_need = 2;
            if (c == 0xe0)
                p->utf8_lo = 0xa0;   /* overlong */
            else if (c == 0xed)
                p->utf8_hi = 0x9f;   /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            p->utf8_need = 3;
            if (c == 0xf0)
                p->utf8_lo = 0x90;   /* overlong */
            else if (c == 0xf4)
                p->utf8_hi = 0x8f;   /* above U+10FFFF */
        } else {
            return i;
        }
    }
    return n;
}

static void unmask(struct ws_parser *p, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] ^= p->mask[(p->got + i) & 3];
}

/* The frame's payload is complete. */
static int end_frame(struct ws_parser *p, const struct ws_callbacks *cb, void *opaque)
{
    p->in_payload = false;
    p->hdr_len = 0;
    switch (p->opcode) {
    case WS_OP_CONT:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        p->in_message = !p->fin;
        /* A text message may not end inside a character. */
        if (p->fin && p->text && p->utf8_need)
            return ws_fail(p, WS_CLOSE_BAD_DATA);
        return 0;
    case WS_OP_PING:
        if (cb->ping)
            cb->ping(opaque, p->ctrl, (size_t)p->len);
        return 0;
    case WS_OP_PONG:
        return 0;   /* we send no pings of our own */
    case WS_OP_CLOSE:
    default: {
        uint16_t code = WS_CLOSE_NO_STATUS;
        if (p->len == 1)
            return ws_fail(p, WS_CLOSE_PROTOCOL);
        if (p->len >= 2) {
            code = (uint16_t)(p->ctrl[0] << 8 | p->ctrl[1]);
            if (!close_code_ok(code))
                return ws_fail(p, WS_CLOSE_PROTOCOL);
            /* The reason is UTF-8 text; the data message's state is not touched. */
            struct ws_parser reason = { 0 };
            size_t rlen = (size_t)p->len - 2;
            if (utf8_good(&reason, p->ctrl + 2, rlen) != rlen || reason.utf8_need)
                return ws_fail(p, WS_CLOSE_BAD_DATA);
        }
        p->closed = true;
        if (cb->close)
            cb->close(opaque, code);
        return 0;
    }
    }
}

int ws_parser_feed(struct ws_parser *p, uint8_t *buf, size_t len, const struct ws_callbacks *cb,
                   void *opaque)
{
    while (len && !p->closed) {
        if (p->error)
            return -EPROTO;
        if (!p->in_payload) {
            /* Gather the header: first the two bytes that give its size. */
            size_t want = p->hdr_len < 2 ? 2 : header_size(p);
            if (!want)
                return -EPROTO;
            size_t n = want - p->hdr_len < len ? want - p->hdr_len : len;
            memcpy(p->hdr + p->hdr_len, buf, n);
            p->hdr_len += n;
            buf += n;
            len -= n;
            if (p->hdr_len < 2 || p->hdr_len < want)
                continue;
            size_t size = header_size(p);
            if (!size)
                return -EPROTO;
            if (p->hdr_len < size)
                continue;
            int ret = finish_header(p, size);
            if (ret)
                return ret;
            if (p->len == 0) {
                ret = end_frame(p, cb, opaque);
                if (ret)
                    return ret;
            }
            continue;
        }
        uint64_t left = p->len - p->got;
        size_t n = left < len ? (size_t)left : len;
        unmask(p, buf, n);
        if (is_control(p->opcode)) {
            memcpy(p->ctrl + p->got, buf, n);   /* len <= WS_MAX_CONTROL was checked */
        } else {
            /* What precedes a bad byte is delivered however the bytes were split. */
            size_t good = p->text ? utf8_good(p, buf, n) : n;
            if (cb->data && good)
                cb->data(opaque, buf, good);
            if (good != n)
                return ws_fail(p, WS_CLOSE_BAD_DATA);
        }
        p->got += n;
        buf += n;
        len -= n;
        if (p->got == p->len) {
            int ret = end_frame(p, cb, opaque);
            if (ret)
                return ret;
        }
    }
    return p->error ? -EPROTO : 0;
}

size_t ws_frame_header(uint8_t out[WS_MAX_HEADER], uint8_t opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t ws_close_frame(uint8_t out[4], uint16_t code)
{
    out[0] = 0x80 | WS_OP_CLOSE;
    out[1] = 2;
    out[2] = (uint8_t)(code >> 8);
    out[3] = (uint8_t)code;
    return 4;
}
