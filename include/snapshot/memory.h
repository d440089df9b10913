/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot memory file: one header page, then guest RAM in the order of
 * the host mapping (low RAM, then RAM above 4 GiB) so that restore can map it
 * with one mmap. Only pages that hold data are written; the rest are holes.
 * The state file's "memory" record carries the same random id as the header,
 * tying the two files together.
 */
#ifndef CASULO_SNAPSHOT_MEMORY_H
#define CASULO_SNAPSHOT_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct guest_mem;

#define SNAP_MEMORY_MAGIC "CASULOMM"
#define SNAP_MEMORY_VERSION 1
#define SNAP_MEMORY_DATA_OFFSET 4096u
#define SNAP_MEMORY_RECORD "memory"
#define SNAP_MEMORY_RECORD_VERSION 1
#define SNAP_ID_LEN 16

/* Payload of the "memory" record in the state file. */
struct snap_memory_ref {
    uint64_t memory_size;
    uint64_t data_offset;
    uint8_t id[SNAP_ID_LEN];
};

/* The memory file's header (first bytes of the header page). */
struct snap_memory_header {
    char magic[8];
    uint32_t version;
    uint32_t page_size;
    uint64_t memory_size;
    uint64_t data_offset;
    uint8_t id[SNAP_ID_LEN];
    uint32_t reserved;
    uint32_t header_crc;   /* CRC32C of the bytes before this field */
};

/*
 * Writes the header and every guest page that holds data into `fd` (an empty
 * file); *data_bytes says how much RAM was written. Anonymous RAM is scanned
 * for touched pages (util/page_scan.h; a page never touched is zero); file-backed RAM (a restored
 * VM) is scanned in full, since its untouched pages live in the old file.
 */
int snap_memory_write(const struct guest_mem *gm, int fd, const uint8_t id[SNAP_ID_LEN],
                      uint64_t *data_bytes, char *err, size_t errlen) MUST_CHECK;

/* Checks that `fd` is the memory file `ref` names (header, id, size). */
int snap_memory_check(int fd, const struct snap_memory_ref *ref, char *err, size_t errlen) MUST_CHECK;

#endif
