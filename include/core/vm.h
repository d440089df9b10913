/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtual machine: the KVM fds, guest memory, the two buses, the vCPUs, the
 * platform devices and the event loop. All VM state hangs off struct vm (no
 * file-level mutable state), so several VMs can live in one process.
 */
#ifndef CASULO_CORE_VM_H
#define CASULO_CORE_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "boot/boot.h"
#include "core/bus.h"
#include "core/console.h"
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "core/irq.h"
#include "core/vm_config.h"
#include "devices/device.h"
#include "pci/msi_kvm.h"
#include "pci/pci_host.h"
#include "util/compiler.h"

struct vcpu;
struct virtio_device;
struct balloon;
struct kvm_cpuid2;
struct snapshot_restore;
struct mig_source;

/* Why a VM stopped; decides casulo's exit status. */
enum vm_exit_reason {
    VM_EXIT_NONE = 0,
    VM_EXIT_POWEROFF,        /* guest powered off (ACPI S5)          -> 0 */
    VM_EXIT_REBOOT,          /* guest asked for a reset              -> 0 or restart */
    VM_EXIT_SIGNAL,          /* SIGINT/SIGTERM                        -> 0 */
    VM_EXIT_API_STOP,        /* PUT /vm/stop, power-off timeout       -> 0 */
    VM_EXIT_CONSOLE_QUIT,    /* Ctrl-A x on the console               -> 0 */
    VM_EXIT_TRIPLE_FAULT,    /* KVM_EXIT_SHUTDOWN                     -> 3 */
    VM_EXIT_INTERNAL_ERROR,  /* KVM internal / emulation error        -> 3 */
    VM_EXIT_FAIL_ENTRY,      /* KVM could not enter the guest         -> 3 */
    VM_EXIT_GUEST_ERROR,     /* guest broke the platform's rules      -> 3 */
    VM_EXIT_HOST_ERROR,      /* an ioctl or host resource failed      -> 1 */
    VM_EXIT_MIGRATED,        /* the destination of a migration runs it -> 0 */
};

/* casulo's process exit status for a stop reason. */
int vm_exit_status(enum vm_exit_reason reason);
const char *vm_exit_reason_name(enum vm_exit_reason reason);

struct vm {
    const struct vm_config *cfg;
    int kvm_fd;
    int vm_fd;
    int vcpu_mmap_size;
    unsigned max_cpus;              /* KVM_CAP_MAX_VCPUS */
    struct kvm_cpuid2 *supported_cpuid;

    struct guest_mem mem;
    struct bus pio;
    struct bus mmio;
    struct evloop loop;             /* main thread: console, signals, stop */
    struct evloop io_loop;          /* the I/O thread: device queues and back-ends */
    pthread_t io_thread;
    bool io_thread_started;
    struct pci_host pci;
    bool pci_ready;
    struct msi_kvm msi;
    bool msi_ready;
    struct virtio_device *virtio[VM_CONFIG_MAX_DISKS + VM_CONFIG_MAX_NETS + 2];
    struct balloon *balloon;         /* owned by its transport; NULL without --balloon */
    unsigned nr_virtio;
    struct console console;
    struct boot_info boot;
    struct snapshot_restore *restore;   /* only during vm_create with --restore */

    struct vcpu *vcpus;
    unsigned nr_vcpus;

    struct device_instance devices[DEVICE_MAX];
    unsigned nr_devices;

    /* Pause: vCPU threads park at the top of their run loop. */
    pthread_mutex_t pause_lock;
    pthread_cond_t pause_cond;
    atomic_bool pause_requested;
    unsigned vcpus_parked;
    bool paused;
    uint64_t paused_clock_ns;        /* kvmclock at pause, restored at resume */
    struct timespec started_at;      /* CLOCK_MONOTONIC when vm_run began */
    /* The calling thread already has its main seccomp filter (a restarted VM): set by the caller. */
    bool main_sandboxed;

    /* The first stop request wins; later ones are ignored. */
    pthread_mutex_t stop_lock;
    atomic_bool stopping;
    enum vm_exit_reason exit_reason;
    char exit_detail[256];
    char crash_dump[1024];          /* registers of the vCPU that crashed the VM */
    atomic_bool stop_signal_seen;   /* SIGINT/SIGTERM/SIGHUP arrived, even after another stop */

    /* Live migration (src/migration/): the outgoing one, and its vCPU throttle. */
    struct mig_source *migration;   /* created by the first PUT /migrate (API thread) */
    atomic_uint throttle_percent;   /* share of each throttle slice a kicked vCPU sleeps */
};

/* Length of the auto-converge time slice: vCPUs are kicked this often while throttled. */
#define VM_THROTTLE_SLICE_NS 10000000ull

/*
 * Creates the VM from a validated config: opens /dev/kvm and checks the API,
 * creates the irqchip and PIT, maps memory, loads the kernel, builds the
 * firmware tables, creates devices and vCPUs. On failure writes one line to
 * err and unwinds everything. Nothing runs yet.
 */
int vm_create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen) MUST_CHECK;

/* Starts the vCPU threads and runs the event loop until the VM stops. */
int vm_run(struct vm *vm);

void vm_destroy(struct vm *vm);
/*
 * Like vm_destroy(), but the kernel's teardown of the VM (which waits for RCU
 * grace periods) runs in a short-lived child after this process exits. For
 * the last VM of a process that is about to exit.
 */
void vm_destroy_in_background(struct vm *vm);

/* Any thread: records why the VM stops (first caller wins) and wakes everyone. */
void vm_request_stop(struct vm *vm, enum vm_exit_reason reason, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/*
 * Pause and resume the vCPUs (any thread but a vCPU's). vm_pause returns once
 * every vCPU has left KVM_RUN; the guest's clock (kvmclock) does not advance
 * while paused. -EALREADY when already in that state, -ESHUTDOWN when the VM
 * is stopping.
 */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);
/* Called by a vCPU thread that saw pause_requested: parks until resumed or stopped. */
void vm_vcpu_park(struct vm *vm);

/* An interrupt line on the in-kernel irqchip for `gsi`. */
struct irq_line vm_irq_line(struct vm *vm, unsigned gsi);

/* One line saying what to do when /dev/kvm cannot be used. */
const char *vm_kvm_help(int err);

#endif
