// SPDX-License-Identifier: Apache-2.0
/*
 * Dirty logging (include/migration/dirty.h). KVM's classic dirty log is
 * used: KVM_GET_DIRTY_LOG returns a slot's bitmap and, in the same call,
 * clears it and write-protects those pages again, so a page written after a
 * harvest always shows up in the next one (measured on KVM-PVM too). Slots
 * are the regions of guest RAM, slot i = region i (core/vm.c).
 */
#include "migration/dirty.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/guest_mem.h"

size_t mig_bitmap_words(uint64_t nr_pages)
{
    return (size_t)((nr_pages + 63) / 64);
}

uint64_t mig_page_gpa(const struct guest_mem *mem, uint64_t index)
{
    uint64_t off = index * GUEST_MEM_PAGE;
    for (unsigned i = 0; i < mem->nr_regions; i++) {
        const struct guest_mem_region *r = &mem->regions[i];
        uint64_t start = (uint64_t)(r->hva - (uint8_t *)mem->mapping);
        if (off >= start && off - start < r->size)
            return r->gpa + (off - start);
    }
    return UINT64_MAX;
}

static int set_slot_logging(int vm_fd, const struct guest_mem *mem, unsigned slot, bool on)
{
    const struct guest_mem_region *r = &mem->regions[slot];
    struct kvm_userspace_memory_region s = {
        .slot = slot, .flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0, .guest_phys_addr = r->gpa,
        .memory_size = r->size, .userspace_addr = (uint64_t)(uintptr_t)r->hva,
    };
    return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &s) < 0 ? -errno : 0;
}

int mig_dirty_start(struct mig_dirty *d, int vm_fd, struct guest_mem *mem, char *err,
                    size_t errlen)
{
    memset(d, 0, sizeof(*d));
    d->vm_fd = vm_fd;
    d->mem = mem;
    d->nr_pages = mem->mapping_size / GUEST_MEM_PAGE;
    uint64_t largest = 0;
    for (unsigned i = 0; i < mem->nr_regions; i++)
        if (mem->regions[i].size > largest)
            largest = mem->regions[i].size;
    d->slot_bits = calloc(mig_bitmap_words(largest / GUEST_MEM_PAGE) + 1, sizeof(uint64_t));
    if (!d->slot_bits) {
        snprintf(err, errlen, "out of memory for the dirty bitmap");
        return -ENOMEM;
    }
    int ret = guest_mem_track_dirty(mem, true);
    if (ret) {
        snprintf(err, errlen, "out of memory for the device dirty bitmap");
        goto fail;
    }
    d->logging = true;
    for (unsigned i = 0; i < mem->nr_regions; i++) {
        ret = set_slot_logging(vm_fd, mem, i, true);
        if (ret) {
            snprintf(err, errlen, "cannot enable dirty logging on memory slot %u: %s", i,
                     strerror(-ret));
            goto fail;
        }
    }
    /* Anything the devices marked before now is covered by the first full pass. */
    for (size_t w = 0; w < mig_bitmap_words(d->nr_pages); w++)
        guest_mem_take_dirty_word(mem, w);
    return 0;
fail:
    mig_dirty_stop(d);
    return ret;
}

int mig_dirty_sync(struct mig_dirty *d, uint64_t *bits, uint64_t *count, char *err, size_t errlen)
{
    const struct guest_mem *mem = d->mem;
    for (unsigned i = 0; i < mem->nr_regions; i++) {
        const struct guest_mem_region *r = &mem->regions[i];
        uint64_t pages = r->size / GUEST_MEM_PAGE;
        memset(d->slot_bits, 0, mig_bitmap_words(pages) * sizeof(uint64_t));
        struct kvm_dirty_log log = { .slot = i, .dirty_bitmap = d->slot_bits };
        if (ioctl(d->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
            int e = errno;
            snprintf(err, errlen, "KVM_GET_DIRTY_LOG on slot %u failed: %s", i, strerror(e));
            return -e;
        }
        uint64_t first = (uint64_t)(r->hva - (uint8_t *)mem->mapping) / GUEST_MEM_PAGE;
        for (uint64_t w = 0; w < mig_bitmap_words(pages); w++) {
            uint64_t v = d->slot_bits[w];
            while (v) {
                unsigned b = (unsigned)__builtin_ctzll(v);
                v &= v - 1;
                uint64_t p = first + w * 64 + b;
                if (w * 64 + b < pages)
                    bits[p / 64] |= 1ull << (p % 64);
            }
        }
    }
    uint64_t n = 0;
    for (size_t w = 0; w < mig_bitmap_words(d->nr_pages); w++) {
        bits[w] |= guest_mem_take_dirty_word(mem, w);
        n += (uint64_t)__builtin_popcountll(bits[w]);
    }
    *count = n;
    return 0;
}

void mig_dirty_stop(struct mig_dirty *d)
{
    if (d->logging) {
        for (unsigned i = 0; i < d->mem->nr_regions; i++)
            set_slot_logging(d->vm_fd, d->mem, i, false);
        /* Turning it off allocates nothing and cannot fail. */
        int ret = guest_mem_track_dirty(d->mem, false);
        (void)ret;
        d->logging = false;
    }
    free(d->slot_bits);
    d->slot_bits = NULL;
}
