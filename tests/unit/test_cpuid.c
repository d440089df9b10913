// SPDX-License-Identifier: Apache-2.0
/* Unit tests for arch/x86/cpuid: per-vCPU topology leaves on a synthetic host list. */
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "arch/x86/cpu.h"

static struct kvm_cpuid2 *fake_supported(uint32_t max_basic)
{
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 8 * sizeof(c->entries[0]));
    c->entries[c->nent++] = (struct kvm_cpuid_entry2){ .function = 0, .eax = max_basic };
    c->entries[c->nent++] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0xff00abcd, .ecx = 0, .edx = 0 };
    c->entries[c->nent++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0, .eax = 0xfc004121 };
    c->entries[c->nent++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0, .eax = 1, .ebx = 2, .edx = 77 };
    c->entries[c->nent++] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .ecx = 0x7 };
    return c;
}

static const struct kvm_cpuid_entry2 *leaf(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function == fn && c->entries[i].index == idx)
            return &c->entries[i];
    return NULL;
}

static void apic_ids_and_topology(void **state)
{
    (void)state;
    struct kvm_cpuid2 *sup = fake_supported(0x1f);
    for (unsigned cpu = 0; cpu < 6; cpu++) {
        struct kvm_cpuid2 *c = x86_cpuid_for_vcpu(sup, cpu, 6);
        assert_non_null(c);
        const struct kvm_cpuid_entry2 *l1 = leaf(c, 1, 0);
        assert_int_equal(l1->ebx >> 24, cpu);
        assert_int_equal((l1->ebx >> 16) & 0xff, 6);
        assert_int_equal(l1->ebx & 0xffff, 0xabcd);       /* other fields kept */
        assert_true(l1->ecx & (1u << 31));                /* hypervisor */
        assert_true(l1->edx & (1u << 28));                /* HTT */
        const struct kvm_cpuid_entry2 *smt = leaf(c, 0xb, 0), *core = leaf(c, 0xb, 1), *end = leaf(c, 0xb, 2);
        assert_non_null(smt);
        assert_non_null(core);
        assert_non_null(end);
        assert_int_equal(smt->edx, cpu);
        assert_int_equal(smt->ebx, 1);
        assert_int_equal(core->ebx, 6);
        assert_int_equal(core->eax, 3);                   /* 6 cores need 3 id bits */
        assert_int_equal((core->ecx >> 8) & 0xff, 2);     /* level type: core */
        assert_int_equal(end->ebx, 0);
        assert_non_null(leaf(c, 0x1f, 1));
        assert_int_equal(leaf(c, 0x1f, 1)->edx, cpu);
        assert_int_equal(leaf(c, 4, 0)->eax >> 26, 5);    /* cores per package - 1 */
        assert_int_equal(leaf(c, 0x80000008, 0)->ecx & 0xff, 5);
        free(c);
    }
    free(sup);
}

static void single_cpu_and_old_cpus(void **state)
{
    (void)state;
    struct kvm_cpuid2 *sup = fake_supported(0xa);   /* no leaf 0xB on this "host" */
    struct kvm_cpuid2 *c = x86_cpuid_for_vcpu(sup, 0, 1);
    assert_false(leaf(c, 1, 0)->edx & (1u << 28));
    assert_null(leaf(c, 0x1f, 0));
    /* The host's own 0xB entry is left alone when leaf 0 says it is not there. */
    assert_int_equal(leaf(c, 0xb, 0)->edx, 77);
    free(c);
    free(sup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apic_ids_and_topology),
        cmocka_unit_test(single_cpu_and_old_cpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
