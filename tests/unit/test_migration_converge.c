// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the pre-copy arithmetic (migration/converge.h): the token
 * bucket paces to its rate, the expected downtime and the switch-over
 * decision follow the remaining bytes and bandwidth, the convergence and
 * stall tests, and the auto-converge throttle steps up to its cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "migration/converge.h"

#define MIB (1024.0 * 1024.0)
#define SEC 1000000000ull

static void bucket_paces_to_rate(void **state)
{
    (void)state;
    struct mig_bucket b;
    mig_bucket_init(&b, 10 * MIB, 0);
    /* The burst (50 ms of rate) goes at once... */
    assert_int_equal(mig_bucket_spend(&b, (uint64_t)(0.5 * MIB), 0), 0);
    /* ...the next 10 MiB costs about a second. */
    uint64_t wait = mig_bucket_spend(&b, (uint64_t)(10 * MIB), 0);
    assert_in_range(wait, 990000000ull, 1010000000ull);
    /* After that second has passed, a small send is free again. */
    assert_int_equal(mig_bucket_spend(&b, 1000, wait + SEC / 10), 0);
    /* Sending at exactly the rate over 10 s never waits more than one step. */
    mig_bucket_init(&b, 1 * MIB, 0);
    uint64_t now = 0, total_wait = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t w = mig_bucket_spend(&b, (uint64_t)(0.1 * MIB), now);
        total_wait += w;
        now += w;
    }
    assert_in_range(now, 9 * SEC, 11 * SEC);
    /* Unlimited. */
    mig_bucket_init(&b, 0, 0);
    assert_int_equal(mig_bucket_spend(&b, 1ull << 40, 0), 0);
    (void)total_wait;
}

static void rates_and_downtime(void **state)
{
    (void)state;
    assert_true(mig_rate(100, SEC) == 100.0);
    assert_true(mig_rate(100, 0) == 0.0);
    assert_true(mig_ewma(0, 50) == 50.0);
    double e = mig_ewma(100, 50);
    assert_true(e > 50 && e < 100);
    assert_int_equal(mig_expected_downtime_ms(32ull << 20, 32 * MIB), 1000);
    assert_int_equal(mig_expected_downtime_ms(0, 32 * MIB), 0);
    assert_int_equal(mig_expected_downtime_ms(1, 0), UINT64_MAX);
    assert_true(mig_fits_downtime(3ull << 20, 10 * MIB, 300));
    assert_false(mig_fits_downtime(4ull << 20, 10 * MIB, 300));
    assert_false(mig_fits_downtime(1, 0, 300));
}

static void convergence_decisions(void **state)
{
    (void)state;
    assert_true(mig_is_converging(1 * MIB, 16 * MIB));
    assert_false(mig_is_converging(16 * MIB, 16 * MIB));
    assert_false(mig_is_converging(15.5 * MIB, 16 * MIB));
    assert_false(mig_is_converging(0, 0));
    assert_false(mig_remaining_stalled(0, 100));
    assert_true(mig_remaining_stalled(100, 95));
    assert_true(mig_remaining_stalled(100, 200));
    assert_false(mig_remaining_stalled(100, 50));
}

/* The remainder fits the budget but keeps shrinking: the copy goes on until it stops. */
static void settles_while_shrinking(void **state)
{
    (void)state;
    struct mig_settle st = { 0 };
    double bw = 1024 * MIB;            /* 300 ms budget: up to 300 MiB */
    uint64_t ms = 1000000ull;
    assert_false(mig_should_switch(&st, 0, 512ull << 20, bw, 300, 100 * ms));   /* does not fit */
    assert_false(st.fitted);
    assert_false(mig_should_switch(&st, 0, 256ull << 20, bw, 300, 200 * ms));   /* fits: one more */
    assert_true(st.fitted);
    assert_false(mig_should_switch(&st, 256ull << 20, 128ull << 20, bw, 300, 300 * ms));
    assert_false(mig_should_switch(&st, 128ull << 20, 64ull << 20, bw, 300, 350 * ms));
    /* 64 -> 60 MiB: less than a quarter off, the equilibrium. */
    assert_true(mig_should_switch(&st, 64ull << 20, 60ull << 20, bw, 300, 400 * ms));
}

static void settling_is_bounded(void **state)
{
    (void)state;
    double bw = 1024 * MIB;
    uint64_t ms = 1000000ull;
    /* Ever shrinking: at most MIG_SETTLE_MAX_PASSES extra passes. */
    struct mig_settle st = { 0 };
    uint64_t rem = 256ull << 20, prev = 0, t = 1000 * ms;
    unsigned calls = 0;
    while (!mig_should_switch(&st, prev, rem, bw, 300, t)) {
        prev = rem;
        rem /= 2;
        t += ms;
        calls++;
        assert_true(calls <= MIG_SETTLE_MAX_PASSES);
    }
    assert_int_equal(calls, MIG_SETTLE_MAX_PASSES);
    /* Ever shrinking but slow: no longer than the copy took to first fit. */
    struct mig_settle st2 = { 0 };
    assert_false(mig_should_switch(&st2, 0, 256ull << 20, bw, 300, 1000 * ms));
    assert_false(mig_should_switch(&st2, 256ull << 20, 128ull << 20, bw, 300, 1500 * ms));
    assert_true(mig_should_switch(&st2, 128ull << 20, 64ull << 20, bw, 300, 2100 * ms));
    /* A tiny remainder goes at once, even the first time it fits. */
    struct mig_settle st3 = { 0 };
    assert_true(mig_should_switch(&st3, 0, 1ull << 20, bw, 300, 10 * ms));
    assert_true(mig_should_switch(&st3, 0, 0, bw, 300, 10 * ms));
    /* The budget stays the ceiling: no bandwidth, no switch. */
    struct mig_settle st4 = { 0 };
    assert_false(mig_should_switch(&st4, 0, 1, 0, 300, 10 * ms));
}

static void throttle_steps_to_cap(void **state)
{
    (void)state;
    unsigned t = 0, steps = 0;
    while (t < MIG_THROTTLE_MAX) {
        unsigned next = mig_throttle_next(t);
        assert_true(next > t);
        t = next;
        steps++;
        assert_true(steps < 20);
    }
    assert_int_equal(t, MIG_THROTTLE_MAX);
    assert_int_equal(mig_throttle_next(MIG_THROTTLE_MAX), MIG_THROTTLE_MAX);
    assert_int_equal(mig_throttle_next(0), MIG_THROTTLE_FIRST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bucket_paces_to_rate),
        cmocka_unit_test(rates_and_downtime),
        cmocka_unit_test(convergence_decisions),
        cmocka_unit_test(settles_while_shrinking),
        cmocka_unit_test(settling_is_bounded),
        cmocka_unit_test(throttle_steps_to_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
