// SPDX-License-Identifier: Apache-2.0
/*
 * Saving and restoring the state KVM holds for casulo: everything a vCPU
 * needs to continue mid-instruction-stream, and the in-kernel irqchip, PIT
 * and clock. Layouts are KVM's own uapi structs (a stable ABI) inside a
 * versioned casulo header; every length is checked before a byte is copied,
 * and payloads are copied out (they are not aligned in the image).
 */
#include "snapshot/kvm_state.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

#define MSR_IA32_TSC_DEADLINE 0x6e0

#define SNAP_CPU_HAS_XSAVE 0x1u

/* "cpu.N" v1: this header, then xsave_size bytes of XSAVE area, then nr_msrs entries. */
struct snap_cpu_v1 {
    uint32_t index;
    uint32_t flags;
    uint32_t xsave_size;
    uint32_t nr_msrs;
    uint64_t tsc_khz;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_xcrs xcrs;
    struct kvm_lapic_state lapic;
    struct kvm_vcpu_events events;
    struct kvm_debugregs debugregs;
    struct kvm_mp_state mp_state;
    uint32_t reserved;
};

/* "vm.irqchip" v1: PIC master, PIC slave, IOAPIC. */
struct snap_irqchip_v1 {
    struct kvm_irqchip chip[3];
};

/* "vm.clock" v1. */
struct snap_clock_v1 {
    uint64_t clock_ns;
    uint32_t flags;
    uint32_t reserved;
};

void snap_cpu_record_name(unsigned index, char name[SNAP_NAME_LEN])
{
    snprintf(name, SNAP_NAME_LEN, "cpu.%u", index);
}

int snap_vcpu_complete_io(int vcpu_fd, struct kvm_run *run)
{
    run->immediate_exit = 1;
    int r = ioctl(vcpu_fd, KVM_RUN, 0);
    int e = errno;
    run->immediate_exit = 0;
    if (r == 0)
        return 1;   /* finishing it made a new exit (next element of a rep ins/outs) */
    /* EAGAIN: KVM-PVM's answer for an AP still waiting for its SIPI. */
    return e == EINTR || e == EAGAIN ? 0 : -e;
}

/* Bytes of XSAVE area this KVM uses (KVM_CAP_XSAVE2), 0 without XSAVE support. */
static uint32_t xsave_size(int vm_fd)
{
    int n = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
    if (n > (int)sizeof(struct kvm_xsave))
        return (uint32_t)n;
    return ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0 ? sizeof(struct kvm_xsave) : 0;
}

static struct kvm_msr_list *msr_index_list(int kvm_fd, int *ret)
{
    struct kvm_msr_list probe = { .nmsrs = 0 };
    if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG) {
        *ret = -errno;
        return NULL;
    }
    if (probe.nmsrs > SNAP_MSRS_MAX) {
        *ret = -E2BIG;
        return NULL;
    }
    struct kvm_msr_list *list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
    if (!list) {
        *ret = -ENOMEM;
        return NULL;
    }
    list->nmsrs = probe.nmsrs;
    if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
        *ret = -errno;
        free(list);
        return NULL;
    }
    *ret = 0;
    return list;
}

/*
 * Reads every MSR of the index list in one KVM_GET_MSRS. KVM stops at the
 * first MSR it cannot read; such an MSR is dropped (with a warning) and the
 * rest read again, so one unreadable MSR on some host does not make
 * snapshots impossible there.
 */
static struct kvm_msrs *read_msrs(const struct snap_kvm *k, int vcpu_fd, unsigned index, int *ret)
{
    struct kvm_msr_list *list = msr_index_list(k->kvm_fd, ret);
    if (!list)
        return NULL;
    struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + list->nmsrs * sizeof(struct kvm_msr_entry));
    if (!msrs) {
        free(list);
        *ret = -ENOMEM;
        return NULL;
    }
    unsigned n = list->nmsrs;
    for (unsigned i = 0; i < n; i++)
        msrs->entries[i].index = list->indices[i];
    free(list);
    for (;;) {
        msrs->nmsrs = n;
        int got = ioctl(vcpu_fd, KVM_GET_MSRS, msrs);
        if (got < 0) {
            *ret = -errno;
            free(msrs);
            return NULL;
        }
        if ((unsigned)got >= n)
            break;
        log_warn("snapshot", "vCPU %u: MSR 0x%x is in KVM's list but cannot be read; not saved",
                 index, msrs->entries[got].index);
        memmove(&msrs->entries[got], &msrs->entries[got + 1],
                (n - (unsigned)got - 1) * sizeof(msrs->entries[0]));
        n--;
    }
    *ret = 0;
    return msrs;
}

