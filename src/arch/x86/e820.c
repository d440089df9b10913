// SPDX-License-Identifier: Apache-2.0
/*
 * Builds the e820 map from the guest's RAM regions. Each region is reported
 * as RAM except where the fixed layout reserves part of it (the EBDA up to
 * 1 MiB, where the ACPI and MP tables live), and the PCI ECAM window is
 * reported reserved so the ACPI MCFG table points at a range the kernel
 * already knows is not RAM. The MMIO hole is simply absent from the map.
 */
#include "arch/x86/e820.h"

#include <errno.h>

#include "arch/x86/layout.h"
#include "core/guest_mem.h"

struct e820_builder {
    struct e820_entry *out;
    unsigned max;
    unsigned n;
    int err;
};

static void e820_add(struct e820_builder *b, uint64_t start, uint64_t end, uint32_t type)
{
    if (end <= start || b->err)
        return;
    if (b->n == b->max) {
        b->err = -ENOSPC;
        return;
    }
    b->out[b->n++] = (struct e820_entry){ .addr = start, .size = end - start, .type = type };
}

static void e820_add_ram(struct e820_builder *b, uint64_t start, uint64_t end)
{
    /* Cut the legacy reserved window [EBDA, 1 MiB) out of the RAM range. */
    e820_add(b, start, MIN(end, X86_EBDA_GPA), E820_TYPE_RAM);
    e820_add(b, MAX(start, X86_HIMEM_GPA), end, E820_TYPE_RAM);
}

static bool e820_overlaps_ram(const struct guest_mem *gm, uint64_t start, uint64_t end)
{
    for (unsigned i = 0; i < gm->nr_regions; i++) {
        const struct guest_mem_region *r = &gm->regions[i];
        if (start < r->gpa + r->size && r->gpa < end)
            return true;
    }
    return false;
}

static void e820_sort(struct e820_entry *e, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        struct e820_entry cur = e[i];
        unsigned j = i;
        for (; j > 0 && e[j - 1].addr > cur.addr; j--)
            e[j] = e[j - 1];
        e[j] = cur;
    }
}

int x86_e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned max)
{
    if (!gm || gm->nr_regions == 0)
        return -EINVAL;
    struct e820_builder b = { .out = out, .max = max };

    for (unsigned i = 0; i < gm->nr_regions; i++) {
        const struct guest_mem_region *r = &gm->regions[i];
        e820_add_ram(&b, r->gpa, r->gpa + r->size);
    }
    /* Reserved even when RAM ends below it: the tables there are not RAM to the guest. */
    e820_add(&b, X86_EBDA_GPA, X86_HIMEM_GPA, E820_TYPE_RESERVED);
    if (!e820_overlaps_ram(gm, X86_PCI_ECAM_GPA, X86_PCI_ECAM_GPA + X86_PCI_ECAM_SIZE))
        e820_add(&b, X86_PCI_ECAM_GPA, X86_PCI_ECAM_GPA + X86_PCI_ECAM_SIZE,
                 E820_TYPE_RESERVED);
    if (b.err)
        return b.err;
    e820_sort(out, b.n);
    return (int)b.n;
}
