// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-pci function (see virtio_pci.h): BAR layout, the vendor
 * capabilities (including the PCI_CFG access window), the ISR, notify and
 * device-config regions, ioeventfds that follow the BAR, interrupt delivery,
 * and the services a device calls. The common configuration structure and
 * the status machine live in virtio_pci_common.c.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/evloop.h"
#include "pci/pci_host.h"
#include "util/log.h"
#include "virtio_pci_internal.h"

/* Device feature bits 24..49 belong to the transport; we offer only our three. */
#define TRANSPORT_FEATURE_MASK (((1ULL << 50) - 1) & ~((1ULL << 24) - 1))

static int real_ioctl(void *opaque, int fd, unsigned long req, void *arg)
{
    return ioctl(fd, req, arg);
}

/* --- interrupts --- */

void vpci_raise(struct virtio_device *vdev, uint16_t vector, uint8_t isr_bit)
{
    if (pci_msix_is_enabled(&vdev->msix)) {
        /* With MSI-X on, NO_VECTOR means the driver wants no interrupt. */
        if (vector == VIRTIO_MSI_NO_VECTOR || vector >= vdev->nr_vectors)
            return;
        if (pci_msix_notify(&vdev->msix, vector) != -ENODEV)
            return;
        /* MSI-X was disabled under us: fall through to INTx. */
    }
    pthread_mutex_lock(&vdev->host->lock);
    vdev->isr |= isr_bit;
    pci_device_set_intx(&vdev->pci, true);
    pthread_mutex_unlock(&vdev->host->lock);
}

void vpci_clear_isr(struct virtio_device *vdev)
{
    pthread_mutex_lock(&vdev->host->lock);
    vdev->isr = 0;
    pci_device_set_intx(&vdev->pci, false);
    pthread_mutex_unlock(&vdev->host->lock);
}

static void isr_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct virtio_device *vdev = opaque;
    memset(data, 0, size);
    if (off != 0 || size != 1)
        return;
    /* Reading the ISR acknowledges it: clear and lower INTx atomically. */
    pthread_mutex_lock(&vdev->host->lock);
    *(uint8_t *)data = vdev->isr;
    vdev->isr = 0;
    pci_device_set_intx(&vdev->pci, false);
    pthread_mutex_unlock(&vdev->host->lock);
}

static void isr_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    /* Read-only. */
}

static const struct bus_ops isr_ops = { isr_read, isr_write };

/* --- notify and device config regions --- */

void vpci_post(struct virtio_device *vdev)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the thread will look. */
    ssize_t r = write(vdev->ctl_fd, &one, sizeof(one));
    (void)r;
}

static void notify_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    memset(data, 0, size);
}

/*
 * A kick that reached userspace (no ioeventfd, or an access KVM did not
 * match): signal the same eventfd KVM would, so there is one path.
 */
static void notify_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct virtio_device *vdev = opaque;
    if (off % VIRTIO_PCI_NOTIFY_MULT || size > VIRTIO_PCI_NOTIFY_MULT)
        return;
    uint64_t q = off / VIRTIO_PCI_NOTIFY_MULT;
    if (q >= vdev->nr_queues)
        return;
    uint64_t one = 1;
    ssize_t r = write(vdev->queues[q].kick_fd, &one, sizeof(one));
    (void)r;
}

static const struct bus_ops notify_ops = { notify_read, notify_write };

static bool device_cfg_access_ok(const struct virtio_device *vdev, uint64_t off, unsigned size)
{
    return (size == 1 || size == 2 || size == 4 || size == 8) && off < vdev->config_size &&
           size <= vdev->config_size - off;
}

static void device_cfg_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct virtio_device *vdev = opaque;
    memset(data, 0, size);
    if (device_cfg_access_ok(vdev, off, size))
        vdev->ops->config_read(vdev->dev, (uint32_t)off, data, size);
}

static void device_cfg_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct virtio_device *vdev = opaque;
    if (device_cfg_access_ok(vdev, off, size) && vdev->ops->config_write)
        vdev->ops->config_write(vdev->dev, (uint32_t)off, data, size);
}

