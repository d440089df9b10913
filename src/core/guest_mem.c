// SPDX-License-Identifier: Apache-2.0
/*
 * Guest RAM allocation and bounds-checked translation. One mmap backs all
 * regions so the host sees a single VMA per VM; regions are slices of it.
 */
#include "core/guest_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* Checks the layout arguments shared by both ways of mapping RAM. */
static int check_layout(uint64_t ram_size, uint64_t hole_start, uint64_t high_start)
{
    if (ram_size == 0 || ram_size % 4096 || hole_start % 4096 || high_start < hole_start)
        return -EINVAL;
    return 0;
}

/* Slices the one mapping `p` into regions around the 32-bit MMIO hole. */
static void setup_regions(struct guest_mem *gm, void *p, uint64_t ram_size, uint64_t hole_start,
                          uint64_t high_start)
{
    /*
     * Guest RAM never belongs in a core dump of the VMM, nor in a forked child
     * (the background teardown process must not copy its page tables).
     * Transparent huge pages stay at the system default: with them a guest
     * that touches one byte costs 2 MiB of host memory.
     */
    madvise(p, ram_size, MADV_DONTDUMP);
    madvise(p, ram_size, MADV_DONTFORK);

    gm->mapping = p;
    gm->mapping_size = ram_size;
    gm->ram_size = ram_size;

    uint64_t low = ram_size < hole_start ? ram_size : hole_start;
    gm->regions[0] = (struct guest_mem_region){ .gpa = 0, .size = low, .hva = p };
    gm->nr_regions = 1;
    if (ram_size > low) {
        gm->regions[1] = (struct guest_mem_region){
            .gpa = high_start, .size = ram_size - low, .hva = (uint8_t *)p + low };
        gm->nr_regions = 2;
    }
}

int guest_mem_init(struct guest_mem *gm, uint64_t ram_size, uint64_t hole_start,
                   uint64_t high_start)
{
    memset(gm, 0, sizeof(*gm));
    int ret = check_layout(ram_size, hole_start, high_start);
    if (ret)
        return ret;
    void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    setup_regions(gm, p, ram_size, hole_start, high_start);
    return 0;
}

int guest_mem_init_from_file(struct guest_mem *gm, int fd, uint64_t offset, uint64_t ram_size,
                             uint64_t hole_start, uint64_t high_start)
{
    memset(gm, 0, sizeof(*gm));
    int ret = check_layout(ram_size, hole_start, high_start);
    if (ret)
        return ret;
    if (offset % (uint64_t)sysconf(_SC_PAGESIZE))
        return -EINVAL;
    /*
     * Private: guest writes go to anonymous copies, the file never changes,
     * and every VM restored from it shares its page cache until it writes.
     */
    void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd,
                   (off_t)offset);
    if (p == MAP_FAILED)
        return -errno;
    setup_regions(gm, p, ram_size, hole_start, high_start);
    gm->file_backed = true;
    return 0;
}

void guest_mem_destroy(struct guest_mem *gm)
{
    if (gm->mapping)
        munmap(gm->mapping, gm->mapping_size);
    free(gm->vmm_dirty);
    memset(gm, 0, sizeof(*gm));
}

void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < gm->nr_regions; i++) {
        const struct guest_mem_region *r = &gm->regions[i];
        if (gpa < r->gpa)
            continue;
        uint64_t off = gpa - r->gpa;
        /* Written so that no sum can overflow: off < size and len <= size - off. */
        if (off < r->size && len <= r->size - off)
            return r->hva + off;
    }
    return NULL;
}

int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
    void *dst = guest_mem_ptr(gm, gpa, len);
    if (!dst)
        return -EFAULT;
    memcpy(dst, src, len);
    guest_mem_mark_dirty_hva(gm, dst, len);
    return 0;
}

int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
    const void *src = guest_mem_ptr(gm, gpa, len);
    if (!src)
        return -EFAULT;
    memcpy(dst, src, len);
    return 0;
}

uint64_t guest_mem_end(const struct guest_mem *gm)
{
    if (!gm->nr_regions)
        return 0;
    const struct guest_mem_region *last = &gm->regions[gm->nr_regions - 1];
    return last->gpa + last->size;
}

uint64_t guest_mem_low_end(const struct guest_mem *gm)
{
    return gm->nr_regions ? gm->regions[0].gpa + gm->regions[0].size : 0;
}

uint64_t guest_mem_resident_bytes(const struct guest_mem *gm)
{
    if (!gm->mapping)
        return 0;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t chunk_pages = 65536;
    unsigned char *vec = malloc(chunk_pages);
    if (!vec)
        return 0;
    uint64_t resident = 0;
    for (size_t off = 0; off < gm->mapping_size; off += chunk_pages * page) {
        size_t len = MIN(gm->mapping_size - off, chunk_pages * page);
        if (mincore((uint8_t *)gm->mapping + off, len, vec) < 0)
            break;
        for (size_t i = 0; i < (len + page - 1) / page; i++)
            resident += vec[i] & 1;
    }
    free(vec);
    return resident * page;
}

/* ---- VMM-side dirty tracking (migration) ---- */

int guest_mem_track_dirty(struct guest_mem *gm, bool on)
{
    if (on && !gm->vmm_dirty) {
        size_t words = (size_t)((gm->mapping_size / GUEST_MEM_PAGE + 63) / 64);
        uint64_t *bits = calloc(words ? words : 1, sizeof(*bits));
        if (!bits)
            return -ENOMEM;
        gm->vmm_dirty = bits;
    }
    __atomic_store_n(&gm->vmm_dirty_on, on, __ATOMIC_SEQ_CST);
    return 0;
}

void guest_mem_mark_dirty_hva(const struct guest_mem *gm, const void *hva, uint64_t len)
{
    if (!len || !__atomic_load_n(&gm->vmm_dirty_on, __ATOMIC_ACQUIRE) || !gm->vmm_dirty)
        return;
    uintptr_t base = (uintptr_t)gm->mapping, p = (uintptr_t)hva;
    if (p < base || p - base >= gm->mapping_size)
        return;
    uint64_t off = p - base;
    uint64_t end = len > gm->mapping_size - off ? gm->mapping_size : off + len;
    for (uint64_t pg = off / GUEST_MEM_PAGE; pg <= (end - 1) / GUEST_MEM_PAGE; pg++)
        __atomic_fetch_or(&gm->vmm_dirty[pg / 64], 1ull << (pg % 64), __ATOMIC_RELEASE);
}

void guest_mem_mark_dirty(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
    void *p = guest_mem_ptr(gm, gpa, len);
    if (p)
        guest_mem_mark_dirty_hva(gm, p, len);
}

uint64_t guest_mem_take_dirty_word(const struct guest_mem *gm, size_t word)
{
    if (!gm->vmm_dirty || word >= (gm->mapping_size / GUEST_MEM_PAGE + 63) / 64)
        return 0;
    return __atomic_exchange_n(&gm->vmm_dirty[word], 0, __ATOMIC_ACQ_REL);
}
