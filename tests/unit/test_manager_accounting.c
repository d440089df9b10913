// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for manager/accounting: MemTotal, the over-commit check and
 * its message, CPU percentages, and /proc/PID/stat parsing (command names
 * with spaces and parentheses).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "manager/accounting.h"

#define MiB_ (1024ULL * 1024)
#define GiB_ (1024ULL * MiB_)

static void reads_memtotal(void **state)
{
    (void)state;
    char path[] = "/tmp/casulo-meminfo.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "MemFree:        1000 kB\nMemTotal:       2048 kB\nSwapTotal: 0 kB\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    uint64_t bytes = 0;
    assert_int_equal(mgr_host_memory_total(path, &bytes), 0);
    assert_int_equal(bytes, 2048 * 1024);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "MemFree: 1 kB\n", 14), 14);
    close(fd);
    assert_int_equal(mgr_host_memory_total(path, &bytes), -ENODATA);
    unlink(path);
    assert_int_equal(mgr_host_memory_total("/nonexistent/meminfo", &bytes), -ENOENT);
}

static void overcommit_limit(void **state)
{
    (void)state;
    char err[512];
    /* 8 GiB host, ratio 1: 6 GiB used + 2 GiB fits exactly, one more byte does not. */
    assert_int_equal(mgr_account_check(8 * GiB_, 1.0, 6 * GiB_, 2 * GiB_, "a", err, sizeof(err)), 0);
    assert_int_equal(mgr_account_check(8 * GiB_, 1.0, 6 * GiB_, 2 * GiB_ + 1, "a", err, sizeof(err)),
                     -ENOSPC);
    /* Ratio 1.5 allows 12 GiB. */
    assert_int_equal(mgr_account_check(8 * GiB_, 1.5, 10 * GiB_, 2 * GiB_, "b", err, sizeof(err)), 0);
    assert_int_equal(mgr_account_check(8 * GiB_, 1.5, 10 * GiB_, 3 * GiB_, "b", err, sizeof(err)),
                     -ENOSPC);
    assert_string_equal(err, "starting 'b' (3G) would over-commit host memory: 10G already committed, "
                             "limit 12G (8G MemTotal x overcommit 1.50)");
    /* Ratio below 1 keeps memory back for the host. */
    assert_int_equal(mgr_account_check(8 * GiB_, 0.5, 0, 4 * GiB_ + MiB_, "c", err, sizeof(err)),
                     -ENOSPC);
    assert_non_null(strstr(err, "starting 'c' (4.0G)"));
}

static void cpu_percent(void **state)
{
    (void)state;
    /* 50 ticks at 100 Hz = 0.5 s of CPU in 2 s of wall time: 25 %. */
    double p = mgr_cpu_percent(50, 2000000000ULL, 100);
    assert_true(p > 24.99 && p < 25.01);
    /* Two busy threads: more than 100 %. */
    p = mgr_cpu_percent(400, 2000000000ULL, 100);
    assert_true(p > 199.9 && p < 200.1);
    assert_true(mgr_cpu_percent(10, 0, 100) == 0);
    assert_true(mgr_cpu_percent(10, 1000, 0) == 0);
}

static void parses_proc_stat(void **state)
{
    (void)state;
    /* The name holds spaces and a ')': the fields after the last ')' count. */
    static const char text[] =
        "4242 (casulo run (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
        "37 5 0 0 20 0 3 0 987654 1000000 200 18446744073709551615 1 1 0 0 0 0 0\n";
    struct mgr_proc_sample s = { 0 };
    assert_int_equal(mgr_proc_parse_stat(text, &s), 0);
    assert_int_equal(s.cpu_ticks, 42);
    assert_int_equal(s.start_time, 987654);
    assert_int_equal(mgr_proc_parse_stat("12 (short) S 1 2 3", &s), -EINVAL);
    assert_int_equal(mgr_proc_parse_stat("no parenthesis", &s), -EINVAL);
}

static void samples_this_process(void **state)
{
    (void)state;
    struct mgr_proc_sample s = { 0 };
    assert_int_equal(mgr_proc_sample(getpid(), &s), 0);
    assert_true(s.rss_bytes > 0);
    assert_true(s.start_time > 0);
    uint64_t start = 0;
    assert_int_equal(mgr_proc_start_time(getpid(), &start), 0);
    assert_int_equal(start, s.start_time);
    /* pid_max is at most 2^22: this pid does not exist. */
    assert_int_equal(mgr_proc_sample(4194304 + 7, &s), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_memtotal),
        cmocka_unit_test(overcommit_limit),
        cmocka_unit_test(cpu_percent),
        cmocka_unit_test(parses_proc_stat),
        cmocka_unit_test(samples_this_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