static const struct bus_ops device_cfg_ops = { device_cfg_read, device_cfg_write };

/* --- ioeventfds --- */

static int ioev_ioctl(struct virtio_device *vdev, const struct vpci_queue *q, uint64_t addr,
                      uint32_t len, bool deassign)
{
    struct kvm_ioeventfd ioev = {
        .addr = addr, .len = len, .fd = q->kick_fd,
        .flags = deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0,
    };
    return vdev->ioctl_fn(vdev->ioctl_opaque, vdev->vm_fd, KVM_IOEVENTFD, &ioev) ? -errno : 0;
}

/* Caller holds ioev_lock. */
static void ioev_install(struct virtio_device *vdev, struct vpci_queue *q, uint64_t addr)
{
    /* Length 0 matches any write width (KVM's fast MMIO path); else the 16-bit one Linux uses. */
    static const uint32_t lens[] = { 0, 2 };
    int err = -ENOSYS;
    for (unsigned i = 0; i < ARRAY_SIZE(lens); i++) {
        err = ioev_ioctl(vdev, q, addr, lens[i], false);
        if (!err) {
            q->ioev_installed = true;
            q->ioev_addr = addr;
            q->ioev_len = lens[i];
            return;
        }
    }
    if (!vdev->ioev_failed_logged) {
        vdev->ioev_failed_logged = true;
        log_info("virtio", "%s: KVM_IOEVENTFD at 0x%llx: %s; queue kicks exit to userspace",
                 vdev->name, (unsigned long long)addr, strerror(-err));
    }
}

static void ioev_remove(struct virtio_device *vdev, struct vpci_queue *q)
{
    if (!q->ioev_installed)
        return;
    (void)ioev_ioctl(vdev, q, q->ioev_addr, q->ioev_len, true);
    q->ioev_installed = false;
}

/* pci_device's bar_mapped hook: the notify addresses moved (or stopped decoding). */
static void vpci_bar_mapped(void *opaque, unsigned bar, uint64_t addr)
{
    struct virtio_device *vdev = opaque;
    if (bar != VIRTIO_PCI_BAR || vdev->vm_fd < 0)
        return;
    pthread_mutex_lock(&vdev->ioev_lock);
    for (unsigned i = 0; i < vdev->nr_queues; i++) {
        struct vpci_queue *q = &vdev->queues[i];
        ioev_remove(vdev, q);
        if (addr != PCI_BAR_UNMAPPED)
            ioev_install(vdev, q, addr + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)i * VIRTIO_PCI_NOTIFY_MULT);
    }
    pthread_mutex_unlock(&vdev->ioev_lock);
}

/* --- the PCI_CFG capability: a window onto the BAR through config space --- */

static const struct pci_bar_region *window_region(struct virtio_device *vdev, uint32_t off,
                                                  uint32_t len)
{
    const struct pci_bar *bar = &vdev->pci.bars[VIRTIO_PCI_BAR];
    for (unsigned i = 0; i < bar->nr_regions; i++) {
        const struct pci_bar_region *r = &bar->regions[i];
        if (off >= r->offset && off - r->offset < r->len && len <= r->len - (off - r->offset))
            return r;
    }
    return NULL;
}

/* The window's target, or NULL when bar/offset/length do not name a valid access. */
static const struct pci_bar_region *window_target(struct virtio_device *vdev, uint32_t *off,
                                                  uint32_t *len)
{
    const uint8_t *cap = vdev->pci.cfg + vdev->pcicfg_cap;
    *off = pci_get32(cap + VIRTIO_PCI_CAP_OFFSET);
    *len = pci_get32(cap + VIRTIO_PCI_CAP_LENGTH);
    if (cap[VIRTIO_PCI_CAP_BAR] != VIRTIO_PCI_BAR || (*len != 1 && *len != 2 && *len != 4) ||
        *off % *len)
        return NULL;
    return window_region(vdev, *off, *len);
}

static bool touches_data(const struct virtio_device *vdev, unsigned off, unsigned size)
{
    unsigned data = vdev->pcicfg_cap + VIRTIO_PCI_CFG_CAP_DATA;
    return off < data + 4 && data < off + size;
}