#define GET(fd, req, arg, what)                                                         \
    do {                                                                                 \
        if (ioctl((fd), (req), (arg)) < 0) {                                             \
            ret = -errno;                                                                \
            snprintf(err, errlen, "vCPU %u: %s failed: %s", index, (what), strerror(errno)); \
            goto out;                                                                    \
        }                                                                                \
    } while (0)

int snap_vcpu_save(const struct snap_kvm *k, int vcpu_fd, unsigned index, struct snap_writer *w,
                   char *err, size_t errlen)
{
    int ret = 0;
    uint8_t *payload = NULL;
    struct kvm_msrs *msrs = NULL;
    struct snap_cpu_v1 *c = calloc(1, sizeof(*c));
    if (!c) {
        ret = -ENOMEM;
        snprintf(err, errlen, "out of memory saving vCPU %u", index);
        goto out;
    }
    c->index = index;
    GET(vcpu_fd, KVM_GET_REGS, &c->regs, "KVM_GET_REGS");
    GET(vcpu_fd, KVM_GET_SREGS, &c->sregs, "KVM_GET_SREGS");
    GET(vcpu_fd, KVM_GET_FPU, &c->fpu, "KVM_GET_FPU");
    GET(vcpu_fd, KVM_GET_XCRS, &c->xcrs, "KVM_GET_XCRS");
    GET(vcpu_fd, KVM_GET_LAPIC, &c->lapic, "KVM_GET_LAPIC");
    GET(vcpu_fd, KVM_GET_VCPU_EVENTS, &c->events, "KVM_GET_VCPU_EVENTS");
    GET(vcpu_fd, KVM_GET_DEBUGREGS, &c->debugregs, "KVM_GET_DEBUGREGS");
    GET(vcpu_fd, KVM_GET_MP_STATE, &c->mp_state, "KVM_GET_MP_STATE");
    int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
    c->tsc_khz = khz > 0 ? (uint64_t)khz : 0;

    c->xsave_size = xsave_size(k->vm_fd);
    if (c->xsave_size)
        c->flags |= SNAP_CPU_HAS_XSAVE;
    msrs = read_msrs(k, vcpu_fd, index, &ret);
    if (!msrs) {
        snprintf(err, errlen, "vCPU %u: cannot read its MSRs: %s", index, strerror(-ret));
        goto out;
    }
    c->nr_msrs = msrs->nmsrs;
    size_t msr_bytes = (size_t)c->nr_msrs * sizeof(struct kvm_msr_entry);
    size_t len = sizeof(*c) + c->xsave_size + msr_bytes;
    payload = calloc(1, len);
    if (!payload) {
        ret = -ENOMEM;
        snprintf(err, errlen, "out of memory saving vCPU %u", index);
        goto out;
    }
    if (c->xsave_size) {
        unsigned long req = c->xsave_size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
        GET(vcpu_fd, req, payload + sizeof(*c), "KVM_GET_XSAVE2");
    }
    memcpy(payload, c, sizeof(*c));
    memcpy(payload + sizeof(*c) + c->xsave_size, msrs->entries, msr_bytes);
    char name[SNAP_NAME_LEN];
    snap_cpu_record_name(index, name);
    ret = snap_write_record(w, name, SNAP_CPU_VERSION, payload, len);
    if (ret)
        snprintf(err, errlen, "cannot write vCPU %u state: %s", index, strerror(-ret));
out:
    free(payload);
    free(msrs);
    free(c);
    return ret;
}

