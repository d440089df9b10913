// SPDX-License-Identifier: Apache-2.0
/*
 * VM lifetime: create (KVM checks, irqchip, memory, kernel, firmware tables,
 * devices, vCPUs), run (vCPU threads + event loop on the calling thread) and
 * destroy (in reverse). Errors are reported once, here, as one line in `err`.
 */
#include "core/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "arch/x86/platform.h"
#include "core/vcpu.h"
#include "migration/migration.h"
#include "snapshot/snapshot.h"
#include "virtio/balloon.h"
#include "security/seccomp.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"
#include "util/log.h"

#define KVM_TSS_GPA          0xfffbd000ULL
#define KVM_IDENTITY_MAP_GPA 0xfffbc000ULL

static const struct { enum vm_exit_reason reason; const char *name; int status; } exit_table[] = {
    { VM_EXIT_NONE, "none", 1 },
    { VM_EXIT_POWEROFF, "power-off", 0 },
    { VM_EXIT_REBOOT, "reboot", 0 },
    { VM_EXIT_SIGNAL, "signal", 0 },
    { VM_EXIT_API_STOP, "api-stop", 0 },
    { VM_EXIT_CONSOLE_QUIT, "console-quit", 0 },
    { VM_EXIT_TRIPLE_FAULT, "triple-fault", 3 },
    { VM_EXIT_INTERNAL_ERROR, "internal-error", 3 },
    { VM_EXIT_FAIL_ENTRY, "fail-entry", 3 },
    { VM_EXIT_GUEST_ERROR, "guest-error", 3 },
    { VM_EXIT_HOST_ERROR, "host-error", 1 },
    { VM_EXIT_MIGRATED, "migrated", 0 },
};

int vm_exit_status(enum vm_exit_reason reason)
{
    for (size_t i = 0; i < ARRAY_SIZE(exit_table); i++)
        if (exit_table[i].reason == reason)
            return exit_table[i].status;
    return 1;
}

const char *vm_exit_reason_name(enum vm_exit_reason reason)
{
    for (size_t i = 0; i < ARRAY_SIZE(exit_table); i++)
        if (exit_table[i].reason == reason)
            return exit_table[i].name;
    return "unknown";
}

const char *vm_kvm_help(int err)
{
    switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        return "load the KVM module (modprobe kvm_intel or kvm_amd) and enable "
               "virtualization (VT-x/AMD-V) in the firmware";
    case EACCES:
    case EPERM:
        return "add your user to the 'kvm' group (usermod -aG kvm $USER) and log in again, "
               "or run as root";
    default:
        return "check that KVM works on this host (dmesg | grep -i kvm)";
    }
}

static void irq_set_level(void *opaque, unsigned gsi, int level)
{
    struct vm *vm = opaque;
    struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };
    if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
        log_warn("irq", "KVM_IRQ_LINE gsi %u: %s", gsi, strerror(errno));
}

struct irq_line vm_irq_line(struct vm *vm, unsigned gsi)
{
    return (struct irq_line){ .set_level = irq_set_level, .opaque = vm, .gsi = gsi };
}

void vm_request_stop(struct vm *vm, enum vm_exit_reason reason, const char *fmt, ...)
{
    pthread_mutex_lock(&vm->stop_lock);
    bool first = !atomic_load(&vm->stopping);
    if (first) {
        vm->exit_reason = reason;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(vm->exit_detail, sizeof(vm->exit_detail), fmt, ap);
        va_end(ap);
        atomic_store(&vm->stopping, true);
    }
    pthread_mutex_unlock(&vm->stop_lock);
    if (!first)
        return;
    /* Parked vCPUs must see the stop too. */
    pthread_mutex_lock(&vm->pause_lock);
    pthread_cond_broadcast(&vm->pause_cond);
    pthread_mutex_unlock(&vm->pause_lock);
    evloop_stop(&vm->loop);
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        vcpu_kick(&vm->vcpus[i]);
}

