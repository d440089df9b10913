// SPDX-License-Identifier: Apache-2.0
/*
 * Writing guest RAM into a snapshot's memory file and checking such a file
 * before it is mapped. Runs of data pages are written with one pwrite each;
 * zero pages become holes, so a mostly idle guest gives a small file.
 */
#include "snapshot/memory.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "snapshot/format.h"
#include "util/compiler.h"
#include "util/page_scan.h"

#define SCAN_PAGES 4096u   /* pages per scan of touched pages */

static bool page_is_zero(const uint8_t *p, size_t len)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (size_t i = 0; i < len / sizeof(*w); i++)
        if (w[i])
            return false;
    return true;
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, buf, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int snap_memory_write(const struct guest_mem *gm, int fd, const uint8_t id[SNAP_ID_LEN],
                      uint64_t *data_bytes, char *err, size_t errlen)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const uint8_t *base = gm->mapping;
    const uint64_t size = gm->mapping_size;
    *data_bytes = 0;

    uint8_t *hdr_page = calloc(1, SNAP_MEMORY_DATA_OFFSET);
    unsigned char *vec = malloc(SCAN_PAGES);
    struct page_scan scan;
    page_scan_open(&scan);
    int ret = 0;
    if (!hdr_page || !vec) {
        ret = -ENOMEM;
        snprintf(err, errlen, "out of memory writing the snapshot memory file");
        goto out;
    }
    struct snap_memory_header h = {
        .version = SNAP_MEMORY_VERSION, .page_size = (uint32_t)page, .memory_size = size,
        .data_offset = SNAP_MEMORY_DATA_OFFSET,
    };
    memcpy(h.magic, SNAP_MEMORY_MAGIC, sizeof(h.magic));
    memcpy(h.id, id, SNAP_ID_LEN);
    h.header_crc = snap_crc32c(0, &h, offsetof(struct snap_memory_header, header_crc));
    memcpy(hdr_page, &h, sizeof(h));
    /* Sized first: every page not written below reads back as zero. */
    if (ftruncate(fd, (off_t)(SNAP_MEMORY_DATA_OFFSET + size)) < 0) {
        ret = -errno;
        goto io_error;
    }
    ret = pwrite_all(fd, hdr_page, SNAP_MEMORY_DATA_OFFSET, 0);
    if (ret)
        goto io_error;

    uint64_t run_start = 0, run_len = 0;
    for (uint64_t off = 0; off < size; off += (uint64_t)SCAN_PAGES * page) {
        size_t chunk = (size_t)MIN(size - off, (uint64_t)SCAN_PAGES * page);
        size_t npages = (chunk + page - 1) / page;
        if (gm->file_backed)
            memset(vec, 1, npages);
        else
            (void)page_scan_touched(&scan, (void *)(base + off), chunk, vec);  /* all 1 on failure */
        for (size_t i = 0; i < npages; i++) {
            uint64_t p = off + i * page;
            bool data = (vec[i] & 1) && !page_is_zero(base + p, page);
            if (data) {
                if (!run_len)
                    run_start = p;
                run_len += page;
                continue;
            }
            if (run_len) {
                ret = pwrite_all(fd, base + run_start, run_len, SNAP_MEMORY_DATA_OFFSET + run_start);
                if (ret)
                    goto io_error;
                *data_bytes += run_len;
                run_len = 0;
            }
        }
    }
    if (run_len) {
        ret = pwrite_all(fd, base + run_start, run_len, SNAP_MEMORY_DATA_OFFSET + run_start);
        if (ret)
            goto io_error;
        *data_bytes += run_len;
    }
    goto out;
io_error:
    snprintf(err, errlen, "cannot write the snapshot memory file: %s", strerror(-ret));
out:
    page_scan_close(&scan);
    free(vec);
    free(hdr_page);
    return ret;
}

int snap_memory_check(int fd, const struct snap_memory_ref *ref, char *err, size_t errlen)
{
    struct snap_memory_header h;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot stat the memory file: %s", strerror(errno));
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "the memory file is not a regular file");
        return -EINVAL;
    }
    ssize_t n = pread(fd, &h, sizeof(h), 0);
    if (n != (ssize_t)sizeof(h) || memcmp(h.magic, SNAP_MEMORY_MAGIC, sizeof(h.magic)) != 0) {
        snprintf(err, errlen, "the memory file is not a casulo memory image");
        return -EINVAL;
    }
    if (h.version != SNAP_MEMORY_VERSION) {
        snprintf(err, errlen, "the memory file has format version %u; this casulo reads version %u",
                 h.version, SNAP_MEMORY_VERSION);
        return -EPROTONOSUPPORT;
    }
    if (h.header_crc != snap_crc32c(0, &h, offsetof(struct snap_memory_header, header_crc))) {
        snprintf(err, errlen, "the memory file header is corrupt (checksum mismatch)");
        return -EBADMSG;
    }
    if (memcmp(h.id, ref->id, SNAP_ID_LEN) != 0 || h.memory_size != ref->memory_size ||
        h.data_offset != ref->data_offset) {
        snprintf(err, errlen, "the memory file belongs to another snapshot");
        return -EINVAL;
    }
    if (h.page_size != (uint32_t)sysconf(_SC_PAGESIZE) || h.data_offset % h.page_size) {
        snprintf(err, errlen, "the memory file was written with %u-byte pages; this host uses %ld",
                 h.page_size, sysconf(_SC_PAGESIZE));
        return -EINVAL;
    }
    if ((uint64_t)st.st_size != h.data_offset + h.memory_size) {
        snprintf(err, errlen, "the memory file is truncated (%lld bytes, expected %llu)",
                 (long long)st.st_size, (unsigned long long)(h.data_offset + h.memory_size));
        return -EINVAL;
    }
    return 0;
}
