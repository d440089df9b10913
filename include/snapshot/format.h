/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot container: a header, then named and versioned records, each
 * with its length and CRC32C, then an end record carrying the record count
 * and a CRC32C of every byte before it. The writer pushes bytes into a sink
 * and the reader pulls them from a source, so the same code serves a file
 * (snapshot) and a socket (migration). The reader trusts nothing: every
 * length is bounded before anything is allocated, and a record is handed out
 * only once its checksum and the whole stream's checksum have been verified.
 * Layout and rules: docs/snapshot-format.md.
 */
#ifndef CASULO_SNAPSHOT_FORMAT_H
#define CASULO_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define SNAP_MAGIC "CASULOSN"          /* 8 bytes, no NUL on disk */
#define SNAP_FORMAT_VERSION 1
#define SNAP_NAME_LEN 32               /* including the NUL padding */
#define SNAP_END_NAME "end"
/* Bounds that keep a hostile stream from making the reader allocate much. */
#define SNAP_RECORD_MAX (16u << 20)     /* one record's payload */
#define SNAP_STREAM_MAX (256u << 20)    /* all payloads together */
#define SNAP_RECORDS_MAX 4096u

/* What the header says about the VM; restore compares it with the config. */
struct snap_summary {
    uint32_t flags;
    uint32_t nr_vcpus;
    uint64_t memory_size;
    uint32_t nr_disks, nr_nets;
    uint32_t rng;
};

/* On-disk header (little-endian, 64 bytes). */
struct snap_header {
    char magic[8];
    uint32_t format_version;
    uint32_t header_size;       /* sizeof(struct snap_header) */
    uint32_t flags;
    uint32_t nr_vcpus;
    uint64_t memory_size;
    uint32_t nr_disks, nr_nets;
    uint32_t rng;
    uint32_t reserved[4];
    uint32_t header_crc;        /* CRC32C of the bytes before this field */
};

/* On-disk record header (48 bytes), followed by `length` payload bytes. */
struct snap_record_header {
    char name[SNAP_NAME_LEN];
    uint32_t version;
    uint32_t crc;               /* CRC32C of the payload */
    uint64_t length;
};

/* Payload of the end record. */
struct snap_end {
    uint64_t nr_records;        /* records before this one */
    uint32_t stream_crc;        /* CRC32C of every byte before the end record */
    uint32_t reserved;
};

/* CRC32C (Castagnoli). Pass 0 to start; feed the result back in to continue. */
uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- writer ---- */

/* Writes all of buf or returns -errno. */
typedef int (*snap_sink_fn)(void *opaque, const void *buf, size_t len);

struct snap_writer {
    snap_sink_fn sink;
    void *opaque;
    uint32_t stream_crc;
    uint64_t nr_records;
    int error;                  /* first failure; later writes do nothing */
};

void snap_writer_init(struct snap_writer *w, snap_sink_fn sink, void *opaque);
int snap_write_header(struct snap_writer *w, const struct snap_summary *s) MUST_CHECK;
/* One record; name: 1..31 chars of [a-z0-9._-]. */
int snap_write_record(struct snap_writer *w, const char *name, uint32_t version,
                      const void *payload, size_t len) MUST_CHECK;
int snap_write_end(struct snap_writer *w) MUST_CHECK;

/* A sink that writes to a file descriptor (file or socket). */
int snap_fd_sink(void *opaque, const void *buf, size_t len);

/* ---- reader ---- */

/* Reads exactly len bytes; returns 0, -errno, or -ENODATA at a clean or early end. */
typedef int (*snap_source_fn)(void *opaque, void *buf, size_t len);

/* A source over a file descriptor: opaque is a pointer to the int fd. */
int snap_fd_source(void *opaque, void *buf, size_t len);

/* A source over a memory buffer (fuzzing, tests). */
struct snap_buf_source {
    const uint8_t *data;
    size_t len, pos;
};
int snap_buf_source(void *opaque, void *buf, size_t len);

struct snap_record {
    char name[SNAP_NAME_LEN];
    uint32_t version;
    uint64_t length;
    const uint8_t *payload;
};

/* A whole stream, read and verified. */
struct snap_image {
    struct snap_summary summary;
    struct snap_record *records;
    unsigned nr_records;
    uint8_t *storage;            /* every payload, back to back */
};

/*
 * Reads a stream to its end record and verifies everything (magic, version,
 * header checksum, names, lengths, record checksums, no duplicate names,
 * record count, stream checksum, nothing after the end). On failure the
 * image is empty and err holds one line. Nothing is handed out before the
 * whole stream checked out.
 */
int snap_image_read(struct snap_image *img, snap_source_fn source, void *opaque, char *err,
                    size_t errlen) MUST_CHECK;
void snap_image_free(struct snap_image *img);
const struct snap_record *snap_image_find(const struct snap_image *img, const char *name);

bool snap_name_valid(const char *name);

/* Device records are named "dev.<device name>". */
#define SNAP_DEVICE_PREFIX "dev."
int snap_write_device(struct snap_writer *w, const char *device, uint32_t version,
                      const void *payload, size_t len) MUST_CHECK;
/*
 * Copies a fixed-layout payload out of a record (payloads are not aligned):
 * -EPROTONOSUPPORT for another version, -EBADMSG for another length.
 */
int snap_record_copy(const struct snap_record *r, uint32_t version, void *out, size_t len) MUST_CHECK;

/* ---- atomic files ---- */

/*
 * A file that appears under its final name only once complete and on disk:
 * written as a temporary in the same directory, fsync'ed, renamed over the
 * final name, then the directory fsync'ed. A crash leaves either the old file
 * or the new one, never a partial file under the final name.
 */
struct snap_atomic_file {
    int fd;
    int dir_fd;
    char name[64];
    char tmp_name[80];
};

int snap_atomic_open(struct snap_atomic_file *f, int dir_fd, const char *name) MUST_CHECK;
int snap_atomic_commit(struct snap_atomic_file *f) MUST_CHECK;
/* Removes the temporary; safe after a failed or successful commit. */
void snap_atomic_abort(struct snap_atomic_file *f);

#endif