static unsigned running_vcpus(const struct vm *vm)
{
    unsigned n = 0;
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        n += vm->vcpus[i].thread_started;
    return n;
}

void vm_vcpu_park(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    vm->vcpus_parked++;
    pthread_cond_broadcast(&vm->pause_cond);
    while (atomic_load(&vm->pause_requested) && !atomic_load(&vm->stopping))
        pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
    vm->vcpus_parked--;
    pthread_cond_broadcast(&vm->pause_cond);
    pthread_mutex_unlock(&vm->pause_lock);
}

int vm_pause(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    int ret = 0;
    if (atomic_load(&vm->stopping)) {
        ret = -ESHUTDOWN;
    } else if (vm->paused || atomic_load(&vm->pause_requested)) {
        ret = -EALREADY;
    } else {
        atomic_store(&vm->pause_requested, true);
        pthread_mutex_unlock(&vm->pause_lock);
        for (unsigned i = 0; i < vm->nr_vcpus; i++)
            vcpu_kick(&vm->vcpus[i]);
        pthread_mutex_lock(&vm->pause_lock);
        while (vm->vcpus_parked < running_vcpus(vm) && !atomic_load(&vm->stopping))
            pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
        if (atomic_load(&vm->stopping)) {
            ret = -ESHUTDOWN;
        } else {
            /* Freeze the guest's notion of time while nothing runs. */
            struct kvm_clock_data clock = { 0 };
            if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) == 0)
                vm->paused_clock_ns = clock.clock;
            vm->paused = true;
        }
    }
    pthread_mutex_unlock(&vm->pause_lock);
    return ret;
}

int vm_resume(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    int ret = 0;
    if (atomic_load(&vm->stopping)) {
        ret = -ESHUTDOWN;
    } else if (!vm->paused) {
        ret = -EALREADY;
    } else {
        if (vm->paused_clock_ns) {
            struct kvm_clock_data clock = { .clock = vm->paused_clock_ns };
            if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
                log_warn(NULL, "KVM_SET_CLOCK on resume: %s; the guest clock jumps", strerror(errno));
        }
        vm->paused = false;
        atomic_store(&vm->pause_requested, false);
        pthread_cond_broadcast(&vm->pause_cond);
    }
    pthread_mutex_unlock(&vm->pause_lock);
    return ret;
}

bool vm_is_paused(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    bool paused = vm->paused;
    pthread_mutex_unlock(&vm->pause_lock);
    return paused;
}

/* ---- creation steps, each undone by vm_destroy() ---- */

static int open_kvm(struct vm *vm, char *err, size_t errlen)
{
    const char *path = getenv("CASULO_KVM_DEVICE");
    if (!path || !*path)
        path = "/dev/kvm";
    vm->kvm_fd = open(path, O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s; %s", path, strerror(e), vm_kvm_help(e));
        return -e;
    }
    int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (version < 0) {
        int e = errno;
        snprintf(err, errlen, "%s is not a KVM device (KVM_GET_API_VERSION: %s); %s", path,
                 strerror(e), vm_kvm_help(ENODEV));
        return -ENODEV;
    }
    if (version != KVM_API_VERSION) {
        snprintf(err, errlen, "%s speaks KVM API version %d; casulo needs version %d", path,
                 version, KVM_API_VERSION);
        return -ENOTSUP;
    }
    static const struct { int cap; const char *name; } needed[] = {
        { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
        { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
        { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
        { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
        { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
        { KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
        { KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
        if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
            snprintf(err, errlen, "this host's KVM lacks %s, which casulo needs", needed[i].name);
            return -ENOTSUP;
        }
    }
    int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max <= 0)
        max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    vm->max_cpus = max > 0 ? (unsigned)max : 1;
    vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->vcpu_mmap_size <= 0) {
        snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
        return -ENOTSUP;
    }
    return 0;
}

static int create_vm_fd(struct vm *vm, char *err, size_t errlen)
{
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        int e = errno;
        snprintf(err, errlen, "KVM_CREATE_VM failed: %s", strerror(e));
        return -e;
    }
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_GPA) < 0) {
        snprintf(err, errlen, "KVM_SET_TSS_ADDR failed: %s", strerror(errno));
        return -errno;
    }
    uint64_t identity = KVM_IDENTITY_MAP_GPA;
    /* Only needed on Intel without unrestricted guest; harmless elsewhere. */
    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity);
    return 0;
}

