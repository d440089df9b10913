// SPDX-License-Identifier: Apache-2.0
/*
 * Lays the ACPI tables out in their region and installs them into guest RAM.
 * The RSDP comes first (the guest may scan for it on 16-byte boundaries),
 * then FACS, DSDT, FADT, MADT, MCFG (with PCI) and the XSDT/RSDT that point
 * at them.
 */
#include "arch/x86/acpi.h"
#include "arch/x86/acpi_tables.h"
#include "arch/x86/acpi_vmgenid.h"
#include "arch/x86/layout.h"
#include "core/guest_mem.h"

#include <errno.h>
#include <string.h>

#define ACPI_TABLE_ALIGN 16
#define ACPI_FACS_ALIGN  64

uint8_t acpi_checksum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += b[i];
    return sum;
}

size_t acpi_table_begin(struct aml_buf *b, const char sig[4], uint8_t revision)
{
    struct acpi_header h = {
        .revision = revision,
        .oem_revision = ACPI_OEM_REVISION,
        .creator_revision = ACPI_CREATOR_REVISION,
    };
    memcpy(h.signature, sig, sizeof(h.signature));
    memcpy(h.oem_id, ACPI_OEM_ID, sizeof(h.oem_id));
    memcpy(h.oem_table_id, ACPI_OEM_TABLE_ID, sizeof(h.oem_table_id));
    memcpy(h.creator_id, ACPI_CREATOR_ID, sizeof(h.creator_id));
    size_t start = b->len;
    aml_bytes(b, &h, sizeof(h));
    return start;
}

void acpi_table_end(struct aml_buf *b, size_t start)
{
    if (b->err)
        return;
    struct acpi_header *h = (struct acpi_header *)(b->data + start);
    h->length = b->len - start;
    h->checksum = 0;
    h->checksum = -acpi_checksum(h, h->length);
}

/* Aligns the next table; returns its guest-physical address. */
static uint64_t acpi_next_table(struct aml_buf *b, uint64_t base, uint64_t align)
{
    aml_pad_to(b, base, align);
    return base + b->len;
}

int acpi_build_tables(void *buf, size_t cap, uint64_t base_gpa,
                      const struct x86_platform_info *p, size_t *len)
{
    if (acpi_check_platform(p) || base_gpa % ACPI_TABLE_ALIGN)
        return -EINVAL;

    struct aml_buf b;
    aml_buf_init(&b, buf, cap);
    /* Room for the RSDP now; it is filled in last, once the XSDT is placed. */
    static const uint8_t rsdp_space[sizeof(struct acpi_rsdp)];
    aml_bytes(&b, rsdp_space, sizeof(rsdp_space));

    uint64_t facs = acpi_next_table(&b, base_gpa, ACPI_FACS_ALIGN);
    int ret = acpi_build_facs(&b);
    uint64_t dsdt = acpi_next_table(&b, base_gpa, ACPI_TABLE_ALIGN);
    ret = ret ? ret : acpi_build_dsdt(&b, p);
    uint64_t tables[3];
    unsigned ntables = 0;
    tables[ntables++] = acpi_next_table(&b, base_gpa, ACPI_TABLE_ALIGN);
    ret = ret ? ret : acpi_build_fadt(&b, facs, dsdt);
    tables[ntables++] = acpi_next_table(&b, base_gpa, ACPI_TABLE_ALIGN);
    ret = ret ? ret : acpi_build_madt(&b, p);
    if (p->pci) {
        tables[ntables++] = acpi_next_table(&b, base_gpa, ACPI_TABLE_ALIGN);
        ret = ret ? ret : acpi_build_mcfg(&b);
    }
    uint64_t xsdt = acpi_next_table(&b, base_gpa, ACPI_TABLE_ALIGN);
    ret = ret ? ret : acpi_build_xsdt(&b, tables, ntables);
    /* The RSDT holds 32-bit pointers: only when every table is below 4 GiB. */
    uint64_t rsdt = acpi_next_table(&b, base_gpa, ACPI_TABLE_ALIGN);
    bool want_rsdt = base_gpa + cap <= 1ULL << 32;
    if (want_rsdt)
        ret = ret ? ret : acpi_build_rsdt(&b, tables, ntables);
    if (ret)
        return ret;

    struct aml_buf head;
    aml_buf_init(&head, buf, sizeof(struct acpi_rsdp));
    ret = acpi_build_rsdp(&head, want_rsdt ? rsdt : 0, xsdt);
    if (ret)
        return ret;
    *len = b.len;
    return 0;
}

int x86_acpi_install(struct guest_mem *gm, const struct x86_platform_info *p,
                     uint64_t *rsdp_gpa)
{
    const uint64_t size = X86_ACPI_END - X86_ACPI_GPA;
    /* The last page holds the VM generation ID, not tables. */
    const uint64_t tables_cap = ACPI_VMGENID_GPA - X86_ACPI_GPA;
    uint8_t *dst = guest_mem_ptr(gm, X86_ACPI_GPA, size);
    if (!dst)
        return -EFAULT;
    /* Stale bytes from an earlier build must not look like tables. */
    memset(dst, 0, size);
    size_t len;
    int ret = acpi_build_tables(dst, tables_cap, X86_ACPI_GPA, p, &len);
    if (!ret)
        ret = acpi_vmgenid_renew(gm, NULL);
    if (ret) {
        memset(dst, 0, size);
        return ret;
    }
    *rsdp_gpa = X86_ACPI_GPA;
    return 0;
}
