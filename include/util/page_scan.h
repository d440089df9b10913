/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which pages of an anonymous mapping were ever touched, for snapshot and
 * migration: a page never touched reads as zero and need not be saved or
 * sent. mincore() cannot answer this, since a page the host swapped out is
 * "not resident" yet holds data; /proc/self/pagemap tells present and
 * swapped pages apart from never-touched ones. Without a readable pagemap
 * every page counts as touched: slower, never wrong.
 */
#ifndef CASULO_UTIL_PAGE_SCAN_H
#define CASULO_UTIL_PAGE_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct page_scan {
    int pagemap_fd;     /* -1: no pagemap, everything counts as touched */
    size_t page_size;
};

void page_scan_open(struct page_scan *ps);
void page_scan_close(struct page_scan *ps);

/*
 * vec[i] = 1 when page i of [addr, addr + len) is in RAM or in swap, else 0.
 * addr is page-aligned; vec holds one byte per page. 0 or -errno (vec then
 * all 1, so a caller that goes on anyway loses nothing).
 */
int page_scan_touched(const struct page_scan *ps, const void *addr, size_t len, uint8_t *vec);

#endif