static void pcicfg_before_read(void *opaque, struct pci_device *dev, unsigned off, unsigned size)
{
    struct virtio_device *vdev = opaque;
    if (!touches_data(vdev, off, size))
        return;
    uint32_t boff, len;
    const struct pci_bar_region *r = window_target(vdev, &boff, &len);
    if (!r)
        return;
    uint32_t v = 0;
    r->ops->read(r->opaque, boff - r->offset, &v, len);
    pci_put32(dev->cfg + vdev->pcicfg_cap + VIRTIO_PCI_CFG_CAP_DATA, v);
}

static void pcicfg_after_write(void *opaque, struct pci_device *dev, unsigned off, unsigned size)
{
    struct virtio_device *vdev = opaque;
    if (!touches_data(vdev, off, size))
        return;
    uint32_t boff, len;
    const struct pci_bar_region *r = window_target(vdev, &boff, &len);
    if (!r)
        return;
    uint32_t v = pci_get32(dev->cfg + vdev->pcicfg_cap + VIRTIO_PCI_CFG_CAP_DATA);
    r->ops->write(r->opaque, boff - r->offset, &v, len);
}

static const struct pci_cap_ops pcicfg_cap_ops = { pcicfg_before_read, pcicfg_after_write };

/* --- building the function --- */

static int add_vendor_cap(struct virtio_device *vdev, uint8_t type, uint32_t offset,
                          uint32_t length, unsigned *cap_off)
{
    uint8_t body[20] = { 0 }, wmask[20] = { 0 };
    unsigned len = VIRTIO_PCI_CAP_SIZE;
    const struct pci_cap_ops *ops = NULL;
    if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
        len = 20;
        pci_put32(body + VIRTIO_PCI_NOTIFY_CAP_MULT, VIRTIO_PCI_NOTIFY_MULT);
    } else if (type == VIRTIO_PCI_CAP_PCI_CFG) {
        /* bar, offset, length and data are the driver's to write; the rest is read-only. */
        len = 20;
        wmask[VIRTIO_PCI_CAP_BAR] = 0xff;
        memset(wmask + VIRTIO_PCI_CAP_OFFSET, 0xff, 12);
        ops = &pcicfg_cap_ops;
    }
    body[VIRTIO_PCI_CAP_LEN] = (uint8_t)len;
    body[VIRTIO_PCI_CAP_CFG_TYPE] = type;
    body[VIRTIO_PCI_CAP_BAR] = type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_BAR;
    pci_put32(body + VIRTIO_PCI_CAP_OFFSET, offset);
    pci_put32(body + VIRTIO_PCI_CAP_LENGTH, length);
    return pci_device_add_cap(&vdev->pci, PCI_CAP_ID_VNDR, body, len, wmask, ops, vdev, cap_off);
}

static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

static int check_ops(const struct virtio_device_ops *ops, void *dev, unsigned *nr_queues)
{
    if (!ops || !ops->num_queues || !ops->queue_max_size || !ops->queue_notify ||
        !ops->activate || !ops->reset)
        return -EINVAL;
    unsigned n = ops->num_queues(dev);
    if (n == 0 || n > VIRTIO_PCI_MAX_QUEUES)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        uint16_t max = ops->queue_max_size(dev, i);
        if (!is_pow2(max) || max > VIRTQ_MAX_CHAIN)
            return -EINVAL;
    }
    uint32_t cfg = ops->config_size ? ops->config_size(dev) : 0;
    if (cfg > VIRTIO_PCI_REGION_SIZE || (cfg && !ops->config_read))
        return -EINVAL;
    *nr_queues = n;
    return 0;
}

