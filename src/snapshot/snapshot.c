// SPDX-License-Identifier: Apache-2.0
/*
 * Whole-VM snapshot and restore: which records a VM is made of, in which
 * order they are written and applied, and the checks that make restore
 * refuse a bad snapshot before anything is started. The container is in
 * format.c, KVM state in kvm_state.c, RAM in memory.c; device state comes
 * from each device's save/load ops.
 */
#include "snapshot/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/vcpu.h"
#include "core/vm.h"
#include "arch/x86/acpi_vmgenid.h"
#include "devices/acpi_pm.h"
#include "devices/device.h"
#include "devices/platform_devices.h"
#include "snapshot/config.h"
#include "pci/pci_host.h"
#include "snapshot/kvm_state.h"
#include "snapshot/memory.h"
#include "util/log.h"
#include "virtio/virtio_pci.h"

struct snapshot_restore {
    char dir[256];
    bool migration;           /* from a migration stream: RAM came separately, same VM generation */
    struct snap_image img;
    struct snap_memory_ref mem;
    int mem_fd;
};

static struct snap_summary vm_summary(const struct vm *vm)
{
    return (struct snap_summary){
        .nr_vcpus = vm->nr_vcpus,
        .memory_size = vm->mem.ram_size,
        .nr_disks = vm->cfg->nr_disks,
        .nr_nets = vm->cfg->nr_nets,
        .rng = vm->cfg->rng,
    };
}

static int open_dir(const char *dir, bool create, char *err, size_t errlen)
{
    if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create snapshot directory '%s': %s", dir, strerror(errno));
        return -errno;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open snapshot directory '%s': %s", dir, strerror(e));
        return -e;
    }
    return fd;
}

/*
 * The device records: every platform device with a save op, then each
 * virtio-pci function's PCI and transport records (quiesced by now).
 */
static int save_devices(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
    for (unsigned i = 0; i < vm->nr_devices; i++) {
        const struct device_ops *ops = vm->devices[i].ops;
        if (!ops->save)
            continue;
        int ret = ops->save(vm->devices[i].state, w);
        if (ret) {
            snprintf(err, errlen, "cannot save device %s: %s", ops->name, strerror(-ret));
            return ret;
        }
    }
    for (unsigned i = 0; i < vm->nr_virtio; i++) {
        int ret = virtio_pci_save(vm->virtio[i], w);
        if (ret) {
            snprintf(err, errlen, "cannot save %s: %s", virtio_pci_name(vm->virtio[i]),
                     strerror(-ret));
            return ret;
        }
    }
    return 0;
}

/*
 * Virtio devices finish their in-flight requests, flush their disks and
 * hold their queues still, so the RAM written next and the queue indices
 * saved after it agree. Returns how many were quiesced in *n.
 */
static int quiesce_virtio(struct vm *vm, unsigned *n, char *err, size_t errlen)
{
    for (*n = 0; *n < vm->nr_virtio; (*n)++) {
        int ret = virtio_pci_quiesce(vm->virtio[*n]);
        if (ret) {
            snprintf(err, errlen, "%s does not become idle for the snapshot: %s",
                     virtio_pci_name(vm->virtio[*n]), strerror(-ret));
            /* The I/O thread may still answer: resume it too. */
            virtio_pci_resume(vm->virtio[*n]);
            return ret;
        }
    }
    return 0;
}

static void resume_virtio(struct vm *vm, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        virtio_pci_resume(vm->virtio[i]);
}

