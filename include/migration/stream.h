/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live-migration wire protocol: a fixed header that says which VM the
 * stream carries (checked against the destination's configuration before
 * anything is built), then framed messages, each with a type, a length and
 * a CRC32C. RAM travels as page batches and zero-page runs, the device and
 * vCPU state as one snapshot container (snapshot/format.h), and a short
 * handshake (READY, COMMIT, RUNNING) decides which side runs the VM.
 * Readers trust nothing: every type, length and guest address is checked
 * before it is used. Layout and rules: docs/migration.md.
 */
#ifndef CASULO_MIGRATION_STREAM_H
#define CASULO_MIGRATION_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct guest_mem;

#define MIG_MAGIC "CASULOMG"            /* 8 bytes, no NUL on the wire */
#define MIG_VERSION 1
#define MIG_PAGE_SIZE 4096u
#define MIG_PAGES_PER_MSG 64u           /* 256 KiB of data per PAGES message */
#define MIG_STATE_MAX (64u << 20)       /* the snapshot container of the state */
#define MIG_ERROR_MAX 512u              /* an ERROR message's text */
#define MIG_MSG_MAX (MIG_STATE_MAX)

/* What must be the same on both sides (the device list follows from it). */
struct mig_vm_shape {
    uint32_t nr_vcpus;
    uint64_t memory_size;
    uint32_t nr_disks, nr_nets;
    uint32_t rng, balloon;
};

/* Stream header (little-endian, 64 bytes). */
struct mig_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;       /* sizeof(struct mig_header) */
    uint32_t page_size;
    uint32_t nr_vcpus;
    uint64_t memory_size;
    uint32_t nr_disks, nr_nets;
    uint32_t rng, balloon;
    uint32_t features;          /* MIG_FEATURE_*: what the source can send (0 before zstd) */
    uint32_t reserved[2];
    uint32_t header_crc;        /* CRC32C of the bytes before this field */
};

enum mig_msg_type {
    MIG_MSG_PAGES = 1,      /* src->dst: struct mig_pages_head + count pages */
    MIG_MSG_ZERO = 2,       /* src->dst: struct mig_zero: a run of zero pages */
    MIG_MSG_ITER = 3,       /* src->dst: struct mig_iter: end of one pass */
    MIG_MSG_STATE = 4,      /* src->dst: the snapshot container; RAM is complete */
    MIG_MSG_ACCEPT = 5,     /* dst->src: header checked, VM built, send RAM */
    MIG_MSG_READY = 6,      /* dst->src: state loaded, waiting for COMMIT */
    MIG_MSG_COMMIT = 7,     /* src->dst: the source will never run again: start */
    MIG_MSG_RUNNING = 8,    /* dst->src: the destination owns the VM now */
    MIG_MSG_ERROR = 9,      /* either way: one line of text, then the sender closes */
    MIG_MSG_PAGES_ZSTD = 10,/* src->dst: struct mig_pages_head + one zstd frame of count pages */
    MIG_MSG_TYPE_MAX = MIG_MSG_PAGES_ZSTD,
};

/*
 * Optional features. The source offers them in the header's `features`; a
 * destination that knows that field answers ACCEPT with struct mig_accept
 * naming the ones it takes, an older one with an empty ACCEPT (none). A
 * source uses only what was taken, so old streams and peers still work.
 */
#define MIG_FEATURE_ZSTD 1u     /* PAGES_ZSTD messages */
/*
 * The destination echoes each ITER once it has applied the pass, and the
 * source waits for it: without that a compressed backlog in the socket
 * buffers (megabytes of wire, gigabytes of pages) would be applied during
 * the downtime, and the measured bandwidth would be the sender's alone.
 */
#define MIG_FEATURE_ITER_ACK 2u
#define MIG_FEATURES_KNOWN (MIG_FEATURE_ZSTD | MIG_FEATURE_ITER_ACK)

struct mig_accept {
    uint32_t features;          /* a subset of the header's */
    uint32_t reserved;          /* 0 */
};

/* Message frame header (16 bytes), followed by `length` payload bytes. */
struct mig_msg_header {
    uint32_t type;
    uint32_t length;
    uint32_t crc;               /* CRC32C of type and length, then the payload */
    uint32_t reserved;          /* 0 */
};

struct mig_pages_head {
    uint64_t gpa;               /* page-aligned; the pages are consecutive */
    uint32_t count;             /* 1..MIG_PAGES_PER_MSG */
    uint32_t reserved;
};

struct mig_zero {
    uint64_t gpa;               /* page-aligned */
    uint64_t count;             /* pages, >= 1, all inside one RAM region */
};

