// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the snapshot reader. The input is a snapshot stream
 * as a file or a migration peer would deliver it. An accepted stream must
 * hand out only records whose bounds lie inside the image, with valid unique
 * names; writing those records back out must give a stream that reads back
 * to the same records (the reader and writer agree on the format).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

struct grow {
    uint8_t *data;
    size_t len;
};

static int grow_sink(void *opaque, const void *buf, size_t len)
{
    struct grow *g = opaque;
    uint8_t *p = realloc(g->data, g->len + len);
    if (!p)
        return -ENOMEM;
    memcpy(p + g->len, buf, len);
    g->data = p;
    g->len += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct snap_buf_source src = { .data = data, .len = size };
    struct snap_image img;
    char err[256];
    if (snap_image_read(&img, snap_buf_source, &src, err, sizeof(err)) != 0) {
        fuzz_check(err[0] != '\0');
        return 0;
    }
    uint64_t total = 0;
    struct grow out = { 0 };
    struct snap_writer w;
    snap_writer_init(&w, grow_sink, &out);
    fuzz_check(snap_write_header(&w, &img.summary) == 0);
    for (unsigned i = 0; i < img.nr_records; i++) {
        const struct snap_record *r = &img.records[i];
        fuzz_check(snap_name_valid(r->name));
        fuzz_check(snap_image_find(&img, r->name) == r);
        fuzz_check(r->length <= SNAP_RECORD_MAX);
        total += r->length;
        fuzz_check(r->length <= size);
        /* Touch every byte so ASan sees an out-of-bounds payload. */
        volatile uint8_t sum = 0;
        for (uint64_t j = 0; j < r->length; j++)
            sum ^= r->payload[j];
        (void)sum;
        fuzz_check(snap_write_record(&w, r->name, r->version, r->payload, r->length) == 0);
    }
    fuzz_check(total <= size);
    fuzz_check(snap_write_end(&w) == 0);

    struct snap_buf_source again = { .data = out.data, .len = out.len };
    struct snap_image img2;
    fuzz_check(snap_image_read(&img2, snap_buf_source, &again, err, sizeof(err)) == 0);
    fuzz_check(img2.nr_records == img.nr_records);
    for (unsigned i = 0; i < img.nr_records; i++) {
        fuzz_check(strcmp(img2.records[i].name, img.records[i].name) == 0);
        fuzz_check(img2.records[i].version == img.records[i].version);
        fuzz_check(img2.records[i].length == img.records[i].length);
        fuzz_check(memcmp(img2.records[i].payload, img.records[i].payload, img.records[i].length) == 0);
    }
    snap_image_free(&img2);
    snap_image_free(&img);
    free(out.data);
    return 0;
}
