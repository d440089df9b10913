#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check.sh: every test tier, in order of cost. Each tier prints its own
# "TIER: N passed, N failed" line; the last line totals them all.
# CHECK_TIERS="unit kvm" limits the run to some tiers.
set -u
cd "$(dirname "$0")/.."
tiers=${CHECK_TIERS:-"unit unit-asan lint cli-tests kvm-tests manager-tests fuzz integration browser-tests"}
summary=$(mktemp); trap 'rm -f "$summary"' EXIT
status=0
for t in $tiers; do
    echo "=== $t"
    make --no-print-directory "$t" 2>&1 | tee -a "$summary" | grep -v '^make\[' ; rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || { status=1; echo "=== $t FAILED (exit $rc)"; }
done
p=$(grep -Eo '^[a-z-]+: [0-9]+ passed' "$summary" | awk '{s+=$2} END{print s+0}')
f=$(grep -Eo '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$summary" | awk '{s+=$4} END{print s+0}')
s=$(grep -Eo 'failed, [0-9]+ skipped' "$summary" | awk '{s+=$3} END{print s+0}')
[ "$status" = 0 ] || [ "$f" != 0 ] || f=1   # a tier that broke before its summary still fails
echo "total: $p passed, $f failed, $s skipped"
exit $status
