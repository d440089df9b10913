// SPDX-License-Identifier: Apache-2.0
/*
 * MADT: the interrupt controllers. One enabled local APIC per CPU (x2APIC
 * entries once the APIC id no longer fits in 8 bits), one IOAPIC, the SCI's
 * level-triggered override, and NMI on LINT1 of every processor.
 *
 * IRQ0 has no override on purpose: KVM's default GSI routing delivers the
 * PIT on IOAPIC pin 0, so the identity mapping is the right one.
 */
#include "arch/x86/acpi.h"
#include "arch/x86/acpi_tables.h"
#include "arch/x86/layout.h"

#include <errno.h>

#define ACPI_MADT_REVISION 5
#define ACPI_ALL_CPUS_UID8  0xff
#define ACPI_ALL_CPUS_UID32 0xffffffffu
#define ACPI_NMI_LINT 1

static void acpi_madt_cpu(struct aml_buf *b, uint32_t apic_id)
{
    if (apic_id < ACPI_X2APIC_FIRST_ID) {
        struct acpi_madt_lapic e = {
            .type = ACPI_MADT_LAPIC, .length = sizeof(e),
            .processor_uid = apic_id, .apic_id = apic_id,
            .flags = ACPI_MADT_ENABLED,
        };
        aml_bytes(b, &e, sizeof(e));
        return;
    }
    struct acpi_madt_x2apic e = {
        .type = ACPI_MADT_X2APIC, .length = sizeof(e),
        .x2apic_id = apic_id, .flags = ACPI_MADT_ENABLED, .processor_uid = apic_id,
    };
    aml_bytes(b, &e, sizeof(e));
}

static void acpi_madt_nmis(struct aml_buf *b, unsigned nr_cpus)
{
    struct acpi_madt_lapic_nmi nmi = {
        .type = ACPI_MADT_LAPIC_NMI, .length = sizeof(nmi),
        .processor_uid = ACPI_ALL_CPUS_UID8, .lint = ACPI_NMI_LINT,
    };
    aml_bytes(b, &nmi, sizeof(nmi));
    /* x2APIC processors take their NMI routing from x2APIC NMI entries. */
    if (nr_cpus <= ACPI_X2APIC_FIRST_ID)
        return;
    struct acpi_madt_x2apic_nmi x2nmi = {
        .type = ACPI_MADT_X2APIC_NMI, .length = sizeof(x2nmi),
        .processor_uid = ACPI_ALL_CPUS_UID32, .lint = ACPI_NMI_LINT,
    };
    aml_bytes(b, &x2nmi, sizeof(x2nmi));
}

int acpi_build_madt(struct aml_buf *b, const struct x86_platform_info *p)
{
    if (!p->nr_cpus || p->nr_cpus > ACPI_MAX_CPUS)
        return -EINVAL;
    size_t start = acpi_table_begin(b, "APIC", ACPI_MADT_REVISION);
    aml_u32(b, X86_LAPIC_GPA);
    aml_u32(b, ACPI_MADT_PCAT_COMPAT);

    for (unsigned i = 0; i < p->nr_cpus; i++)
        acpi_madt_cpu(b, i);

    struct acpi_madt_ioapic io = {
        .type = ACPI_MADT_IOAPIC, .length = sizeof(io),
        .ioapic_id = ACPI_IOAPIC_ID, .address = X86_IOAPIC_GPA, .gsi_base = 0,
    };
    aml_bytes(b, &io, sizeof(io));

    struct acpi_madt_int_override sci = {
        .type = ACPI_MADT_INT_OVERRIDE, .length = sizeof(sci),
        .bus = 0, .source = X86_ACPI_SCI_IRQ, .gsi = X86_ACPI_SCI_IRQ,
        .flags = ACPI_MPS_ACTIVE_HIGH | ACPI_MPS_LEVEL,
    };
    aml_bytes(b, &sci, sizeof(sci));

    acpi_madt_nmis(b, p->nr_cpus);
    acpi_table_end(b, start);
    return aml_buf_error(b);
}