/*
 * Called after the memory slots exist: with an irqchip in place, each slot
 * change waits for an SRCU grace period (milliseconds), without one it does not.
 */
static int create_irqchip(struct vm *vm, char *err, size_t errlen)
{
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        snprintf(err, errlen, "KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
        return -errno;
    }
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        snprintf(err, errlen, "KVM_CREATE_PIT2 failed: %s", strerror(errno));
        return -errno;
    }
    return 0;
}

static int setup_memory(struct vm *vm, char *err, size_t errlen)
{
    int ret;
    if (vm->restore) {
        ret = snapshot_restore_memory(vm->restore, &vm->mem, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA,
                                      err, errlen);
        if (ret)
            return ret;
    } else {
        ret = guest_mem_init(&vm->mem, vm->cfg->memory, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA);
    }
    if (ret) {
        snprintf(err, errlen, "cannot map %llu MiB of guest memory: %s",
                 (unsigned long long)(vm->cfg->memory >> 20), strerror(-ret));
        return ret;
    }
    for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
        struct guest_mem_region *r = &vm->mem.regions[i];
        struct kvm_userspace_memory_region slot = {
            .slot = i, .guest_phys_addr = r->gpa, .memory_size = r->size,
            .userspace_addr = (uint64_t)(uintptr_t)r->hva,
        };
        if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
            int e = errno;
            snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB) failed: %s", i,
                     (unsigned long long)(r->size >> 20), strerror(e));
            return -e;
        }
    }
    return 0;
}

static int load_guest(struct vm *vm, char *err, size_t errlen)
{
    struct x86_platform_info platform = {
        .nr_cpus = vm->cfg->cpus,
        .pci = true,
        .ram_end = guest_mem_end(&vm->mem),
    };
    uint64_t rsdp = 0;
    int ret = x86_acpi_install(&vm->mem, &platform, &rsdp);
    if (ret) {
        snprintf(err, errlen, "cannot build ACPI tables for %u vCPUs: %s", vm->cfg->cpus,
                 strerror(-ret));
        return ret;
    }
    ret = x86_mptable_install(&vm->mem, &platform);
    if (ret) {
        snprintf(err, errlen, "cannot build the MP table: %s", strerror(-ret));
        return ret;
    }
    ret = x86_write_boot_tables(&vm->mem);
    if (ret) {
        snprintf(err, errlen, "cannot write boot page tables: %s", strerror(-ret));
        return ret;
    }
    struct boot_request req = {
        .kernel_path = vm->cfg->kernel_path,
        .initrd_path = vm->cfg->initrd_path,
        .cmdline = vm->cfg->cmdline ? vm->cfg->cmdline : VM_DEFAULT_CMDLINE,
        .acpi_rsdp_gpa = rsdp,
    };
    return boot_load(&vm->mem, &req, &vm->boot, err, errlen);
}

static bool range_overlaps_ram(void *opaque, uint64_t gpa, uint64_t len)
{
    const struct guest_mem *gm = opaque;
    for (unsigned i = 0; i < gm->nr_regions; i++) {
        const struct guest_mem_region *r = &gm->regions[i];
        if (gpa < r->gpa + r->size && r->gpa < gpa + len)
            return true;
    }
    return false;
}

