// SPDX-License-Identifier: Apache-2.0
/*
 * MSI-X (see msix.h). The table and PBA are plain arrays behind a mutex; the
 * capability's Message Control word lives in config space and is mirrored
 * here by an after_write hook, so the notify path reads only this struct.
 *
 * Lock order: host config lock -> msix lock -> whatever deliver/route take.
 */
#include "pci/msix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint32_t pci_msix_table_size(unsigned nr_vectors) { return nr_vectors * PCI_MSIX_ENTRY_SIZE; }
uint32_t pci_msix_pba_size(unsigned nr_vectors) { return ALIGN_UP(nr_vectors, 64u) / 8; }

static struct pci_msi_msg entry_msg(const struct pci_msix_entry *e)
{
    return (struct pci_msi_msg){ (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data };
}

static bool vector_masked(const struct pci_msix *msix, unsigned v)
{
    return !msix->enabled || msix->function_masked ||
           (msix->table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static bool pending(const struct pci_msix *msix, unsigned v)
{
    return msix->pba[v / 64] >> (v % 64) & 1;
}

static void set_pending(struct pci_msix *msix, unsigned v, bool on)
{
    if (on)
        msix->pba[v / 64] |= 1ULL << (v % 64);
    else
        msix->pba[v / 64] &= ~(1ULL << (v % 64));
}

/*
 * After anything that may change what vector v delivers: tells the router and
 * sends a pending message once the vector is unmasked. Caller holds the lock.
 */
static void vector_changed(struct pci_msix *msix, unsigned v, struct pci_msi_msg old_msg,
                           bool old_masked)
{
    struct pci_msi_msg msg = entry_msg(&msix->table[v]);
    bool masked = vector_masked(msix, v);
    if (msix->ops->route &&
        (masked != old_masked || msg.addr != old_msg.addr || msg.data != old_msg.data))
        msix->ops->route(msix->opaque, v, msg, masked);
    if (!masked && pending(msix, v)) {
        set_pending(msix, v, false);
        msix->ops->deliver(msix->opaque, v, msg);
    }
}

int pci_msix_notify(struct pci_msix *msix, unsigned vector)
{
    if (vector >= msix->nr_vectors)
        return -EINVAL;
    pthread_mutex_lock(&msix->lock);
    int ret;
    if (!msix->enabled) {
        ret = -ENODEV;
    } else if (vector_masked(msix, vector)) {
        set_pending(msix, vector, true);
        ret = 0;
    } else {
        msix->ops->deliver(msix->opaque, vector, entry_msg(&msix->table[vector]));
        ret = 1;
    }
    pthread_mutex_unlock(&msix->lock);
    return ret;
}

bool pci_msix_is_enabled(struct pci_msix *msix)
{
    pthread_mutex_lock(&msix->lock);
    bool e = msix->enabled;
    pthread_mutex_unlock(&msix->lock);
    return e;
}

bool pci_msix_is_pending(struct pci_msix *msix, unsigned vector)
{
    if (vector >= msix->nr_vectors)
        return false;
    pthread_mutex_lock(&msix->lock);
    bool p = pending(msix, vector);
    pthread_mutex_unlock(&msix->lock);
    return p;
}

/* Table and PBA accesses: 4 or 8 bytes, naturally aligned, inside the structure. */
static bool access_ok(uint64_t off, unsigned size, uint64_t len)
{
    return (size == 4 || size == 8) && off % size == 0 && off < len && size <= len - off;
}

static uint32_t *entry_word(struct pci_msix_entry *e, unsigned word)
{
    switch (word) {
    case 0: return &e->addr_lo;
    case 1: return &e->addr_hi;
    case 2: return &e->data;
    default: return &e->ctrl;
    }
}

static void table_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct pci_msix *msix = opaque;
    if (!access_ok(off, size, pci_msix_table_size(msix->nr_vectors))) {
        memset(data, 0xff, size);
        return;
    }
    pthread_mutex_lock(&msix->lock);
    struct pci_msix_entry *e = &msix->table[off / PCI_MSIX_ENTRY_SIZE];
    unsigned word = (unsigned)(off % PCI_MSIX_ENTRY_SIZE) / 4;
    uint64_t v = *entry_word(e, word);
    if (size == 8)
        v |= (uint64_t)*entry_word(e, word + 1) << 32;
    pthread_mutex_unlock(&msix->lock);
    memcpy(data, &v, size);
}

static void table_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct pci_msix *msix = opaque;
    if (!access_ok(off, size, pci_msix_table_size(msix->nr_vectors)))
        return;
    uint64_t v = 0;
    memcpy(&v, data, size);
    unsigned vec = (unsigned)(off / PCI_MSIX_ENTRY_SIZE);
    unsigned word = (unsigned)(off % PCI_MSIX_ENTRY_SIZE) / 4;

    pthread_mutex_lock(&msix->lock);
    struct pci_msix_entry *e = &msix->table[vec];
    struct pci_msi_msg old_msg = entry_msg(e);
    bool old_masked = vector_masked(msix, vec);
    for (unsigned i = 0; i < size / 4; i++) {
        uint32_t w = (uint32_t)(v >> (32 * i));
        if (word + i == PCI_MSIX_ENTRY_CTRL / 4)
            w &= PCI_MSIX_ENTRY_CTRL_MASKBIT;   /* the other bits are reserved */
        *entry_word(e, word + i) = w;
    }
    vector_changed(msix, vec, old_msg, old_masked);
    pthread_mutex_unlock(&msix->lock);
}

static void pba_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct pci_msix *msix = opaque;
    if (!access_ok(off, size, pci_msix_pba_size(msix->nr_vectors))) {
        memset(data, 0xff, size);
        return;
    }
    pthread_mutex_lock(&msix->lock);
    uint64_t q = msix->pba[off / 8];
    pthread_mutex_unlock(&msix->lock);
    if (size == 4)
        q >>= 8 * (off % 8);
    memcpy(data, &q, size);
}

