// SPDX-License-Identifier: Apache-2.0
/*
 * util/page_scan: touched pages of an anonymous mapping. Pages written or
 * read are reported, never-touched ones are not, and MADV_DONTNEED (the data
 * is gone) clears a page. (Swapped-out pages count through the pagemap's
 * swap bit; this host has no swap to show it.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/page_scan.h"

#define NPAGES 64

static void reports_touched_pages_only(void **state)
{
    (void)state;
    struct page_scan ps;
    page_scan_open(&ps);
    assert_true(ps.pagemap_fd >= 0);
    size_t page = ps.page_size;
    uint8_t *m = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    m[3 * page] = 1;                          /* written */
    m[40 * page + 7] = 2;
    volatile uint8_t r = m[10 * page];        /* read: maps the zero page */
    (void)r;
    uint8_t vec[NPAGES];
    assert_int_equal(page_scan_touched(&ps, m, NPAGES * page, vec), 0);
    for (unsigned i = 0; i < NPAGES; i++)
        assert_int_equal(vec[i], i == 3 || i == 40 || i == 10);

    /* Dropped pages read as zero again and are no longer touched. */
    assert_int_equal(madvise(m + 40 * page, page, MADV_DONTNEED), 0);
    assert_int_equal(page_scan_touched(&ps, m, NPAGES * page, vec), 0);
    assert_int_equal(vec[40], 0);
    assert_int_equal(vec[3], 1);
    munmap(m, NPAGES * page);
    page_scan_close(&ps);
}

static void without_pagemap_everything_counts(void **state)
{
    (void)state;
    struct page_scan ps = { .pagemap_fd = -1, .page_size = (size_t)sysconf(_SC_PAGESIZE) };
    uint8_t vec[8];
    memset(vec, 0, sizeof(vec));
    static uint8_t area[8 * 4096] __attribute__((aligned(4096)));
    assert_int_equal(page_scan_touched(&ps, area, sizeof(area), vec), 0);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(vec[i], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reports_touched_pages_only),
        cmocka_unit_test(without_pagemap_everything_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
