/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arithmetic of pre-copy, kept free of I/O so it can be unit-tested:
 * the token bucket behind the bandwidth cap, the measured rates, the
 * expected downtime and the decisions taken after each pass (switch over,
 * not converging, next auto-converge throttle step).
 */
#ifndef CASULO_MIGRATION_CONVERGE_H
#define CASULO_MIGRATION_CONVERGE_H

#include <stdbool.h>
#include <stdint.h>

#define MIG_THROTTLE_FIRST 30u   /* percent of each time slice a throttled vCPU sleeps */
#define MIG_THROTTLE_STEP 20u
#define MIG_THROTTLE_MAX 99u
/* A guest converges while it dirties less than this share of the link. */
#define MIG_CONVERGE_RATIO 0.95

/* Bandwidth cap: tokens are bytes; bursts of up to 50 ms of rate. */
struct mig_bucket {
    double rate;            /* bytes per second; 0 = unlimited */
    double tokens;
    uint64_t last_ns;
};

void mig_bucket_init(struct mig_bucket *b, double rate, uint64_t now_ns);
/* Spends `bytes`; returns how long to wait (ns) before sending more. */
uint64_t mig_bucket_spend(struct mig_bucket *b, uint64_t bytes, uint64_t now_ns);

/* bytes over ns as bytes per second (0 when ns is 0). */
double mig_rate(uint64_t bytes, uint64_t ns);
/* Exponentially weighted average: the first sample (avg 0) is taken as is. */
double mig_ewma(double avg, double sample);
/* Time to send `remaining` bytes at `bandwidth` bytes/s, in ms (UINT64_MAX when bandwidth is 0). */
uint64_t mig_expected_downtime_ms(uint64_t remaining, double bandwidth);
bool mig_fits_downtime(uint64_t remaining, double bandwidth, uint32_t max_downtime_ms);
/* Whether the dirty rate leaves room for the copy to catch up. */
bool mig_is_converging(double dirty_rate, double bandwidth);
/*
 * The dirty rate alone cannot see a working set larger than what one pass
 * sends (it saturates at working set / pass time), so a pass that left at
 * least MIG_STALL_RATIO of the previous pass's remainder counts as stalled.
 */
#define MIG_STALL_RATIO 0.9
bool mig_remaining_stalled(uint64_t previous, uint64_t current);

/*
 * Settling. Once the remainder fits the downtime budget the copy goes on
 * while each pass still shrinks it to at most MIG_SETTLE_SHRINK of the one
 * before, so the switch-over happens at the guest's equilibrium (smallest
 * remainder) rather than at the first pass under the budget: the budget is
 * a ceiling, not the target. Bounded: at most MIG_SETTLE_MAX_PASSES extra
 * passes, and after the first of them no longer than the copy took to first
 * fit (or MIG_SETTLE_MIN_NS, whichever is more). A remainder expected to
 * take at most MIG_SETTLE_FLOOR_MS goes at once.
 */
#define MIG_SETTLE_SHRINK 0.75
#define MIG_SETTLE_MAX_PASSES 4u
#define MIG_SETTLE_MIN_NS 200000000ull
#define MIG_SETTLE_FLOOR_MS 2u
struct mig_settle {
    bool fitted;                /* the remainder has fitted the budget once */
    uint64_t fit_elapsed_ns;    /* copy time when it first fitted */
    unsigned passes;            /* extra passes since */
};
/*
 * After a pass: whether to switch over now. `previous` is the remainder
 * before this pass (0: unknown, e.g. after the first, whole-RAM pass),
 * `elapsed_ns` the time since the copy started. False also when the
 * remainder does not fit at all (the caller's non-convergence rules apply).
 */
bool mig_should_switch(struct mig_settle *st, uint64_t previous, uint64_t remaining,
                       double bandwidth, uint32_t max_downtime_ms, uint64_t elapsed_ns);

/* The auto-converge throttle after a pass that did not converge. */
unsigned mig_throttle_next(unsigned current);

#endif
