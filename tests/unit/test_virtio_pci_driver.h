/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-pci driver for the unit tests: a PCI host on two buses, virtio-rng
 * devices on the real transport, stand-ins for KVM (KVM_IOEVENTFD recorder,
 * MSI-X message recorder, INTx line recorder), and driver helpers that do
 * what a guest does: walk the capabilities, negotiate, lay out a split queue
 * in guest RAM, kick, and read the used ring. The I/O thread's loop is run
 * one batch at a time from the test thread, so every step is deterministic.
 * Include after <cmocka.h>.
 */
#ifndef CASULO_TEST_VIRTIO_PCI_DRIVER_H
#define CASULO_TEST_VIRTIO_PCI_DRIVER_H

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "pci/pci_host.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtqueue.h"

#define VD_ECAM      X86_PCI_ECAM_GPA
#define VD_RAM       (2 * MiB)
#define VD_MAX_DEVS  2
#define VD_MAX_MSGS  64
#define VD_MAX_IOEV  64

/* Queue layout in guest RAM, per device (dev i adds i * VD_DEV_STRIDE). */
#define VD_DESC      0x10000ull
#define VD_AVAIL     0x14000ull
#define VD_USED      0x16000ull
#define VD_BUF       0x20000ull
#define VD_DEV_STRIDE 0x80000ull

struct vd_ioev {
    uint64_t addr;
    uint32_t len;
    int fd;
    bool deassign;
};

struct vd_msg {
    unsigned vector;
    struct pci_msi_msg msg;
};

struct vd {
    struct bus pio, mmio;
    struct pci_host host;
    struct guest_mem gm;
    struct evloop loop;
    int stop_fd;

    /* KVM stand-ins */
    bool ioev_fail;
    struct vd_ioev ioev[VD_MAX_IOEV];
    unsigned nr_ioev;
    struct vd_msg msgs[VD_MAX_MSGS];
    unsigned nr_msgs;
    int intx_level[32];         /* by GSI */
    unsigned intx_changes;

    struct virtio_device *vdev[VD_MAX_DEVS];
    unsigned nr_devs;
    uint16_t avail_idx[VD_MAX_DEVS];
    uint16_t qsize[VD_MAX_DEVS];
};

static inline int vd_ioctl(void *opaque, int fd, unsigned long req, void *arg)
{
    struct vd *t = opaque;
    if (req != KVM_IOEVENTFD) {
        errno = ENOTTY;
        return -1;
    }
    const struct kvm_ioeventfd *e = arg;
    bool deassign = e->flags & KVM_IOEVENTFD_FLAG_DEASSIGN;
    if (t->ioev_fail && !deassign) {
        errno = ENOSYS;
        return -1;
    }
    if (t->nr_ioev < VD_MAX_IOEV)
        t->ioev[t->nr_ioev++] = (struct vd_ioev){ e->addr, e->len, e->fd, deassign };
    return 0;
}

static inline void vd_deliver(void *opaque, unsigned vector, struct pci_msi_msg msg)
{
    struct vd *t = opaque;
    if (t->nr_msgs < VD_MAX_MSGS)
        t->msgs[t->nr_msgs++] = (struct vd_msg){ vector, msg };
}

static const struct pci_msix_ops vd_msix_ops = { vd_deliver, NULL };

static inline void vd_irq(void *opaque, unsigned gsi, int level)
{
    struct vd *t = opaque;
    if (gsi < 32)
        t->intx_level[gsi] = level;
    t->intx_changes++;
}

static inline void vd_stop(void *opaque, uint32_t events)
{
    struct vd *t = opaque;
    uint64_t v;
    ssize_t r = read(t->stop_fd, &v, sizeof(v));
    (void)r;
    evloop_stop(&t->loop);
}

/* One epoll batch of the I/O thread: everything ready now is handled. */
static inline void vd_run(struct vd *t)
{
    t->loop.stop = false;
    uint64_t one = 1;
    assert_int_equal(write(t->stop_fd, &one, sizeof(one)), (int)sizeof(one));
    assert_int_equal(evloop_run(&t->loop), 0);
}

