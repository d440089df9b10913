/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest-physical memory map and port map of casulo's x86-64 platform.
 * Every fixed address lives here so that the loaders, the table builders and
 * the devices cannot disagree about it.
 *
 *   0x0000_0500  boot GDT (entered in long mode directly, no real-mode code)
 *   0x0000_7000  zero page (struct boot_params), RSI at entry
 *   0x0000_8ff0  initial stack pointer
 *   0x0000_9000  PML4, then PDPT, then 4 PDs: identity map of the first 4 GiB
 *   0x0002_0000  kernel command line (up to 64 KiB)
 *   0x0009_fc00  EBDA start; [EBDA, 1 MiB) is reserved in the e820 map
 *   0x000e_0000  ACPI tables (RSDP first)    up to 0x000f_0000
 *   0x000f_0000  MP table (floating pointer first)  up to 0x0010_0000
 *   0x0010_0000  kernel (bzImage protected-mode part / ELF segments)
 *   ...          RAM up to min(memory, 3 GiB); the rest continues at 4 GiB
 *   0xc000_0000  32-bit MMIO hole (PCI BARs, ECAM), IOAPIC, LAPIC
 *   0x1_0000_0000 RAM above 4 GiB when memory > 3 GiB
 */
#ifndef CASULO_ARCH_X86_LAYOUT_H
#define CASULO_ARCH_X86_LAYOUT_H

#include "util/compiler.h"

#define X86_BOOT_GDT_GPA       0x500ULL
#define X86_ZERO_PAGE_GPA      0x7000ULL
#define X86_BOOT_STACK_GPA     0x8ff0ULL
#define X86_PML4_GPA           0x9000ULL
#define X86_PDPT_GPA           0xa000ULL
#define X86_PD_GPA             0xb000ULL   /* 4 pages: 0xb000..0xefff */
#define X86_CMDLINE_GPA        0x20000ULL
#define X86_CMDLINE_MAX        0x10000ULL  /* includes the NUL */
#define X86_EBDA_GPA           0x9fc00ULL
#define X86_ACPI_GPA           0xe0000ULL
#define X86_ACPI_END           0xf0000ULL
#define X86_MPTABLE_GPA        0xf0000ULL
#define X86_MPTABLE_END        0x100000ULL
#define X86_HIMEM_GPA          0x100000ULL /* 1 MiB: where kernels load */

#define X86_MMIO_HOLE_GPA      0xc0000000ULL  /* 3 GiB */
#define X86_MMIO_HOLE_END      0x100000000ULL /* 4 GiB */
#define X86_PCI_MMIO32_GPA     0xc0000000ULL  /* 32-bit BAR window ... */
#define X86_PCI_MMIO32_END     0xe0000000ULL
#define X86_PCI_ECAM_GPA       0xe0000000ULL  /* 256 MiB ECAM, buses 0..255 */
#define X86_PCI_ECAM_SIZE      0x10000000ULL
#define X86_IOAPIC_GPA         0xfec00000ULL
#define X86_LAPIC_GPA          0xfee00000ULL
#define X86_HIGH_RAM_GPA       0x100000000ULL

/* Boot GDT selectors, as the Linux boot protocol expects (__BOOT_CS/__BOOT_DS). */
#define X86_BOOT_CS            0x10
#define X86_BOOT_DS            0x18
#define X86_BOOT_TSS           0x20

/* Legacy ports and ISA IRQs. */
#define X86_COM1_PORT          0x3f8
#define X86_COM1_IRQ           4
#define X86_I8042_DATA_PORT    0x60
#define X86_I8042_CMD_PORT     0x64
#define X86_I8042_IRQ          1
#define X86_RTC_PORT           0x70
#define X86_RTC_IRQ            8
#define X86_POST_PORT          0x80

/*
 * ACPI fixed-hardware block (our own ports; the FADT points at them):
 * PM1a event (status+enable), PM1a control, PM timer, reset register, GPE0.
 */
#define X86_ACPI_PM1A_EVT_PORT 0x600  /* 4 bytes */
#define X86_ACPI_PM1A_CNT_PORT 0x604  /* 2 bytes */
#define X86_ACPI_PM_TMR_PORT   0x608  /* 4 bytes, 3.579545 MHz, 24-bit */
#define X86_ACPI_RESET_PORT    0x60c  /* 1 byte */
#define X86_ACPI_RESET_VALUE   0x01
#define X86_ACPI_GPE0_PORT     0x620  /* 4 bytes: 2 status + 2 enable */
#define X86_ACPI_GPE0_LEN      4
#define X86_ACPI_SCI_IRQ       9
/* SLP_TYP value that \_S5 in our DSDT advertises: writing it with SLP_EN powers off. */
#define X86_ACPI_S5_SLP_TYP    5

#define X86_IOAPIC_PINS        24

#endif