int snap_vcpu_check(const struct snap_kvm *k, const struct snap_record *r, unsigned index,
                    char *err, size_t errlen)
{
    struct snap_cpu_v1 c;
    if (r->version != SNAP_CPU_VERSION) {
        snprintf(err, errlen, "snapshot record '%s' has version %u; this casulo reads version %u",
                 r->name, r->version, SNAP_CPU_VERSION);
        return -EPROTONOSUPPORT;
    }
    if (r->length < sizeof(c)) {
        snprintf(err, errlen, "snapshot record '%s' is too short", r->name);
        return -EBADMSG;
    }
    memcpy(&c, r->payload, sizeof(c));
    uint32_t have = k ? xsave_size(k->vm_fd) : SNAP_XSAVE_MAX;
    if (c.index != index || c.nr_msrs > SNAP_MSRS_MAX || c.xsave_size > SNAP_XSAVE_MAX ||
        (c.flags & ~SNAP_CPU_HAS_XSAVE) || !(c.flags & SNAP_CPU_HAS_XSAVE) != !c.xsave_size ||
        (c.xsave_size && c.xsave_size < sizeof(struct kvm_xsave)) ||
        r->length != sizeof(c) + c.xsave_size + (uint64_t)c.nr_msrs * sizeof(struct kvm_msr_entry)) {
        snprintf(err, errlen, "snapshot record '%s' is malformed", r->name);
        return -EBADMSG;
    }
    if (c.xsave_size > have) {
        snprintf(err, errlen, "snapshot record '%s' has a %u-byte XSAVE area; this host's KVM "
                 "takes %u bytes", r->name, c.xsave_size, have);
        return -EOPNOTSUPP;
    }
    return 0;
}

#undef GET
#define SET(fd, req, arg, what)                                                           \
    do {                                                                                   \
        if (ioctl((fd), (req), (arg)) < 0) {                                               \
            ret = -errno;                                                                  \
            snprintf(err, errlen, "vCPU %u: %s failed: %s", c.index, (what), strerror(errno)); \
            goto out;                                                                      \
        }                                                                                  \
    } while (0)

/* Sets n MSRs; on -EINVAL *refused is the one KVM would not take (it stops there). */
static int set_msrs(int vcpu_fd, const struct kvm_msr_entry *entries, unsigned n, uint32_t *refused)
{
    if (!n)
        return 0;
    struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + n * sizeof(*entries));
    if (!msrs)
        return -ENOMEM;
    msrs->nmsrs = n;
    memcpy(msrs->entries, entries, n * sizeof(*entries));
    int got = ioctl(vcpu_fd, KVM_SET_MSRS, msrs);
    int ret = got < 0 ? -errno : 0;
    if (got >= 0 && (unsigned)got < n) {
        *refused = entries[got].index;
        ret = -EINVAL;
    }
    free(msrs);
    return ret;
}

