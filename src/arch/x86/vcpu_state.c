// SPDX-License-Identifier: Apache-2.0
/*
 * Initial register state of an x86 vCPU. Every vCPU gets CPUID, MSRs, FPU
 * and LAPIC LINT setup; only the boot processor is put in long mode at the
 * kernel entry. Application processors stay in KVM's wait-for-SIPI state so
 * the guest starts them as on real hardware.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "util/log.h"

#define MSR_IA32_TSC             0x10
#define MSR_IA32_SYSENTER_CS     0x174
#define MSR_IA32_SYSENTER_ESP    0x175
#define MSR_IA32_SYSENTER_EIP    0x176
#define MSR_IA32_MISC_ENABLE     0x1a0
#define MSR_MTRR_DEF_TYPE        0x2ff
#define MSR_STAR                 0xc0000081
#define MSR_LSTAR                0xc0000082
#define MSR_CSTAR                0xc0000083
#define MSR_SYSCALL_MASK         0xc0000084
#define MSR_KERNEL_GS_BASE       0xc0000102

#define MISC_ENABLE_FAST_STRING  (1ULL << 0)
#define MTRR_ENABLE_WB           ((1ULL << 11) | 6)

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI    0x4

static int set_msrs(int fd)
{
    static const struct { uint32_t index; uint64_t value; } init[] = {
        { MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 }, { MSR_IA32_SYSENTER_EIP, 0 },
        { MSR_STAR, 0 }, { MSR_CSTAR, 0 }, { MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 },
        { MSR_LSTAR, 0 }, { MSR_IA32_TSC, 0 },
        { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
        { MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WB },
    };
    const unsigned n = sizeof(init) / sizeof(init[0]);
    struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + n * sizeof(msrs->entries[0]));
    if (!msrs)
        return -ENOMEM;
    msrs->nmsrs = n;
    for (unsigned i = 0; i < n; i++) {
        msrs->entries[i].index = init[i].index;
        msrs->entries[i].data = init[i].value;
    }
    int r = ioctl(fd, KVM_SET_MSRS, msrs);
    int ret = 0;
    if (r < 0)
        ret = -errno;
    else if ((unsigned)r != n)
        /* KVM stops at the first MSR it refuses; name it so the log is useful. */
        log_warn("vcpu", "KVM refused MSR 0x%x; continuing without it", init[r].index);
    free(msrs);
    return ret;
}

static int set_fpu(int fd)
{
    struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
    return ioctl(fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

static void lapic_set_lvt_mode(struct kvm_lapic_state *lapic, unsigned reg, uint32_t mode)
{
    uint32_t v;
    memcpy(&v, &lapic->regs[reg], sizeof(v));
    v = (v & ~0x700u) | (mode << 8);
    memcpy(&lapic->regs[reg], &v, sizeof(v));
}

/* LINT0 as ExtINT (the PIC) and LINT1 as NMI, as a PC BIOS leaves them. */
static int set_lapic_lint(int fd)
{
    struct kvm_lapic_state lapic;
    if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
        return -errno;
    lapic_set_lvt_mode(&lapic, APIC_LVT0, APIC_MODE_EXTINT);
    lapic_set_lvt_mode(&lapic, APIC_LVT1, APIC_MODE_NMI);
    return ioctl(fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

int x86_vcpu_init(int vcpu_fd, const struct kvm_cpuid2 *cpuid)
{
    if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0)
        return -errno;
    int ret = set_msrs(vcpu_fd);
    if (!ret)
        ret = set_fpu(vcpu_fd);
    if (!ret)
        ret = set_lapic_lint(vcpu_fd);
    return ret;
}

static void flat_segment(struct kvm_segment *s, uint16_t selector, uint8_t type, bool code64)
{
    *s = (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
        .present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64 ? 1 : 0, .g = 1,
    };
}

int x86_vcpu_boot_regs(int vcpu_fd, const struct boot_info *boot)
{
    struct kvm_sregs sregs;
    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return -errno;
    flat_segment(&sregs.cs, X86_BOOT_CS, 0xb, true);
    flat_segment(&sregs.ds, X86_BOOT_DS, 0x3, false);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    sregs.tr = (struct kvm_segment){ .base = 0, .limit = 0xfffff, .selector = X86_BOOT_TSS,
                                     .type = 0xb, .present = 1, .s = 0, .g = 0 };
    sregs.gdt.base = X86_BOOT_GDT_GPA;
    sregs.gdt.limit = 5 * 8 - 1;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
    sregs.cr3 = X86_PML4_GPA;
    sregs.cr4 = CR4_PAE;
    sregs.efer = EFER_LME | EFER_LMA;
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
        return -errno;

    struct kvm_regs regs = {
        .rflags = 0x2,
        .rip = boot->entry,
        .rsi = boot->boot_params_gpa,
        .rsp = X86_BOOT_STACK_GPA,
        .rbp = X86_BOOT_STACK_GPA,
    };
    return ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
}

void x86_vcpu_dump(int vcpu_fd, unsigned index)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
        log_error(NULL, "vCPU %u: cannot read registers: %s", index, strerror(errno));
        return;
    }
    log_error(NULL, "vCPU %u registers:", index);
    log_error(NULL, "  RIP=%016llx RSP=%016llx RFLAGS=%08llx",
              (unsigned long long)r.rip, (unsigned long long)r.rsp, (unsigned long long)r.rflags);
    log_error(NULL, "  RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx",
              (unsigned long long)r.rax, (unsigned long long)r.rbx,
              (unsigned long long)r.rcx, (unsigned long long)r.rdx);
    log_error(NULL, "  RSI=%016llx RDI=%016llx RBP=%016llx R8 =%016llx",
              (unsigned long long)r.rsi, (unsigned long long)r.rdi,
              (unsigned long long)r.rbp, (unsigned long long)r.r8);
    log_error(NULL, "  R9 =%016llx R10=%016llx R11=%016llx R12=%016llx",
              (unsigned long long)r.r9, (unsigned long long)r.r10,
              (unsigned long long)r.r11, (unsigned long long)r.r12);
    log_error(NULL, "  R13=%016llx R14=%016llx R15=%016llx",
              (unsigned long long)r.r13, (unsigned long long)r.r14, (unsigned long long)r.r15);
    log_error(NULL, "  CS=%04x SS=%04x DS=%04x CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx EFER=%llx",
              s.cs.selector, s.ss.selector, s.ds.selector, (unsigned long long)s.cr0,
              (unsigned long long)s.cr2, (unsigned long long)s.cr3, (unsigned long long)s.cr4,
              (unsigned long long)s.efer);
    log_error(NULL, "  GDT=%016llx/%04x IDT=%016llx/%04x",
              (unsigned long long)s.gdt.base, s.gdt.limit,
              (unsigned long long)s.idt.base, s.idt.limit);
}

int x86_host_is_pvm(void)
{
    if (access("/sys/module/kvm_pvm", F_OK) == 0)
        return 1;
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return 0;
    char line[4096];
    int has_virt = 0;
    while (!has_virt && fgets(line, sizeof(line), f))
        if (strncmp(line, "flags", 5) == 0)
            has_virt = strstr(line, " vmx") || strstr(line, " svm");
    fclose(f);
    return !has_virt;
}
