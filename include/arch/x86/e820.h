/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BIOS e820 memory map casulo hands to a guest: which guest-physical
 * ranges are RAM and which are reserved. Derived only from struct guest_mem
 * and the fixed layout, so the loaders and the ACPI builder agree on it.
 */
#ifndef CASULO_ARCH_X86_E820_H
#define CASULO_ARCH_X86_E820_H

#include <stdint.h>

#include "util/compiler.h"

struct guest_mem;

#define E820_TYPE_RAM      1
#define E820_TYPE_RESERVED 2

/* boot_params holds at most this many entries (E820_MAX_ENTRIES_ZEROPAGE). */
#define E820_MAX_ZEROPAGE  128

/* The layout the zero page uses: 20 bytes, no padding. */
struct e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry is 20 bytes");

/*
 * Fills out[] with the map for gm, sorted by address and non-overlapping:
 * RAM below the EBDA, [EBDA, 1 MiB) reserved, RAM from 1 MiB to the low end,
 * the PCI ECAM window reserved, RAM regions above 4 GiB. Returns the number of
 * entries, or -ENOSPC when max is too small, -EINVAL for an empty gm.
 */
int x86_e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned max) MUST_CHECK;

#endif
