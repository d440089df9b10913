// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the virtio-pci transport: a host bridge with a
 * virtio-rng and a small two-queue test device with a config space, both on
 * the real transport, driven by a sequence of BAR and config-space accesses,
 * guest-memory writes (so the input can build rings), I/O-loop batches and
 * device-side events. No KVM: ioeventfds go to a stand-in, MSI-X messages to
 * a counter. Checks after each step: the IDs, num_queues and the vectors the
 * common structure reports stay sane, the ISR holds only its two bits.
 *
 * Each op is 8 bytes: kind, flags (bit 7: which device; bits 0-1: size),
 * a 16-bit offset and a 32-bit value (little endian). Kind 7 is a macro that
 * brings a device up with a valid queue, so the fuzzer starts deep.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "pci/pci_host.h"
#include "util/log.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM        (256 * KiB)
#define ECAM       X86_PCI_ECAM_GPA

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

/* --- a second device: two queues, 16 bytes of config, echoes chains back --- */

struct echo {
    struct virtio_device *vdev;
    uint8_t config[16];
    struct virtq_chain chain;
};

static uint64_t echo_features(void *dev) { return 1ULL << 3 | 1ULL << 30; }  /* 30: transport bit, filtered */
static unsigned echo_num_queues(void *dev) { return 2; }
static uint16_t echo_queue_max(void *dev, unsigned q) { return q ? 4 : 64; }
static uint32_t echo_config_size(void *dev) { return 16; }

static void echo_config_read(void *dev, uint32_t off, void *data, unsigned size)
{
    struct echo *e = dev;
    fuzz_check(off < 16 && size <= 16 - off);
    memcpy(data, e->config + off, size);
}

static void echo_config_write(void *dev, uint32_t off, const void *data, unsigned size)
{
    struct echo *e = dev;
    fuzz_check(off < 16 && size <= 16 - off);
    memcpy(e->config + off, data, size);
}

static int echo_activate(void *dev, struct virtio_device *vdev)
{
    struct echo *e = dev;
    e->vdev = vdev;
    /* Refuse when the driver asked for it through config byte 15 (covers the failure path). */
    return e->config[15] == 0xaa ? -EIO : 0;
}

static void echo_reset(void *dev)
{
    struct echo *e = dev;
    e->vdev = NULL;
}

static void echo_notify(void *dev, unsigned q)
{
    struct echo *e = dev;
    fuzz_check(e->vdev != NULL && q < 2);
    struct virtq *vq = virtio_queue(e->vdev, q);
    if (!vq)
        return;
    while (virtq_pop(vq, &e->chain) > 0) {
        uint8_t tmp[32];
        size_t n = virtq_chain_read(&e->chain, 0, tmp, sizeof(tmp));
        virtq_push(vq, e->chain.head, (uint32_t)virtq_chain_write(&e->chain, 0, tmp, n));
    }
    virtio_queue_interrupt(e->vdev, q);
}

static const struct virtio_device_ops echo_ops = {
    .name = "echo", .device_id = 0x3f, .pci_class = 0xff00,
    .features = echo_features, .num_queues = echo_num_queues,
    .queue_max_size = echo_queue_max, .config_size = echo_config_size,
    .config_read = echo_config_read, .config_write = echo_config_write,
    .activate = echo_activate, .reset = echo_reset, .queue_notify = echo_notify,
    .destroy = NULL,
};

/* --- the world --- */

struct world {
    struct bus pio, mmio;
    struct pci_host host;
    struct guest_mem gm;
    struct evloop loop;
    int stop_fd;
    bool ioev_fail;
    unsigned msgs;
    struct echo echo;
    struct virtio_device *vdev[2];
    unsigned nr_queues[2];
};

static int fake_ioctl(void *opaque, int fd, unsigned long req, void *arg)
{
    struct world *w = opaque;
    fuzz_check(req == KVM_IOEVENTFD);
    const struct kvm_ioeventfd *e = arg;
    if (e->flags & KVM_IOEVENTFD_FLAG_DEASSIGN)
        return 0;
    /* An ioeventfd only ever goes on a queue's notify address in a decoding BAR. */
    bool ok = false;
    for (unsigned d = 0; d < 2; d++) {
        if (!w->vdev[d])
            continue;
        uint64_t at = virtio_pci_device(w->vdev[d])->bars[VIRTIO_PCI_BAR].mapped_at;
        uint64_t base = at + VIRTIO_PCI_NOTIFY_OFF;
        if (at != PCI_BAR_UNMAPPED && e->addr >= base &&
            e->addr < base + VIRTIO_PCI_NOTIFY_MULT * w->nr_queues[d] && e->addr % 4 == 0)
            ok = true;
    }
    fuzz_check(ok);
    if (w->ioev_fail) {
        errno = ENOSYS;
        return -1;
    }
    return 0;
}