static int build_bar(struct virtio_device *vdev, const struct virtio_pci_env *env)
{
    unsigned nvec = vdev->nr_vectors;
    uint32_t table_len = ALIGN_UP(pci_msix_table_size(nvec), (uint32_t)VIRTIO_PCI_REGION_SIZE);
    uint32_t pba_off = VIRTIO_PCI_MSIX_OFF + table_len;
    uint64_t end = pba_off + ALIGN_UP(pci_msix_pba_size(nvec), (uint32_t)VIRTIO_PCI_REGION_SIZE);
    uint64_t bar_size = 1;
    while (bar_size < end)
        bar_size <<= 1;

    struct pci_device *pci = &vdev->pci;
    int err = pci_device_add_bar(pci, VIRTIO_PCI_BAR, bar_size, PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    if (!err)
        err = pci_bar_add_region(pci, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF,
                                 VIRTIO_PCI_REGION_SIZE, &vpci_common_ops, vdev);
    if (!err)
        err = pci_bar_add_region(pci, VIRTIO_PCI_BAR, VIRTIO_PCI_ISR_OFF, VIRTIO_PCI_REGION_SIZE,
                                 &isr_ops, vdev);
    if (!err && vdev->config_size)
        err = pci_bar_add_region(pci, VIRTIO_PCI_BAR, VIRTIO_PCI_DEVICE_OFF,
                                 VIRTIO_PCI_REGION_SIZE, &device_cfg_ops, vdev);
    if (!err)
        err = pci_bar_add_region(pci, VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF,
                                 VIRTIO_PCI_REGION_SIZE, &notify_ops, vdev);
    if (err)
        return err;

    const struct pci_msix_ops *mops = env->msix_ops;
    void *mopaque = env->msix_opaque;
    if (env->msi) {
        err = msi_kvm_device_init(&vdev->msi_dev, env->msi, nvec);
        if (err)
            return err;
        vdev->msi_dev_ready = true;
        mops = &msi_kvm_msix_ops;
        mopaque = &vdev->msi_dev;
    }
    if (!mops)
        return -EINVAL;
    err = pci_msix_init(&vdev->msix, pci, nvec, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_OFF, pba_off,
                        mops, mopaque);
    if (err)
        return err;
    vdev->msix_ready = true;

    unsigned off;
    err = add_vendor_cap(vdev, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF,
                         VIRTIO_PCI_COMMON_CFG_LEN, &off);
    if (!err)
        err = add_vendor_cap(vdev, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
                             vdev->nr_queues * VIRTIO_PCI_NOTIFY_MULT, &off);
    if (!err)
        err = add_vendor_cap(vdev, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1, &off);
    if (!err && vdev->config_size)
        err = add_vendor_cap(vdev, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF,
                             vdev->config_size, &off);
    if (!err)
        err = add_vendor_cap(vdev, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, &vdev->pcicfg_cap);
    return err;
}

static int register_fds(struct virtio_device *vdev)
{
    vdev->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (vdev->ctl_fd < 0)
        return -errno;
    for (unsigned i = 0; i < vdev->nr_queues; i++) {
        vdev->queues[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vdev->queues[i].kick_fd < 0)
            return -errno;
    }
    int err = evloop_add(vdev->loop, vdev->ctl_fd, EPOLLIN, vpci_ctl_event, vdev);
    if (err)
        return err;
    /*
     * Kicks are edge-triggered: every write to an eventfd (KVM's ioeventfd
     * included) queues a new epoll event, so the handler need not read the
     * counter back to zero, which saves a read() per kick. The counter
     * only grows, by one per kick: 2^64 of them never come.
     */
    unsigned i;
    for (i = 0; i < vdev->nr_queues; i++) {
        err = evloop_add(vdev->loop, vdev->queues[i].kick_fd, EPOLLIN | EPOLLET, vpci_kick_event,
                         &vdev->queues[i]);
        if (err)
            break;
    }
    if (err) {
        while (i--)
            (void)evloop_remove(vdev->loop, vdev->queues[i].kick_fd);
        (void)evloop_remove(vdev->loop, vdev->ctl_fd);
        return err;
    }
    vdev->fds_registered = true;
    return 0;
}

/* Everything create() may have built; safe on a partly built device. */
static void teardown(struct virtio_device *vdev)
{
    if (vdev->fds_registered) {
        for (unsigned i = 0; i < vdev->nr_queues; i++)
            (void)evloop_remove(vdev->loop, vdev->queues[i].kick_fd);
        (void)evloop_remove(vdev->loop, vdev->ctl_fd);
    }
    for (unsigned i = 0; vdev->queues && i < vdev->nr_queues; i++)
        if (vdev->queues[i].kick_fd >= 0)
            close(vdev->queues[i].kick_fd);
    if (vdev->ctl_fd >= 0)
        close(vdev->ctl_fd);
    if (vdev->msix_ready)
        pci_msix_destroy(&vdev->msix);
    if (vdev->msi_dev_ready)
        msi_kvm_device_destroy(&vdev->msi_dev);
    free(vdev->queues);
    pthread_mutex_destroy(&vdev->ioev_lock);
    pthread_cond_destroy(&vdev->quiesce_cond);
    pthread_mutex_destroy(&vdev->lock);
    free(vdev);
}

int virtio_pci_create(const struct virtio_pci_env *env, const struct virtio_device_ops *ops,
                      void *dev_state, struct virtio_device **out)
{
    if (!env || !env->host || !env->mem || !env->io_loop || !out)
        return -EINVAL;
    unsigned nq;
    int err = check_ops(ops, dev_state, &nq);
    if (err)
        return err;

    struct virtio_device *vdev = calloc(1, sizeof(*vdev));
    if (!vdev)
        return -ENOMEM;
    vdev->ctl_fd = -1;
    if (pthread_mutex_init(&vdev->lock, NULL)) {
        free(vdev);
        return -ENOMEM;
    }
    if (pthread_mutex_init(&vdev->ioev_lock, NULL)) {
        pthread_mutex_destroy(&vdev->lock);
        free(vdev);
        return -ENOMEM;
    }
    if (pthread_cond_init(&vdev->quiesce_cond, NULL)) {
        pthread_mutex_destroy(&vdev->ioev_lock);
        pthread_mutex_destroy(&vdev->lock);
        free(vdev);
        return -ENOMEM;
    }
    vdev->ops = ops;
    vdev->dev = dev_state;
    snprintf(vdev->name, sizeof(vdev->name), "%s", env->name ? env->name : ops->name);
    vdev->mem = env->mem;
    vdev->loop = env->io_loop;
    vdev->host = env->host;
    vdev->vm_fd = env->vm_fd;
    vdev->ioctl_fn = env->ioctl_fn ? env->ioctl_fn : real_ioctl;
    vdev->ioctl_opaque = env->ioctl_opaque;
    vdev->nr_queues = nq;
    vdev->nr_vectors = nq + 1;
    vdev->config_size = ops->config_size ? ops->config_size(dev_state) : 0;
    uint64_t dev_features = ops->features ? ops->features(dev_state) : 0;
    vdev->offered = (dev_features & ~TRANSPORT_FEATURE_MASK) | 1ULL << VIRTIO_F_VERSION_1 |
                    1ULL << VIRTIO_F_EVENT_IDX | 1ULL << VIRTIO_F_INDIRECT_DESC;

    err = -ENOMEM;
    vdev->queues = calloc(nq, sizeof(*vdev->queues));
    if (!vdev->queues)
        goto fail;
    for (unsigned i = 0; i < nq; i++) {
        struct vpci_queue *q = &vdev->queues[i];
        q->vdev = vdev;
        q->index = i;
        q->kick_fd = -1;
        q->max_size = ops->queue_max_size(dev_state, i);
        snprintf(q->name, sizeof(q->name), "%.20s/q%u", vdev->name, (unsigned)(uint16_t)i);
        virtq_reset(&q->vq);
    }
    vpci_common_reset_locked(vdev);

    const struct pci_device_id id = {
        .vendor = VIRTIO_PCI_VENDOR,
        .device = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id),
        .subsystem_vendor = VIRTIO_PCI_VENDOR,
        .subsystem = VIRTIO_PCI_SUBSYSTEM,
        .class_code = (uint32_t)ops->pci_class << 8,
        .revision = VIRTIO_PCI_REVISION,
    };
    pci_device_init(&vdev->pci, vdev->name, &id);
    vdev->pci.bar_mapped = vpci_bar_mapped;
    vdev->pci.bar_mapped_opaque = vdev;

    err = build_bar(vdev, env);
    if (err)
        goto fail;
    err = register_fds(vdev);
    if (err)
        goto fail;
    /* Last: once on the host the guest can reach us. */
    err = pci_host_add_device(env->host, &vdev->pci);
    if (err)
        goto fail;
    *out = vdev;
    return 0;

fail:
    teardown(vdev);
    return err;
}

