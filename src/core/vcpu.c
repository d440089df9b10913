// SPDX-License-Identifier: Apache-2.0
/*
 * The KVM_RUN loop, one thread per vCPU. Exits that need user space are
 * dispatched here; anything that means the guest or KVM cannot go on stops
 * the whole VM with a reason (and a register dump for crashes), never the
 * process.
 *
 * Kicking: vcpu_kick() sets kvm_run.immediate_exit and sends SIGUSR1 to the
 * thread. The flag covers the window before KVM_RUN is entered, the signal
 * the time inside it.
 */
#include "core/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "core/vm.h"
#include "security/seccomp.h"
#include "util/log.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig) { (void)sig; }

int vcpu_signals_init(void)
{
    struct sigaction sa = { .sa_handler = kick_handler };
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: KVM_RUN must return EINTR so the loop sees the kick. */
    return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned index)
{
    memset(vcpu, 0, sizeof(*vcpu));
    vcpu->vm = vm;
    vcpu->index = index;
    vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
    if (vcpu->fd < 0)
        return -errno;
    vcpu->run = mmap(NULL, (size_t)vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                     vcpu->fd, 0);
    if (vcpu->run == MAP_FAILED) {
        int err = -errno;
        close(vcpu->fd);
        vcpu->fd = -1;
        vcpu->run = NULL;
        return err;
    }
    return 0;
}

void vcpu_unmap(struct vcpu *vcpu)
{
    if (vcpu->run)
        munmap(vcpu->run, (size_t)vcpu->vm->vcpu_mmap_size);
    vcpu->run = NULL;
}

static bool handle_io(struct vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    unsigned size = run->io.size;
    uint64_t total = (uint64_t)size * run->io.count;
    /* KVM fills these, but a bad offset would make us touch memory past the page. */
    if ((size != 1 && size != 2 && size != 4) || run->io.data_offset >= (uint64_t)vcpu->vm->vcpu_mmap_size ||
        total > (uint64_t)vcpu->vm->vcpu_mmap_size - run->io.data_offset) {
        vm_request_stop(vcpu->vm, VM_EXIT_HOST_ERROR, "vCPU %u: malformed port I/O exit", vcpu->index);
        return false;
    }
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        if (run->io.direction == KVM_EXIT_IO_OUT)
            bus_write(&vcpu->vm->pio, run->io.port, data, size);
        else
            bus_read(&vcpu->vm->pio, run->io.port, data, size);
    }
    vcpu->exits_io++;
    return true;
}

static bool handle_mmio(struct vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    unsigned len = run->mmio.len;
    if (len == 0 || len > sizeof(run->mmio.data)) {
        vm_request_stop(vcpu->vm, VM_EXIT_HOST_ERROR, "vCPU %u: malformed MMIO exit", vcpu->index);
        return false;
    }
    if (run->mmio.is_write)
        bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
    else
        bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
    vcpu->exits_mmio++;
    return true;
}

static void stop_with_dump(struct vcpu *vcpu, enum vm_exit_reason reason, const char *what)
{
    struct vm *vm = vcpu->vm;
    /* Only the vCPU whose stop request wins prints the dump. */
    if (!atomic_load(&vm->stopping)) {
        vm_request_stop(vm, reason, "vCPU %u: %s", vcpu->index, what);
        if (vm->exit_reason == reason)
            x86_vcpu_dump(vcpu->fd, vcpu->index, vm->crash_dump, sizeof(vm->crash_dump));
    }
}

static bool handle_system_event(struct vcpu *vcpu)
{
    switch (vcpu->run->system_event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        vm_request_stop(vcpu->vm, VM_EXIT_POWEROFF, "guest powered off");
        break;
    case KVM_SYSTEM_EVENT_RESET:
        vm_request_stop(vcpu->vm, VM_EXIT_REBOOT, "guest requested reboot");
        break;
    default:
        vm_request_stop(vcpu->vm, VM_EXIT_GUEST_ERROR, "vCPU %u: guest crash event %u",
                        vcpu->index, vcpu->run->system_event.type);
        break;
    }
    return false;
}

