/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dirty-page tracking for pre-copy: KVM's dirty log on every memory slot
 * (pages the vCPUs write) merged with guest RAM's VMM-side bitmap (pages the
 * I/O thread writes: virtio buffers and used rings, which KVM never sees).
 * Pages are numbered in the order of the host mapping (core/guest_mem.h),
 * so one bitmap covers low and high RAM.
 */
#ifndef CASULO_MIGRATION_DIRTY_H
#define CASULO_MIGRATION_DIRTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct guest_mem;

struct mig_dirty {
    int vm_fd;
    struct guest_mem *mem;
    uint64_t nr_pages;          /* RAM pages, all regions */
    uint64_t *slot_bits;        /* scratch for KVM_GET_DIRTY_LOG, sized for the largest slot */
    bool logging;
};

/* Turns on KVM dirty logging (re-registering each slot) and the VMM-side bitmap. */
int mig_dirty_start(struct mig_dirty *d, int vm_fd, struct guest_mem *mem, char *err,
                    size_t errlen) MUST_CHECK;
/*
 * Takes every page dirtied since the last call (or since start) and ORs it
 * into `bits` (nr_pages bits); *count gets how many bits are set in `bits`.
 */
int mig_dirty_sync(struct mig_dirty *d, uint64_t *bits, uint64_t *count, char *err,
                   size_t errlen) MUST_CHECK;
/* Turns logging off again; safe to call twice and after a failed start. */
void mig_dirty_stop(struct mig_dirty *d);

/* Guest-physical address of RAM page `index` (mapping order). */
uint64_t mig_page_gpa(const struct guest_mem *mem, uint64_t index);
/* Words of a bitmap with one bit per RAM page. */
size_t mig_bitmap_words(uint64_t nr_pages);

#endif
