// SPDX-License-Identifier: Apache-2.0
/*
 * DSDT: the AML namespace. \_S5 for soft power-off, and under \_SB one
 * processor device per CPU plus the legacy devices the guest should bind
 * drivers to (COM1, the CMOS RTC). Processor objects are kept to a _HID and
 * a _UID each so that 1024 CPUs fit in the ACPI region. With PCI, the host
 * bridge and its ECAM reservation follow (acpi_pci.c); without it the table
 * is exactly what it was before PCI existed. VGEN (the VM generation ID,
 * acpi_vmgenid.c) comes before PCI0, and \_GPE with its handler after \_SB.
 */
#include "arch/x86/acpi.h"
#include "arch/x86/acpi_vmgenid.h"
#include "arch/x86/layout.h"

#include <errno.h>
#include <stdio.h>

/* Revision 2: 64-bit AML integers. */
#define ACPI_DSDT_REVISION 2
#define ACPI_COM1_PORT_LEN 8
#define ACPI_RTC_PORT_LEN  2

static void acpi_dsdt_cpu(struct aml_buf *b, unsigned i)
{
    char name[8];
    snprintf(name, sizeof(name), "C%03X", i & 0xfff);
    struct aml_mark dev = aml_device_open(b, name);
    /* _UID matches the ACPI processor UID of the CPU's MADT entry. */
    aml_name_str(b, "_HID", "ACPI0007");
    aml_name_int(b, "_UID", i);
    aml_close(b, dev);
}

static void acpi_dsdt_isa_device(struct aml_buf *b, const char *name, const char *hid,
                                 uint16_t port, uint8_t len, unsigned irq)
{
    struct aml_mark dev = aml_device_open(b, name);
    aml_name_eisaid(b, "_HID", hid);
    aml_name_int(b, "_UID", 1);
    aml_name(b, "_CRS");
    struct aml_mark crs = aml_restemplate_open(b);
    aml_res_io(b, port, len);
    aml_res_irq_noflags(b, irq);
    aml_restemplate_close(b, crs);
    aml_close(b, dev);
}

int acpi_build_dsdt(struct aml_buf *b, const struct x86_platform_info *p)
{
    if (acpi_check_platform(p))
        return -EINVAL;
    size_t start = acpi_table_begin(b, "DSDT", ACPI_DSDT_REVISION);

    /* SLP_TYPa, SLP_TYPb, reserved, reserved. */
    const uint64_t s5[] = { X86_ACPI_S5_SLP_TYP, X86_ACPI_S5_SLP_TYP, 0, 0 };
    aml_name(b, "\\_S5");
    aml_package_ints(b, s5, ARRAY_SIZE(s5));

    struct aml_mark sb = aml_scope_open(b, "\\_SB");
    for (unsigned i = 0; i < p->nr_cpus; i++)
        acpi_dsdt_cpu(b, i);
    acpi_dsdt_isa_device(b, "COM1", "PNP0501", X86_COM1_PORT, ACPI_COM1_PORT_LEN,
                         X86_COM1_IRQ);
    acpi_dsdt_isa_device(b, "RTC", "PNP0B00", X86_RTC_PORT, ACPI_RTC_PORT_LEN,
                         X86_RTC_IRQ);
    acpi_dsdt_vmgenid(b);
    if (p->pci)
        acpi_dsdt_pci(b, p);
    aml_close(b, sb);
    acpi_dsdt_gpe(b);

    acpi_table_end(b, start);
    return aml_buf_error(b);
}