void virtio_pci_destroy(struct virtio_device *vdev)
{
    if (!vdev)
        return;
    struct pci_host *host = vdev->pci.host;
    if (host) {
        /* Unmapping removes the ioeventfds through the bar_mapped hook. */
        pthread_mutex_lock(&host->lock);
        pci_device_unmap_all(&vdev->pci);
        if (vdev->pci.slot < PCI_SLOTS && host->slots[vdev->pci.slot] == &vdev->pci)
            host->slots[vdev->pci.slot] = NULL;
        vdev->pci.host = NULL;
        pthread_mutex_unlock(&host->lock);
    }
    pthread_mutex_lock(&vdev->ioev_lock);
    for (unsigned i = 0; i < vdev->nr_queues; i++)
        ioev_remove(vdev, &vdev->queues[i]);
    pthread_mutex_unlock(&vdev->ioev_lock);

    vdev->live = false;
    vdev->ops->reset(vdev->dev);
    if (vdev->ops->destroy)
        vdev->ops->destroy(vdev->dev);
    teardown(vdev);
}

struct pci_device *virtio_pci_device(struct virtio_device *vdev) { return &vdev->pci; }

const struct virtio_device_ops *virtio_pci_ops(const struct virtio_device *vdev) { return vdev->ops; }

void *virtio_pci_dev(struct virtio_device *vdev) { return vdev->dev; }