int snap_vcpu_load(const struct snap_kvm *k, int vcpu_fd, const struct snap_record *r, char *err,
                   size_t errlen)
{
    struct snap_cpu_v1 c;
    memcpy(&c, r->payload, sizeof(c));
    int ret = snap_vcpu_check(k, r, c.index, err, errlen);
    if (ret)
        return ret;
    uint8_t *xsave = NULL;
    struct kvm_msr_entry *msrs = calloc(c.nr_msrs ? c.nr_msrs : 1, sizeof(*msrs));
    if (!msrs) {
        snprintf(err, errlen, "out of memory restoring vCPU %u", c.index);
        return -ENOMEM;
    }
    memcpy(msrs, r->payload + sizeof(c) + c.xsave_size, c.nr_msrs * sizeof(*msrs));

    /* Order matters: see docs/snapshot-format.md ("Restoring a vCPU"). */
    SET(vcpu_fd, KVM_SET_SREGS, &c.sregs, "KVM_SET_SREGS");
    SET(vcpu_fd, KVM_SET_XCRS, &c.xcrs, "KVM_SET_XCRS");
    if (c.xsave_size) {
        /* KVM reads as many bytes as it uses, which may be more than was saved. */
        uint32_t have = xsave_size(k->vm_fd);
        xsave = calloc(1, have);
        if (!xsave) {
            ret = -ENOMEM;
            snprintf(err, errlen, "out of memory restoring vCPU %u", c.index);
            goto out;
        }
        memcpy(xsave, r->payload + sizeof(c), c.xsave_size);
        SET(vcpu_fd, KVM_SET_XSAVE, xsave, "KVM_SET_XSAVE");
    } else {
        SET(vcpu_fd, KVM_SET_FPU, &c.fpu, "KVM_SET_FPU");
    }
    SET(vcpu_fd, KVM_SET_REGS, &c.regs, "KVM_SET_REGS");
    if (c.tsc_khz) {
        int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
        if (khz > 0 && (uint64_t)khz != c.tsc_khz &&
            ioctl(vcpu_fd, KVM_SET_TSC_KHZ, (unsigned long)c.tsc_khz) < 0)
            log_warn("snapshot", "vCPU %u: TSC ran at %llu kHz, this host gives %d kHz and cannot "
                     "scale it (%s)", c.index, (unsigned long long)c.tsc_khz, khz, strerror(errno));
    }
    /*
     * The TSC-deadline MSR only sticks once the LAPIC timer is in deadline
     * mode, so it is written after the LAPIC; everything else before it.
     */
    unsigned n_first = 0;
    struct kvm_msr_entry deadline = { .index = 0 };
    bool has_deadline = false;
    for (unsigned i = 0; i < c.nr_msrs; i++) {
        if (msrs[i].index == MSR_IA32_TSC_DEADLINE) {
            deadline = msrs[i];
            has_deadline = true;
        } else {
            msrs[n_first++] = msrs[i];
        }
    }
    uint32_t refused = 0;
    ret = set_msrs(vcpu_fd, msrs, n_first, &refused);
    if (!ret) {
        SET(vcpu_fd, KVM_SET_LAPIC, &c.lapic, "KVM_SET_LAPIC");
        if (has_deadline)
            ret = set_msrs(vcpu_fd, &deadline, 1, &refused);
    }
    if (ret) {
        if (refused)
            snprintf(err, errlen, "vCPU %u: KVM_SET_MSRS refused MSR 0x%x", c.index, refused);
        else
            snprintf(err, errlen, "vCPU %u: KVM_SET_MSRS failed: %s", c.index, strerror(-ret));
        goto out;
    }
    SET(vcpu_fd, KVM_SET_MP_STATE, &c.mp_state, "KVM_SET_MP_STATE");
    /* Saved events carry no "valid" flags: say which parts to restore. */
    c.events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
                      KVM_VCPUEVENT_VALID_SHADOW;
    SET(vcpu_fd, KVM_SET_VCPU_EVENTS, &c.events, "KVM_SET_VCPU_EVENTS");
    SET(vcpu_fd, KVM_SET_DEBUGREGS, &c.debugregs, "KVM_SET_DEBUGREGS");
out:
    free(xsave);
    free(msrs);
    return ret;
}

#undef SET

int snap_vm_save(const struct snap_kvm *k, uint64_t clock_ns, struct snap_writer *w, char *err,
                 size_t errlen)
{
    struct snap_irqchip_v1 chips = { 0 };
    for (unsigned i = 0; i < 3; i++) {
        chips.chip[i].chip_id = i;
        if (ioctl(k->vm_fd, KVM_GET_IRQCHIP, &chips.chip[i]) < 0) {
            snprintf(err, errlen, "KVM_GET_IRQCHIP (%s) failed: %s",
                     i == 0 ? "PIC master" : i == 1 ? "PIC slave" : "IOAPIC", strerror(errno));
            return -errno;
        }
    }
    struct kvm_pit_state2 pit = { 0 };
    if (ioctl(k->vm_fd, KVM_GET_PIT2, &pit) < 0) {
        snprintf(err, errlen, "KVM_GET_PIT2 failed: %s", strerror(errno));
        return -errno;
    }
    struct snap_clock_v1 clock = { .clock_ns = clock_ns };
    int ret = snap_write_record(w, "vm.irqchip", SNAP_IRQCHIP_VERSION, &chips, sizeof(chips));
    if (!ret)
        ret = snap_write_record(w, "vm.pit", SNAP_PIT_VERSION, &pit, sizeof(pit));
    if (!ret)
        ret = snap_write_record(w, "vm.clock", SNAP_CLOCK_VERSION, &clock, sizeof(clock));
    if (ret)
        snprintf(err, errlen, "cannot write the VM state: %s", strerror(-ret));
    return ret;
}

