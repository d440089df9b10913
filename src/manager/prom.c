// SPDX-License-Identifier: Apache-2.0
/*
 * A reader for the VMM's Prometheus text: each sample line is
 * `name{label="value",...} number`. Only the families in prom.h are kept;
 * the text comes from our own VMM but is still read defensively (no line is
 * trusted to be well formed, a label value may hold escaped quotes).
 */
#include "manager/prom.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PROM_LABELS_MAX 256

/* Copies label `key`'s value out of "{a=\"x\",b=\"y\"}" (unescaped); false if absent. */
static bool label(const char *labels, size_t len, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    const char *p = labels, *end = labels + len;
    while (p < end) {
        while (p < end && (*p == '{' || *p == ',' || *p == ' '))
            p++;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq || eq + 1 >= end || eq[1] != '"')
            return false;
        bool match = (size_t)(eq - p) == klen && memcmp(p, key, klen) == 0;
        size_t o = 0;
        p = eq + 2;
        while (p < end && *p != '"') {
            char c = *p++;
            if (c == '\\' && p < end)
                c = *p == 'n' ? '\n' : *p, p++;
            if (match && o + 1 < outlen)
                out[o++] = c;
        }
        if (p >= end)
            return false;   /* unterminated value */
        p++;
        if (match) {
            out[o] = '\0';
            return true;
        }
    }
    return false;
}

static uint64_t to_u64(double v)
{
    return isfinite(v) && v > 0 && v < 1.8e19 ? (uint64_t)v : 0;
}

/* Adds one sample; true if it belonged to a family we keep. */
static bool sample(struct mgr_vmm_metrics *m, const char *name, size_t nlen, const char *labels,
                   size_t llen, double v)
{
#define IS(s) (nlen == strlen(s) && memcmp(name, s, nlen) == 0)
    char kind[32], op[32];
    if (IS("casulo_vcpu_run_seconds_total")) {
        if (isfinite(v) && v > 0)
            m->vcpu_seconds += v;
    } else if (IS("casulo_uptime_seconds")) {
        m->uptime_s = isfinite(v) && v > 0 ? v : 0;
    } else if (IS("casulo_guest_memory_bytes")) {
        m->memory_bytes = to_u64(v);
    } else if (IS("casulo_balloon_actual_bytes")) {
        m->balloon_actual_bytes = to_u64(v);
    } else if (IS("casulo_device_bytes_total")) {
        if (!label(labels, llen, "kind", kind, sizeof(kind)) || !label(labels, llen, "op", op, sizeof(op)))
            return false;
        uint64_t *slot = NULL;
        if (strcmp(kind, "virtio-blk") == 0)
            slot = strcmp(op, "read") == 0 ? &m->disk_read_bytes
                 : strcmp(op, "write") == 0 ? &m->disk_write_bytes : NULL;
        else if (strcmp(kind, "virtio-net") == 0)
            slot = strcmp(op, "rx") == 0 ? &m->net_rx_bytes
                 : strcmp(op, "tx") == 0 ? &m->net_tx_bytes : NULL;
        if (!slot)
            return false;
        *slot += to_u64(v);
    } else {
        return false;
    }
    return true;
#undef IS
}

int mgr_prom_parse(const char *text, struct mgr_vmm_metrics *m)
{
    *m = (struct mgr_vmm_metrics){ 0 };
    int used = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *next = nl ? nl + 1 : NULL;
        if (len == 0 || line[0] == '#') {
            line = next;
            continue;
        }
        size_t nlen = strcspn(line, "{ ");
        if (nlen > len)
            nlen = len;
        const char *labels = line + nlen, *rest = labels;
        size_t llen = 0;
        if (nlen < len && *labels == '{') {
            /* The closing brace is the last one before the value: quotes may hold braces. */
            const char *close = NULL;
            for (const char *p = labels; p < line + len; p++)
                if (*p == '}')
                    close = p;
            if (!close) {
                line = next;
                continue;
            }
            llen = (size_t)(close - labels + 1);
            rest = close + 1;
        }
        char num[64];
        size_t vlen = (size_t)(line + len - rest);
        if (vlen == 0 || vlen >= sizeof(num)) {
            line = next;
            continue;
        }
        memcpy(num, rest, vlen);
        num[vlen] = '\0';
        char *end;
        double v = strtod(num, &end);
        while (*end == ' ')
            end++;
        if (end != num && *end == '\0' && sample(m, line, nlen, labels, llen, v))
            used++;
        line = next;
    }
    return used;
}
