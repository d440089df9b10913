/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM: anonymous host mappings and the guest-physical ranges they back.
 * Every access the VMM makes on behalf of a guest-supplied address goes through
 * guest_mem_ptr(), which refuses ranges that are not wholly inside one region,
 * so a hostile address can never reach host memory outside guest RAM.
 */
#ifndef CASULO_CORE_GUEST_MEM_H
#define CASULO_CORE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define GUEST_MEM_MAX_REGIONS 4

struct guest_mem_region {
    uint64_t gpa;   /* guest-physical start */
    uint64_t size;  /* bytes */
    uint8_t *hva;   /* host mapping */
};

struct guest_mem {
    struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
    unsigned nr_regions;
    uint64_t ram_size;  /* total RAM, all regions */
    void *mapping;      /* one host reservation backing every region */
    size_t mapping_size;
    bool file_backed;   /* mapped from a snapshot's memory file */
    /*
     * Pages the VMM itself wrote (virtio buffers and used rings, written by
     * the I/O thread), which KVM's dirty log cannot see: one bit per page of
     * `mapping`, in mapping order. Allocated by the first migration, kept
     * until guest_mem_destroy so that a device never writes to freed bits.
     */
    uint64_t *vmm_dirty;
    bool vmm_dirty_on;  /* atomic */
};

#define GUEST_MEM_PAGE 4096u

/*
 * Maps ram_size bytes of anonymous memory (MAP_NORESERVE: pages are only
 * allocated when touched) and lays them out around the 32-bit MMIO hole: RAM
 * below `hole_start`, the rest from `high_start` upwards.
 */
int guest_mem_init(struct guest_mem *gm, uint64_t ram_size, uint64_t hole_start,
                   uint64_t high_start) MUST_CHECK;
/*
 * The same layout, but RAM is `fd` from `offset` (page-aligned), mapped
 * MAP_PRIVATE: pages load lazily from the file, guest writes stay private.
 * For restoring a snapshot; the fd may be closed afterwards.
 */
int guest_mem_init_from_file(struct guest_mem *gm, int fd, uint64_t offset, uint64_t ram_size,
                             uint64_t hole_start, uint64_t high_start) MUST_CHECK;
void guest_mem_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) when the range is inside one region; else NULL. */
void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers; -EFAULT when the range is not wholly guest RAM. */
int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len) MUST_CHECK;
int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len) MUST_CHECK;

/*
 * VMM-side dirty tracking for migration: on/off (allocates the bitmap the
 * first time), mark a range the VMM wrote (no-op while off, ignores ranges
 * outside RAM), and take-and-clear one 64-page word of the bitmap.
 */
int guest_mem_track_dirty(struct guest_mem *gm, bool on) MUST_CHECK;
void guest_mem_mark_dirty_hva(const struct guest_mem *gm, const void *hva, uint64_t len);
void guest_mem_mark_dirty(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
uint64_t guest_mem_take_dirty_word(const struct guest_mem *gm, size_t word);

/* Bytes of guest RAM backed by host pages now (mincore); for statistics. */
uint64_t guest_mem_resident_bytes(const struct guest_mem *gm);

/* End (exclusive) of the highest RAM region. */
uint64_t guest_mem_end(const struct guest_mem *gm);

/* Highest guest-physical address + 1 of RAM below the hole (the "low" end). */
uint64_t guest_mem_low_end(const struct guest_mem *gm);

#endif
