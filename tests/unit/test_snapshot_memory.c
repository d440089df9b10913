// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the snapshot memory file: what is written maps back as the
 * same guest RAM (both sides of the MMIO hole), untouched pages become
 * holes, the mapping is private (guest writes never reach the file), a
 * restored VM's RAM can itself be snapshotted, and files that do not belong
 * to the state file (another id, truncated, not an image) are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/guest_mem.h"
#include "snapshot/memory.h"

#define RAM (16ULL << 20)
/* A hole at 8 MiB, high RAM from 12 MiB: two regions, like a >3 GiB guest. */
#define HOLE (8ULL << 20)
#define HIGH (12ULL << 20)

static const uint8_t id_a[SNAP_ID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static int tmpfile_fd(void)
{
    char path[] = "/tmp/casulo-snapmem-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static void fill(struct guest_mem *gm)
{
    const uint64_t gpas[] = { 0x0, 0x1000, 0x7ff000, HIGH, HIGH + (4ULL << 20) - 8 };
    for (size_t i = 0; i < sizeof(gpas) / sizeof(gpas[0]); i++) {
        uint64_t v = 0x1111111111111111ULL * (i + 1);
        assert_int_equal(guest_mem_write(gm, gpas[i], &v, sizeof(v)), 0);
    }
}

static void expect_same(const struct guest_mem *a, const struct guest_mem *b)
{
    assert_int_equal(a->nr_regions, b->nr_regions);
    for (unsigned i = 0; i < a->nr_regions; i++) {
        assert_int_equal(a->regions[i].gpa, b->regions[i].gpa);
        assert_int_equal(a->regions[i].size, b->regions[i].size);
        assert_memory_equal(a->regions[i].hva, b->regions[i].hva, a->regions[i].size);
    }
}

static void round_trip_is_sparse_and_private(void **state)
{
    (void)state;
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, RAM, HOLE, HIGH), 0);
    assert_int_equal(gm.nr_regions, 2);
    fill(&gm);
    int fd = tmpfile_fd();
    char err[256];
    uint64_t data = 0;
    assert_int_equal(snap_memory_write(&gm, fd, id_a, &data, err, sizeof(err)), 0);
    /* The five pages written hold data; everything else is a hole. */
    assert_int_equal(data, 5 * 4096);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, SNAP_MEMORY_DATA_OFFSET + RAM);
    assert_true((uint64_t)st.st_blocks * 512 < RAM / 4);

    struct snap_memory_ref ref = { .memory_size = RAM, .data_offset = SNAP_MEMORY_DATA_OFFSET };
    memcpy(ref.id, id_a, sizeof(ref.id));
    assert_int_equal(snap_memory_check(fd, &ref, err, sizeof(err)), 0);

    struct guest_mem back;
    assert_int_equal(guest_mem_init_from_file(&back, fd, SNAP_MEMORY_DATA_OFFSET, RAM, HOLE, HIGH), 0);
    assert_true(back.file_backed);
    expect_same(&gm, &back);

    /* Writes stay in this mapping: a second mapping sees the file unchanged. */
    uint64_t v = 0xdeadbeef;
    assert_int_equal(guest_mem_write(&back, 0x2000, &v, sizeof(v)), 0);
    struct guest_mem again;
    assert_int_equal(guest_mem_init_from_file(&again, fd, SNAP_MEMORY_DATA_OFFSET, RAM, HOLE, HIGH), 0);
    expect_same(&gm, &again);
    guest_mem_destroy(&again);

    /* A restored VM snapshots again: file-backed RAM is scanned in full. */
    int fd2 = tmpfile_fd();
    assert_int_equal(snap_memory_write(&back, fd2, id_a, &data, err, sizeof(err)), 0);
    assert_int_equal(data, 6 * 4096);
    struct guest_mem third;
    assert_int_equal(guest_mem_init_from_file(&third, fd2, SNAP_MEMORY_DATA_OFFSET, RAM, HOLE, HIGH), 0);
    expect_same(&back, &third);
    guest_mem_destroy(&third);
    guest_mem_destroy(&back);
    guest_mem_destroy(&gm);
    close(fd2);
    close(fd);
}

static void foreign_files_are_refused(void **state)
{
    (void)state;
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, RAM, HOLE, HIGH), 0);
    fill(&gm);
    int fd = tmpfile_fd();
    char err[256];
    uint64_t data;
    assert_int_equal(snap_memory_write(&gm, fd, id_a, &data, err, sizeof(err)), 0);
    struct snap_memory_ref ref = { .memory_size = RAM, .data_offset = SNAP_MEMORY_DATA_OFFSET };
    memcpy(ref.id, id_a, sizeof(ref.id));

    ref.id[3] ^= 1;
    assert_int_not_equal(snap_memory_check(fd, &ref, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "another snapshot"));
    ref.id[3] ^= 1;
    ref.memory_size = RAM * 2;
    assert_int_not_equal(snap_memory_check(fd, &ref, err, sizeof(err)), 0);
    ref.memory_size = RAM;

    assert_int_equal(ftruncate(fd, SNAP_MEMORY_DATA_OFFSET + RAM - 4096), 0);
    assert_int_not_equal(snap_memory_check(fd, &ref, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(ftruncate(fd, SNAP_MEMORY_DATA_OFFSET + RAM), 0);
    assert_int_equal(snap_memory_check(fd, &ref, err, sizeof(err)), 0);

    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 20), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, 20), 1);
    assert_int_not_equal(snap_memory_check(fd, &ref, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "corrupt"));

    int empty = tmpfile_fd();
    assert_int_not_equal(snap_memory_check(empty, &ref, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "not a casulo memory image"));
    close(empty);
    close(fd);
    guest_mem_destroy(&gm);
}

static void from_file_checks_alignment(void **state)
{
    (void)state;
    struct guest_mem gm;
    int fd = tmpfile_fd();
    assert_int_equal(ftruncate(fd, RAM + 8192), 0);
    assert_int_equal(guest_mem_init_from_file(&gm, fd, 100, RAM, HOLE, HIGH), -EINVAL);
    assert_int_equal(guest_mem_init_from_file(&gm, fd, 4096, RAM + 1, HOLE, HIGH), -EINVAL);
    assert_null(gm.mapping);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_is_sparse_and_private),
        cmocka_unit_test(foreign_files_are_refused),
        cmocka_unit_test(from_file_checks_alignment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
