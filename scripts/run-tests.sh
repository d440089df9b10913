#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run-tests.sh TIER TEST... : runs each test (an executable: cmocka binary or
# shell script), prints one line per test and a closing "N passed, N failed"
# line. Exit status 1 when any test failed. A test that exits 77 is skipped,
# except under CI=true, where a missing prerequisite must fail loudly.
set -u
tier=$1; shift
pass=0 fail=0 skip=0 failed=()
logdir=${TEST_LOG_DIR:-build/test-logs}/$tier
mkdir -p "$logdir"
for t in "$@"; do
    name=$(basename "$t")
    log=$logdir/$name.log
    start=$(date +%s.%N)
    if [ -n "${TEST_VERBOSE:-}" ]; then
        "$t" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
    else
        "$t" >"$log" 2>&1; rc=$?
    fi
    secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
    if [ $rc = 0 ]; then
        pass=$((pass + 1)); echo "PASS  $tier/$name (${secs}s)"
    elif [ $rc = 77 ] && [ "${CI:-}" != true ]; then
        skip=$((skip + 1)); echo "SKIP  $tier/$name: $(tail -n1 "$log")"
    else
        fail=$((fail + 1)); failed+=("$name"); echo "FAIL  $tier/$name (exit $rc, ${secs}s); last lines of $log:"
        tail -n 25 "$log" | sed 's/^/    /'
    fi
done
echo "$tier: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