static void deliver(void *opaque, unsigned vector, struct pci_msi_msg msg)
{
    struct world *w = opaque;
    fuzz_check(vector < 3);
    w->msgs++;
}

static const struct pci_msix_ops msix_ops = { deliver, NULL };

static void set_level(void *opaque, unsigned gsi, int level)
{
    fuzz_check(gsi >= PCI_INTX_GSI_BASE && gsi < PCI_INTX_GSI_BASE + PCI_INTX_GSI_COUNT);
}

static void stop_handler(void *opaque, uint32_t events)
{
    struct world *w = opaque;
    uint64_t v;
    ssize_t r = read(w->stop_fd, &v, sizeof(v));
    (void)r;
    evloop_stop(&w->loop);
}

static void run_loop(struct world *w)
{
    w->loop.stop = false;
    uint64_t one = 1;
    fuzz_check(write(w->stop_fd, &one, sizeof(one)) == sizeof(one));
    fuzz_check(evloop_run(&w->loop) == 0);
}

static int world_init(struct world *w, bool ioev_fail)
{
    memset(w, 0, sizeof(*w));
    w->stop_fd = -1;
    w->ioev_fail = ioev_fail;
    if (bus_init(&w->pio, "pio") || bus_init(&w->mmio, "mmio"))
        return -1;
    struct pci_host_config cfg = {
        .pio = &w->pio, .mmio = &w->mmio, .ecam_base = ECAM,
        .mmio32 = { X86_PCI_MMIO32_GPA, X86_PCI_MMIO32_END },
        .intx = { set_level, NULL, 0 },
    };
    if (pci_host_init(&w->host, &cfg) || guest_mem_init(&w->gm, RAM, 3 * GiB, 4 * GiB) ||
        evloop_init(&w->loop))
        return -1;
    w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->stop_fd < 0 || evloop_add(&w->loop, w->stop_fd, EPOLLIN, stop_handler, w))
        return -1;

    struct virtio_pci_env env = {
        .host = &w->host, .msix_ops = &msix_ops, .msix_opaque = w, .vm_fd = 3,
        .ioctl_fn = fake_ioctl, .ioctl_opaque = w, .mem = &w->gm, .io_loop = &w->loop,
        .name = "rng0",
    };
    struct virtio_rng *rng;
    if (virtio_rng_new(NULL, NULL, &rng))
        return -1;
    if (virtio_pci_create(&env, &virtio_rng_ops, rng, &w->vdev[0])) {
        virtio_rng_ops.destroy(rng);
        return -1;
    }
    env.name = "echo0";
    if (virtio_pci_create(&env, &echo_ops, &w->echo, &w->vdev[1]))
        return -1;
    w->nr_queues[0] = 1;
    w->nr_queues[1] = 2;
    for (unsigned d = 0; d < 2; d++) {
        struct pci_device *pd = virtio_pci_device(w->vdev[d]);
        pci_host_config_write(&w->host, 0, PCI_DEVFN(pd->slot, 0), PCI_COMMAND, 2,
                              PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    }
    return 0;
}

static void world_destroy(struct world *w)
{
    for (unsigned d = 0; d < 2; d++)
        virtio_pci_destroy(w->vdev[d]);
    pci_host_destroy(&w->host);
    evloop_destroy(&w->loop);
    if (w->stop_fd >= 0)
        close(w->stop_fd);
    guest_mem_destroy(&w->gm);
    bus_destroy(&w->mmio);
    bus_destroy(&w->pio);
}

static uint64_t bar_of(struct world *w, unsigned d)
{
    return pci_device_bar_address(virtio_pci_device(w->vdev[d]), VIRTIO_PCI_BAR);
}

static void common_write(struct world *w, unsigned d, unsigned off, unsigned size, uint64_t v)
{
    bus_write(&w->mmio, bar_of(w, d) + VIRTIO_PCI_COMMON_OFF + off, &v, size);
}

static uint64_t common_read(struct world *w, unsigned d, unsigned off, unsigned size)
{
    uint64_t v = 0;
    bus_read(&w->mmio, bar_of(w, d) + VIRTIO_PCI_COMMON_OFF + off, &v, size);
    return v;
}

