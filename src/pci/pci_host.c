// SPDX-License-Identifier: Apache-2.0
/*
 * The PCI host bridge (see pci_host.h): decodes configuration mechanism #1
 * and ECAM into (bus, device, function, offset), forwards to the function
 * in that slot, and assigns slots, INTx GSIs and BAR addresses as firmware
 * would before the guest boots.
 */
#include "pci/pci_host.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

unsigned pci_host_intx_gsi(unsigned slot, unsigned pin)
{
    unsigned pin_index = pin ? pin - 1 : 0;
    return PCI_INTX_GSI_BASE + (slot + PCI_INTX_GSI_COUNT - 1 + pin_index) % PCI_INTX_GSI_COUNT;
}

struct pci_window pci_host_mmio64_window(uint64_t ram_end)
{
    uint64_t base = MAX(PCI_MMIO64_MIN_BASE, ALIGN_UP(ram_end, GiB));
    return (struct pci_window){ base, base + PCI_MMIO64_SIZE };
}

static struct pci_device *host_function(struct pci_host *host, unsigned bus, unsigned devfn)
{
    /* Bus 0 only, single-function devices only. */
    if (bus != 0 || (devfn & 7) != 0 || devfn >> 3 >= PCI_SLOTS)
        return NULL;
    return host->slots[devfn >> 3];
}

uint32_t pci_host_config_read(struct pci_host *host, unsigned bus, unsigned devfn, unsigned off,
                              unsigned size)
{
    if (size != 1 && size != 2 && size != 4)
        return UINT32_MAX;
    uint32_t all_ones = (uint32_t)(UINT64_MAX >> (64 - 8 * size));
    pthread_mutex_lock(&host->lock);
    struct pci_device *dev = host_function(host, bus, devfn);
    uint32_t v = dev ? pci_device_config_read(dev, off, size) & all_ones : all_ones;
    pthread_mutex_unlock(&host->lock);
    return v;
}

void pci_host_config_write(struct pci_host *host, unsigned bus, unsigned devfn, unsigned off,
                           unsigned size, uint32_t val)
{
    pthread_mutex_lock(&host->lock);
    struct pci_device *dev = host_function(host, bus, devfn);
    if (dev)
        pci_device_config_write(dev, off, size, val);
    pthread_mutex_unlock(&host->lock);
}

static uint32_t load_le(const void *data, unsigned size)
{
    const uint8_t *p = data;
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static void store_le(void *data, unsigned size, uint64_t v)
{
    uint8_t *p = data;
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* 0xCF8: the address latch, 32-bit accesses only (byte accesses are not ours). */
static void cf8_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct pci_host *host = opaque;
    if (off != 0 || size != 4) {
        memset(data, 0xff, size);
        return;
    }
    pthread_mutex_lock(&host->lock);
    uint32_t v = host->config_address;
    pthread_mutex_unlock(&host->lock);
    store_le(data, 4, v);
}

static void cf8_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct pci_host *host = opaque;
    if (off != 0 || size != 4)
        return;
    pthread_mutex_lock(&host->lock);
    /* Bits 1:0 are reserved and read back as zero. */
    host->config_address = load_le(data, 4) & ~3u;
    pthread_mutex_unlock(&host->lock);
}

/* Decodes the latch; false when it is disabled. */
static bool cf8_decode(struct pci_host *host, unsigned *bus, unsigned *devfn, unsigned *reg)
{
    pthread_mutex_lock(&host->lock);
    uint32_t a = host->config_address;
    pthread_mutex_unlock(&host->lock);
    if (!(a & PCI_CONFIG_ADDRESS_ENABLE))
        return false;
    *bus = (a >> 16) & 0xff;
    *devfn = (a >> 8) & 0xff;
    *reg = a & 0xfc;
    return true;
}

