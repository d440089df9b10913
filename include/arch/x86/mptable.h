/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Intel MultiProcessor Specification 1.4 table: a floating pointer the
 * guest finds by scanning the BIOS area, and a configuration table listing
 * CPUs, the ISA bus, the IOAPIC and how ISA IRQs reach it. Kernels booted
 * with acpi=off (and very old ones) read this instead of the MADT.
 *
 * Only xAPIC ids fit in it (8 bits, 255 is broadcast): with more than 255
 * CPUs no MP table is written at all and the guest must use ACPI.
 */
#ifndef CASULO_ARCH_X86_MPTABLE_H
#define CASULO_ARCH_X86_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/platform.h"
#include "util/compiler.h"

#define MPTABLE_PACKED __attribute__((packed))

#define MPTABLE_SPEC_REV      4      /* 1.4 */
#define MPTABLE_MAX_CPUS      255    /* APIC ids 0..254 */
#define MPTABLE_IOAPIC_ID     0      /* as in the MADT */
#define MPTABLE_ISA_BUS_ID    0
#define MPTABLE_ISA_IRQS      16

struct mptable_fps {                 /* floating pointer structure */
    char signature[4];               /* "_MP_" */
    uint32_t config_gpa;
    uint8_t length;                  /* in 16-byte units: 1 */
    uint8_t spec_rev;
    uint8_t checksum;
    uint8_t feature[5];              /* feature[0] == 0: a config table exists */
} MPTABLE_PACKED;

struct mptable_header {
    char signature[4];               /* "PCMP" */
    uint16_t length;                 /* header + entries */
    uint8_t spec_rev;
    uint8_t checksum;
    char oem_id[8];
    char product_id[12];
    uint32_t oem_table_gpa;
    uint16_t oem_table_size;
    uint16_t entry_count;
    uint32_t lapic_address;
    uint16_t ext_length;
    uint8_t ext_checksum;
    uint8_t reserved;
} MPTABLE_PACKED;

enum mptable_entry_type {
    MPTABLE_CPU = 0,
    MPTABLE_BUS = 1,
    MPTABLE_IOAPIC = 2,
    MPTABLE_IOINT = 3,
    MPTABLE_LINT = 4,
};

struct mptable_cpu {
    uint8_t type;
    uint8_t apic_id;
    uint8_t apic_version;
    uint8_t flags;                   /* MPTABLE_CPU_* */
    uint32_t signature;
    uint32_t features;
    uint32_t reserved[2];
} MPTABLE_PACKED;
#define MPTABLE_CPU_ENABLED 0x01
#define MPTABLE_CPU_BSP     0x02

struct mptable_bus {
    uint8_t type;
    uint8_t bus_id;
    char bus_type[6];                /* "ISA   " */
} MPTABLE_PACKED;

struct mptable_ioapic {
    uint8_t type;
    uint8_t ioapic_id;
    uint8_t version;
    uint8_t flags;                   /* 1: usable */
    uint32_t address;
} MPTABLE_PACKED;

/* I/O and local interrupt assignment entries share this layout. */
struct mptable_intsrc {
    uint8_t type;
    uint8_t int_type;                /* MPTABLE_INT_* */
    uint16_t flags;                  /* 0: conforms to the bus */
    uint8_t src_bus;
    uint8_t src_irq;
    uint8_t dst_apic;                /* 0xff for local entries: every CPU */
    uint8_t dst_pin;                 /* IOAPIC INTIN# or LINTIN# */
} MPTABLE_PACKED;
#define MPTABLE_INT_INT    0
#define MPTABLE_INT_NMI    1
#define MPTABLE_INT_EXTINT 3

_Static_assert(sizeof(struct mptable_fps) == 16, "fps");
_Static_assert(sizeof(struct mptable_header) == 44, "header");
_Static_assert(sizeof(struct mptable_cpu) == 20, "cpu");
_Static_assert(sizeof(struct mptable_bus) == 8, "bus");
_Static_assert(sizeof(struct mptable_ioapic) == 8, "ioapic");
_Static_assert(sizeof(struct mptable_intsrc) == 8, "intsrc");

/*
 * Builds the floating pointer at buf[0] (guest address base_gpa, 16-byte
 * aligned) followed by the configuration table. *len gets the bytes used,
 * 0 when there are too many CPUs for an MP table. -ENOSPC if it does not fit.
 */
int mptable_build(void *buf, size_t cap, uint64_t base_gpa,
                  const struct x86_platform_info *p, size_t *len) MUST_CHECK;

#endif
