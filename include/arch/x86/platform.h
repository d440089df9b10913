/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Firmware tables the guest reads to find its CPUs, interrupt controllers,
 * power controls and PCI host bridge: ACPI (RSDP, XSDT, FADT, MADT, DSDT,
 * FACS, MCFG) and the MP table. Built into guest memory before the first
 * vCPU runs.
 */
#ifndef CASULO_ARCH_X86_PLATFORM_H
#define CASULO_ARCH_X86_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct guest_mem;

/*
 * What the tables describe. Plain data; fields left zero describe a machine
 * without them (a zero-initialised `pci` gives exactly the pre-PCI tables).
 */
struct x86_platform_info {
    unsigned nr_cpus;          /* APIC id of CPU i is i */
    /*
     * Publish the PCI host bridge (DSDT \_SB.PCI0 and its ECAM reservation)
     * and the MCFG table, as docs/pci.md lays them out.
     */
    bool pci;
    /*
     * Exclusive end of guest RAM (highest RAM byte + 1). With `pci`, it places
     * the 64-bit window at pci_host_mmio64_window(ram_end), as the host does.
     */
    uint64_t ram_end;
};

/*
 * Writes the ACPI tables in [X86_ACPI_GPA, X86_ACPI_END) and returns the
 * RSDP's address. -ENOSPC if they do not fit (too many CPUs), -EINVAL for
 * a CPU count or ram_end the tables cannot describe.
 */
int x86_acpi_install(struct guest_mem *gm, const struct x86_platform_info *p,
                     uint64_t *rsdp_gpa) MUST_CHECK;

/* Writes the MP floating pointer and table in [X86_MPTABLE_GPA, X86_MPTABLE_END). */
int x86_mptable_install(struct guest_mem *gm, const struct x86_platform_info *p) MUST_CHECK;

#endif
