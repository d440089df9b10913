// SPDX-License-Identifier: Apache-2.0
/*
 * Resource descriptors for _CRS buffers (ACPI 6.x §6.4): the small I/O and
 * IRQ descriptors legacy devices need, and the large memory, extended
 * interrupt and address-space descriptors that PCI host bridges and
 * virtio-mmio devices will need.
 */
#include "arch/x86/aml.h"

#include <errno.h>

#define RES_SMALL_IRQ_NOFLAGS  0x22   /* type 0x04, 2 bytes */
#define RES_SMALL_IO           0x47   /* type 0x08, 7 bytes */
#define RES_SMALL_END          0x79   /* type 0x0f, 1 byte */
#define RES_LARGE_MEM32_FIXED  0x86
#define RES_LARGE_DWORD_ADDR   0x87
#define RES_LARGE_WORD_ADDR    0x88
#define RES_LARGE_EXT_IRQ      0x89
#define RES_LARGE_QWORD_ADDR   0x8a

#define RES_IO_DECODE16        0x01
#define RES_IRQ_CONSUMER       0x01
/* General flags of a bridge window: producer, min and max fixed. */
#define RES_ADDR_MIN_FIXED     (1u << 2)
#define RES_ADDR_MAX_FIXED     (1u << 3)

struct aml_mark aml_restemplate_open(struct aml_buf *b)
{
    return aml_buffer_open(b);
}

void aml_restemplate_close(struct aml_buf *b, struct aml_mark m)
{
    /* A zero checksum byte means "no checksum" to every consumer. */
    aml_u8(b, RES_SMALL_END);
    aml_u8(b, 0);
    aml_close(b, m);
}

void aml_res_io(struct aml_buf *b, uint16_t base, uint8_t len)
{
    aml_u8(b, RES_SMALL_IO);
    aml_u8(b, RES_IO_DECODE16);
    aml_u16(b, base);   /* minimum */
    aml_u16(b, base);   /* maximum */
    aml_u8(b, 1);       /* alignment */
    aml_u8(b, len);
}

void aml_res_irq_noflags(struct aml_buf *b, unsigned irq)
{
    if (irq >= 16) {
        if (!b->err)
            b->err = -EINVAL;
        return;
    }
    aml_u8(b, RES_SMALL_IRQ_NOFLAGS);
    aml_u16(b, 1u << irq);
}

void aml_res_memory32_fixed(struct aml_buf *b, uint32_t base, uint32_t len, bool writable)
{
    aml_u8(b, RES_LARGE_MEM32_FIXED);
    aml_u16(b, 9);
    aml_u8(b, writable ? 1 : 0);
    aml_u32(b, base);
    aml_u32(b, len);
}

void aml_res_interrupt(struct aml_buf *b, unsigned flags, uint32_t gsi)
{
    aml_u8(b, RES_LARGE_EXT_IRQ);
    aml_u16(b, 6);
    aml_u8(b, RES_IRQ_CONSUMER | (flags & (AML_IRQ_EDGE | AML_IRQ_ACTIVE_LOW | AML_IRQ_SHARED)));
    aml_u8(b, 1);       /* interrupt table length */
    aml_u32(b, gsi);
}

static void aml_res_field(struct aml_buf *b, unsigned width, uint64_t v)
{
    if (width == 16)
        aml_u16(b, v);
    else if (width == 32)
        aml_u32(b, v);
    else
        aml_u64(b, v);
}

void aml_res_addr_space(struct aml_buf *b, unsigned width, enum aml_addr_space type,
                        uint8_t type_flags, uint64_t min, uint64_t max)
{
    uint8_t tag;
    uint64_t limit;
    switch (width) {
    case 16: tag = RES_LARGE_WORD_ADDR;  limit = UINT16_MAX; break;
    case 32: tag = RES_LARGE_DWORD_ADDR; limit = UINT32_MAX; break;
    case 64: tag = RES_LARGE_QWORD_ADDR; limit = UINT64_MAX; break;
    default: tag = 0; limit = 0; break;
    }
    /* Length max-min+1 must fit in the field too, so [0, limit] is refused. */
    if (!tag || min > max || max > limit || max - min == limit) {
        if (!b->err)
            b->err = -EINVAL;
        return;
    }
    aml_u8(b, tag);
    aml_u16(b, 3 + 5 * (width / 8));   /* bytes after the length field */
    aml_u8(b, type);
    aml_u8(b, RES_ADDR_MIN_FIXED | RES_ADDR_MAX_FIXED);
    aml_u8(b, type_flags);
    aml_res_field(b, width, 0);              /* granularity */
    aml_res_field(b, width, min);
    aml_res_field(b, width, max);
    aml_res_field(b, width, 0);              /* translation offset */
    aml_res_field(b, width, max - min + 1);  /* length */
}
