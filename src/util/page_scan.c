// SPDX-License-Identifier: Apache-2.0
/* Touched pages of a mapping through /proc/self/pagemap (see page_scan.h). */
#include "util/page_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_SWAPPED (1ull << 62)
#define PAGEMAP_BATCH 512u      /* entries per pread */

void page_scan_open(struct page_scan *ps)
{
    ps->page_size = (size_t)sysconf(_SC_PAGESIZE);
    ps->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

void page_scan_close(struct page_scan *ps)
{
    if (ps->pagemap_fd >= 0)
        close(ps->pagemap_fd);
    ps->pagemap_fd = -1;
}

int page_scan_touched(const struct page_scan *ps, const void *addr, size_t len, uint8_t *vec)
{
    size_t npages = (len + ps->page_size - 1) / ps->page_size;
    if (ps->pagemap_fd < 0) {
        memset(vec, 1, npages);
        return 0;
    }
    uint64_t entries[PAGEMAP_BATCH];
    uint64_t first = (uint64_t)(uintptr_t)addr / ps->page_size;
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < PAGEMAP_BATCH ? npages - done : PAGEMAP_BATCH;
        ssize_t got = pread(ps->pagemap_fd, entries, n * sizeof(entries[0]),
                            (off_t)((first + done) * sizeof(entries[0])));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || (size_t)got % sizeof(entries[0])) {
            int ret = got < 0 ? -errno : -EIO;
            memset(vec, 1, npages);
            return ret;
        }
        size_t read_n = (size_t)got / sizeof(entries[0]);
        for (size_t i = 0; i < read_n; i++)
            vec[done + i] = (entries[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED)) ? 1 : 0;
        done += read_n;
    }
    return 0;
}