/* The PCI host bridge and MSI routing: every VM has them, devices or not. */
static int create_pci(struct vm *vm, char *err, size_t errlen)
{
    int ret = msi_kvm_init(&vm->msi, vm->vm_fd);
    if (ret) {
        snprintf(err, errlen, "cannot set up MSI routing: %s", strerror(-ret));
        return ret;
    }
    vm->msi_ready = true;
    uint64_t ram_end = guest_mem_end(&vm->mem);
    struct pci_host_config pc = {
        .pio = &vm->pio,
        .mmio = &vm->mmio,
        .ecam_base = X86_PCI_ECAM_GPA,
        .mmio32 = { X86_PCI_MMIO32_GPA, X86_PCI_MMIO32_END },
        .mmio64 = pci_host_mmio64_window(ram_end),
        .io = { PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_END },
        .intx = vm_irq_line(vm, 0),
        .overlaps_ram = range_overlaps_ram,
        .ram_opaque = &vm->mem,
    };
    ret = pci_host_init(&vm->pci, &pc);
    if (ret) {
        snprintf(err, errlen, "cannot create the PCI host bridge: %s", strerror(-ret));
        return ret;
    }
    vm->pci_ready = true;
    return 0;
}

/* Puts one virtio device on the PCI bus; on failure the device state is freed here. */
static int add_virtio(struct vm *vm, const struct virtio_device_ops *ops, void *state,
                      const char *name, char *err, size_t errlen)
{
    struct virtio_pci_env env = {
        .host = &vm->pci, .msi = &vm->msi, .vm_fd = vm->vm_fd, .mem = &vm->mem,
        .io_loop = &vm->io_loop, .name = name,
    };
    struct virtio_device *vdev;
    int ret = virtio_pci_create(&env, ops, state, &vdev);
    if (ret) {
        ops->destroy(state);
        snprintf(err, errlen, "cannot add %s (%s) to the PCI bus: %s", ops->name, name, strerror(-ret));
        return ret;
    }
    vm->virtio[vm->nr_virtio++] = vdev;
    return 0;
}

/* --disk, --net, --rng and --balloon, in that order (it decides their PCI slots). */
static int create_virtio_devices(struct vm *vm, char *err, size_t errlen)
{
    const struct vm_config *cfg = vm->cfg;
    char name[16];
    for (unsigned i = 0; i < cfg->nr_disks; i++) {
        struct vblk *vb;
        /* An incoming VM takes its disks' locks from the source at the handover. */
        struct disk_config dc = cfg->disks[i];
        dc.defer_lock = cfg->incoming != NULL;
        int ret = vblk_create(&vb, &dc, &vm->io_loop, err, errlen);
        if (ret)
            return ret;
        snprintf(name, sizeof(name), "blk%u", i);
        ret = add_virtio(vm, &vblk_ops, vb, name, err, errlen);
        if (ret)
            return ret;
    }
    for (unsigned i = 0; i < cfg->nr_nets; i++) {
        struct net_dev *nd;
        int ret = net_dev_create(&cfg->nets[i], &nd, err, errlen);
        if (ret)
            return ret;
        snprintf(name, sizeof(name), "net%u", i);
        ret = add_virtio(vm, &net_device_ops, nd, name, err, errlen);
        if (ret)
            return ret;
    }
    if (cfg->rng) {
        struct virtio_rng *rng;
        int ret = virtio_rng_new(NULL, NULL, &rng);
        if (ret) {
            snprintf(err, errlen, "cannot create virtio-rng: %s", strerror(-ret));
            return ret;
        }
        ret = add_virtio(vm, &virtio_rng_ops, rng, "rng0", err, errlen);
        if (ret)
            return ret;
    }
    if (cfg->balloon) {
        struct balloon *b;
        int ret = balloon_create(&b);
        if (ret) {
            snprintf(err, errlen, "cannot create virtio-balloon: %s", strerror(-ret));
            return ret;
        }
        ret = add_virtio(vm, &balloon_ops, b, "balloon0", err, errlen);
        if (ret)
            return ret;
        vm->balloon = b;
    }
    return 0;
}

static int create_devices(struct vm *vm, char *err, size_t errlen)
{
    for (unsigned i = 0; platform_devices[i]; i++) {
        if (vm->nr_devices == DEVICE_MAX) {
            snprintf(err, errlen, "too many devices");
            return -ENOSPC;
        }
        const struct device_ops *ops = platform_devices[i];
        void *state = NULL;
        int ret = ops->init(vm, &state);
        if (ret) {
            snprintf(err, errlen, "cannot create device %s: %s", ops->name, strerror(-ret));
            return ret;
        }
        vm->devices[vm->nr_devices++] = (struct device_instance){ ops, state };
    }
    return 0;
}

