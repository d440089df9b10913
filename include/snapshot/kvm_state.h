/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM-held state as snapshot records: per vCPU ("cpu.N": registers, FPU and
 * XSAVE, XCRs, every MSR of KVM_GET_MSR_INDEX_LIST, LAPIC, pending events,
 * debug registers, MP state, TSC frequency) and per VM ("vm.irqchip": PIC
 * master, PIC slave, IOAPIC; "vm.pit"; "vm.clock"). The check functions
 * validate a record completely without touching KVM, so restore can refuse a
 * bad snapshot before it changes anything.
 */
#ifndef CASULO_SNAPSHOT_KVM_STATE_H
#define CASULO_SNAPSHOT_KVM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/format.h"
#include "util/compiler.h"

struct kvm_run;

#define SNAP_CPU_VERSION 1
#define SNAP_IRQCHIP_VERSION 1
#define SNAP_PIT_VERSION 1
#define SNAP_CLOCK_VERSION 1
#define SNAP_MSRS_MAX 1024u
#define SNAP_XSAVE_MAX (1u << 20)

/* The fds the vCPU and VM calls need. */
struct snap_kvm {
    int kvm_fd;
    int vm_fd;
};

/*
 * Lets KVM finish an emulated PIO/MMIO read whose data user space has put in
 * kvm_run but the vCPU has not consumed yet (it is parked between the exit
 * and its next KVM_RUN): one KVM_RUN with immediate_exit=1, which completes
 * the instruction and returns at once. Without it the saved RIP/RAX would
 * lose that instruction's result. The vCPU's thread must be parked.
 * Returns 0 when done, 1 when KVM answered with a new exit that the caller
 * must handle (then call again), or -errno.
 */
int snap_vcpu_complete_io(int vcpu_fd, struct kvm_run *run) MUST_CHECK;

/* Record name of vCPU `index`: "cpu.<index>". */
void snap_cpu_record_name(unsigned index, char name[SNAP_NAME_LEN]);

int snap_vcpu_save(const struct snap_kvm *k, int vcpu_fd, unsigned index,
                   struct snap_writer *w, char *err, size_t errlen) MUST_CHECK;
int snap_vcpu_check(const struct snap_kvm *k, const struct snap_record *r, unsigned index,
                    char *err, size_t errlen) MUST_CHECK;
/* vCPU fd freshly created and given its CPUID. */
int snap_vcpu_load(const struct snap_kvm *k, int vcpu_fd, const struct snap_record *r,
                   char *err, size_t errlen) MUST_CHECK;

/* `clock_ns`: the guest clock to record (vm_pause froze it). */
int snap_vm_save(const struct snap_kvm *k, uint64_t clock_ns, struct snap_writer *w, char *err,
                 size_t errlen) MUST_CHECK;
int snap_vm_check(const struct snap_image *img, char *err, size_t errlen) MUST_CHECK;
/*
 * kvmclock, set last: right after the vCPUs' TSCs, so that the guest's two
 * clocks start again together (its clocksource watchdog compares them).
 */
int snap_vm_load_clock(const struct snap_kvm *k, const struct snap_image *img, char *err,
                       size_t errlen) MUST_CHECK;
int snap_vm_load(const struct snap_kvm *k, const struct snap_image *img, char *err,
                 size_t errlen) MUST_CHECK;

#endif
