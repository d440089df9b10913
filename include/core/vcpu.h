/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A vCPU: its KVM fd, the shared kvm_run page and the thread that runs the
 * KVM_RUN loop. Port I/O and MMIO exits are dispatched to the VM's buses;
 * everything else either continues or stops the VM with a reason.
 */
#ifndef CASULO_CORE_VCPU_H
#define CASULO_CORE_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

struct vm;
struct kvm_run;

struct vcpu {
    struct vm *vm;
    unsigned index;          /* also its APIC id */
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    atomic_bool in_run;      /* diagnostics only */
    uint64_t exits_io, exits_mmio;   /* counted here: PVM's io_exits stat stays 0 */
};

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned index) MUST_CHECK;
/* Unmaps kvm_run; the fd itself is closed by the VM (see vm_destroy). */
void vcpu_unmap(struct vcpu *vcpu);

int vcpu_start(struct vcpu *vcpu) MUST_CHECK;
/* Forces the vCPU out of KVM_RUN (immediate_exit + signal). Any thread. */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);

/* Installs the (empty) kick signal handler; once per process. */
int vcpu_signals_init(void) MUST_CHECK;

#endif