static void pba_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    /* The PBA is read-only. */
}

static const struct bus_ops table_ops = { table_read, table_write };
static const struct bus_ops pba_ops = { pba_read, pba_write };

/* Message Control was written: mirror enable/function mask and re-evaluate. */
static void cap_after_write(void *opaque, struct pci_device *dev, unsigned off, unsigned size)
{
    struct pci_msix *msix = opaque;
    uint16_t ctrl = pci_get16(dev->cfg + msix->cap_off + PCI_MSIX_FLAGS);
    bool enabled = ctrl & PCI_MSIX_FLAGS_ENABLE, fmask = ctrl & PCI_MSIX_FLAGS_MASKALL;

    pthread_mutex_lock(&msix->lock);
    if (enabled != msix->enabled || fmask != msix->function_masked) {
        bool was_off = !msix->enabled || msix->function_masked;
        msix->enabled = enabled;
        msix->function_masked = fmask;
        for (unsigned v = 0; v < msix->nr_vectors; v++) {
            bool was = was_off || (msix->table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
            vector_changed(msix, v, entry_msg(&msix->table[v]), was);
        }
    }
    pthread_mutex_unlock(&msix->lock);
    pci_device_set_msix_enabled(dev, enabled);
}

static const struct pci_cap_ops msix_cap_ops = { NULL, cap_after_write };

int pci_msix_init(struct pci_msix *msix, struct pci_device *dev, unsigned nr_vectors,
                  unsigned bar, uint32_t table_off, uint32_t pba_off,
                  const struct pci_msix_ops *ops, void *opaque)
{
    memset(msix, 0, sizeof(*msix));
    if (nr_vectors == 0 || nr_vectors > PCI_MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS ||
        table_off % 8 || pba_off % 8 || !ops || !ops->deliver)
        return -EINVAL;
    msix->dev = dev;
    msix->nr_vectors = nr_vectors;
    msix->bar = bar;
    msix->table_off = table_off;
    msix->pba_off = pba_off;
    msix->ops = ops;
    msix->opaque = opaque;
    int err = pthread_mutex_init(&msix->lock, NULL);
    if (err)
        return -err;
    msix->table = calloc(nr_vectors, sizeof(*msix->table));
    msix->pba = calloc(ALIGN_UP(nr_vectors, 64u) / 64, sizeof(*msix->pba));
    err = -ENOMEM;
    if (!msix->table || !msix->pba)
        goto fail;
    for (unsigned v = 0; v < nr_vectors; v++)
        msix->table[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;

    /* Regions first: they check that both structures fit the BAR and do not overlap. */
    err = pci_bar_add_region(dev, bar, table_off, pci_msix_table_size(nr_vectors), &table_ops, msix);
    if (err)
        goto fail;
    err = pci_bar_add_region(dev, bar, pba_off, pci_msix_pba_size(nr_vectors), &pba_ops, msix);
    if (err)
        goto fail_region;

    uint8_t body[PCI_MSIX_CAP_SIZE] = { 0 }, wmask[PCI_MSIX_CAP_SIZE] = { 0 };
    pci_put16(body + PCI_MSIX_FLAGS, (uint16_t)(nr_vectors - 1));
    pci_put32(body + PCI_MSIX_TABLE, table_off | bar);
    pci_put32(body + PCI_MSIX_PBA, pba_off | bar);
    pci_put16(wmask + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    err = pci_device_add_cap(dev, PCI_CAP_ID_MSIX, body, sizeof(body), wmask, &msix_cap_ops, msix,
                             &msix->cap_off);
    if (err)
        goto fail_region2;
    return 0;

fail_region2:
    dev->bars[bar].nr_regions--;
fail_region:
    dev->bars[bar].nr_regions--;
fail:
    free(msix->table);
    free(msix->pba);
    pthread_mutex_destroy(&msix->lock);
    memset(msix, 0, sizeof(*msix));
    return err;
}

void pci_msix_reset(struct pci_msix *msix)
{
    pthread_mutex_lock(&msix->lock);
    msix->enabled = false;
    msix->function_masked = false;
    for (unsigned v = 0; v < msix->nr_vectors; v++)
        msix->table[v] = (struct pci_msix_entry){ .ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT };
    memset(msix->pba, 0, ALIGN_UP(msix->nr_vectors, 64u) / 8);
    pthread_mutex_unlock(&msix->lock);
    uint8_t *ctrl = msix->dev->cfg + msix->cap_off + PCI_MSIX_FLAGS;
    pci_put16(ctrl, pci_get16(ctrl) & PCI_MSIX_FLAGS_QSIZE);
    pci_device_set_msix_enabled(msix->dev, false);
}

void pci_msix_destroy(struct pci_msix *msix)
{
    if (!msix->table)
        return;
    pthread_mutex_destroy(&msix->lock);
    free(msix->table);
    free(msix->pba);
    msix->table = NULL;
    msix->pba = NULL;
}
