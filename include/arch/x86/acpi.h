/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure builders for casulo's ACPI tables. Each writes one table at the end of
 * an aml_buf whose byte 0 sits at a known guest-physical address, so the
 * tables can be built and checked in an ordinary buffer and then copied (or
 * built directly) into guest RAM by x86_acpi_install().
 */
#ifndef CASULO_ARCH_X86_ACPI_H
#define CASULO_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/aml.h"
#include "arch/x86/platform.h"
#include "util/compiler.h"

#define ACPI_OEM_ID        "CASULO"     /* 6 bytes */
#define ACPI_OEM_TABLE_ID  "CASULOVM"   /* 8 bytes */
#define ACPI_OEM_REVISION  1
#define ACPI_CREATOR_ID    "CSLO"       /* 4 bytes */
#define ACPI_CREATOR_REVISION 1

/* The IOAPIC's id, as KVM's in-kernel IOAPIC reports it after reset. */
#define ACPI_IOAPIC_ID     0
/* APIC ids from here up need x2APIC entries (255 is the xAPIC broadcast id). */
#define ACPI_X2APIC_FIRST_ID 255
/* Processor devices are named C000..CFFF, which bounds the CPU count. */
#define ACPI_MAX_CPUS      4096

/* Sum of the bytes; a table with a correct checksum sums to 0. */
uint8_t acpi_checksum(const void *p, size_t len);

/*
 * Starts a table at the end of b: a header with signature, revision and the
 * casulo OEM fields. acpi_table_end() then sets its length and checksum.
 * Returns the table's offset in b.
 */
size_t acpi_table_begin(struct aml_buf *b, const char sig[4], uint8_t revision);
void acpi_table_end(struct aml_buf *b, size_t start);

/* Each appends one table to b and returns aml_buf_error(b). */
int acpi_build_dsdt(struct aml_buf *b, const struct x86_platform_info *p) MUST_CHECK;
int acpi_build_madt(struct aml_buf *b, const struct x86_platform_info *p) MUST_CHECK;
int acpi_build_fadt(struct aml_buf *b, uint64_t facs_gpa, uint64_t dsdt_gpa) MUST_CHECK;
int acpi_build_facs(struct aml_buf *b) MUST_CHECK;
int acpi_build_xsdt(struct aml_buf *b, const uint64_t *tables, unsigned n) MUST_CHECK;
int acpi_build_rsdt(struct aml_buf *b, const uint64_t *tables, unsigned n) MUST_CHECK;
int acpi_build_rsdp(struct aml_buf *b, uint64_t rsdt_gpa, uint64_t xsdt_gpa) MUST_CHECK;

/*
 * Builds every table into buf[0..cap), which the guest will see at base_gpa
 * (16-byte aligned); the RSDP is at offset 0. *len gets the bytes used.
 * -EINVAL for a bad CPU count or base, -ENOSPC when the tables do not fit.
 */
int acpi_build_tables(void *buf, size_t cap, uint64_t base_gpa,
                      const struct x86_platform_info *p, size_t *len) MUST_CHECK;

#endif