/* A well-behaved driver's bring-up, with the knobs taken from `val`. */
static void bring_up(struct world *w, unsigned d, uint32_t val)
{
    common_write(w, d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
    run_loop(w);
    common_write(w, d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    common_write(w, d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    common_write(w, d, VIRTIO_PCI_COMMON_GF, 4, (val & 1 ? 1u << VIRTIO_F_EVENT_IDX : 0) |
                                                    (val & 2 ? 1u << VIRTIO_F_INDIRECT_DESC : 0));
    common_write(w, d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    common_write(w, d, VIRTIO_PCI_COMMON_GF, 4, 1);
    common_write(w, d, VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
    for (unsigned q = 0; q < w->nr_queues[d]; q++) {
        uint64_t base = 0x1000 + 0x8000ull * (2 * d + q);
        common_write(w, d, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
        common_write(w, d, VIRTIO_PCI_COMMON_Q_SIZE, 2, 1u << (val >> 4 & 3));
        common_write(w, d, VIRTIO_PCI_COMMON_Q_MSIX, 2, val >> 8 & 3);
        common_write(w, d, VIRTIO_PCI_COMMON_Q_DESC, 8, base);
        common_write(w, d, VIRTIO_PCI_COMMON_Q_AVAIL, 8, base + 0x1000);
        common_write(w, d, VIRTIO_PCI_COMMON_Q_USED, 8, base + 0x2000);
        common_write(w, d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    }
    common_write(w, d, VIRTIO_PCI_COMMON_STATUS, 1, 0x0f);
    run_loop(w);
}

static void check_invariants(struct world *w)
{
    for (unsigned d = 0; d < 2; d++) {
        struct pci_device *pd = virtio_pci_device(w->vdev[d]);
        fuzz_check(pci_device_config_read(pd, PCI_VENDOR_ID, 2) == VIRTIO_PCI_VENDOR);
        if (pd->bars[VIRTIO_PCI_BAR].mapped_at == PCI_BAR_UNMAPPED)
            continue;
        fuzz_check(common_read(w, d, VIRTIO_PCI_COMMON_NUMQ, 2) == w->nr_queues[d]);
        uint64_t v = common_read(w, d, VIRTIO_PCI_COMMON_MSIX, 2);
        fuzz_check(v <= w->nr_queues[d] || v == VIRTIO_MSI_NO_VECTOR);
        v = common_read(w, d, VIRTIO_PCI_COMMON_Q_MSIX, 2);
        fuzz_check(v <= w->nr_queues[d] || v == VIRTIO_MSI_NO_VECTOR);
        /* Features the device reports accepted are a subset of what it offers. */
        uint64_t f = virtio_features(w->vdev[d]);
        fuzz_check(!f || (f >> VIRTIO_F_VERSION_1 & 1));
        fuzz_check(!(f >> 30 & 1));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_ERROR);
    struct world w;
    if (world_init(&w, size && (data[0] & 0x80)))
        __builtin_trap();
    for (size_t pos = 1; pos + 8 <= size; pos += 8) {
        const uint8_t *op = data + pos;
        static const unsigned sizes[] = { 1, 2, 4, 8 };
        unsigned sz = sizes[op[1] & 3];
        unsigned d = op[1] >> 7;
        uint32_t off = (uint32_t)op[2] | (uint32_t)op[3] << 8;
        uint64_t val = (uint64_t)op[4] | (uint64_t)op[5] << 8 | (uint64_t)op[6] << 16 |
                       (uint64_t)op[7] << 24;
        uint64_t buf = 0;
        struct pci_device *pd = virtio_pci_device(w.vdev[d]);
        switch (op[0] % 8) {
        case 0:   /* BAR write: common, ISR, device, notify, MSI-X */
            bus_write(&w.mmio, bar_of(&w, d) + off % 0x6000, &val, sz);
            break;
        case 1: {
            bool claimed = bus_read(&w.mmio, bar_of(&w, d) + off % 0x6000, &buf, sz);
            /* The ISR holds two bits, when the BAR really decodes where config space says. */
            if (claimed && pd->bars[VIRTIO_PCI_BAR].mapped_at == bar_of(&w, d) &&
                off % 0x6000 == VIRTIO_PCI_ISR_OFF && sz == 1)
                fuzz_check(buf <= 3);
            break;
        }
        case 2:   /* config space (moves BARs, MSI-X control, PCI_CFG window) */
            bus_write(&w.mmio, ECAM + ((uint64_t)pd->slot << 15) + (off & 0xff), &val,
                      sz > 4 ? 4 : sz);
            break;
        case 3:
            bus_read(&w.mmio, ECAM + ((uint64_t)pd->slot << 15) + (off & 0xff), &buf,
                     sz > 4 ? 4 : sz);
            break;
        case 4: { /* guest memory: descriptors, rings, indirect tables */
            uint32_t v32 = (uint32_t)val;
            if (guest_mem_write(&w.gm, ((uint64_t)off * 4) % RAM, &v32, 4))
                __builtin_trap();
            break;
        }
        case 5:
            run_loop(&w);
            break;
        case 6:   /* device-side events */
            if (op[1] & 4)
                virtio_config_interrupt(w.vdev[d]);
            else if (op[1] & 8)
                virtio_set_needs_reset(w.vdev[d], "fuzz");
            else
                virtio_queue_interrupt(w.vdev[d], (unsigned)val % 3);
            break;
        case 7:
            bring_up(&w, d, (uint32_t)val);
            break;
        }
        check_invariants(&w);
    }
    world_destroy(&w);
    return 0;
}