int snapshot_write_state(struct vm *vm, struct snap_writer *wp, const struct snap_memory_ref *mem,
                         char *err, size_t errlen)
{
    struct snap_writer w = *wp;
    struct snap_summary s = vm_summary(vm);
    struct snap_kvm k = { .kvm_fd = vm->kvm_fd, .vm_fd = vm->vm_fd };
    int ret = snap_write_header(&w, &s);
    if (!ret && mem)
        ret = snap_write_record(&w, SNAP_MEMORY_RECORD, SNAP_MEMORY_RECORD_VERSION, mem, sizeof(*mem));
    if (ret) {
        snprintf(err, errlen, "cannot write the snapshot state file: %s", strerror(-ret));
        return ret;
    }
    /*
     * kvmclock now, not as it was frozen at pause: the vCPUs' TSCs are read
     * just after this, and the two must agree (the guest's clocksource
     * watchdog compares them; a gap of the pause's length is reported as an
     * unstable TSC after restore).
     */
    struct kvm_clock_data clock = { 0 };
    if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0) {
        snprintf(err, errlen, "KVM_GET_CLOCK failed: %s", strerror(errno));
        return -errno;
    }
    uint64_t clock_ns = clock.clock;
    ret = snap_vm_save(&k, clock_ns, &w, err, errlen);
    if (!ret && (ret = snap_config_save(&w, vm->cfg)) != 0)
        snprintf(err, errlen, "cannot write the snapshot state file: %s", strerror(-ret));
    for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
        ret = snap_vcpu_save(&k, vm->vcpus[i].fd, i, &w, err, errlen);
    if (!ret)
        ret = save_devices(vm, &w, err, errlen);
    if (ret)
        return ret;
    ret = snap_write_end(&w);
    if (ret)
        snprintf(err, errlen, "cannot write the snapshot state file: %s", strerror(-ret));
    *wp = w;
    return ret;
}

static int write_state(struct vm *vm, int fd, const struct snap_memory_ref *mem, char *err,
                       size_t errlen)
{
    struct snap_writer w;
    snap_writer_init(&w, snap_fd_sink, &fd);
    return snapshot_write_state(vm, &w, mem, err, errlen);
}

/*
 * Dispatches a port I/O or MMIO exit the way the vCPU loop does. Only
 * reached when finishing one element of a string instruction (rep ins/outs)
 * exits for the next one.
 */
