// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the destination's side of a migration stream: the
 * header check, then the RAM phase into a small guest RAM (with a hole, so
 * addresses between regions are exercised), then the state container of
 * the STATE message through the snapshot reader. A header that offers zstd
 * gets PAGES_ZSTD decoded, so hostile frames reach the decompressor. Whatever the input, the
 * parser must stay inside guest RAM and its buffers (ASan) and any error
 * must be one line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/guest_mem.h"
#include "migration/stream.h"
#include "snapshot/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

/* 2 MiB of RAM: 1 MiB below a "hole" at 1 MiB, 1 MiB from 4 MiB. */
#define RAM (2u << 20)

static void parse(const struct guest_mem *gm, struct ZSTD_DCtx_s *dctx, const uint8_t *data,
                  size_t size);

/*
 * Random bytes almost never carry valid checksums, so each input is also
 * parsed with every checksum made right: the header's and each frame's
 * that fits, which lets the fuzzer reach the page and state handling.
 */
static uint8_t *fix_checksums(const uint8_t *data, size_t size)
{
    uint8_t *c = malloc(size ? size : 1);
    if (!c)
        return NULL;
    memcpy(c, data, size);
    if (size < sizeof(struct mig_header))
        return c;
    struct mig_header h;
    memcpy(&h, c, sizeof(h));
    h.header_crc = mig_crc32c(0, &h, offsetof(struct mig_header, header_crc));
    memcpy(c, &h, sizeof(h));
    size_t pos = sizeof(h);
    while (size - pos >= sizeof(struct mig_msg_header)) {
        struct mig_msg_header mh;
        memcpy(&mh, c + pos, sizeof(mh));
        size_t body = pos + sizeof(mh);
        if (mh.length > size - body)
            break;
        uint32_t crc = mig_crc32c(0, &mh, offsetof(struct mig_msg_header, crc));
        mh.crc = mig_crc32c(crc, c + body, mh.length);
        memcpy(c + pos, &mh, sizeof(mh));
        pos = body + mh.length;
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem gm;
    static struct ZSTD_DCtx_s *dctx;
    static int ready;
    if (!ready) {
        if (guest_mem_init(&gm, RAM, 1u << 20, 4u << 20))
            return 0;
        dctx = mig_zstd_dctx_new();
        if (!dctx)
            return 0;
        ready = 1;
    }
    parse(&gm, dctx, data, size);
    uint8_t *fixed = fix_checksums(data, size);
    if (fixed) {
        parse(&gm, dctx, fixed, size);
        free(fixed);
    }
    return 0;
}

static void parse(const struct guest_mem *gm, struct ZSTD_DCtx_s *dctx, const uint8_t *data,
                  size_t size)
{
    struct snap_buf_source src = { .data = data, .len = size };
    char err[400];
    struct mig_header h;
    if (snap_buf_source(&src, &h, sizeof(h)))
        return;
    /* Any header may be checked; a valid-looking one only needs the shape to agree. */
    const struct mig_vm_shape shape = { .nr_vcpus = 1, .memory_size = RAM };
    int ret = mig_header_check(&h, &shape, err, sizeof(err));
    fuzz_check(!ret || (err[0] && !strchr(err, '\n')));
    /* The RAM phase runs whatever the header said, to reach deeper. */
    struct mig_reader r;
    mig_reader_init(&r, snap_buf_source, &src);
    struct mig_msg state;
    struct mig_ram_stats st = { .dctx = h.features & MIG_FEATURE_ZSTD ? dctx : NULL };
    ret = mig_receive_ram(&r, gm, &state, &st, err, sizeof(err));
    if (ret) {
        fuzz_check(err[0] && !strchr(err, '\n'));
    } else {
        fuzz_check(state.type == MIG_MSG_STATE && state.length <= MIG_STATE_MAX);
        fuzz_check(st.compressed_pages <= st.pages && (st.dctx || !st.compressed_pages));
        struct snap_buf_source ss = { .data = state.payload, .len = state.length };
        struct snap_image img;
        if (snap_image_read(&img, snap_buf_source, &ss, err, sizeof(err)) == 0)
            snap_image_free(&img);
    }
    mig_reader_free(&r);
}