static int create_vcpus(struct vm *vm, char *err, size_t errlen)
{
    int ret = x86_cpuid_get_supported(vm->kvm_fd, &vm->supported_cpuid);
    if (ret) {
        snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(-ret));
        return ret;
    }
    vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
    if (!vm->vcpus) {
        snprintf(err, errlen, "out of memory for %u vCPUs", vm->cfg->cpus);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < vm->cfg->cpus; i++) {
        struct vcpu *vcpu = &vm->vcpus[i];
        ret = vcpu_create(vm, vcpu, i);
        if (ret) {
            snprintf(err, errlen, "cannot create vCPU %u: %s", i, strerror(-ret));
            return ret;
        }
        vm->nr_vcpus++;
        struct kvm_cpuid2 *cpuid = x86_cpuid_for_vcpu(vm->supported_cpuid, i, vm->cfg->cpus);
        if (!cpuid) {
            snprintf(err, errlen, "out of memory for vCPU %u CPUID", i);
            return -ENOMEM;
        }
        ret = x86_vcpu_init(vcpu->fd, cpuid);
        free(cpuid);
        /* A restored vCPU gets its registers from the snapshot instead. */
        if (!ret && i == 0 && !vm->restore && !vm->cfg->incoming)
            ret = x86_vcpu_boot_regs(vcpu->fd, &vm->boot);
        if (ret) {
            snprintf(err, errlen, "cannot set up vCPU %u: %s", i, strerror(-ret));
            return ret;
        }
    }
    return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
    memset(vm, 0, sizeof(*vm));
    vm->cfg = cfg;
    vm->kvm_fd = vm->vm_fd = -1;
    vm->console.in_fd = vm->console.out_fd = -1;
    pthread_mutex_init(&vm->stop_lock, NULL);
    pthread_mutex_init(&vm->pause_lock, NULL);
    pthread_cond_init(&vm->pause_cond, NULL);

    /* A snapshot is read and checked in full before /dev/kvm is opened. */
    int ret = 0;
    if (cfg->restore_dir) {
        ret = snapshot_restore_open(&vm->restore, cfg->restore_dir, cfg, err, errlen);
        if (ret)
            goto fail;
    }
    ret = bus_init(&vm->pio, "pio");
    if (!ret)
        ret = bus_init(&vm->mmio, "mmio");
    if (!ret)
        ret = evloop_init(&vm->loop);
    if (!ret)
        ret = evloop_init(&vm->io_loop);
    if (ret) {
        snprintf(err, errlen, "cannot initialise the VM: %s", strerror(-ret));
        goto fail;
    }
    ret = open_kvm(vm, err, errlen);
    if (!ret && cfg->cpus > vm->max_cpus) {
        snprintf(err, errlen, "--cpus %u is more than this host's KVM allows (%u)", cfg->cpus,
                 vm->max_cpus);
        ret = -EINVAL;
    }
    if (!ret)
        ret = create_vm_fd(vm, err, errlen);
    if (!ret)
        ret = setup_memory(vm, err, errlen);
    if (!ret)
        ret = create_irqchip(vm, err, errlen);
    /* A restored or incoming VM gets its RAM from the snapshot or the stream. */
    if (!ret && !vm->restore && !cfg->incoming)
        ret = load_guest(vm, err, errlen);
    if (!ret)
        ret = console_open(&vm->console, cfg, err, errlen);
    if (!ret)
        ret = create_pci(vm, err, errlen);
    if (!ret)
        ret = create_devices(vm, err, errlen);
    if (!ret)
        ret = create_virtio_devices(vm, err, errlen);
    if (!ret)
        ret = create_vcpus(vm, err, errlen);
    if (!ret && vm->restore)
        ret = snapshot_restore_state(vm->restore, vm, err, errlen);
    if (ret)
        goto fail;
    snapshot_restore_close(vm->restore);
    vm->restore = NULL;
    return 0;