static void cfc_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct pci_host *host = opaque;
    unsigned bus, devfn, reg;
    if (off + size > 4 || !cf8_decode(host, &bus, &devfn, &reg)) {
        memset(data, 0xff, size);
        return;
    }
    store_le(data, size, pci_host_config_read(host, bus, devfn, reg + (unsigned)off, size));
}

static void cfc_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct pci_host *host = opaque;
    unsigned bus, devfn, reg;
    if (off + size > 4 || size > 4 || !cf8_decode(host, &bus, &devfn, &reg))
        return;
    pci_host_config_write(host, bus, devfn, reg + (unsigned)off, size, load_le(data, size));
}

/* ECAM: bus[27:20] device[19:15] function[14:12] register[11:0]. */
static void ecam_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    if (size > 4) {
        memset(data, 0xff, size);
        return;
    }
    store_le(data, size,
             pci_host_config_read(opaque, (unsigned)(off >> 20), (unsigned)(off >> 12) & 0xff,
                                  (unsigned)off & 0xfff, size));
}

static void ecam_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    if (size > 4)
        return;
    pci_host_config_write(opaque, (unsigned)(off >> 20), (unsigned)(off >> 12) & 0xff,
                          (unsigned)off & 0xfff, size, load_le(data, size));
}

static const struct bus_ops cf8_ops = { cf8_read, cf8_write };
static const struct bus_ops cfc_ops = { cfc_read, cfc_write };
static const struct bus_ops ecam_ops = { ecam_read, ecam_write };

static bool window_ok(const struct pci_window *w)
{
    return w->base <= w->end;
}

