// SPDX-License-Identifier: Apache-2.0
/*
 * The root of the ACPI tables: the RSDP the guest finds first (by scanning
 * the BIOS area or through boot_params.acpi_rsdp_addr), the XSDT with 64-bit
 * table pointers, and the legacy RSDT with 32-bit ones.
 */
#include "arch/x86/acpi.h"
#include "arch/x86/acpi_tables.h"

#include <errno.h>
#include <string.h>

int acpi_build_rsdp(struct aml_buf *b, uint64_t rsdt_gpa, uint64_t xsdt_gpa)
{
    if (rsdt_gpa > UINT32_MAX)
        return -EINVAL;
    struct acpi_rsdp r = {
        .revision = 2,
        .rsdt_address = rsdt_gpa,
        .length = sizeof(r),
        .xsdt_address = xsdt_gpa,
    };
    memcpy(r.signature, "RSD PTR ", sizeof(r.signature));
    memcpy(r.oem_id, ACPI_OEM_ID, sizeof(r.oem_id));
    r.checksum = -acpi_checksum(&r, ACPI_RSDP_V1_LEN);
    r.extended_checksum = -acpi_checksum(&r, sizeof(r));
    aml_bytes(b, &r, sizeof(r));
    return aml_buf_error(b);
}

int acpi_build_xsdt(struct aml_buf *b, const uint64_t *tables, unsigned n)
{
    size_t start = acpi_table_begin(b, "XSDT", 1);
    for (unsigned i = 0; i < n; i++)
        aml_u64(b, tables[i]);
    acpi_table_end(b, start);
    return aml_buf_error(b);
}

int acpi_build_rsdt(struct aml_buf *b, const uint64_t *tables, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (tables[i] > UINT32_MAX)
            return -EINVAL;
    size_t start = acpi_table_begin(b, "RSDT", 1);
    for (unsigned i = 0; i < n; i++)
        aml_u32(b, tables[i]);
    acpi_table_end(b, start);
    return aml_buf_error(b);
}
