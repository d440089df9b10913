/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny AML (ACPI Machine Language) byte-code writer for the DSDT and, later,
 * SSDTs: name strings, integers, strings, packages, buffers holding resource
 * templates, scopes, devices and methods that return constants.
 *
 * Output goes into a caller-supplied buffer. Errors are sticky: once a write
 * does not fit (-ENOSPC) or a name is malformed (-EINVAL), every later call
 * is a no-op and aml_buf_error() reports the first failure, so builders can
 * emit a whole block and check once at the end.
 *
 * Constructs with a PkgLength (scope, device, method, package, buffer) are
 * opened and closed: *_open() returns a mark, aml_close() measures the body
 * and writes the shortest PkgLength encoding in front of it.
 */
#ifndef CASULO_ARCH_X86_AML_H
#define CASULO_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct aml_buf {
    uint8_t *data;
    size_t cap;
    size_t len;
    int err;        /* first error, 0 while all is well */
};

/* A position returned by the *_open() functions, consumed by aml_close(). */
struct aml_mark {
    size_t pkglen_at;   /* where the reserved PkgLength bytes start */
    size_t reserved;    /* bytes reserved there (PkgLength + BufferSize) */
    bool is_buffer;     /* a BufferOp: BufferSize goes after the PkgLength */
};

void aml_buf_init(struct aml_buf *b, void *data, size_t cap);
static inline int aml_buf_error(const struct aml_buf *b) { return b->err; }

/* Raw little-endian output; also used by the ACPI table builders. */
void aml_bytes(struct aml_buf *b, const void *p, size_t n);
void aml_u8(struct aml_buf *b, uint8_t v);
void aml_u16(struct aml_buf *b, uint16_t v);
void aml_u32(struct aml_buf *b, uint32_t v);
void aml_u64(struct aml_buf *b, uint64_t v);
/* Zero-pads until b->len + base is a multiple of align (a power of two). */
void aml_pad_to(struct aml_buf *b, uint64_t base, uint64_t align);

/*
 * "\\_SB.COM1", "_S5", "^PCI0.S08": root and parent prefixes, segments of at
 * most four characters ([A-Z_][A-Z0-9_]*, padded with '_'), dot-separated.
 */
void aml_name_string(struct aml_buf *b, const char *path);

/* Data objects. */
void aml_integer(struct aml_buf *b, uint64_t v);   /* shortest encoding */
void aml_string(struct aml_buf *b, const char *s); /* ASCII 0x01..0x7f */
void aml_eisaid(struct aml_buf *b, const char *id); /* "PNP0501" -> DWord */
/* Package(n) { v[0], ..., v[n-1] } of integers. */
void aml_package_ints(struct aml_buf *b, const uint64_t *v, uint8_t n);

/* Name(path, <data object emitted next>). */
void aml_name(struct aml_buf *b, const char *path);
static inline void aml_name_int(struct aml_buf *b, const char *path, uint64_t v)
{
    aml_name(b, path);
    aml_integer(b, v);
}
static inline void aml_name_str(struct aml_buf *b, const char *path, const char *s)
{
    aml_name(b, path);
    aml_string(b, s);
}
static inline void aml_name_eisaid(struct aml_buf *b, const char *path, const char *id)
{
    aml_name(b, path);
    aml_eisaid(b, id);
}

/* Constructs with a body; close each with aml_close(), innermost first. */
struct aml_mark aml_scope_open(struct aml_buf *b, const char *path);
struct aml_mark aml_device_open(struct aml_buf *b, const char *path);
struct aml_mark aml_method_open(struct aml_buf *b, const char *path, unsigned nargs,
                                bool serialized);
/* Package with `count` elements: emit exactly that many data objects next. */
struct aml_mark aml_package_open(struct aml_buf *b, uint8_t count);
/* Buffer whose size is whatever was emitted before aml_close(). */
struct aml_mark aml_buffer_open(struct aml_buf *b);
void aml_close(struct aml_buf *b, struct aml_mark m);

/* Method(path, 0) { Return (v) }: _STA, _ADR and friends. */
void aml_method_return_int(struct aml_buf *b, const char *path, uint64_t v);

/*
 * Resource templates (ACPI 6.x §6.4): open one as the data object of a Name
 * (usually _CRS), emit descriptors, close it; the close adds the end tag.
 */
struct aml_mark aml_restemplate_open(struct aml_buf *b);
void aml_restemplate_close(struct aml_buf *b, struct aml_mark m);

/* IO(Decode16, base, base, 1, len). */
void aml_res_io(struct aml_buf *b, uint16_t base, uint8_t len);
/* IRQNoFlags() {irq}: ISA edge, active high. irq < 16. */
void aml_res_irq_noflags(struct aml_buf *b, unsigned irq);
/* Memory32Fixed(ReadWrite or ReadOnly, base, len). */
void aml_res_memory32_fixed(struct aml_buf *b, uint32_t base, uint32_t len, bool writable);

#define AML_IRQ_EDGE        (1u << 1)
#define AML_IRQ_ACTIVE_LOW  (1u << 2)
#define AML_IRQ_SHARED      (1u << 3)
/* Interrupt(ResourceConsumer, ...) {gsi} with AML_IRQ_* flags. */
void aml_res_interrupt(struct aml_buf *b, unsigned flags, uint32_t gsi);

/* Address space descriptors (Word/DWord/QWord{Memory,IO,BusNumber}). */
enum aml_addr_space { AML_ADDR_MEMORY = 0, AML_ADDR_IO = 1, AML_ADDR_BUS = 2 };
#define AML_ADDR_CACHEABLE  (1u << 1)   /* memory type-specific flags */
#define AML_ADDR_READWRITE  (1u << 0)
#define AML_ADDR_IO_ENTIRE  3u          /* I/O: ISA and non-ISA ranges */
/*
 * A producer range [min, max] with fixed min and max, as a host bridge's _CRS
 * lists its windows. width is 16, 32 or 64 bits; the range must fit in it.
 */
void aml_res_addr_space(struct aml_buf *b, unsigned width, enum aml_addr_space type,
                        uint8_t type_flags, uint64_t min, uint64_t max);

#endif