int pci_host_init(struct pci_host *host, const struct pci_host_config *cfg)
{
    memset(host, 0, sizeof(*host));
    if (!cfg->pio || !cfg->mmio || !window_ok(&cfg->mmio32) || !window_ok(&cfg->mmio64) ||
        !window_ok(&cfg->io) || cfg->io.end > 0x10000)
        return -EINVAL;
    host->cfg = *cfg;
    host->next_mmio32 = cfg->mmio32.base;
    host->next_mmio64 = cfg->mmio64.base;
    host->next_io = cfg->io.base;
    /*
     * Recursive: a config write may reach a device handler (a capability
     * hook, virtio's PCI-config access window) that raises INTx, which takes
     * the lock again on the same thread.
     */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    int err = pthread_mutex_init(&host->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (err)
        return -err;

    const struct pci_device_id id = {
        .vendor = PCI_HOST_BRIDGE_VENDOR, .device = PCI_HOST_BRIDGE_DEVICE,
        .subsystem_vendor = PCI_HOST_BRIDGE_VENDOR, .subsystem = 0x1100,
        .class_code = PCI_CLASS_BRIDGE_HOST,
    };
    pci_device_init(&host->bridge, "pci-host", &id);
    /* The bridge raises no interrupts and decodes no BARs. */
    host->bridge.cfg[PCI_INTERRUPT_PIN] = 0;
    host->bridge.host = host;
    host->slots[0] = &host->bridge;

    err = bus_register(cfg->pio, PCI_CONFIG_ADDRESS_PORT, 4, &cf8_ops, host, "pci-cf8");
    if (err)
        goto fail_lock;
    err = bus_register(cfg->pio, PCI_CONFIG_DATA_PORT, 4, &cfc_ops, host, "pci-cfc");
    if (err)
        goto fail_cf8;
    host->pio_registered = true;
    if (cfg->ecam_base) {
        err = bus_register(cfg->mmio, cfg->ecam_base, PCI_ECAM_SIZE_BUS0, &ecam_ops, host,
                           "pci-ecam");
        if (err)
            goto fail_cfc;
        host->ecam_registered = true;
    }
    return 0;

fail_cfc:
    (void)bus_unregister(cfg->pio, PCI_CONFIG_DATA_PORT);
    host->pio_registered = false;
fail_cf8:
    (void)bus_unregister(cfg->pio, PCI_CONFIG_ADDRESS_PORT);
fail_lock:
    pthread_mutex_destroy(&host->lock);
    return err;
}

void pci_host_destroy(struct pci_host *host)
{
    if (!host->cfg.pio)
        return;
    pthread_mutex_lock(&host->lock);
    for (unsigned s = 1; s < PCI_SLOTS; s++) {
        if (host->slots[s]) {
            pci_device_unmap_all(host->slots[s]);
            host->slots[s]->host = NULL;
            host->slots[s] = NULL;
        }
    }
    pthread_mutex_unlock(&host->lock);
    if (host->ecam_registered)
        (void)bus_unregister(host->cfg.mmio, host->cfg.ecam_base);
    if (host->pio_registered) {
        (void)bus_unregister(host->cfg.pio, PCI_CONFIG_DATA_PORT);
        (void)bus_unregister(host->cfg.pio, PCI_CONFIG_ADDRESS_PORT);
    }
    pthread_mutex_destroy(&host->lock);
    memset(host, 0, sizeof(*host));
}

/* Takes an aligned block from a window; false when it does not fit. */
static bool window_take(const struct pci_window *w, uint64_t *next, uint64_t size, uint64_t *addr)
{
    if (w->base == w->end)
        return false;
    uint64_t a = ALIGN_UP(*next, size);
    if (a < *next || a >= w->end || size > w->end - a)
        return false;
    *addr = a;
    *next = a + size;
    return true;
}

int pci_host_add_device(struct pci_host *host, struct pci_device *dev)
{
    if (!dev || dev->host)
        return -EINVAL;
    pthread_mutex_lock(&host->lock);
    int ret = -ENOSPC;
    unsigned slot = 1;
    while (slot < PCI_SLOTS && host->slots[slot])
        slot++;
    if (slot == PCI_SLOTS)
        goto out;

    /*
     * Largest BARs first, so natural alignment wastes nothing between them.
     * Work on copies of the cursors: a device that does not fit changes nothing.
     */
    uint64_t next32 = host->next_mmio32, next64 = host->next_mmio64, next_io = host->next_io;
    uint64_t addr[PCI_NUM_BARS] = { 0 };
    bool done[PCI_NUM_BARS] = { false };
    for (;;) {
        int pick = -1;
        for (unsigned i = 0; i < PCI_NUM_BARS; i++)
            if (dev->bars[i].size && !done[i] && (pick < 0 || dev->bars[i].size > dev->bars[pick].size))
                pick = (int)i;
        if (pick < 0)
            break;
        const struct pci_bar *bar = &dev->bars[pick];
        bool ok;
        if (bar->flags & PCI_BAR_IO)
            ok = window_take(&host->cfg.io, &next_io, bar->size, &addr[pick]);
        else if ((bar->flags & PCI_BAR_MEM64) && host->cfg.mmio64.base != host->cfg.mmio64.end)
            ok = window_take(&host->cfg.mmio64, &next64, bar->size, &addr[pick]);
        else
            ok = window_take(&host->cfg.mmio32, &next32, bar->size, &addr[pick]);
        if (!ok) {
            log_warn("pci", "%s: no room for BAR%d (size 0x%llx)", dev->name, pick,
                     (unsigned long long)bar->size);
            goto out;
        }
        done[pick] = true;
    }

    host->next_mmio32 = next32;
    host->next_mmio64 = next64;
    host->next_io = next_io;
    dev->host = host;
    dev->slot = slot;
    dev->intx = host->cfg.intx;
    dev->intx.gsi = pci_host_intx_gsi(slot, PCI_INTERRUPT_PIN_A);
    dev->cfg[PCI_INTERRUPT_LINE] = (uint8_t)dev->intx.gsi;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        if (dev->bars[i].size)
            pci_device_set_bar_address(dev, i, addr[i]);
    host->slots[slot] = dev;
    ret = 0;
out:
    pthread_mutex_unlock(&host->lock);
    return ret;
}