static bool dispatch_exit(struct vm *vm, struct kvm_run *run)
{
    if (run->exit_reason == KVM_EXIT_IO) {
        unsigned size = run->io.size;
        uint64_t total = (uint64_t)size * run->io.count;
        if ((size != 1 && size != 2 && size != 4) ||
            run->io.data_offset >= (uint64_t)vm->vcpu_mmap_size ||
            total > (uint64_t)vm->vcpu_mmap_size - run->io.data_offset)
            return false;
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        for (uint32_t i = 0; i < run->io.count; i++, data += size) {
            if (run->io.direction == KVM_EXIT_IO_OUT)
                bus_write(&vm->pio, run->io.port, data, size);
            else
                bus_read(&vm->pio, run->io.port, data, size);
        }
        return true;
    }
    if (run->exit_reason == KVM_EXIT_MMIO) {
        unsigned len = run->mmio.len;
        if (len == 0 || len > sizeof(run->mmio.data))
            return false;
        if (run->mmio.is_write)
            bus_write(&vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
        else
            bus_read(&vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
        return true;
    }
    return false;
}

/* Bounded: a rep instruction over a whole page of ports is 4096 elements. */
#define COMPLETE_IO_MAX_EXITS 65536

/*
 * A vCPU parked right after a PIO/MMIO exit has the result in kvm_run but
 * has not finished the instruction; finish it so RIP and RAX are consistent.
 */
static int complete_io(struct vm *vm, struct vcpu *v, char *err, size_t errlen)
{
    for (unsigned n = 0; n < COMPLETE_IO_MAX_EXITS; n++) {
        int ret = snap_vcpu_complete_io(v->fd, v->run);
        if (ret <= 0) {
            if (ret)
                snprintf(err, errlen, "vCPU %u: cannot complete its pending I/O: %s", v->index,
                         strerror(-ret));
            return ret;
        }
        if (!dispatch_exit(vm, v->run)) {
            snprintf(err, errlen, "vCPU %u: unexpected exit %u while completing its I/O", v->index,
                     v->run->exit_reason);
            return -EPROTO;
        }
    }
    snprintf(err, errlen, "vCPU %u: its pending I/O does not complete", v->index);
    return -EBUSY;
}

int snapshot_quiesce(struct vm *vm, unsigned *quiesced, char *err, size_t errlen)
{
    *quiesced = 0;
    int ret = 0;
    for (unsigned i = 0; i < vm->nr_vcpus && !ret; i++)
        ret = complete_io(vm, &vm->vcpus[i], err, errlen);
    if (!ret)
        ret = quiesce_virtio(vm, quiesced, err, errlen);
    if (ret) {
        resume_virtio(vm, *quiesced);
        *quiesced = 0;
    }
    return ret;
}

void snapshot_unquiesce(struct vm *vm, unsigned quiesced)
{
    resume_virtio(vm, quiesced);
}

int snapshot_save(struct vm *vm, const char *dir, char *err, size_t errlen)
{
    if (!vm_is_paused(vm)) {
        snprintf(err, errlen, "the VM must be paused to take a snapshot");
        return -EBUSY;
    }
    int dfd = open_dir(dir, true, err, errlen);
    if (dfd < 0)
        return dfd;
    int ret = 0;
    for (unsigned i = 0; i < vm->nr_vcpus && !ret; i++)
        ret = complete_io(vm, &vm->vcpus[i], err, errlen);
    /* After complete_io: a status write it finished is carried out before the device stops. */
    unsigned quiesced = 0;
    if (!ret)
        ret = quiesce_virtio(vm, &quiesced, err, errlen);
    if (ret) {
        resume_virtio(vm, quiesced);
        close(dfd);
        return ret;
    }

    struct snap_memory_ref mem = {
        .memory_size = vm->mem.mapping_size, .data_offset = SNAP_MEMORY_DATA_OFFSET,
    };
    if (getrandom(mem.id, sizeof(mem.id), 0) != (ssize_t)sizeof(mem.id)) {
        snprintf(err, errlen, "cannot get random bytes for the snapshot id: %s", strerror(errno));
        ret = -EIO;
        goto fail_rand;
    }
    struct snap_atomic_file mf, sf;
    ret = snap_atomic_open(&mf, dfd, SNAPSHOT_MEMORY_FILE);
    if (ret) {
        snprintf(err, errlen, "cannot create the memory file in '%s': %s", dir, strerror(-ret));
        goto fail_rand;
    }
    ret = snap_atomic_open(&sf, dfd, SNAPSHOT_STATE_FILE);
    if (ret) {
        snprintf(err, errlen, "cannot create the state file in '%s': %s", dir, strerror(-ret));
        goto fail_mem;
    }
    uint64_t data_bytes = 0;
    ret = snap_memory_write(&vm->mem, mf.fd, mem.id, &data_bytes, err, errlen);
    if (!ret)
        ret = write_state(vm, sf.fd, &mem, err, errlen);
    /* Memory first: the state file is what makes the snapshot exist. */
    if (!ret && (ret = snap_atomic_commit(&mf)) != 0)
        snprintf(err, errlen, "cannot commit the memory file: %s", strerror(-ret));
    if (!ret && (ret = snap_atomic_commit(&sf)) != 0)
        snprintf(err, errlen, "cannot commit the state file: %s", strerror(-ret));
    if (!ret)
        log_info("snapshot", "saved %u vCPUs and %llu MiB of RAM (%llu MiB with data) to %s",
                 vm->nr_vcpus, (unsigned long long)(vm->mem.mapping_size >> 20),
                 (unsigned long long)(data_bytes >> 20), dir);
    snap_atomic_abort(&sf);
fail_mem:
    snap_atomic_abort(&mf);
fail_rand:
    resume_virtio(vm, quiesced);
    close(dfd);
    return ret;
}

/* ---- restore ---- */

static bool device_known(const char *record)
{
    size_t plen = strlen(SNAP_DEVICE_PREFIX);
    if (strncmp(record, SNAP_DEVICE_PREFIX, plen) != 0)
        return false;
    for (unsigned i = 0; platform_devices[i]; i++)
        if (platform_devices[i]->save && strcmp(platform_devices[i]->name, record + plen) == 0)
            return true;
    return false;
}

static bool cpu_record(const char *name, unsigned nr_vcpus)
{
    unsigned idx;
    int used = 0;
    if (sscanf(name, "cpu.%u%n", &idx, &used) != 1 || name[used] != '\0')
        return false;
    char canon[SNAP_NAME_LEN];
    snap_cpu_record_name(idx, canon);
    return idx < nr_vcpus && strcmp(canon, name) == 0;
}

/* "pci.<slot>" or "virtio.<slot>" (a virtio-pci function); *is_pci says which. */
static bool slot_record(const char *name, bool *is_pci)
{
    unsigned slot;
    int used = 0;
    char canon[SNAP_NAME_LEN];
    if (sscanf(name, "pci.%u%n", &slot, &used) == 1 && name[used] == '\0') {
        *is_pci = true;
        snprintf(canon, sizeof(canon), "pci.%u", slot);
    } else if (sscanf(name, "virtio.%u%n", &slot, &used) == 1 && name[used] == '\0') {
        *is_pci = false;
        snprintf(canon, sizeof(canon), "virtio.%u", slot);
    } else {
        return false;
    }
    return slot > 0 && slot < PCI_SLOTS && strcmp(canon, name) == 0;
}

static int check_records(struct snapshot_restore *r, char *err, size_t errlen)
{
    const struct snap_summary *s = &r->img.summary;
    if (s->nr_vcpus == 0 || s->nr_vcpus > VM_CONFIG_MAX_CPUS_HARD) {
        snprintf(err, errlen, "snapshot header has an impossible vCPU count (%u)", s->nr_vcpus);
        return -EBADMSG;
    }
    for (unsigned i = 0; i < r->img.nr_records; i++) {
        const char *name = r->img.records[i].name;
        if (strcmp(name, SNAP_MEMORY_RECORD) == 0 || strcmp(name, "vm.irqchip") == 0 ||
            strcmp(name, "vm.pit") == 0 || strcmp(name, "vm.clock") == 0 ||
            strcmp(name, SNAP_CONFIG_RECORD) == 0 ||
            cpu_record(name, s->nr_vcpus) || device_known(name))
            continue;
        bool is_pci;
        if (slot_record(name, &is_pci)) {
            char other[SNAP_NAME_LEN];
            snprintf(other, sizeof(other), "%s%s", is_pci ? "virtio" : "pci", strchr(name, '.'));
            if (!snap_image_find(&r->img, other)) {
                snprintf(err, errlen, "snapshot has '%s' but no '%s'", name, other);
                return -EBADMSG;
            }
            continue;
        }
        snprintf(err, errlen, "snapshot has a record '%s' this casulo does not know", name);
        return -EBADMSG;
    }
    for (unsigned i = 0; i < s->nr_vcpus; i++) {
        char name[SNAP_NAME_LEN];
        snap_cpu_record_name(i, name);
        const struct snap_record *rec = snap_image_find(&r->img, name);
        if (!rec) {
            snprintf(err, errlen, "snapshot header says %u vCPUs but has no state for vCPU %u",
                     s->nr_vcpus, i);
            return -EBADMSG;
        }
        int ret = snap_vcpu_check(NULL, rec, i, err, errlen);
        if (ret)
            return ret;
    }
    int ret = snap_vm_check(&r->img, err, errlen);
    if (ret)
        return ret;
    for (unsigned i = 0; platform_devices[i]; i++) {
        const struct device_ops *ops = platform_devices[i];
        if (!ops->save)
            continue;
        char name[SNAP_NAME_LEN];
        snprintf(name, sizeof(name), SNAP_DEVICE_PREFIX "%s", ops->name);
        if (!snap_image_find(&r->img, name)) {
            snprintf(err, errlen, "snapshot has no state for device %s", ops->name);
            return -EBADMSG;
        }
    }
    /* Optional: snapshots from before it existed restore with every device given. */
    const struct snap_record *c = snap_image_find(&r->img, SNAP_CONFIG_RECORD);
    if (c) {
        struct disk_config *disks;
        struct net_config *nets;
        ret = snap_config_load(c, s, &disks, &nets, err, errlen);
        if (ret)
            return ret;
        free(disks);
        free(nets);
    }
    const struct snap_record *m = snap_image_find(&r->img, SNAP_MEMORY_RECORD);
    if (r->migration) {
        /* RAM travels in the migration stream itself. */
        if (m) {
            snprintf(err, errlen, "migration state must not name a memory file");
            return -EBADMSG;
        }
        return 0;
    }
    if (!m) {
        snprintf(err, errlen, "snapshot has no '%s' record", SNAP_MEMORY_RECORD);
        return -EBADMSG;
    }
    ret = snap_record_copy(m, SNAP_MEMORY_RECORD_VERSION, &r->mem, sizeof(r->mem));
    if (ret || r->mem.memory_size != s->memory_size || r->mem.data_offset != SNAP_MEMORY_DATA_OFFSET) {
        snprintf(err, errlen, "snapshot record '%s' is malformed", SNAP_MEMORY_RECORD);
        return -EBADMSG;
    }
    return 0;
}

static int check_config(const struct snap_summary *s, const struct vm_config *cfg, char *err,
                        size_t errlen)
{
    if (cfg->cpus != s->nr_vcpus) {
        snprintf(err, errlen, "snapshot has %u vCPUs but the VM is configured with %u", s->nr_vcpus,
                 cfg->cpus);
        return -EINVAL;
    }
    if (cfg->memory != s->memory_size) {
        snprintf(err, errlen, "snapshot has %llu MiB of memory but the VM is configured with %llu MiB",
                 (unsigned long long)(s->memory_size >> 20), (unsigned long long)(cfg->memory >> 20));
        return -EINVAL;
    }
    if (cfg->nr_disks != s->nr_disks || cfg->nr_nets != s->nr_nets || cfg->rng != !!s->rng) {
        snprintf(err, errlen, "snapshot has %u disks, %u nets and %s rng; the VM is configured "
                 "with %u, %u and %s", s->nr_disks, s->nr_nets, s->rng ? "an" : "no",
                 cfg->nr_disks, cfg->nr_nets, cfg->rng ? "an" : "no");
        return -EINVAL;
    }
    return 0;
}

int snapshot_restore_open(struct snapshot_restore **out, const char *dir,
                          const struct vm_config *cfg, char *err, size_t errlen)
{
    *out = NULL;
    char why[200];
    struct snapshot_restore *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r->mem_fd = -1;
    snprintf(r->dir, sizeof(r->dir), "%s", dir);
    int ret = open_dir(dir, false, err, errlen);
    if (ret < 0)
        goto fail;
    int dfd = ret;
    int sfd = openat(dfd, SNAPSHOT_STATE_FILE, O_RDONLY | O_CLOEXEC);
    if (sfd < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot restore '%s': cannot open its state file: %s", dir, strerror(errno));
        close(dfd);
        goto fail;
    }
    ret = snap_image_read(&r->img, snap_fd_source, &sfd, why, sizeof(why));
    close(sfd);
    if (!ret)
        ret = check_records(r, why, sizeof(why));
    if (!ret && cfg)
        ret = check_config(&r->img.summary, cfg, why, sizeof(why));
    if (ret) {
        snprintf(err, errlen, "cannot restore '%s': %s", dir, why);
        close(dfd);
        goto fail;
    }
    r->mem_fd = openat(dfd, SNAPSHOT_MEMORY_FILE, O_RDONLY | O_CLOEXEC);
    if (r->mem_fd < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot restore '%s': memory file '%s' %s", dir, SNAPSHOT_MEMORY_FILE,
                 errno == ENOENT ? "is missing" : strerror(errno));
        close(dfd);
        goto fail;
    }
    close(dfd);
    ret = snap_memory_check(r->mem_fd, &r->mem, why, sizeof(why));
    if (ret) {
        snprintf(err, errlen, "cannot restore '%s': %s", dir, why);
        goto fail;
    }
    *out = r;
    return 0;
fail:
    snapshot_restore_close(r);
    return ret;
}

int snapshot_restore_from_image(struct snapshot_restore **out, struct snap_image *img,
                                const char *what, const struct vm_config *cfg, char *err,
                                size_t errlen)
{
    *out = NULL;
    struct snapshot_restore *r = calloc(1, sizeof(*r));
    if (!r) {
        snap_image_free(img);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r->mem_fd = -1;
    r->migration = true;
    snprintf(r->dir, sizeof(r->dir), "%s", what);
    r->img = *img;
    *img = (struct snap_image){ 0 };
    char why[200];
    int ret = check_records(r, why, sizeof(why));
    if (!ret && cfg)
        ret = check_config(&r->img.summary, cfg, why, sizeof(why));
    if (ret) {
        snprintf(err, errlen, "%s: %s", what, why);
        snapshot_restore_close(r);
        return ret;
    }
    *out = r;
    return 0;
}

const struct snap_summary *snapshot_restore_summary(const struct snapshot_restore *r)
{
    return &r->img.summary;
}

const struct snap_image *snapshot_restore_image(const struct snapshot_restore *r)
{
    return &r->img;
}

int snapshot_restore_memory(struct snapshot_restore *r, struct guest_mem *gm, uint64_t hole_start,
                            uint64_t high_start, char *err, size_t errlen)
{
    int ret = guest_mem_init_from_file(gm, r->mem_fd, r->mem.data_offset, r->mem.memory_size,
                                       hole_start, high_start);
    if (ret)
        snprintf(err, errlen, "cannot restore '%s': cannot map its memory file: %s", r->dir, strerror(-ret));
    return ret;
}

/*
 * Every restore may be one of many clones: give the guest a fresh VM
 * generation ID and raise its GPE, whose handler notifies the VMGenID
 * device (arch/x86/acpi_vmgenid.h), so the guest reseeds its RNG. A
 * snapshot whose ID is all zero predates the device: its ACPI page is left
 * alone. Runs after the vCPUs are loaded, since KVM_SET_IRQCHIP and
 * KVM_SET_LAPIC would drop an SCI raised before them.
 */
static int new_generation(struct vm *vm, char *why, size_t whylen)
{
    static const uint8_t zero[ACPI_VMGENID_LEN];
    const uint8_t *cur = guest_mem_ptr(&vm->mem, ACPI_VMGENID_GPA, ACPI_VMGENID_LEN);
    if (!cur || memcmp(cur, zero, sizeof(zero)) == 0)
        return 0;
    int ret = acpi_vmgenid_renew(&vm->mem, NULL);
    if (ret) {
        snprintf(why, whylen, "cannot write a new VM generation ID: %s", strerror(-ret));
        return ret;
    }
    for (unsigned i = 0; i < vm->nr_devices; i++) {
        if (vm->devices[i].ops != &acpi_pm_device)
            continue;
        /* Status set as the hardware would; SCI only if the guest enabled the GPE. */
        struct acpi_pm_snap regs;
        acpi_pm_save(vm->devices[i].state, &regs);
        regs.gpe0_sts |= 1u << ACPI_VMGENID_GPE;
        ret = acpi_pm_load(vm->devices[i].state, &regs);
        if (ret)
            snprintf(why, whylen, "cannot raise the VM generation GPE: %s", strerror(-ret));
        return ret;
    }
    return 0;
}

int snapshot_restore_state(struct snapshot_restore *r, struct vm *vm, char *err, size_t errlen)
{
    char why[200];
    struct snap_kvm k = { .kvm_fd = vm->kvm_fd, .vm_fd = vm->vm_fd };
    int ret = 0;
    if (vm->nr_vcpus != r->img.summary.nr_vcpus) {
        snprintf(why, sizeof(why), "snapshot has %u vCPUs, the VM %u", r->img.summary.nr_vcpus,
                 vm->nr_vcpus);
        ret = -EINVAL;
    }
    /* What only this host's KVM can answer (the XSAVE size), before anything is set. */
    for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++) {
        char name[SNAP_NAME_LEN];
        snap_cpu_record_name(i, name);
        ret = snap_vcpu_check(&k, snap_image_find(&r->img, name), i, why, sizeof(why));
    }
    /* Every virtio function against its records, and no record without a function. */
    for (unsigned i = 0; !ret && i < r->img.nr_records; i++) {
        bool is_pci, found = false;
        const char *name = r->img.records[i].name;
        if (!slot_record(name, &is_pci) || !is_pci)
            continue;
        unsigned slot = (unsigned)strtoul(name + strlen("pci."), NULL, 10);
        for (unsigned j = 0; j < vm->nr_virtio && !found; j++)
            found = virtio_pci_device(vm->virtio[j])->slot == slot;
        if (!found) {
            snprintf(why, sizeof(why), "snapshot has a device in PCI slot %u but this VM has none there",
                     slot);
            ret = -EINVAL;
        }
    }
    for (unsigned i = 0; !ret && i < vm->nr_virtio; i++)
        ret = virtio_pci_check(vm->virtio[i], &r->img, why, sizeof(why));
    /* Devices first: they re-drive their IRQ lines, which KVM_SET_IRQCHIP then overrides. */
    for (unsigned i = 0; !ret && i < vm->nr_devices; i++) {
        const struct device_ops *ops = vm->devices[i].ops;
        if (!ops->load)
            continue;
        char name[SNAP_NAME_LEN];
        snprintf(name, sizeof(name), SNAP_DEVICE_PREFIX "%s", ops->name);
        const struct snap_record *rec = snap_image_find(&r->img, name);
        ret = rec ? ops->load(vm->devices[i].state, rec) : -ENOENT;
        if (ret)
            snprintf(why, sizeof(why), "device %s: %s", ops->name,
                     ret == -EPROTONOSUPPORT ? "record version not supported" :
                     ret == -ENOENT ? "no record" : "record is malformed");
    }
    for (unsigned i = 0; !ret && i < vm->nr_virtio; i++)
        ret = virtio_pci_load(vm->virtio[i], &r->img, why, sizeof(why));
    if (!ret)
        ret = snap_vm_load(&k, &r->img, why, sizeof(why));
    for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++) {
        char name[SNAP_NAME_LEN];
        snap_cpu_record_name(i, name);
        ret = snap_vcpu_load(&k, vm->vcpus[i].fd, snap_image_find(&r->img, name), why, sizeof(why));
    }
    if (!ret)
        ret = snap_vm_load_clock(&k, &r->img, why, sizeof(why));
    /* A migrated VM is the same VM, not a clone: it keeps its generation ID. */
    if (!ret && !r->migration)
        ret = new_generation(vm, why, sizeof(why));
    if (ret)
        snprintf(err, errlen, "cannot restore '%s': %s", r->dir, why);
    return ret;
}

void snapshot_restore_close(struct snapshot_restore *r)
{
    if (!r)
        return;
    if (r->mem_fd >= 0)
        close(r->mem_fd);
    snap_image_free(&r->img);
    free(r);
}