struct mig_iter {
    uint32_t iteration;
    uint32_t reserved;
    uint64_t pages;             /* pages sent in this pass (data and zero) */
};

/* CRC32C with the SSE4.2 instruction when the CPU has it (pages are many). */
uint32_t mig_crc32c(uint32_t crc, const void *buf, size_t len);

const char *mig_msg_name(uint32_t type);

void mig_header_build(struct mig_header *h, const struct mig_vm_shape *shape, uint32_t features);
/*
 * Checks magic, version, sizes and checksum, then compares the VM it
 * describes with `local`. On failure err holds one line naming the first
 * difference (-EPROTO for a stream that is not ours or corrupt, -EINVAL for
 * a VM of another shape).
 */
int mig_header_check(const struct mig_header *h, const struct mig_vm_shape *local, char *err,
                     size_t errlen) MUST_CHECK;

/* Transport: write all / read exactly len bytes; 0 or -errno (-ENODATA at EOF). */
typedef int (*mig_write_fn)(void *opaque, const void *buf, size_t len);
typedef int (*mig_read_fn)(void *opaque, void *buf, size_t len);

struct mig_writer {
    mig_write_fn write;
    void *opaque;
    uint64_t bytes;             /* everything written so far */
};

/* One message: head then data form the payload (either may be empty). */
int mig_write_msg(struct mig_writer *w, uint32_t type, const void *head, size_t head_len,
                  const void *data, size_t data_len) MUST_CHECK;
/* ERROR with one line of text (truncated to MIG_ERROR_MAX). */
int mig_write_error(struct mig_writer *w, const char *text) MUST_CHECK;

struct mig_msg {
    uint32_t type;
    uint32_t length;
    const uint8_t *payload;     /* valid until the next mig_read_msg */
};

struct mig_reader {
    mig_read_fn read;
    void *opaque;
    uint8_t *buf;               /* grows up to the largest message seen */
    size_t cap;
    uint64_t bytes;
};

void mig_reader_init(struct mig_reader *r, mig_read_fn read, void *opaque);
void mig_reader_free(struct mig_reader *r);
/*
 * Reads one message and checks its type, its length for that type and its
 * checksum. An ERROR message is returned like any other (its text is not
 * NUL-terminated; see mig_error_text).
 */
int mig_read_msg(struct mig_reader *r, struct mig_msg *m, char *err, size_t errlen) MUST_CHECK;
/* The text of an ERROR message, printable and NUL-terminated, into buf. */
void mig_error_text(const struct mig_msg *m, char *buf, size_t len);

/*
 * Counters of what the RAM phase received, and (optional) a bitmap of the
 * pages it wrote data to, one bit per page in mapping order: a zero run over
 * pages never written needs no work (fresh RAM is zero), which saves
 * touching every page of a mostly empty guest.
 */
struct mig_ram_stats {
    uint64_t pages, zero_pages, iterations;
    uint64_t compressed_pages;  /* of `pages`, how many came in PAGES_ZSTD */
    uint64_t *written;          /* NULL: check each zero page's content instead */
    struct ZSTD_DCtx_s *dctx;   /* from mig_zstd_dctx_new when ZSTD was accepted, else NULL */
    struct mig_writer *ack;     /* ITER_ACK accepted: each ITER is echoed here, else NULL */
};

/*
 * A decompression context bounded for PAGES_ZSTD (window at most one
 * message's pages); NULL when out of memory. Freed with mig_zstd_dctx_free.
 */
struct ZSTD_DCtx_s *mig_zstd_dctx_new(void);
void mig_zstd_dctx_free(struct ZSTD_DCtx_s *dctx);

/*
 * Applies one PAGES, PAGES_ZSTD or ZERO message to guest RAM: the gpa
 * page-aligned and every page inside one RAM region, the count within
 * bounds, a compressed frame exactly count pages long once decompressed (and
 * refused when st->dctx is NULL: not negotiated). -EPROTO with one line
 * otherwise; other message types are not RAM (-EPROTO too).
 */
int mig_apply_ram(const struct guest_mem *gm, const struct mig_msg *m, struct mig_ram_stats *st,
                  char *err, size_t errlen) MUST_CHECK;

/*
 * The destination's RAM phase: reads messages into guest RAM until the
 * STATE message, which it leaves in *state (payload in r's buffer). An
 * ERROR from the source, a message out of place or a bad page ends it with
 * one line in err.
 */
int mig_receive_ram(struct mig_reader *r, const struct guest_mem *gm, struct mig_msg *state,
                    struct mig_ram_stats *st, char *err, size_t errlen) MUST_CHECK;

#endif
