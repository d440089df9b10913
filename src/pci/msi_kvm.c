// SPDX-License-Identifier: Apache-2.0
/*
 * MSI delivery through KVM (see msi_kvm.h): one GSI + irqfd per vector, and a
 * GSI routing table rewritten only when an unmasked vector's message differs
 * from the one KVM holds. A masked vector keeps its last installed route, so
 * the guest's mask/reprogram/unmask sequence costs one table rewrite.
 */
#include "pci/msi_kvm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"

#define IRQCHIP_ROUTES (16 * 2 + 8)   /* KVM's default: PIC + IOAPIC for 0-15, IOAPIC for 16-23 */

static int real_ioctl(void *opaque, int fd, unsigned long req, void *arg)
{
    return ioctl(fd, req, arg);
}

int msi_kvm_init(struct msi_kvm *k, int vm_fd)
{
    memset(k, 0, sizeof(*k));
    k->vm_fd = vm_fd;
    k->ioctl_fn = real_ioctl;
    int err = pthread_mutex_init(&k->lock, NULL);
    return -err;
}

void msi_kvm_destroy(struct msi_kvm *k)
{
    for (unsigned i = 0; i < k->nr_vectors; i++) {
        struct msi_kvm_vector *v = &k->vectors[i];
        if (v->eventfd < 0)
            continue;
        struct kvm_irqfd irqfd = { .fd = (uint32_t)v->eventfd, .gsi = v->gsi,
                                   .flags = KVM_IRQFD_FLAG_DEASSIGN };
        (void)k->ioctl_fn(k->ioctl_opaque, k->vm_fd, KVM_IRQFD, &irqfd);
        close(v->eventfd);
    }
    free(k->vectors);
    if (k->ioctl_fn)
        pthread_mutex_destroy(&k->lock);
    memset(k, 0, sizeof(*k));
}

int msi_kvm_add_vector(struct msi_kvm *k, unsigned *handle)
{
    pthread_mutex_lock(&k->lock);
    int ret = -ENOSPC;
    if (k->nr_vectors == MSI_KVM_MAX_VECTORS)
        goto out;
    if (k->nr_vectors == k->cap_vectors) {
        unsigned cap = k->cap_vectors ? k->cap_vectors * 2 : 16;
        struct msi_kvm_vector *nv = realloc(k->vectors, cap * sizeof(*nv));
        ret = -ENOMEM;
        if (!nv)
            goto out;
        k->vectors = nv;
        k->cap_vectors = cap;
    }
    struct msi_kvm_vector *v = &k->vectors[k->nr_vectors];
    *v = (struct msi_kvm_vector){ .gsi = MSI_KVM_FIRST_GSI + k->nr_vectors, .eventfd = -1,
                                  .masked = true };
    /* Without an irqfd the vector still works, through KVM_SIGNAL_MSI. */
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd >= 0) {
        struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = v->gsi };
        if (k->ioctl_fn(k->ioctl_opaque, k->vm_fd, KVM_IRQFD, &irqfd) == 0) {
            v->eventfd = fd;
        } else {
            log_warn("msi", "KVM_IRQFD for GSI %u: %s; using KVM_SIGNAL_MSI", v->gsi,
                     strerror(errno));
            close(fd);
        }
    }
    *handle = k->nr_vectors++;
    ret = 0;
out:
    pthread_mutex_unlock(&k->lock);
    return ret;
}

static bool msg_equal(struct pci_msi_msg a, struct pci_msi_msg b)
{
    return a.addr == b.addr && a.data == b.data;
}

/* Installs the whole table: irqchip defaults plus every routable vector. Lock held. */
static int commit_routes(struct msi_kvm *k)
{
    size_t n = IRQCHIP_ROUTES + k->nr_vectors;
    struct kvm_irq_routing *r = calloc(1, sizeof(*r) + n * sizeof(r->entries[0]));
    if (!r)
        return -ENOMEM;
    unsigned nr = 0;
    for (unsigned gsi = 0; gsi < 24; gsi++) {
        r->entries[nr++] = (struct kvm_irq_routing_entry){
            .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi } };
        if (gsi < 16)
            r->entries[nr++] = (struct kvm_irq_routing_entry){
                .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
                .u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                               .pin = gsi % 8 } };
    }
    for (unsigned i = 0; i < k->nr_vectors; i++) {
        const struct msi_kvm_vector *v = &k->vectors[i];
        /* A masked vector keeps what KVM already has; an unmasked one gets its message. */
        if (v->masked && !v->routed)
            continue;
        struct pci_msi_msg m = v->msg;
        r->entries[nr++] = (struct kvm_irq_routing_entry){
            .gsi = v->gsi, .type = KVM_IRQ_ROUTING_MSI,
            .u.msi = { .address_lo = (uint32_t)m.addr, .address_hi = (uint32_t)(m.addr >> 32),
                       .data = m.data } };
    }
    r->nr = nr;
    int ret = k->ioctl_fn(k->ioctl_opaque, k->vm_fd, KVM_SET_GSI_ROUTING, r) ? -errno : 0;
    free(r);
    return ret;
}

