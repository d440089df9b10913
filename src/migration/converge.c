// SPDX-License-Identifier: Apache-2.0
/*
 * Pre-copy arithmetic (include/migration/converge.h). Rates are doubles in
 * bytes per second; times are CLOCK_MONOTONIC nanoseconds.
 */
#include "migration/converge.h"

#define BURST_NS 50000000.0
#define EWMA_WEIGHT 0.5

void mig_bucket_init(struct mig_bucket *b, double rate, uint64_t now_ns)
{
    b->rate = rate > 0 ? rate : 0;
    b->tokens = b->rate * BURST_NS / 1e9;
    b->last_ns = now_ns;
}

uint64_t mig_bucket_spend(struct mig_bucket *b, uint64_t bytes, uint64_t now_ns)
{
    if (b->rate <= 0)
        return 0;
    double burst = b->rate * BURST_NS / 1e9;
    if (now_ns > b->last_ns) {
        b->tokens += b->rate * (double)(now_ns - b->last_ns) / 1e9;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last_ns = now_ns;
    }
    b->tokens -= (double)bytes;
    if (b->tokens >= 0)
        return 0;
    return (uint64_t)(-b->tokens / b->rate * 1e9);
}

double mig_rate(uint64_t bytes, uint64_t ns)
{
    return ns ? (double)bytes * 1e9 / (double)ns : 0;
}

double mig_ewma(double avg, double sample)
{
    return avg <= 0 ? sample : avg * (1 - EWMA_WEIGHT) + sample * EWMA_WEIGHT;
}

uint64_t mig_expected_downtime_ms(uint64_t remaining, double bandwidth)
{
    if (bandwidth <= 0)
        return UINT64_MAX;
    double ms = (double)remaining * 1000.0 / bandwidth;
    return ms >= 1.8e19 ? UINT64_MAX : (uint64_t)ms;
}

bool mig_fits_downtime(uint64_t remaining, double bandwidth, uint32_t max_downtime_ms)
{
    return mig_expected_downtime_ms(remaining, bandwidth) <= max_downtime_ms;
}

bool mig_is_converging(double dirty_rate, double bandwidth)
{
    return bandwidth > 0 && dirty_rate < bandwidth * MIG_CONVERGE_RATIO;
}

unsigned mig_throttle_next(unsigned current)
{
    if (current == 0)
        return MIG_THROTTLE_FIRST;
    unsigned next = current + MIG_THROTTLE_STEP;
    return next > MIG_THROTTLE_MAX ? MIG_THROTTLE_MAX : next;
}

bool mig_remaining_stalled(uint64_t previous, uint64_t current)
{
    return previous && (double)current >= (double)previous * MIG_STALL_RATIO;
}

bool mig_should_switch(struct mig_settle *st, uint64_t previous, uint64_t remaining,
                       double bandwidth, uint32_t max_downtime_ms, uint64_t elapsed_ns)
{
    if (!mig_fits_downtime(remaining, bandwidth, max_downtime_ms))
        return false;
    if (mig_expected_downtime_ms(remaining, bandwidth) <= MIG_SETTLE_FLOOR_MS)
        return true;
    if (!st->fitted) {
        st->fitted = true;
        st->fit_elapsed_ns = elapsed_ns;
        st->passes = 0;
    } else {
        uint64_t allowed = st->fit_elapsed_ns > MIG_SETTLE_MIN_NS ? st->fit_elapsed_ns
                                                                  : MIG_SETTLE_MIN_NS;
        if (++st->passes >= MIG_SETTLE_MAX_PASSES)
            return true;
        if (elapsed_ns > st->fit_elapsed_ns && elapsed_ns - st->fit_elapsed_ns > allowed)
            return true;
    }
    /* Without a previous remainder, one more pass shows whether it still shrinks. */
    if (!previous)
        return false;
    return (double)remaining > (double)previous * MIG_SETTLE_SHRINK;
}
