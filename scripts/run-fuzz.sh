#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run-fuzz.sh SECONDS TARGET... : runs each libFuzzer target briefly from its
# seed corpus (tests/fuzz/corpus/NAME, when present). A crash fails the run.
set -u
secs=$1; shift
pass=0 fail=0
for t in "$@"; do
    name=$(basename "$t")
    corpus=build-fuzz/corpus/$name
    mkdir -p "$corpus"
    seeds=tests/fuzz/corpus/$name
    [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
    if "$t" -max_total_time="$secs" -print_final_stats=0 "$corpus" >"build-fuzz/$name.log" 2>&1; then
        pass=$((pass + 1)); echo "PASS  fuzz/$name ($(grep -Eo '#[0-9]+' "build-fuzz/$name.log" | tail -n1 | tr -d '#') runs)"
    else
        fail=$((fail + 1)); echo "FAIL  fuzz/$name:"; tail -n 30 "build-fuzz/$name.log" | sed 's/^/    /'
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail = 0 ]