fail:
    vm_destroy(vm);
    return ret ? ret : -EINVAL;
}

struct signal_watch {
    struct vm *vm;
    int fd;
};

static void on_stop_signal(void *opaque, uint32_t events)
{
    struct signal_watch *w = opaque;
    struct signalfd_siginfo si;
    (void)events;
    while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
        /* Recorded even when another stop (a reboot) already won: no restart then. */
        atomic_store(&w->vm->stop_signal_seen, true);
        vm_request_stop(w->vm, VM_EXIT_SIGNAL, "stopped by %s", strsignal((int)si.ssi_signo));
    }
}

static void *io_thread_main(void *arg)
{
    struct vm *vm = arg;
    char err[256];
    if (sandbox_install(SANDBOX_IO, vm->cfg->seccomp, err, sizeof(err)) < 0) {
        vm_request_stop(vm, VM_EXIT_HOST_ERROR, "I/O thread: %s", err);
        return NULL;
    }
    int ret = evloop_run(&vm->io_loop);
    if (ret)
        vm_request_stop(vm, VM_EXIT_HOST_ERROR, "I/O thread event loop failed: %s", strerror(-ret));
    return NULL;
}

static int start_io_thread(struct vm *vm)
{
    int err = pthread_create(&vm->io_thread, NULL, io_thread_main, vm);
    if (err)
        return -err;
    vm->io_thread_started = true;
    pthread_setname_np(vm->io_thread, "io");
    return 0;
}

static void stop_io_thread(struct vm *vm)
{
    if (!vm->io_thread_started)
        return;
    evloop_stop(&vm->io_loop);
    pthread_join(vm->io_thread, NULL);
    vm->io_thread_started = false;
}

int vm_run(struct vm *vm)
{
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    /*
     * Blocked here (the caller may have blocked them earlier, so a signal that
     * arrives while the VM is built is not lost) and inherited by the vCPU
     * threads: only the signalfd sees them. They stay blocked afterwards; a
     * later VM in this process picks up a pending one.
     */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    struct signal_watch watch = { .vm = vm, .fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK) };
    int ret = 0;
    if (watch.fd < 0 || evloop_add(&vm->loop, watch.fd, EPOLLIN, on_stop_signal, &watch) < 0) {
        vm_request_stop(vm, VM_EXIT_HOST_ERROR, "cannot watch for signals: %s", strerror(errno));
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &vm->started_at);
    ret = start_io_thread(vm);
    if (ret)
        vm_request_stop(vm, VM_EXIT_HOST_ERROR, "cannot start the I/O thread: %s", strerror(-ret));
    for (unsigned i = 0; i < vm->nr_vcpus && !atomic_load(&vm->stopping); i++) {
        ret = vcpu_start(&vm->vcpus[i]);
        if (ret)
            vm_request_stop(vm, VM_EXIT_HOST_ERROR, "cannot start vCPU %u thread: %s", i, strerror(-ret));
    }
    /*
     * Last, after every thread exists: they would inherit this filter. A
     * restarted VM's main thread keeps the filter it already has.
     */
    if (!atomic_load(&vm->stopping) && !vm->main_sandboxed) {
        char err[256];
        enum sandbox_class cls = vm->cfg->on_reboot == REBOOT_RESTART ? SANDBOX_MAIN_RESTART
                                                                       : SANDBOX_MAIN;
        if (sandbox_install(cls, vm->cfg->seccomp, err, sizeof(err)) < 0)
            vm_request_stop(vm, VM_EXIT_HOST_ERROR, "%s", err);
        else
            vm->main_sandboxed = true;
    }
    if (!atomic_load(&vm->stopping)) {
        ret = evloop_run(&vm->loop);
        if (ret)
            vm_request_stop(vm, VM_EXIT_HOST_ERROR, "event loop failed: %s", strerror(-ret));
    }