static inline void vd_init(struct vd *t)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(bus_init(&t->pio, "pio"), 0);
    assert_int_equal(bus_init(&t->mmio, "mmio"), 0);
    struct pci_host_config cfg = {
        .pio = &t->pio, .mmio = &t->mmio, .ecam_base = VD_ECAM,
        .mmio32 = { X86_PCI_MMIO32_GPA, X86_PCI_MMIO32_END },
        .intx = { .set_level = vd_irq, .opaque = t },
    };
    assert_int_equal(pci_host_init(&t->host, &cfg), 0);
    assert_int_equal(guest_mem_init(&t->gm, VD_RAM, 3 * GiB, 4 * GiB), 0);
    assert_int_equal(evloop_init(&t->loop), 0);
    t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_true(t->stop_fd >= 0);
    assert_int_equal(evloop_add(&t->loop, t->stop_fd, EPOLLIN, vd_stop, t), 0);
}

static inline struct virtio_pci_env vd_env(struct vd *t, const char *name)
{
    return (struct virtio_pci_env){
        .host = &t->host, .msix_ops = &vd_msix_ops, .msix_opaque = t,
        .vm_fd = 99, .ioctl_fn = vd_ioctl, .ioctl_opaque = t,
        .mem = &t->gm, .io_loop = &t->loop, .name = name,
    };
}

/* Adds a virtio-rng; returns its index. */
static inline unsigned vd_add_rng(struct vd *t, virtio_rng_fill_fn fill, void *opaque)
{
    assert_true(t->nr_devs < VD_MAX_DEVS);
    struct virtio_rng *rng;
    assert_int_equal(virtio_rng_new(fill, opaque, &rng), 0);
    static const char *names[VD_MAX_DEVS] = { "rng0", "rng1" };
    struct virtio_pci_env env = vd_env(t, names[t->nr_devs]);
    assert_int_equal(virtio_pci_create(&env, &virtio_rng_ops, rng, &t->vdev[t->nr_devs]), 0);
    return t->nr_devs++;
}

static inline void vd_fini(struct vd *t)
{
    for (unsigned i = 0; i < t->nr_devs; i++)
        virtio_pci_destroy(t->vdev[i]);
    pci_host_destroy(&t->host);
    evloop_destroy(&t->loop);
    close(t->stop_fd);
    guest_mem_destroy(&t->gm);
    bus_destroy(&t->mmio);
    bus_destroy(&t->pio);
}

/* --- config space and BAR access, as a vCPU would --- */

static inline unsigned vd_slot(struct vd *t, unsigned dev)
{
    return virtio_pci_device(t->vdev[dev])->slot;
}

static inline uint32_t vd_cfg_read(struct vd *t, unsigned dev, unsigned off, unsigned size)
{
    uint32_t v = 0;
    bus_read(&t->mmio, VD_ECAM + ((uint64_t)vd_slot(t, dev) << 15) + off, &v, size);
    return v;
}

static inline void vd_cfg_write(struct vd *t, unsigned dev, unsigned off, unsigned size, uint32_t v)
{
    bus_write(&t->mmio, VD_ECAM + ((uint64_t)vd_slot(t, dev) << 15) + off, &v, size);
}

static inline uint64_t vd_bar(struct vd *t, unsigned dev)
{
    return pci_device_bar_address(virtio_pci_device(t->vdev[dev]), VIRTIO_PCI_BAR);
}

static inline uint64_t vd_read(struct vd *t, unsigned dev, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    bus_read(&t->mmio, vd_bar(t, dev) + off, &v, size);
    return v;
}

static inline void vd_write(struct vd *t, unsigned dev, uint64_t off, unsigned size, uint64_t v)
{
    bus_write(&t->mmio, vd_bar(t, dev) + off, &v, size);
}

