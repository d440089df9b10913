// SPDX-License-Identifier: Apache-2.0
/*
 * CPUID for each vCPU. We start from what KVM supports on this host and only
 * rewrite the leaves that describe identity and topology, so a guest sees the
 * host's features but a consistent machine of nr_cpus cores in one socket,
 * one thread per core, APIC id = vCPU index.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/cpu.h"

#define CPUID_MAX_ENTRIES_LIMIT 4096

int x86_cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
    for (unsigned n = 128; n <= CPUID_MAX_ENTRIES_LIMIT; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
        if (!c)
            return -ENOMEM;
        c->nent = n;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            *out = c;
            return 0;
        }
        int err = errno;
        free(c);
        if (err != E2BIG)
            return -err;
    }
    return -E2BIG;
}

static unsigned order_base2(unsigned n)
{
    unsigned bits = 0;
    while ((1U << bits) < n)
        bits++;
    return bits;
}

static struct kvm_cpuid_entry2 *find_leaf(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index)
{
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function == fn && c->entries[i].index == index)
            return &c->entries[i];
    return NULL;
}

static void remove_leaf(struct kvm_cpuid2 *c, uint32_t fn)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function != fn)
            c->entries[w++] = c->entries[i];
    c->nent = w;
}

/* Leaves 0xB and 0x1F: level 0 = SMT (1 thread), level 1 = core (nr_cpus). */
static void add_extended_topology(struct kvm_cpuid2 *c, uint32_t fn, unsigned apic_id,
                                  unsigned nr_cpus)
{
    unsigned core_shift = order_base2(nr_cpus);
    struct kvm_cpuid_entry2 levels[3] = {
        { .function = fn, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
          .eax = 0, .ebx = 1, .ecx = (1u << 8) | 0, .edx = apic_id },
        { .function = fn, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
          .eax = core_shift, .ebx = nr_cpus, .ecx = (2u << 8) | 1, .edx = apic_id },
        { .function = fn, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
          .eax = 0, .ebx = 0, .ecx = 2, .edx = apic_id },
    };
    remove_leaf(c, fn);
    for (unsigned i = 0; i < 3; i++)
        c->entries[c->nent++] = levels[i];
}

struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned index,
                                      unsigned nr_cpus)
{
    /* Room for the topology leaves we may add on top of the supported ones. */
    size_t n = supported->nent + 8;
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
    if (!c)
        return NULL;
    c->nent = supported->nent;
    memcpy(c->entries, supported->entries, supported->nent * sizeof(c->entries[0]));

    struct kvm_cpuid_entry2 *leaf0 = find_leaf(c, 0, 0);
    uint32_t max_basic = leaf0 ? leaf0->eax : 0;

    struct kvm_cpuid_entry2 *e = find_leaf(c, 1, 0);
    if (e) {
        unsigned logical = nr_cpus > 255 ? 255 : nr_cpus;
        e->ebx = (e->ebx & 0x0000ffffu) | (logical << 16) | ((index & 0xffu) << 24);
        e->ecx |= 1u << 31;                 /* running under a hypervisor */
        if (nr_cpus > 1)
            e->edx |= 1u << 28;             /* HTT: the logical count is valid */
    }

    /* Leaf 4 (deterministic cache parameters): cores per package. */
    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *l = &c->entries[i];
        if (l->function != 4 || (l->eax & 0x1f) == 0)
            continue;
        unsigned cores = nr_cpus > 64 ? 64 : nr_cpus;
        l->eax = (l->eax & 0x03ffffffu) | ((cores - 1) << 26);
        l->eax &= ~(0xfffu << 14);          /* one thread shares each cache level */
    }

    if (max_basic >= 0xb)
        add_extended_topology(c, 0xb, index, nr_cpus);
    if (max_basic >= 0x1f)
        add_extended_topology(c, 0x1f, index, nr_cpus);

    e = find_leaf(c, 0x80000008, 0);
    if (e) {
        unsigned nc = nr_cpus > 256 ? 255 : nr_cpus - 1;
        e->ecx = (e->ecx & ~0xf0ffu) | (order_base2(nr_cpus) << 12) | nc;
    }
    return c;
}