out:
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        vcpu_kick(&vm->vcpus[i]);
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        vcpu_join(&vm->vcpus[i]);
    /* After the vCPUs: no guest access can reach a device once its I/O stops. */
    stop_io_thread(vm);
    if (watch.fd >= 0) {
        evloop_remove(&vm->loop, watch.fd);
        close(watch.fd);
    }
    return 0;
}

/*
 * Closing the last fd of a VM makes the kernel tear it down, and that waits
 * for RCU grace periods (10-25 ms here with an irqchip and PIT) that nobody
 * needs to wait for. With `background`, a forked child inherits the KVM fds
 * and closes them once this process has exited (it sees EOF on a pipe), so
 * casulo's own exit is not delayed; guest RAM is MADV_DONTFORK, so the fork
 * copies almost nothing. QEMU's async-teardown does the same for the same reason.
 */
static void close_kvm_fds(struct vm *vm, bool background)
{
    int fds[3 + VM_CONFIG_MAX_CPUS_HARD];
    unsigned n = 0;
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        if (vm->vcpus[i].fd >= 0)
            fds[n++] = vm->vcpus[i].fd;
    if (vm->vm_fd >= 0)
        fds[n++] = vm->vm_fd;
    if (vm->kvm_fd >= 0)
        fds[n++] = vm->kvm_fd;

    int lifeline[2] = { -1, -1 };
    if (background && n && pipe2(lifeline, O_CLOEXEC) == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            for (int fd = 0; fd <= 2; fd++)
                dup2(null, fd);
            close(lifeline[1]);
            char c;
            while (read(lifeline[0], &c, 1) < 0 && errno == EINTR)
                ;
            _exit(0);   /* the kernel closes the KVM fds here */
        }
        close(lifeline[0]);
        if (pid < 0)
            close(lifeline[1]);
        /* lifeline[1] stays open until this process exits. */
    }
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        vm->vcpus[i].fd = -1;
    vm->vm_fd = vm->kvm_fd = -1;
}

static void destroy(struct vm *vm, bool background_teardown)
{
    /* First: the migration thread uses the devices and memory torn down below. */
    mig_source_destroy(vm);
    snapshot_restore_close(vm->restore);
    vm->restore = NULL;
    for (unsigned i = vm->nr_devices; i-- > 0;)
        if (vm->devices[i].ops->exit)
            vm->devices[i].ops->exit(vm, vm->devices[i].state);
    vm->nr_devices = 0;
    /* The I/O thread has stopped (vm_run joins it), so queues are quiet. */
    for (unsigned i = vm->nr_virtio; i-- > 0;)
        virtio_pci_destroy(vm->virtio[i]);
    vm->nr_virtio = 0;
    vm->balloon = NULL;
    if (vm->pci_ready)
        pci_host_destroy(&vm->pci);
    vm->pci_ready = false;
    if (vm->msi_ready)
        msi_kvm_destroy(&vm->msi);
    vm->msi_ready = false;
    console_close(&vm->console);
    for (unsigned i = vm->nr_vcpus; i-- > 0;)
        vcpu_unmap(&vm->vcpus[i]);
    close_kvm_fds(vm, background_teardown);
    free(vm->vcpus);
    vm->vcpus = NULL;
    vm->nr_vcpus = 0;
    free(vm->supported_cpuid);
    vm->supported_cpuid = NULL;
    guest_mem_destroy(&vm->mem);
    if (vm->loop.epfd > 0)
        evloop_destroy(&vm->loop);
    if (vm->io_loop.epfd > 0)
        evloop_destroy(&vm->io_loop);
    bus_destroy(&vm->mmio);
    bus_destroy(&vm->pio);
    pthread_mutex_destroy(&vm->stop_lock);
    pthread_mutex_destroy(&vm->pause_lock);
    pthread_cond_destroy(&vm->pause_cond);
}

void vm_destroy(struct vm *vm)
{
    destroy(vm, false);
}

void vm_destroy_in_background(struct vm *vm)
{
    destroy(vm, true);
}
