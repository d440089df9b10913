/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server side of the WebSocket protocol (RFC 6455), without any I/O:
 * the handshake's accept key, a streaming parser for the frames a browser
 * sends, and the headers of the frames we send. Everything the parser sees
 * comes from the network, so it checks every field and fails the connection
 * (with the RFC's close code) on anything a conforming client never sends,
 * text that is not UTF-8 included. No extensions are negotiated, so the RSV
 * bits must be zero.
 */
#ifndef CASULO_MANAGER_WEBSOCKET_H
#define CASULO_MANAGER_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define WS_OP_CONT   0x0
#define WS_OP_TEXT   0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE  0x8
#define WS_OP_PING   0x9
#define WS_OP_PONG   0xa

#define WS_CLOSE_NORMAL      1000
#define WS_CLOSE_GOING_AWAY  1001
#define WS_CLOSE_PROTOCOL    1002
#define WS_CLOSE_NO_STATUS   1005   /* reported for a close frame without a code; never sent */
#define WS_CLOSE_BAD_DATA    1007   /* a text message or close reason that is not UTF-8 */
#define WS_CLOSE_TOO_BIG     1009
#define WS_CLOSE_INTERNAL    1011

/* A data frame larger than this fails the connection (1009): a console needs keystrokes. */
#define WS_MAX_FRAME      (1u << 20)
#define WS_MAX_CONTROL    125
#define WS_KEY_LEN        24       /* base64 of the client's 16 random bytes */
#define WS_ACCEPT_LEN     28       /* base64 of a SHA-1 digest */
#define WS_MAX_HEADER     14

/*
 * Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: base64(SHA-1(key
 * + the RFC's GUID)). Fails (-EINVAL) unless key is the base64 of 16 bytes.
 */
int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]) MUST_CHECK;

struct ws_callbacks {
    /* Unmasked payload bytes of text/binary messages, in order, in pieces. */
    void (*data)(void *opaque, const uint8_t *buf, size_t len);
    /* A whole control frame: PING, PONG or CLOSE (code WS_CLOSE_NO_STATUS if none). */
    void (*ping)(void *opaque, const uint8_t *payload, size_t len);
    void (*close)(void *opaque, uint16_t code);
};

struct ws_parser {
    uint8_t hdr[WS_MAX_HEADER];
    size_t hdr_len;          /* header bytes gathered so far */
    bool in_payload;         /* header done, payload bytes pending */
    uint8_t opcode;
    bool fin;
    uint8_t mask[4];
    uint64_t len, got;       /* payload length and bytes consumed */
    bool in_message;         /* a fragmented data message awaits continuations */
    bool text;               /* the current data message is text: UTF-8 is checked */
    uint8_t utf8_need;       /* continuation bytes the current character still needs */
    uint8_t utf8_lo, utf8_hi; /* the range the next continuation byte must be in */
    uint8_t ctrl[WS_MAX_CONTROL];
    bool closed;             /* a close frame was parsed: nothing may follow */
    uint16_t error;          /* the close code the connection failed with; 0: none */
};

void ws_parser_init(struct ws_parser *p);

/*
 * Parses len bytes from the client (unmasked in place, so buf is changed),
 * calling cb as frames complete. Returns 0, or -EPROTO with p->error set to
 * the close code to send (WS_CLOSE_PROTOCOL, WS_CLOSE_TOO_BIG or
 * WS_CLOSE_BAD_DATA); after an error every further byte is refused, after a
 * close frame every further byte is ignored.
 */
int ws_parser_feed(struct ws_parser *p, uint8_t *buf, size_t len, const struct ws_callbacks *cb,
                   void *opaque) MUST_CHECK;

/* The header of an unmasked, final server frame; returns its length (2..10). */
size_t ws_frame_header(uint8_t out[WS_MAX_HEADER], uint8_t opcode, uint64_t len);

/* A close frame with `code` (network order); returns its length (4). */
size_t ws_close_frame(uint8_t out[4], uint16_t code);

#endif