int msi_kvm_update(struct msi_kvm *k, unsigned handle, struct pci_msi_msg msg, bool masked)
{
    pthread_mutex_lock(&k->lock);
    int ret = -EINVAL;
    if (handle >= k->nr_vectors)
        goto out;
    struct msi_kvm_vector *v = &k->vectors[handle];
    v->masked = masked;
    ret = 0;
    /* Only an unmasked vector with a new message needs KVM's table rewritten. */
    if (masked || (v->routed && msg_equal(v->msg, msg)) || k->routing_broken)
        goto out;
    struct pci_msi_msg old = v->msg;
    bool old_routed = v->routed;
    v->msg = msg;
    v->routed = true;
    ret = commit_routes(k);
    if (ret) {
        v->msg = old;
        v->routed = old_routed;
        k->routing_broken = true;
        log_warn("msi", "KVM_SET_GSI_ROUTING: %s; falling back to KVM_SIGNAL_MSI", strerror(-ret));
    }
out:
    pthread_mutex_unlock(&k->lock);
    return ret;
}

static int signal_msi(struct msi_kvm *k, struct pci_msi_msg msg)
{
    struct kvm_msi m = { .address_lo = (uint32_t)msg.addr, .address_hi = (uint32_t)(msg.addr >> 32),
                         .data = msg.data };
    /* KVM returns >0 delivered, 0 blocked by the guest's APIC state: both are fine. */
    return k->ioctl_fn(k->ioctl_opaque, k->vm_fd, KVM_SIGNAL_MSI, &m) < 0 ? -errno : 0;
}

int msi_kvm_deliver(struct msi_kvm *k, unsigned handle, struct pci_msi_msg msg)
{
    pthread_mutex_lock(&k->lock);
    int fd = -1;
    if (handle < k->nr_vectors) {
        const struct msi_kvm_vector *v = &k->vectors[handle];
        if (v->routed && !v->masked && msg_equal(v->msg, msg))
            fd = v->eventfd;
    }
    pthread_mutex_unlock(&k->lock);
    if (fd >= 0) {
        uint64_t one = 1;
        if (write(fd, &one, sizeof(one)) == sizeof(one))
            return 0;
        /* EAGAIN: the counter is saturated, i.e. an interrupt is already on its way. */
        if (errno == EAGAIN)
            return 0;
    }
    return signal_msi(k, msg);
}

static void device_route(void *opaque, unsigned vector, struct pci_msi_msg msg, bool masked)
{
    struct msi_kvm_device *d = opaque;
    if (vector < d->nr)
        (void)msi_kvm_update(d->k, d->handles[vector], msg, masked);
}

static void device_deliver(void *opaque, unsigned vector, struct pci_msi_msg msg)
{
    struct msi_kvm_device *d = opaque;
    if (vector < d->nr)
        (void)msi_kvm_deliver(d->k, d->handles[vector], msg);
}

const struct pci_msix_ops msi_kvm_msix_ops = { device_deliver, device_route };

int msi_kvm_device_init(struct msi_kvm_device *d, struct msi_kvm *k, unsigned nr_vectors)
{
    d->k = k;
    d->nr = 0;
    d->handles = calloc(nr_vectors ? nr_vectors : 1, sizeof(*d->handles));
    if (!d->handles)
        return -ENOMEM;
    for (unsigned i = 0; i < nr_vectors; i++) {
        int err = msi_kvm_add_vector(k, &d->handles[i]);
        if (err) {
            free(d->handles);
            d->handles = NULL;
            return err;
        }
        d->nr++;
    }
    return 0;
}

void msi_kvm_device_destroy(struct msi_kvm_device *d)
{
    free(d->handles);
    d->handles = NULL;
    d->nr = 0;
}