static inline void vd_enable_mem(struct vd *t, unsigned dev)
{
    vd_cfg_write(t, dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* The config offset of the vendor capability of `type`, 0 when absent. */
static inline unsigned vd_find_cap(struct vd *t, unsigned dev, uint8_t type)
{
    unsigned off = vd_cfg_read(t, dev, PCI_CAPABILITY_LIST, 1);
    for (unsigned n = 0; off && n < 48; n++) {
        if (vd_cfg_read(t, dev, off, 1) == PCI_CAP_ID_VNDR &&
            vd_cfg_read(t, dev, off + VIRTIO_PCI_CAP_CFG_TYPE, 1) == type)
            return off;
        off = vd_cfg_read(t, dev, off + 1, 1);
    }
    return 0;
}

/* Common-config helpers: offsets within the common structure. */
static inline uint64_t vd_common_rd(struct vd *t, unsigned dev, unsigned off, unsigned size)
{
    return vd_read(t, dev, VIRTIO_PCI_COMMON_OFF + off, size);
}

static inline void vd_common_wr(struct vd *t, unsigned dev, unsigned off, unsigned size, uint64_t v)
{
    vd_write(t, dev, VIRTIO_PCI_COMMON_OFF + off, size, v);
}

static inline uint8_t vd_status(struct vd *t, unsigned dev)
{
    return (uint8_t)vd_common_rd(t, dev, VIRTIO_PCI_COMMON_STATUS, 1);
}

static inline void vd_set_status(struct vd *t, unsigned dev, uint8_t s)
{
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_STATUS, 1, s);
}

/* Reset, then poll device_status until it reads 0 (running the I/O loop in between). */
static inline void vd_reset(struct vd *t, unsigned dev)
{
    vd_set_status(t, dev, 0);
    for (unsigned i = 0; i < 4 && vd_status(t, dev) != 0; i++)
        vd_run(t);
    assert_int_equal(vd_status(t, dev), 0);
}

static inline uint64_t vd_device_features(struct vd *t, unsigned dev)
{
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    uint64_t lo = vd_common_rd(t, dev, VIRTIO_PCI_COMMON_DF, 4);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    uint64_t hi = vd_common_rd(t, dev, VIRTIO_PCI_COMMON_DF, 4);
    return hi << 32 | lo;
}

static inline void vd_driver_features(struct vd *t, unsigned dev, uint64_t f)
{
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)f);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_GF, 4, f >> 32);
}

/* reset, ACK, DRIVER, features, FEATURES_OK; returns whether FEATURES_OK stuck. */
static inline bool vd_negotiate(struct vd *t, unsigned dev, uint64_t features)
{
    vd_reset(t, dev);
    vd_set_status(t, dev, VIRTIO_STATUS_ACKNOWLEDGE);
    vd_set_status(t, dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vd_driver_features(t, dev, features);
    vd_set_status(t, dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK);
    return vd_status(t, dev) & VIRTIO_STATUS_FEATURES_OK;
}

#define VD_BASIC_FEATURES (1ULL << VIRTIO_F_VERSION_1)

/* Programs queue 0 at the device's default layout; returns queue_enable read back. */
static inline uint16_t vd_setup_queue_at(struct vd *t, unsigned dev, uint16_t size, uint64_t desc,
                                         uint64_t avail, uint64_t used, uint16_t vector)
{
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_MSIX, 2, vector);
    /* 64-bit fields as two 32-bit halves, as Linux writes them. */
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_DESC, 4, (uint32_t)desc);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_DESC + 4, 4, desc >> 32);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_AVAIL, 4, (uint32_t)avail);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_AVAIL + 4, 4, avail >> 32);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_USED, 4, (uint32_t)used);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_USED + 4, 4, used >> 32);
    vd_common_wr(t, dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    t->qsize[dev] = size;
    t->avail_idx[dev] = 0;
    return (uint16_t)vd_common_rd(t, dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2);
}

static inline uint64_t vd_gpa(unsigned dev, uint64_t base) { return base + dev * VD_DEV_STRIDE; }

static inline uint16_t vd_setup_queue(struct vd *t, unsigned dev, uint16_t size, uint16_t vector)
{
    return vd_setup_queue_at(t, dev, size, vd_gpa(dev, VD_DESC), vd_gpa(dev, VD_AVAIL),
                             vd_gpa(dev, VD_USED), vector);
}