const char *virtio_pci_name(const struct virtio_device *vdev) { return vdev->name; }

/* --- services for devices (virtio_dev.h) --- */

struct virtq *virtio_queue(struct virtio_device *vdev, unsigned queue)
{
    if (!vdev->live || queue >= vdev->nr_queues || !vdev->queues[queue].live)
        return NULL;
    return &vdev->queues[queue].vq;
}

uint64_t virtio_features(const struct virtio_device *vdev)
{
    return __atomic_load_n(&vdev->features, __ATOMIC_ACQUIRE);
}

void virtio_queue_interrupt(struct virtio_device *vdev, unsigned queue)
{
    struct virtq *vq = virtio_queue(vdev, queue);
    if (!vq || !virtq_needs_notify(vq))
        return;
    vpci_raise(vdev, __atomic_load_n(&vdev->queues[queue].msix_vector, __ATOMIC_RELAXED),
               VIRTIO_PCI_ISR_QUEUE);
}

static void config_irq(struct virtio_device *vdev)
{
    vpci_raise(vdev, __atomic_load_n(&vdev->config_vector, __ATOMIC_RELAXED),
               VIRTIO_PCI_ISR_CONFIG);
}

void virtio_config_interrupt(struct virtio_device *vdev)
{
    /* The driver re-reads the config when the generation moved under it. */
    __atomic_fetch_add(&vdev->config_generation, 1, __ATOMIC_RELEASE);
    config_irq(vdev);
}

void virtio_set_needs_reset(struct virtio_device *vdev, const char *reason)
{
    pthread_mutex_lock(&vdev->lock);
    bool first = !vdev->needs_reset_logged;
    vdev->needs_reset_logged = true;
    vdev->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    pthread_mutex_unlock(&vdev->lock);
    /*
     * The notification right after the status, the log line (a write to
     * stderr) only then: a driver that polls the status and then reads the
     * ISR must find the configuration-change bit, and the log in between
     * made that window wide enough for tests/kvm/virtio_bad.sh to hit.
     */
    config_irq(vdev);
    if (first)
        log_warn("virtio", "%s: device needs reset: %s", vdev->name,
                 reason && reason[0] ? reason : "device error");
}

const struct guest_mem *virtio_guest_mem(const struct virtio_device *vdev) { return vdev->mem; }

struct evloop *virtio_io_loop(struct virtio_device *vdev) { return vdev->loop; }