/* Returns false when the loop must end. */
static bool handle_exit(struct vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    char what[160];
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        return handle_io(vcpu);
    case KVM_EXIT_MMIO:
        return handle_mmio(vcpu);
    case KVM_EXIT_INTR:
    case KVM_EXIT_HLT:  /* only without an in-kernel LAPIC; nothing to do */
        return true;
    case KVM_EXIT_SHUTDOWN:
        stop_with_dump(vcpu, VM_EXIT_TRIPLE_FAULT, "guest triple fault (CPU shutdown)");
        return false;
    case KVM_EXIT_SYSTEM_EVENT:
        return handle_system_event(vcpu);
    case KVM_EXIT_INTERNAL_ERROR:
        snprintf(what, sizeof(what), "KVM internal error, suberror %u%s", run->internal.suberror,
                 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                     ? " (instruction emulation failed)" : "");
        stop_with_dump(vcpu, VM_EXIT_INTERNAL_ERROR, what);
        return false;
    case KVM_EXIT_FAIL_ENTRY:
        snprintf(what, sizeof(what), "KVM could not enter the guest (hardware reason 0x%llx)",
                 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        stop_with_dump(vcpu, VM_EXIT_FAIL_ENTRY, what);
        return false;
    default:
        snprintf(what, sizeof(what), "unexpected KVM exit reason %u", run->exit_reason);
        stop_with_dump(vcpu, VM_EXIT_INTERNAL_ERROR, what);
        return false;
    }
}

/*
 * Auto-converge (migration): while throttled, the migration's throttle
 * thread kicks every vCPU once per VM_THROTTLE_SLICE_NS, and each kick
 * costs the vCPU throttle_percent of that slice asleep. A pause request
 * skips the sleep so vm_pause is not delayed.
 */
static void throttle(struct vm *vm)
{
    unsigned pct = atomic_load(&vm->throttle_percent);
    if (!pct || atomic_load(&vm->pause_requested) || atomic_load(&vm->stopping))
        return;
    if (pct > 99)
        pct = 99;
    uint64_t ns = VM_THROTTLE_SLICE_NS * pct / 100;
    struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
    nanosleep(&ts, NULL);
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *vcpu = arg;
    struct vm *vm = vcpu->vm;
    unsigned again = 0;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, VCPU_KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    /* Before the first KVM_RUN: nothing the guest controls has been read yet. */
    char err[256];
    if (sandbox_install(SANDBOX_VCPU, vm->cfg->seccomp, err, sizeof(err)) < 0) {
        vm_request_stop(vm, VM_EXIT_HOST_ERROR, "vCPU %u: %s", vcpu->index, err);
        return NULL;
    }

    while (!atomic_load(&vm->stopping)) {
        if (atomic_load(&vm->pause_requested)) {
            vm_vcpu_park(vm);
            continue;
        }
        atomic_store(&vcpu->in_run, true);
        int r = ioctl(vcpu->fd, KVM_RUN, 0);
        atomic_store(&vcpu->in_run, false);
        if (r < 0) {
            if (errno == EINTR) {
                vcpu->run->immediate_exit = 0;
                throttle(vm);
                continue;
            }
            if (errno == EAGAIN) {
                /*
                 * KVM-PVM returns EAGAIN while an AP waits for its SIPI instead
                 * of sleeping in the kernel; back off so waiting APs don't eat
                 * a host core.
                 */
                if (++again > 64) {
                    struct timespec ts = { 0, 200 * 1000 };
                    nanosleep(&ts, NULL);
                }
                continue;
            }
            vm_request_stop(vm, VM_EXIT_HOST_ERROR, "vCPU %u: KVM_RUN failed: %s", vcpu->index,
                            strerror(errno));
            break;
        }
        again = 0;
        if (!handle_exit(vcpu))
            break;
    }
    return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
    int err = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
    if (err)
        return -err;
    vcpu->thread_started = true;
    char name[16];
    snprintf(name, sizeof(name), "vcpu%u", vcpu->index);
    pthread_setname_np(vcpu->thread, name);
    return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
    if (!vcpu->run || !vcpu->thread_started)
        return;
    vcpu->run->immediate_exit = 1;
    pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
    if (vcpu->thread_started) {
        pthread_join(vcpu->thread, NULL);
        vcpu->thread_started = false;
    }
}
