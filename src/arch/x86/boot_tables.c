// SPDX-License-Identifier: Apache-2.0
/*
 * The boot GDT and identity page tables for the 64-bit entry. Linux replaces
 * both almost at once; tiny test guests rely on them as they are, so the
 * paging entries carry U/S=1 to let guest user mode (CPL3) use any page.
 */
#include <errno.h>
#include <stdint.h>

#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "core/guest_mem.h"

#define PTE_PRESENT  (1ULL << 0)
#define PTE_WRITE    (1ULL << 1)
#define PTE_USER     (1ULL << 2)
#define PTE_HUGE     (1ULL << 7)

/* Descriptor encoding: base, limit and flag nibbles packed as the CPU reads them. */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
    return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
           ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
           (uint64_t)(limit & 0x0000ffffu);
}

int x86_write_boot_tables(struct guest_mem *gm)
{
    const uint64_t gdt[] = {
        0,                                  /* null */
        0,                                  /* unused */
        gdt_entry(0xa09b, 0, 0xfffff),      /* 0x10: 64-bit code, DPL 0 */
        gdt_entry(0xc093, 0, 0xfffff),      /* 0x18: data, DPL 0 */
        gdt_entry(0x808b, 0, 0xfffff),      /* 0x20: TSS (busy), required by VMX entry */
    };
    if (guest_mem_write(gm, X86_BOOT_GDT_GPA, gdt, sizeof(gdt)) < 0)
        return -EFAULT;

    uint64_t *pml4 = guest_mem_ptr(gm, X86_PML4_GPA, 4096);
    uint64_t *pdpt = guest_mem_ptr(gm, X86_PDPT_GPA, 4096);
    uint64_t *pd = guest_mem_ptr(gm, X86_PD_GPA, 4 * 4096);
    if (!pml4 || !pdpt || !pd)
        return -EFAULT;
    const uint64_t table_flags = PTE_PRESENT | PTE_WRITE | PTE_USER;
    pml4[0] = X86_PDPT_GPA | table_flags;
    for (uint64_t i = 0; i < 4; i++)
        pdpt[i] = (X86_PD_GPA + i * 4096) | table_flags;
    for (uint64_t i = 0; i < 4 * 512; i++)
        pd[i] = (i << 21) | table_flags | PTE_HUGE;
    return 0;
}
