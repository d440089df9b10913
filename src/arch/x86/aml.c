// SPDX-License-Identifier: Apache-2.0
/*
 * AML byte-code writer: the byte sink, name strings, data objects and the
 * PkgLength-prefixed constructs (ACPI 6.x §20.2). Resource descriptors live
 * in aml_resource.c.
 */
#include "arch/x86/aml.h"

#include <errno.h>
#include <string.h>

#define AML_ZERO_OP        0x00
#define AML_ONE_OP         0x01
#define AML_NAME_OP        0x08
#define AML_BYTE_PREFIX    0x0a
#define AML_WORD_PREFIX    0x0b
#define AML_DWORD_PREFIX   0x0c
#define AML_STRING_PREFIX  0x0d
#define AML_QWORD_PREFIX   0x0e
#define AML_SCOPE_OP       0x10
#define AML_BUFFER_OP      0x11
#define AML_PACKAGE_OP     0x12
#define AML_METHOD_OP      0x14
#define AML_DUAL_NAME      0x2e
#define AML_MULTI_NAME     0x2f
#define AML_EXT_OP         0x5b
#define AML_DEVICE_OP      0x82   /* after AML_EXT_OP */
#define AML_ROOT_CHAR      '\\'
#define AML_PARENT_CHAR    '^'
#define AML_RETURN_OP      0xa4

#define AML_PKGLEN_MAX     4      /* bytes of the longest PkgLength */
#define AML_INT_MAX        9      /* bytes of the longest integer encoding */

void aml_buf_init(struct aml_buf *b, void *data, size_t cap)
{
    *b = (struct aml_buf){ .data = data, .cap = cap };
}

static void aml_fail(struct aml_buf *b, int err)
{
    if (!b->err)
        b->err = err;
}

void aml_bytes(struct aml_buf *b, const void *p, size_t n)
{
    if (b->err)
        return;
    if (n > b->cap - b->len) {
        aml_fail(b, -ENOSPC);
        return;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void aml_u8(struct aml_buf *b, uint8_t v)
{
    aml_bytes(b, &v, 1);
}

void aml_u16(struct aml_buf *b, uint16_t v)
{
    uint8_t le[2] = { v, v >> 8 };
    aml_bytes(b, le, sizeof(le));
}

void aml_u32(struct aml_buf *b, uint32_t v)
{
    aml_u16(b, v);
    aml_u16(b, v >> 16);
}

void aml_u64(struct aml_buf *b, uint64_t v)
{
    aml_u32(b, v);
    aml_u32(b, v >> 32);
}

void aml_pad_to(struct aml_buf *b, uint64_t base, uint64_t align)
{
    while (!b->err && (base + b->len) & (align - 1))
        aml_u8(b, 0);
}

static bool aml_seg_char_ok(char c, bool first)
{
    if ((c >= 'A' && c <= 'Z') || c == '_')
        return true;
    return !first && c >= '0' && c <= '9';
}

/* Length of the segment at s (up to '.' or NUL), or 0 when it is malformed. */
static size_t aml_seg_len(const char *s)
{
    size_t n = 0;
    while (s[n] && s[n] != '.') {
        if (n == 4 || !aml_seg_char_ok(s[n], n == 0))
            return 0;
        n++;
    }
    return n;
}

void aml_name_string(struct aml_buf *b, const char *path)
{
    const char *p = path;
    if (*p == AML_ROOT_CHAR)
        aml_u8(b, *p++);
    else
        while (*p == AML_PARENT_CHAR)
            aml_u8(b, *p++);
    if (!*p) {
        aml_u8(b, AML_ZERO_OP);   /* NullName */
        return;
    }

    size_t nseg = 0;
    for (const char *s = p;; s++) {
        size_t n = aml_seg_len(s);
        if (!n || nseg == 255) {
            aml_fail(b, -EINVAL);
            return;
        }
        nseg++;
        s += n;
        if (!*s)
            break;
    }
    if (nseg == 2)
        aml_u8(b, AML_DUAL_NAME);
    else if (nseg > 2) {
        aml_u8(b, AML_MULTI_NAME);
        aml_u8(b, nseg);
    }
    for (const char *s = p; nseg--; s++) {
        size_t n = aml_seg_len(s);
        char seg[4] = { '_', '_', '_', '_' };
        memcpy(seg, s, n);
        aml_bytes(b, seg, sizeof(seg));
        s += n;
    }
}

/* Shortest encoding of an integer constant; returns its length. */
static size_t aml_encode_integer(uint64_t v, uint8_t out[AML_INT_MAX])
{
    size_t n;
    if (v <= 1) {
        out[0] = v ? AML_ONE_OP : AML_ZERO_OP;
        return 1;
    }
    if (v <= UINT8_MAX) {
        out[0] = AML_BYTE_PREFIX;
        n = 1;
    } else if (v <= UINT16_MAX) {
        out[0] = AML_WORD_PREFIX;
        n = 2;
    } else if (v <= UINT32_MAX) {
        out[0] = AML_DWORD_PREFIX;
        n = 4;
    } else {
        out[0] = AML_QWORD_PREFIX;
        n = 8;
    }
    for (size_t i = 0; i < n; i++)
        out[1 + i] = v >> (8 * i);
    return 1 + n;
}

void aml_integer(struct aml_buf *b, uint64_t v)
{
    uint8_t enc[AML_INT_MAX];
    aml_bytes(b, enc, aml_encode_integer(v, enc));
}

void aml_string(struct aml_buf *b, const char *s)
{
    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c > 0x7f) {
            aml_fail(b, -EINVAL);
            return;
        }
    }
    aml_u8(b, AML_STRING_PREFIX);
    aml_bytes(b, s, strlen(s) + 1);
}

