/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM generation ID (Microsoft's "Virtual Machine Generation ID"
 * device, which Linux binds in drivers/virt/vmgenid.c): a 16-byte random
 * value in reserved guest memory that changes whenever the VM may have been
 * duplicated, so that a guest restored N times reseeds its RNG N different
 * ways. casulo keeps the buffer in the last page of the ACPI region (inside
 * the e820-reserved [EBDA, 1 MiB)), writes a fresh value at boot and at
 * every restore, and then raises GPE0 bit ACPI_VMGENID_GPE; the DSDT's
 * \_GPE._E00 turns that into Notify(\_SB.VGEN, 0x80).
 */
#ifndef CASULO_ARCH_X86_ACPI_VMGENID_H
#define CASULO_ARCH_X86_ACPI_VMGENID_H

#include <stdint.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "util/compiler.h"

struct guest_mem;

#define ACPI_VMGENID_PAGE_SIZE 0x1000ULL
/* The tables end before this page; the ID sits at its start. */
#define ACPI_VMGENID_GPA  (X86_ACPI_END - ACPI_VMGENID_PAGE_SIZE)
#define ACPI_VMGENID_LEN  16
/* GPE0 status bit whose _E00 handler notifies VGEN. */
#define ACPI_VMGENID_GPE  0
/*
 * Drivers match the compatible ID (Linux: "VM_GEN_COUNTER"; ACPICA
 * upper-cases _CID strings). The _HID is casulo's own: the spec leaves it to
 * the vendor, and "VMGENCTR" is not a valid ACPI ID (iasl refuses it).
 */
#define ACPI_VMGENID_HID  "CSLO0001"
#define ACPI_VMGENID_CID  "VM_Gen_Counter"

/* Device(VGEN), for inside Scope(\_SB): _HID, _CID, _DDN and ADDR. */
void acpi_dsdt_vmgenid(struct aml_buf *b);
/* Scope(\_GPE) { Method(_E00) { Notify(\_SB.VGEN, 0x80) } }, at the DSDT's top level. */
void acpi_dsdt_gpe(struct aml_buf *b);

/* Writes `id` into the guest's generation ID buffer; -EFAULT if RAM lacks it. */
int acpi_vmgenid_write(struct guest_mem *gm, const uint8_t id[ACPI_VMGENID_LEN]) MUST_CHECK;
/*
 * Draws a random ID (never all zero, which the spec reserves) and writes it;
 * the new value goes to `id` when not NULL.
 */
int acpi_vmgenid_renew(struct guest_mem *gm, uint8_t id[ACPI_VMGENID_LEN]) MUST_CHECK;

#endif
