// SPDX-License-Identifier: Apache-2.0
/*
 * What the guest needs to find the PCI host bridge through ACPI: the MCFG
 * table (where ECAM is), the DSDT's \_SB.PCI0 (bus range, I/O and memory
 * windows, INTx routing in _PRT) and \_SB.MRES, a motherboard-resources
 * device whose _CRS reserves ECAM: Linux uses MMCONFIG only when the range
 * is reserved there (or in e820). Every value comes from arch/x86/layout.h
 * and pci/pci_host.h, so the tables cannot disagree with the host bridge;
 * docs/pci.md gives the expected ASL.
 */
#include "arch/x86/acpi.h"
#include "arch/x86/acpi_tables.h"
#include "arch/x86/layout.h"
#include "pci/pci_host.h"
#include "pci/pci_regs.h"

#include <errno.h>

#define ACPI_MCFG_REVISION   1
#define ACPI_PCI_SEGMENT     0
#define ACPI_PCI_BUS         0
/* Config mechanism #1: 0xCF8 address, 0xCFC data. */
#define ACPI_PCI_CONF_PORT   0xcf8
#define ACPI_PCI_CONF_LEN    8
/* The I/O space around the config ports: the bridge forwards the rest. */
#define ACPI_PCI_IO_LOW_END  (ACPI_PCI_CONF_PORT - 1)
#define ACPI_PCI_IO_HIGH     0xd00
#define ACPI_PCI_IO_HIGH_END 0xffff
#define ACPI_PCI_PINS        4       /* INTA..INTD */
#define ACPI_PCI_FIRST_SLOT  1       /* slot 0 is the host bridge */
#define ACPI_PRT_ALL_FUNCS   0xffff
#define ACPI_MEM_WINDOW_FLAGS AML_ADDR_READWRITE   /* non-cacheable, read/write */

_Static_assert((PCI_SLOTS - ACPI_PCI_FIRST_SLOT) * ACPI_PCI_PINS <= UINT8_MAX,
               "_PRT package count is one byte");

int acpi_check_platform(const struct x86_platform_info *p)
{
    if (!p->nr_cpus || p->nr_cpus > ACPI_MAX_CPUS)
        return -EINVAL;
    if (!p->pci)
        return 0;
    /* RAM below 4 GiB stops at the hole; above it, it resumes at 4 GiB. */
    if (!p->ram_end || (p->ram_end > X86_MMIO_HOLE_GPA && p->ram_end <= X86_HIGH_RAM_GPA))
        return -EINVAL;
    struct pci_window w = pci_host_mmio64_window(p->ram_end);
    /* Rounding ram_end up or adding the window's size must not wrap. */
    if (w.base < p->ram_end || w.end <= w.base)
        return -EINVAL;
    return 0;
}

int acpi_build_mcfg(struct aml_buf *b)
{
    size_t start = acpi_table_begin(b, "MCFG", ACPI_MCFG_REVISION);
    static const uint8_t reserved[sizeof(struct acpi_mcfg) - sizeof(struct acpi_header)];
    aml_bytes(b, reserved, sizeof(reserved));
    struct acpi_mcfg_alloc a = {
        .base = X86_PCI_ECAM_GPA,
        .segment = ACPI_PCI_SEGMENT,
        .start_bus = ACPI_PCI_BUS,
        .end_bus = ACPI_PCI_BUS,
    };
    aml_bytes(b, &a, sizeof(a));
    acpi_table_end(b, start);
    return aml_buf_error(b);
}

static void acpi_pci_crs(struct aml_buf *b, uint64_t ram_end)
{
    struct pci_window w64 = pci_host_mmio64_window(ram_end);
    aml_name(b, "_CRS");
    struct aml_mark crs = aml_restemplate_open(b);
    aml_res_addr_space(b, 16, AML_ADDR_BUS, 0, ACPI_PCI_BUS, ACPI_PCI_BUS);
    aml_res_io(b, ACPI_PCI_CONF_PORT, ACPI_PCI_CONF_LEN);
    aml_res_addr_space(b, 16, AML_ADDR_IO, AML_ADDR_IO_ENTIRE, 0, ACPI_PCI_IO_LOW_END);
    aml_res_addr_space(b, 16, AML_ADDR_IO, AML_ADDR_IO_ENTIRE, ACPI_PCI_IO_HIGH,
                       ACPI_PCI_IO_HIGH_END);
    aml_res_addr_space(b, 32, AML_ADDR_MEMORY, ACPI_MEM_WINDOW_FLAGS, X86_PCI_MMIO32_GPA,
                       X86_PCI_MMIO32_END - 1);
    aml_res_addr_space(b, 64, AML_ADDR_MEMORY, ACPI_MEM_WINDOW_FLAGS, w64.base, w64.end - 1);
    aml_restemplate_close(b, crs);
}

/*
 * One entry per slot and pin: Package { (slot << 16) | 0xFFFF, pin, 0, gsi }.
 * Source 0 means "gsi is a global system interrupt", level, active-low.
 */
static void acpi_pci_prt(struct aml_buf *b)
{
    aml_name(b, "_PRT");
    struct aml_mark prt = aml_package_open(b, (PCI_SLOTS - ACPI_PCI_FIRST_SLOT) * ACPI_PCI_PINS);
    for (unsigned slot = ACPI_PCI_FIRST_SLOT; slot < PCI_SLOTS; slot++) {
        for (unsigned pin = 0; pin < ACPI_PCI_PINS; pin++) {
            const uint64_t e[] = {
                (uint64_t)slot << 16 | ACPI_PRT_ALL_FUNCS, pin, 0,
                pci_host_intx_gsi(slot, pin + PCI_INTERRUPT_PIN_A),
            };
            aml_package_ints(b, e, ARRAY_SIZE(e));
        }
    }
    aml_close(b, prt);
}

void acpi_dsdt_pci(struct aml_buf *b, const struct x86_platform_info *p)
{
    struct aml_mark dev = aml_device_open(b, "PCI0");
    aml_name_eisaid(b, "_HID", "PNP0A08");   /* PCI Express root bridge */
    aml_name_eisaid(b, "_CID", "PNP0A03");   /* PCI root bridge */
    /*
     * No _ADR: a device has a _HID or an _ADR, not both (ACPI 6.x §6.1; iasl
     * warns). Linux finds a root bridge by _HID/_CID, its bus by _SEG/_BBN.
     */
    aml_name_int(b, "_UID", 0);
    aml_name_int(b, "_SEG", ACPI_PCI_SEGMENT);
    aml_name_int(b, "_BBN", ACPI_PCI_BUS);
    acpi_pci_crs(b, p->ram_end);
    acpi_pci_prt(b);
    aml_close(b, dev);

    dev = aml_device_open(b, "MRES");
    aml_name_eisaid(b, "_HID", "PNP0C02");
    aml_name_int(b, "_UID", 1);
    aml_name(b, "_CRS");
    struct aml_mark crs = aml_restemplate_open(b);
    aml_res_memory32_fixed(b, X86_PCI_ECAM_GPA, PCI_ECAM_SIZE_BUS0, true);
    aml_restemplate_close(b, crs);
    aml_close(b, dev);
}