static inline void vd_driver_ok(struct vd *t, unsigned dev)
{
    vd_set_status(t, dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    vd_run(t);
}

/* Negotiate, one queue of `size`, DRIVER_OK; with `msix`, vectors 0 (queue) and 1 (config). */
static inline void vd_bring_up(struct vd *t, unsigned dev, uint64_t features, uint16_t size,
                               bool msix)
{
    vd_enable_mem(t, dev);
    if (msix) {
        struct pci_device *pd = virtio_pci_device(t->vdev[dev]);
        unsigned cap = 0;
        for (unsigned i = 0; i < pd->nr_caps; i++)
            if (pd->caps[i].offset && pd->cfg[pd->caps[i].offset] == PCI_CAP_ID_MSIX)
                cap = pd->caps[i].offset;
        assert_true(cap != 0);
        for (unsigned v = 0; v < 2; v++) {
            uint64_t e = VIRTIO_PCI_MSIX_OFF + 16ull * v;
            vd_write(t, dev, e + PCI_MSIX_ENTRY_ADDR_LO, 4, 0xfee00000u);
            vd_write(t, dev, e + PCI_MSIX_ENTRY_ADDR_HI, 4, 0);
            vd_write(t, dev, e + PCI_MSIX_ENTRY_DATA, 4, 0x40 + v + 8 * dev);
            vd_write(t, dev, e + PCI_MSIX_ENTRY_CTRL, 4, 0);
        }
        vd_cfg_write(t, dev, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    }
    assert_true(vd_negotiate(t, dev, features));
    if (msix)
        vd_common_wr(t, dev, VIRTIO_PCI_COMMON_MSIX, 2, 1);
    assert_int_equal(vd_setup_queue(t, dev, size, msix ? 0 : VIRTIO_MSI_NO_VECTOR), 1);
    vd_driver_ok(t, dev);
    assert_int_equal(vd_status(t, dev) & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET),
                     VIRTIO_STATUS_DRIVER_OK);
}

/* --- the ring, as the driver sees it --- */

static inline void vd_w16(struct vd *t, uint64_t gpa, uint16_t v)
{
    assert_int_equal(guest_mem_write(&t->gm, gpa, &v, sizeof(v)), 0);
}

static inline uint16_t vd_r16(struct vd *t, uint64_t gpa)
{
    uint16_t v = 0;
    assert_int_equal(guest_mem_read(&t->gm, gpa, &v, sizeof(v)), 0);
    return v;
}

static inline uint32_t vd_r32(struct vd *t, uint64_t gpa)
{
    uint32_t v = 0;
    assert_int_equal(guest_mem_read(&t->gm, gpa, &v, sizeof(v)), 0);
    return v;
}

static inline void vd_desc_at(struct vd *t, uint64_t table, uint16_t i, uint64_t addr,
                              uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t d[16];
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    assert_int_equal(guest_mem_write(&t->gm, table + 16ull * i, d, sizeof(d)), 0);
}

static inline void vd_desc(struct vd *t, unsigned dev, uint16_t i, uint64_t addr, uint32_t len,
                           uint16_t flags, uint16_t next)
{
    vd_desc_at(t, vd_gpa(dev, VD_DESC), i, addr, len, flags, next);
}

static inline void vd_avail(struct vd *t, unsigned dev, uint16_t head)
{
    uint64_t avail = vd_gpa(dev, VD_AVAIL);
    uint16_t idx = t->avail_idx[dev];
    vd_w16(t, avail + 4 + 2ull * (idx % t->qsize[dev]), head);
    t->avail_idx[dev] = (uint16_t)(idx + 1);
    vd_w16(t, avail + 2, t->avail_idx[dev]);
}

static inline uint16_t vd_used_idx(struct vd *t, unsigned dev)
{
    return vd_r16(t, vd_gpa(dev, VD_USED) + 2);
}

static inline void vd_used_elem(struct vd *t, unsigned dev, uint16_t idx, uint32_t *id,
                                uint32_t *len)
{
    uint64_t e = vd_gpa(dev, VD_USED) + 4 + 8ull * (idx % t->qsize[dev]);
    *id = vd_r32(t, e);
    *len = vd_r32(t, e + 4);
}

/* Writes the notify address of queue 0 (what KVM would turn into an eventfd signal). */
static inline void vd_kick(struct vd *t, unsigned dev)
{
    vd_write(t, dev, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
}

static inline uint8_t *vd_hva(struct vd *t, uint64_t gpa, uint64_t len)
{
    uint8_t *p = guest_mem_ptr(&t->gm, gpa, len);
    assert_non_null(p);
    return p;
}

static inline bool vd_all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

#endif
