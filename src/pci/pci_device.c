// SPDX-License-Identifier: Apache-2.0
/*
 * A PCI function's configuration space and BAR decoding (see pci_device.h).
 * Writes go through per-byte masks; side effects (BAR moves, INTx gating,
 * capability hooks) are applied after the bytes are updated, so a capability
 * hook and the mapping code always see a consistent header.
 */
#include "pci/pci_device.h"

#include <errno.h>
#include <string.h>

#include "pci/pci_host.h"
#include "util/log.h"

static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

void pci_device_init(struct pci_device *dev, const char *name, const struct pci_device_id *id)
{
    memset(dev, 0, sizeof(*dev));
    dev->name = name;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        dev->bars[i].dev = dev;
        dev->bars[i].index = i;
        dev->bars[i].mapped_at = PCI_BAR_UNMAPPED;
    }
    dev->cap_next_free = PCI_CAP_START;

    uint8_t *c = dev->cfg;
    pci_put16(c + PCI_VENDOR_ID, id->vendor);
    pci_put16(c + PCI_DEVICE_ID, id->device);
    c[PCI_REVISION_ID] = id->revision;
    c[PCI_CLASS_PROG] = (uint8_t)id->class_code;
    pci_put16(c + PCI_CLASS_DEVICE, (uint16_t)(id->class_code >> 8));
    c[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
    pci_put16(c + PCI_SUBSYSTEM_VENDOR_ID, id->subsystem_vendor);
    pci_put16(c + PCI_SUBSYSTEM_ID, id->subsystem);
    c[PCI_INTERRUPT_PIN] = PCI_INTERRUPT_PIN_A;

    pci_put16(dev->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                                            PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
                                            PCI_COMMAND_INTX_DISABLE);
    pci_put16(dev->w1cmask + PCI_STATUS, PCI_STATUS_W1C_BITS);
    dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    dev->wmask[PCI_LATENCY_TIMER] = 0xff;
    dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

int pci_device_add_bar(struct pci_device *dev, unsigned index, uint64_t size, unsigned flags)
{
    bool io = flags & PCI_BAR_IO, is64 = flags & PCI_BAR_MEM64;
    if (index >= PCI_NUM_BARS || (is64 && index + 1 >= PCI_NUM_BARS) || !is_pow2(size))
        return -EINVAL;
    if (io && (flags & (PCI_BAR_MEM64 | PCI_BAR_PREFETCH)))
        return -EINVAL;
    if (io ? (size < 4 || size > 256) : (size < 16 || (!is64 && size > 2 * GiB)))
        return -EINVAL;
    if (dev->bars[index].size || (is64 && dev->bars[index + 1].size) || dev->host)
        return -EEXIST;
    /* The slot just before may be the low half of a 64-bit BAR. */
    if (index > 0 && (dev->bars[index - 1].flags & PCI_BAR_MEM64) && dev->bars[index - 1].size)
        return -EEXIST;

    struct pci_bar *bar = &dev->bars[index];
    bar->size = size;
    bar->flags = flags;
    unsigned off = PCI_BASE_ADDRESS_0 + 4 * index;
    uint32_t low_flags = io ? PCI_BASE_ADDRESS_SPACE_IO
                            : (is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
                                  ((flags & PCI_BAR_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
    pci_put32(dev->cfg + off, low_flags);
    /* Only address bits at or above the size are writable: that is BAR sizing. */
    uint64_t addr_mask = ~(size - 1);
    pci_put32(dev->wmask + off, (uint32_t)addr_mask & (io ? ~3u : ~15u) & (io ? 0xffffu : ~0u));
    if (is64)
        pci_put32(dev->wmask + off + 4, (uint32_t)(addr_mask >> 32));
    return 0;
}

int pci_bar_add_region(struct pci_device *dev, unsigned index, uint64_t offset, uint64_t len,
                       const struct bus_ops *ops, void *opaque)
{
    if (index >= PCI_NUM_BARS || !ops || len == 0)
        return -EINVAL;
    struct pci_bar *bar = &dev->bars[index];
    if (!bar->size || offset >= bar->size || len > bar->size - offset)
        return -EINVAL;
    if (bar->nr_regions == PCI_BAR_REGIONS_MAX)
        return -ENOSPC;
    for (unsigned i = 0; i < bar->nr_regions; i++) {
        const struct pci_bar_region *r = &bar->regions[i];
        if (offset < r->offset + r->len && r->offset < offset + len)
            return -EEXIST;
    }
    bar->regions[bar->nr_regions++] = (struct pci_bar_region){ offset, len, ops, opaque };
    return 0;
}

int pci_device_add_cap(struct pci_device *dev, uint8_t id, const void *body, unsigned len,
                       const uint8_t *wmask, const struct pci_cap_ops *ops, void *opaque,
                       unsigned *offset)
{
    if (len < 2 || !body || dev->nr_caps == PCI_CAPS_MAX)
        return -EINVAL;
    unsigned off = ALIGN_UP(dev->cap_next_free, 4u);
    if (off + len > PCI_CFG_SPACE_SIZE)
        return -ENOSPC;

    memcpy(dev->cfg + off, body, len);
    dev->cfg[off] = id;
    dev->cfg[off + 1] = 0;
    if (wmask)
        memcpy(dev->wmask + off, wmask, len);
    dev->wmask[off] = dev->wmask[off + 1] = 0;

    /* Link from the previous capability (or the header) to this one. */
    if (dev->nr_caps == 0)
        dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
    else
        dev->cfg[dev->caps[dev->nr_caps - 1].offset + 1] = (uint8_t)off;
    dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;

    dev->caps[dev->nr_caps++] = (struct pci_cap){ (uint8_t)off, (uint8_t)len, ops, opaque };
    dev->cap_next_free = off + len;
    if (offset)
        *offset = off;
    return 0;
}

/* A config access is well formed when it is 1, 2 or 4 bytes within one dword. */
static bool config_access_ok(unsigned off, unsigned size)
{
    return (size == 1 || size == 2 || size == 4) && off < PCI_CFG_EXT_SPACE_SIZE &&
           (off & 3) + size <= 4;
}

static bool ranges_meet(unsigned a, unsigned alen, unsigned b, unsigned blen)
{
    return a < b + blen && b < a + alen;
}

uint32_t pci_device_config_read(struct pci_device *dev, unsigned off, unsigned size)
{
    if (!config_access_ok(off, size))
        return UINT32_MAX;
    if (off >= PCI_CFG_SPACE_SIZE)
        return 0;
    for (unsigned i = 0; i < dev->nr_caps; i++) {
        const struct pci_cap *cap = &dev->caps[i];
        if (cap->ops && cap->ops->before_read && ranges_meet(off, size, cap->offset, cap->len))
            cap->ops->before_read(cap->opaque, dev, off, size);
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)dev->cfg[off + i] << (8 * i);
    return v;
}

uint64_t pci_device_bar_address(const struct pci_device *dev, unsigned index)
{
    if (index >= PCI_NUM_BARS)
        return 0;
    const struct pci_bar *bar = &dev->bars[index];
    const uint8_t *p = dev->cfg + PCI_BASE_ADDRESS_0 + 4 * index;
    if (bar->flags & PCI_BAR_IO)
        return pci_get32(p) & ~3u;
    uint64_t addr = pci_get32(p) & ~15u;
    if (bar->flags & PCI_BAR_MEM64)
        addr |= (uint64_t)pci_get32(p + 4) << 32;
    return addr;
}

void pci_device_set_bar_address(struct pci_device *dev, unsigned index, uint64_t addr)
{
    if (index >= PCI_NUM_BARS || !dev->bars[index].size)
        return;
    const struct pci_bar *bar = &dev->bars[index];
    uint8_t *p = dev->cfg + PCI_BASE_ADDRESS_0 + 4 * index;
    uint32_t low_flags = pci_get32(p) & ((bar->flags & PCI_BAR_IO) ? 3u : 15u);
    pci_put32(p, ((uint32_t)addr & pci_get32(dev->wmask + PCI_BASE_ADDRESS_0 + 4 * index)) |
                     low_flags);
    if (bar->flags & PCI_BAR_MEM64)
        pci_put32(p + 4, (uint32_t)(addr >> 32));
    pci_device_update_mappings(dev);
}

/* BAR dispatch: find the region that holds the access. */
static const struct pci_bar_region *bar_region(const struct pci_bar *bar, uint64_t off,
                                               unsigned size)
{
    for (unsigned i = 0; i < bar->nr_regions; i++) {
        const struct pci_bar_region *r = &bar->regions[i];
        if (off >= r->offset && off - r->offset < r->len && size <= r->len - (off - r->offset))
            return r;
    }
    return NULL;
}

static void bar_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    const struct pci_bar_region *r = bar_region(opaque, off, size);
    if (r && r->ops->read)
        r->ops->read(r->opaque, off - r->offset, data, size);
    else
        memset(data, 0xff, size);
}

static void bar_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    const struct pci_bar_region *r = bar_region(opaque, off, size);
    if (r && r->ops->write)
        r->ops->write(r->opaque, off - r->offset, data, size);
}

static const struct bus_ops pci_bar_ops = { bar_read, bar_write };

static struct bus *bar_bus(const struct pci_device *dev, const struct pci_bar *bar)
{
    if (!dev->host)
        return NULL;
    return (bar->flags & PCI_BAR_IO) ? dev->host->cfg.pio : dev->host->cfg.mmio;
}

static void bar_unmap(struct pci_device *dev, struct pci_bar *bar)
{
    if (bar->mapped_at == PCI_BAR_UNMAPPED)
        return;
    struct bus *bus = bar_bus(dev, bar);
    if (bus)
        (void)bus_unregister(bus, bar->mapped_at);
    bar->mapped_at = PCI_BAR_UNMAPPED;
    if (dev->bar_mapped)
        dev->bar_mapped(dev->bar_mapped_opaque, bar->index, PCI_BAR_UNMAPPED);
}

/* Where the BAR should decode now, or PCI_BAR_UNMAPPED. */
static uint64_t bar_wanted(const struct pci_device *dev, const struct pci_bar *bar)
{
    uint16_t cmd = pci_device_command(dev);
    bool io = bar->flags & PCI_BAR_IO;
    if (!(cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
        return PCI_BAR_UNMAPPED;
    uint64_t addr = pci_device_bar_address(dev, bar->index);
    /* Address 0 means "unassigned"; a wrapping range cannot decode. */
    if (addr == 0 || addr + bar->size - 1 < addr)
        return PCI_BAR_UNMAPPED;
    if (io && addr + bar->size > 0x10000)
        return PCI_BAR_UNMAPPED;
    return addr;
}

static void bar_refused(struct pci_bar *bar, const struct pci_device *dev, uint64_t addr,
                        const char *why)
{
    if (bar->refused_logged)
        return;
    bar->refused_logged = true;
    log_warn("pci", "%s: BAR%u at 0x%llx (size 0x%llx) %s; not decoding it", dev->name,
             bar->index, (unsigned long long)addr, (unsigned long long)bar->size, why);
}

static void bar_update(struct pci_device *dev, struct pci_bar *bar)
{
    uint64_t want = bar_wanted(dev, bar);
    if (want == bar->mapped_at)
        return;
    bar_unmap(dev, bar);
    if (want == PCI_BAR_UNMAPPED)
        return;

    const struct pci_host_config *hc = &dev->host->cfg;
    if (!(bar->flags & PCI_BAR_IO) && hc->overlaps_ram &&
        hc->overlaps_ram(hc->ram_opaque, want, bar->size)) {
        bar_refused(bar, dev, want, "overlaps RAM");
        return;
    }
    int err = bus_register(bar_bus(dev, bar), want, bar->size, &pci_bar_ops, bar, dev->name);
    if (err) {
        bar_refused(bar, dev, want, err == -EEXIST ? "overlaps another device" : "cannot be mapped");
        return;
    }
    bar->mapped_at = want;
    if (dev->bar_mapped)
        dev->bar_mapped(dev->bar_mapped_opaque, bar->index, want);
}

void pci_device_update_mappings(struct pci_device *dev)
{
    if (!dev->host)
        return;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        if (dev->bars[i].size)
            bar_update(dev, &dev->bars[i]);
}

void pci_device_unmap_all(struct pci_device *dev)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        bar_unmap(dev, &dev->bars[i]);
}

static void intx_update(struct pci_device *dev)
{
    bool assert = dev->intx_level && !dev->msix_enabled &&
                  !(pci_device_command(dev) & PCI_COMMAND_INTX_DISABLE);
    /* The status bit shows the device's request even when it is gated. */
    if (dev->intx_level)
        dev->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        dev->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    if (assert != dev->intx_asserted) {
        dev->intx_asserted = assert;
        irq_line_set(&dev->intx, assert);
    }
}

void pci_device_set_intx(struct pci_device *dev, bool level)
{
    /* Device threads call this; the status and command bytes belong to the host lock. */
    struct pci_host *host = dev->host;
    if (host)
        pthread_mutex_lock(&host->lock);
    dev->intx_level = level;
    intx_update(dev);
    if (host)
        pthread_mutex_unlock(&host->lock);
}

void pci_device_set_msix_enabled(struct pci_device *dev, bool enabled)
{
    dev->msix_enabled = enabled;
    intx_update(dev);
}

void pci_device_config_write(struct pci_device *dev, unsigned off, unsigned size, uint32_t val)
{
    if (!config_access_ok(off, size) || off >= PCI_CFG_SPACE_SIZE)
        return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        uint8_t *p = &dev->cfg[off + i];
        uint8_t wm = dev->wmask[off + i], w1c = dev->w1cmask[off + i];
        *p = (uint8_t)(((*p & ~wm) | (b & wm)) & ~(b & w1c));
    }
    if (ranges_meet(off, size, PCI_COMMAND, 2)) {
        intx_update(dev);
        pci_device_update_mappings(dev);
    } else if (ranges_meet(off, size, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS)) {
        pci_device_update_mappings(dev);
    }
    for (unsigned i = 0; i < dev->nr_caps; i++) {
        const struct pci_cap *cap = &dev->caps[i];
        if (cap->ops && cap->ops->after_write && ranges_meet(off, size, cap->offset, cap->len))
            cap->ops->after_write(cap->opaque, dev, off, size);
    }
}
