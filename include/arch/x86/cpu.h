/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86 vCPU initial state: CPUID with per-vCPU topology, MSRs, FPU, LAPIC
 * LINT pins, and the 64-bit entry state (GDT, identity page tables, long
 * mode) that the Linux 64-bit boot protocol expects.
 */
#ifndef CASULO_ARCH_X86_CPU_H
#define CASULO_ARCH_X86_CPU_H

#include <stdint.h>
#include <stdio.h>

#include "util/compiler.h"

struct kvm_cpuid2;
struct guest_mem;
struct boot_info;

/* KVM_GET_SUPPORTED_CPUID, grown until it fits. Caller frees. */
int x86_cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out) MUST_CHECK;

/*
 * A copy of `supported` adjusted for vCPU `index` of `nr_cpus`: APIC id in
 * leaf 1, topology leaves 0x4/0xB/0x1F/0x80000008 describing one socket of
 * nr_cpus cores with one thread each, hypervisor bit set. Caller frees.
 */
struct kvm_cpuid2 *x86_cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned index,
                                      unsigned nr_cpus);

/* Writes the boot GDT and the identity page tables for the first 4 GiB. */
int x86_write_boot_tables(struct guest_mem *gm) MUST_CHECK;

/* Per-vCPU KVM state. x86_vcpu_init for every vCPU; x86_vcpu_boot_regs for the BSP only. */
int x86_vcpu_init(int vcpu_fd, const struct kvm_cpuid2 *cpuid) MUST_CHECK;
int x86_vcpu_boot_regs(int vcpu_fd, const struct boot_info *boot) MUST_CHECK;

/* Register dump for crash reports, one "casulo: " line per row on stderr. */
void x86_vcpu_dump(int vcpu_fd, unsigned index);

/* True when /dev/kvm is KVM-PVM or the CPU has neither VMX nor SVM. */
int x86_host_is_pvm(void);

#endif