static int check_fixed(const struct snap_image *img, const char *name, uint32_t version,
                       size_t size, const struct snap_record **out, char *err, size_t errlen)
{
    const struct snap_record *r = snap_image_find(img, name);
    if (!r) {
        snprintf(err, errlen, "snapshot has no '%s' record", name);
        return -ENOENT;
    }
    if (r->version != version) {
        snprintf(err, errlen, "snapshot record '%s' has version %u; this casulo reads version %u",
                 name, r->version, version);
        return -EPROTONOSUPPORT;
    }
    if (r->length != size) {
        snprintf(err, errlen, "snapshot record '%s' is malformed (%llu bytes, expected %zu)", name,
                 (unsigned long long)r->length, size);
        return -EBADMSG;
    }
    *out = r;
    return 0;
}

struct vm_records {
    struct snap_irqchip_v1 chips;
    struct kvm_pit_state2 pit;
    struct snap_clock_v1 clock;
};

static int vm_records(const struct snap_image *img, struct vm_records *v, char *err, size_t errlen)
{
    const struct snap_record *irq, *pit, *clock;
    int ret = check_fixed(img, "vm.irqchip", SNAP_IRQCHIP_VERSION, sizeof(v->chips), &irq, err, errlen);
    if (!ret)
        ret = check_fixed(img, "vm.pit", SNAP_PIT_VERSION, sizeof(v->pit), &pit, err, errlen);
    if (!ret)
        ret = check_fixed(img, "vm.clock", SNAP_CLOCK_VERSION, sizeof(v->clock), &clock, err, errlen);
    if (ret)
        return ret;
    memcpy(&v->chips, irq->payload, sizeof(v->chips));
    memcpy(&v->pit, pit->payload, sizeof(v->pit));
    memcpy(&v->clock, clock->payload, sizeof(v->clock));
    for (unsigned i = 0; i < 3; i++) {
        if (v->chips.chip[i].chip_id != i) {
            snprintf(err, errlen, "snapshot record 'vm.irqchip' is malformed");
            return -EBADMSG;
        }
    }
    return 0;
}

int snap_vm_check(const struct snap_image *img, char *err, size_t errlen)
{
    struct vm_records v;
    return vm_records(img, &v, err, errlen);
}

int snap_vm_load(const struct snap_kvm *k, const struct snap_image *img, char *err, size_t errlen)
{
    struct vm_records v;
    int ret = vm_records(img, &v, err, errlen);
    if (ret)
        return ret;
    for (unsigned i = 0; i < 3; i++) {
        if (ioctl(k->vm_fd, KVM_SET_IRQCHIP, &v.chips.chip[i]) < 0) {
            snprintf(err, errlen, "KVM_SET_IRQCHIP (chip %u) failed: %s", i, strerror(errno));
            return -errno;
        }
    }
    if (ioctl(k->vm_fd, KVM_SET_PIT2, &v.pit) < 0) {
        snprintf(err, errlen, "KVM_SET_PIT2 failed: %s", strerror(errno));
        return -errno;
    }
    return 0;
}

int snap_vm_load_clock(const struct snap_kvm *k, const struct snap_image *img, char *err,
                       size_t errlen)
{
    struct vm_records v;
    int ret = vm_records(img, &v, err, errlen);
    if (ret)
        return ret;
    struct kvm_clock_data clock = { .clock = v.clock.clock_ns };
    if (ioctl(k->vm_fd, KVM_SET_CLOCK, &clock) < 0) {
        snprintf(err, errlen, "KVM_SET_CLOCK failed: %s", strerror(errno));
        return -errno;
    }
    return 0;
}
