// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for manager/websocket: the handshake key (the RFC's own
 * example), frame parsing however the bytes are split, fragmentation with a
 * control frame in between, and every way a hostile client's frame is
 * refused with the close code RFC 6455 asks for, text that is not UTF-8
 * included.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "manager/websocket.h"

/* What the callbacks saw. */
struct seen {
    uint8_t data[200000];
    size_t data_len;
    uint8_t ping[WS_MAX_CONTROL];
    size_t ping_len;
    int pings;
    int closes;
    uint16_t close_code;
};

static void on_data(void *opaque, const uint8_t *buf, size_t len)
{
    struct seen *s = opaque;
    assert_true(s->data_len + len <= sizeof(s->data));
    memcpy(s->data + s->data_len, buf, len);
    s->data_len += len;
}

static void on_ping(void *opaque, const uint8_t *buf, size_t len)
{
    struct seen *s = opaque;
    memcpy(s->ping, buf, len);
    s->ping_len = len;
    s->pings++;
}

static void on_close(void *opaque, uint16_t code)
{
    struct seen *s = opaque;
    s->closes++;
    s->close_code = code;
}

static const struct ws_callbacks cbs = { .data = on_data, .ping = on_ping, .close = on_close };

/* A client frame: b0 as given (FIN/RSV/opcode), masked with `mask`, the shortest length form. */
static size_t client_frame(uint8_t *out, uint8_t b0, const void *payload, size_t len,
                           const uint8_t mask[4])
{
    size_t n = 0;
    out[n++] = b0;
    if (len < 126) {
        out[n++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        out[n++] = 0x80 | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[n++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    memcpy(out + n, mask, 4);
    n += 4;
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = p[i] ^ mask[i & 3];
    return n + len;
}

static const uint8_t mask1[4] = { 0x37, 0xfa, 0x21, 0x3d };

static void accept_key_rfc_example(void **state)
{
    (void)state;
    char out[WS_ACCEPT_LEN + 1];
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void accept_key_rejects_bad_keys(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
        "dGhlIHNhbXBsZSBub25jZ!==",   /* not base64 */
        "AAAAAAAAAAAAAAAAAAAAAAAA",   /* 18 bytes, not 16 */
    };
    char out[WS_ACCEPT_LEN + 1];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ws_accept_key(bad[i], out), -EINVAL);
    assert_int_equal(ws_accept_key(NULL, out), -EINVAL);
}

static void parses_rfc_masked_hello(void **state)
{
    (void)state;
    /* RFC 6455 5.7: a single-frame masked text message "Hello". */
    uint8_t frame[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    struct seen *s = calloc(1, sizeof(*s));
    struct ws_parser p;
    ws_parser_init(&p);
    assert_int_equal(ws_parser_feed(&p, frame, sizeof(frame), &cbs, s), 0);
    assert_int_equal(s->data_len, 5);
    assert_memory_equal(s->data, "Hello", 5);
    free(s);
}

/* The same stream fed whole and in every split into single bytes gives the same result. */
static void parses_byte_by_byte(void **state)
{
    (void)state;
    uint8_t stream[2000];
    size_t n = 0;
    char big[300];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    n += client_frame(stream + n, 0x82, "ab", 2, mask1);
    n += client_frame(stream + n, 0x89, "pp", 2, mask1);        /* ping */
    n += client_frame(stream + n, 0x82, big, sizeof(big), mask1); /* 16-bit length */
    n += client_frame(stream + n, 0x8a, "", 0, mask1);           /* pong: ignored */
    n += client_frame(stream + n, 0x82, "", 0, mask1);           /* empty data frame */

    struct seen *s = calloc(1, sizeof(*s));
    struct ws_parser p;
    ws_parser_init(&p);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ws_parser_feed(&p, &stream[i], 1, &cbs, s), 0);
    assert_int_equal(s->data_len, 2 + sizeof(big));
    assert_memory_equal(s->data, "ab", 2);
    assert_memory_equal(s->data + 2, big, sizeof(big));
    assert_int_equal(s->pings, 1);
    assert_int_equal(s->ping_len, 2);
    assert_memory_equal(s->ping, "pp", 2);
    assert_int_equal(s->closes, 0);
    free(s);
}

static void fragmented_message_with_ping_between(void **state)
{
    (void)state;
    uint8_t stream[100];
    size_t n = 0;
    n += client_frame(stream + n, 0x01, "Hel", 3, mask1);   /* text, not final */
    n += client_frame(stream + n, 0x89, "x", 1, mask1);     /* a ping may come between */
    n += client_frame(stream + n, 0x00, "l", 1, mask1);     /* continuation */
    n += client_frame(stream + n, 0x80, "o", 1, mask1);     /* final continuation */
    n += client_frame(stream + n, 0x82, "!", 1, mask1);     /* a new message may start */
    struct seen *s = calloc(1, sizeof(*s));
    struct ws_parser p;
    ws_parser_init(&p);
    assert_int_equal(ws_parser_feed(&p, stream, n, &cbs, s), 0);
    assert_int_equal(s->data_len, 6);
    assert_memory_equal(s->data, "Hello!", 6);
    assert_int_equal(s->pings, 1);
    free(s);
}

static void large_frame_64bit_length(void **state)
{
    (void)state;
    size_t len = 70000;
    uint8_t *payload = malloc(len);
    uint8_t *frame = malloc(len + 14);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 7);
    size_t n = client_frame(frame, 0x82, payload, len, mask1);
    assert_int_equal(n, len + 14);
    struct seen *s = calloc(1, sizeof(*s));
    struct ws_parser p;
    ws_parser_init(&p);
    assert_int_equal(ws_parser_feed(&p, frame, n, &cbs, s), 0);
    assert_int_equal(s->data_len, len);
    assert_memory_equal(s->data, payload, len);
    free(s);
    free(frame);
    free(payload);
}

/* Feeds raw bytes; expects the connection to fail with `code` and no data delivered. */
static void expect_refused(const uint8_t *bytes, size_t len, uint16_t code)
{
    uint8_t buf[64];
    assert_true(len <= sizeof(buf));
    memcpy(buf, bytes, len);
    struct seen *s = calloc(1, sizeof(*s));
    struct ws_parser p;
    ws_parser_init(&p);
    assert_int_equal(ws_parser_feed(&p, buf, len, &cbs, s), -EPROTO);
    assert_int_equal(p.error, code);
    assert_int_equal(s->data_len, 0);
    /* Anything after the failure is refused too. */
    uint8_t more[] = { 0x82, 0x80, 1, 2, 3, 4 };
    assert_int_equal(ws_parser_feed(&p, more, sizeof(more), &cbs, s), -EPROTO);
    free(s);
}

static void refuses_protocol_violations(void **state)
{
    (void)state;
    /* Unmasked client frame. */
    expect_refused((const uint8_t[]){ 0x82, 0x02, 'h', 'i' }, 4, WS_CLOSE_PROTOCOL);
    /* RSV1 set without an extension. */
    expect_refused((const uint8_t[]){ 0xc2, 0x80, 1, 2, 3, 4 }, 6, WS_CLOSE_PROTOCOL);
    /* Reserved opcodes: 3 (data) and 0xb (control). */
    expect_refused((const uint8_t[]){ 0x83, 0x80, 1, 2, 3, 4 }, 6, WS_CLOSE_PROTOCOL);
    expect_refused((const uint8_t[]){ 0x8b, 0x80, 1, 2, 3, 4 }, 6, WS_CLOSE_PROTOCOL);
    /* A continuation with no message started. */
    expect_refused((const uint8_t[]){ 0x80, 0x80, 1, 2, 3, 4 }, 6, WS_CLOSE_PROTOCOL);
    /* A fragmented control frame, a control frame over 125 bytes. */
    expect_refused((const uint8_t[]){ 0x09, 0x80, 1, 2, 3, 4 }, 6, WS_CLOSE_PROTOCOL);
    expect_refused((const uint8_t[]){ 0x89, 0xfe, 0x00, 0x7e }, 4, WS_CLOSE_PROTOCOL);
    /* Lengths not in their shortest form, and a 64-bit length with the top bit set. */
    expect_refused((const uint8_t[]){ 0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4 }, 8, WS_CLOSE_PROTOCOL);
    expect_refused((const uint8_t[]){ 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 }, 14,
                   WS_CLOSE_PROTOCOL);
    expect_refused((const uint8_t[]){ 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 }, 14,
                   WS_CLOSE_PROTOCOL);
    /* Over the frame size limit: 2 MiB. */
    expect_refused((const uint8_t[]){ 0x82, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4 }, 14,
                   WS_CLOSE_TOO_BIG);
}

static void refuses_new_message_inside_fragmented_one(void **state)
{
    (void)state;
    uint8_t stream[64];
    size_t n = client_frame(stream, 0x02, "a", 1, mask1);
    n += client_frame(stream + n, 0x82, "b", 1, mask1);
    struct seen *s = calloc(1, sizeof(*s));
    struct ws_parser p;
    ws_parser_init(&p);
    assert_int_equal(ws_parser_feed(&p, stream, n, &cbs, s), -EPROTO);
    assert_int_equal(p.error, WS_CLOSE_PROTOCOL);
    assert_int_equal(s->data_len, 1);   /* the first fragment was fine */
    free(s);
}

static void close_frames(void **state)
{
    (void)state;
    struct seen *s = calloc(1, sizeof(*s));
    struct ws_parser p;
    uint8_t stream[64];

    /* With a code and a reason; what follows the close is ignored. */
    size_t n = client_frame(stream, 0x88, "\x03\xe8" "bye", 5, mask1);
    n += client_frame(stream + n, 0x82, "late", 4, mask1);
    ws_parser_init(&p);
    assert_int_equal(ws_parser_feed(&p, stream, n, &cbs, s), 0);
    assert_int_equal(s->closes, 1);
    assert_int_equal(s->close_code, 1000);
    assert_int_equal(s->data_len, 0);

    /* Without a payload: "no status". */
    n = client_frame(stream, 0x88, "", 0, mask1);
    ws_parser_init(&p);
    assert_int_equal(ws_parser_feed(&p, stream, n, &cbs, s), 0);
    assert_int_equal(s->close_code, WS_CLOSE_NO_STATUS);

    /* One byte, or a code nobody may send: protocol errors. */
    static const char *const bad[] = { "\x03", "\x03\xe7", "\x03\xec", "\x03\xed", "\x13\x88" };
    static const size_t bad_len[] = { 1, 2, 2, 2, 2 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = client_frame(stream, 0x88, bad[i], bad_len[i], mask1);
        ws_parser_init(&p);
        s->closes = 0;
        assert_int_equal(ws_parser_feed(&p, stream, n, &cbs, s), -EPROTO);
        assert_int_equal(p.error, WS_CLOSE_PROTOCOL);
        assert_int_equal(s->closes, 0);
    }
    free(s);
}

/* Text must be UTF-8 (RFC 6455 8.1): 1007 otherwise; binary is not checked. */
static void text_must_be_utf8(void **state)
{
    (void)state;
    struct seen *s = calloc(1, sizeof(*s));
    struct ws_parser p;
    uint8_t stream[128];
    size_t n;

    /* Valid multi-byte text, a character split across two fragments. */
    n = client_frame(stream, 0x01, "a\xc3", 2, mask1);
    n += client_frame(stream + n, 0x80, "\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 8, mask1);
    ws_parser_init(&p);
    assert_int_equal(ws_parser_feed(&p, stream, n, &cbs, s), 0);
    assert_int_equal(s->data_len, 10);

    static const struct { const char *text; size_t len; } bad[] = {
        { "\xc0\x80", 2 },          /* overlong NUL */
        { "\xe0\x80\xaf", 3 },      /* overlong '/' */
        { "\xed\xa0\x80", 3 },      /* a surrogate */
        { "\xf4\x90\x80\x80", 4 },  /* above U+10FFFF */
        { "\xff", 1 },
        { "ok\xe2\x82", 4 },        /* ends inside a character */
        { "\x80", 1 },              /* a stray continuation byte */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = client_frame(stream, 0x81, bad[i].text, bad[i].len, mask1);
        ws_parser_init(&p);
        assert_int_equal(ws_parser_feed(&p, stream, n, &cbs, s), -EPROTO);
        assert_int_equal(p.error, WS_CLOSE_BAD_DATA);
        /* The same bytes as binary are fine. */
        n = client_frame(stream, 0x82, bad[i].text, bad[i].len, mask1);
        ws_parser_init(&p);
        assert_int_equal(ws_parser_feed(&p, stream, n, &cbs, s), 0);
    }

    /* A close reason must be UTF-8 too. */
    n = client_frame(stream, 0x88, "\x03\xe8\xc3", 3, mask1);
    ws_parser_init(&p);
    s->closes = 0;
    assert_int_equal(ws_parser_feed(&p, stream, n, &cbs, s), -EPROTO);
    assert_int_equal(p.error, WS_CLOSE_BAD_DATA);
    assert_int_equal(s->closes, 0);
    free(s);
}

static void server_frame_headers(void **state)
{
    (void)state;
    uint8_t h[WS_MAX_HEADER];
    assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 0), 2);
    assert_memory_equal(h, ((const uint8_t[]){ 0x82, 0x00 }), 2);
    assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 125), 2);
    assert_int_equal(h[1], 125);
    assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 126), 4);
    assert_memory_equal(h, ((const uint8_t[]){ 0x82, 126, 0x00, 126 }), 4);
    assert_int_equal(ws_frame_header(h, WS_OP_PONG, 65535), 4);
    assert_memory_equal(h, ((const uint8_t[]){ 0x8a, 126, 0xff, 0xff }), 4);
    assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 65536), 10);
    assert_memory_equal(h, ((const uint8_t[]){ 0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0 }), 10);
    uint8_t c[4];
    assert_int_equal(ws_close_frame(c, 1001), 4);
    assert_memory_equal(c, ((const uint8_t[]){ 0x88, 2, 0x03, 0xe9 }), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_key_rfc_example),
        cmocka_unit_test(accept_key_rejects_bad_keys),
        cmocka_unit_test(parses_rfc_masked_hello),
        cmocka_unit_test(parses_byte_by_byte),
        cmocka_unit_test(fragmented_message_with_ping_between),
        cmocka_unit_test(large_frame_64bit_length),
        cmocka_unit_test(refuses_protocol_violations),
        cmocka_unit_test(refuses_new_message_inside_fragmented_one),
        cmocka_unit_test(close_frames),
        cmocka_unit_test(text_must_be_utf8),
        cmocka_unit_test(server_frame_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
