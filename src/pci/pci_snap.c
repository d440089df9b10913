// SPDX-License-Identifier: Apache-2.0
/*
 * Saving and loading one PCI function's guest-programmed state (see
 * pci_snap.h). Loading merges the saved bytes through the write masks, so
 * the bytes the host owns (IDs, BAR sizes, capability layout) always come
 * from the rebuilt device; a record whose read-only bytes differ from it
 * describes another device and is refused.
 */
#include "pci/pci_snap.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "pci/pci_host.h"

size_t pci_snap_size(unsigned nr_vectors)
{
    return sizeof(struct pci_snap) + (size_t)nr_vectors * PCI_MSIX_ENTRY_SIZE +
           (size_t)(ALIGN_UP(nr_vectors, 64u) / 64) * 8;
}

static uint8_t guest_mask(const struct pci_device *dev, unsigned i)
{
    uint8_t m = dev->wmask[i] | dev->w1cmask[i];
    /* The device sets the interrupt status bit; it follows the saved INTx level. */
    if (i == PCI_STATUS)
        m |= PCI_STATUS_INTERRUPT;
    return m;
}

void pci_snap_save(const struct pci_device *dev, struct pci_msix *msix, uint8_t *buf)
{
    struct pci_snap s;
    memset(&s, 0, sizeof(s));
    memcpy(s.cfg, dev->cfg, sizeof(s.cfg));
    s.vendor = pci_get16(dev->cfg + PCI_VENDOR_ID);
    s.device = pci_get16(dev->cfg + PCI_DEVICE_ID);
    s.intx_level = dev->intx_level;
    uint8_t *p = buf + sizeof(s);
    if (msix) {
        pthread_mutex_lock(&msix->lock);
        s.msix_vectors = msix->nr_vectors;
        s.msix_enabled = msix->enabled;
        s.msix_function_masked = msix->function_masked;
        for (unsigned v = 0; v < msix->nr_vectors; v++, p += PCI_MSIX_ENTRY_SIZE) {
            const struct pci_msix_entry *e = &msix->table[v];
            pci_put32(p, e->addr_lo);
            pci_put32(p + 4, e->addr_hi);
            pci_put32(p + 8, e->data);
            pci_put32(p + 12, e->ctrl);
        }
        for (unsigned i = 0; i < ALIGN_UP(msix->nr_vectors, 64u) / 64; i++, p += 8) {
            pci_put32(p, (uint32_t)msix->pba[i]);
            pci_put32(p + 4, (uint32_t)(msix->pba[i] >> 32));
        }
        pthread_mutex_unlock(&msix->lock);
    }
    memcpy(buf, &s, sizeof(s));
}

int pci_snap_check(const struct pci_device *dev, const struct pci_msix *msix, const uint8_t *buf,
                   size_t len)
{
    struct pci_snap s;
    if (len < sizeof(s))
        return -EBADMSG;
    memcpy(&s, buf, sizeof(s));
    unsigned nvec = msix ? msix->nr_vectors : 0;
    if (s.msix_vectors != nvec || len != pci_snap_size(nvec) ||
        s.vendor != pci_get16(dev->cfg + PCI_VENDOR_ID) ||
        s.device != pci_get16(dev->cfg + PCI_DEVICE_ID) || s.intx_level > 1 ||
        s.msix_enabled > 1 || s.msix_function_masked > 1)
        return -EBADMSG;
    for (unsigned i = 0; i < PCI_CFG_SPACE_SIZE; i++) {
        uint8_t ro = (uint8_t)~guest_mask(dev, i);
        if ((s.cfg[i] & ro) != (dev->cfg[i] & ro))
            return -EBADMSG;
    }
    if (msix) {
        /* The control bits in config space and the cached ones must agree. */
        uint16_t ctrl = pci_get16(s.cfg + msix->cap_off + PCI_MSIX_FLAGS);
        if (!!(ctrl & PCI_MSIX_FLAGS_ENABLE) != s.msix_enabled ||
            !!(ctrl & PCI_MSIX_FLAGS_MASKALL) != s.msix_function_masked)
            return -EBADMSG;
    }
    return 0;
}

void pci_snap_load(struct pci_device *dev, struct pci_msix *msix, const uint8_t *buf)
{
    struct pci_snap s;
    memcpy(&s, buf, sizeof(s));
    struct pci_host *host = dev->host;
    if (host)
        pthread_mutex_lock(&host->lock);
    for (unsigned i = 0; i < PCI_CFG_SPACE_SIZE; i++) {
        uint8_t m = guest_mask(dev, i);
        dev->cfg[i] = (uint8_t)((dev->cfg[i] & ~m) | (s.cfg[i] & m));
    }
    /* BARs decode where the guest put them (ioeventfds follow via bar_mapped). */
    pci_device_update_mappings(dev);
    if (msix) {
        const uint8_t *p = buf + sizeof(s);
        pthread_mutex_lock(&msix->lock);
        for (unsigned v = 0; v < msix->nr_vectors; v++, p += PCI_MSIX_ENTRY_SIZE) {
            struct pci_msix_entry *e = &msix->table[v];
            e->addr_lo = pci_get32(p);
            e->addr_hi = pci_get32(p + 4);
            e->data = pci_get32(p + 8);
            e->ctrl = pci_get32(p + 12) & PCI_MSIX_ENTRY_CTRL_MASKBIT;
        }
        for (unsigned i = 0; i < ALIGN_UP(msix->nr_vectors, 64u) / 64; i++, p += 8)
            msix->pba[i] = pci_get32(p) | (uint64_t)pci_get32(p + 4) << 32;
        msix->enabled = s.msix_enabled;
        msix->function_masked = s.msix_function_masked;
        /* Every vector gets a route: the new VM's GSI table starts empty. */
        for (unsigned v = 0; msix->ops->route && v < msix->nr_vectors; v++) {
            const struct pci_msix_entry *e = &msix->table[v];
            struct pci_msi_msg msg = { .addr = e->addr_lo | (uint64_t)e->addr_hi << 32,
                                       .data = e->data };
            bool masked = !msix->enabled || msix->function_masked ||
                          (e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
            msix->ops->route(msix->opaque, v, msg, masked);
        }
        pthread_mutex_unlock(&msix->lock);
    }
    dev->msix_enabled = s.msix_enabled;
    pci_device_set_intx(dev, s.intx_level);
    if (host)
        pthread_mutex_unlock(&host->lock);
}