static int aml_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void aml_eisaid(struct aml_buf *b, const char *id)
{
    if (strlen(id) != 7) {
        aml_fail(b, -EINVAL);
        return;
    }
    /* Three 5-bit letters ('A' is 1), then four hex digits, stored big-endian. */
    uint32_t v = 0;
    for (int i = 0; i < 3; i++) {
        if (id[i] < 'A' || id[i] > 'Z') {
            aml_fail(b, -EINVAL);
            return;
        }
        v = (v << 5) | (uint32_t)(id[i] - '@');
    }
    for (int i = 3; i < 7; i++) {
        int d = aml_hex_digit(id[i]);
        if (d < 0) {
            aml_fail(b, -EINVAL);
            return;
        }
        v = (v << 4) | (uint32_t)d;
    }
    uint8_t enc[5] = { AML_DWORD_PREFIX, v >> 24, v >> 16, v >> 8, v };
    aml_bytes(b, enc, sizeof(enc));
}

void aml_name(struct aml_buf *b, const char *path)
{
    aml_u8(b, AML_NAME_OP);
    aml_name_string(b, path);
}

static struct aml_mark aml_reserve(struct aml_buf *b, bool is_buffer)
{
    static const uint8_t zeros[AML_PKGLEN_MAX + AML_INT_MAX];
    struct aml_mark m = {
        .pkglen_at = b->len,
        .reserved = AML_PKGLEN_MAX + (is_buffer ? AML_INT_MAX : 0),
        .is_buffer = is_buffer,
    };
    aml_bytes(b, zeros, m.reserved);
    return m;
}

/* PkgLength counts its own bytes; returns how many it needs, 0 if too long. */
static size_t aml_encode_pkglen(size_t body, uint8_t out[AML_PKGLEN_MAX])
{
    if (body + 1 <= 0x3f) {
        out[0] = body + 1;
        return 1;
    }
    for (size_t n = 2; n <= AML_PKGLEN_MAX; n++) {
        size_t total = body + n;
        if (total >= (size_t)1 << (4 + 8 * (n - 1)))
            continue;
        out[0] = ((n - 1) << 6) | (total & 0xf);
        for (size_t i = 1; i < n; i++)
            out[i] = total >> (4 + 8 * (i - 1));
        return n;
    }
    return 0;
}

void aml_close(struct aml_buf *b, struct aml_mark m)
{
    if (b->err)
        return;
    size_t body_at = m.pkglen_at + m.reserved;
    size_t body = b->len - body_at;
    uint8_t size_enc[AML_INT_MAX];
    size_t size_len = m.is_buffer ? aml_encode_integer(body, size_enc) : 0;
    uint8_t pkglen[AML_PKGLEN_MAX];
    size_t pkglen_len = aml_encode_pkglen(size_len + body, pkglen);
    if (!pkglen_len) {
        aml_fail(b, -E2BIG);
        return;
    }
    /* Slide the body down over the unused part of the reservation. */
    uint8_t *at = b->data + m.pkglen_at;
    memmove(at + pkglen_len + size_len, b->data + body_at, body);
    memcpy(at, pkglen, pkglen_len);
    memcpy(at + pkglen_len, size_enc, size_len);
    b->len -= m.reserved - pkglen_len - size_len;
}

struct aml_mark aml_scope_open(struct aml_buf *b, const char *path)
{
    aml_u8(b, AML_SCOPE_OP);
    struct aml_mark m = aml_reserve(b, false);
    aml_name_string(b, path);
    return m;
}

struct aml_mark aml_device_open(struct aml_buf *b, const char *path)
{
    uint8_t op[2] = { AML_EXT_OP, AML_DEVICE_OP };
    aml_bytes(b, op, sizeof(op));
    struct aml_mark m = aml_reserve(b, false);
    aml_name_string(b, path);
    return m;
}

struct aml_mark aml_method_open(struct aml_buf *b, const char *path, unsigned nargs,
                                bool serialized)
{
    if (nargs > 7)
        aml_fail(b, -EINVAL);
    aml_u8(b, AML_METHOD_OP);
    struct aml_mark m = aml_reserve(b, false);
    aml_name_string(b, path);
    aml_u8(b, (nargs & 7) | (serialized ? 1u << 3 : 0));
    return m;
}

struct aml_mark aml_package_open(struct aml_buf *b, uint8_t count)
{
    aml_u8(b, AML_PACKAGE_OP);
    struct aml_mark m = aml_reserve(b, false);
    aml_u8(b, count);
    return m;
}

struct aml_mark aml_buffer_open(struct aml_buf *b)
{
    aml_u8(b, AML_BUFFER_OP);
    return aml_reserve(b, true);
}

void aml_package_ints(struct aml_buf *b, const uint64_t *v, uint8_t n)
{
    struct aml_mark m = aml_package_open(b, n);
    for (uint8_t i = 0; i < n; i++)
        aml_integer(b, v[i]);
    aml_close(b, m);
}

void aml_method_return_int(struct aml_buf *b, const char *path, uint64_t v)
{
    struct aml_mark m = aml_method_open(b, path, 0, false);
    aml_u8(b, AML_RETURN_OP);
    aml_integer(b, v);
    aml_close(b, m);
}
