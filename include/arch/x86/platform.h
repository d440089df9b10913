/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Firmware tables the guest reads to find its CPUs, interrupt controllers and
 * power controls: ACPI (RSDP, XSDT, FADT, MADT, DSDT, FACS) and the MP table.
 * Built into guest memory before the first vCPU runs.
 */
#ifndef CASULO_ARCH_X86_PLATFORM_H
#define CASULO_ARCH_X86_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct guest_mem;

struct x86_platform_info {
    unsigned nr_cpus;          /* APIC id of CPU i is i */
};

/*
 * Writes the ACPI tables in [X86_ACPI_GPA, X86_ACPI_END) and returns the
 * RSDP's address. -ENOSPC if they do not fit (too many CPUs).
 */
int x86_acpi_install(struct guest_mem *gm, const struct x86_platform_info *p,
                     uint64_t *rsdp_gpa) MUST_CHECK;

/* Writes the MP floating pointer and table in [X86_MPTABLE_GPA, X86_MPTABLE_END). */
int x86_mptable_install(struct guest_mem *gm, const struct x86_platform_info *p) MUST_CHECK;

#endif
