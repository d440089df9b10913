#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `casulo migrate` usage: a missing --api, a missing destination, both
# --status and --cancel, a bad number are usage errors (exit 2, one line);
# nothing listening on the API socket is exit 1 with the socket named;
# --help exits 0. `casulo run --incoming` refuses an address that is not
# tcp:ADDR:PORT and --incoming with --restore (exit 1, one line).
. "$(dirname "$0")/../kvm/lib.sh"
cli_require

# mig STATUS REGEX ARGS...: `casulo migrate ARGS` exits STATUS with one stderr line matching REGEX.
mig() {
    local status=$1 re=$2
    shift 2
    RUN_DESC="casulo migrate $*"
    "$CASULO" migrate "$@" >"$T/out" 2>"$T/err"
    RC=$?
    expect_rc "$status"
    [ "$(wc -l <"$T/err")" = 1 ] || fail "stderr: expected one line"
    expect_err_re "$re"
}

mig 2 "missing --api" tcp:10.0.0.2:4444
mig 2 "tcp:HOST:PORT" --api "$T/none.sock"
mig 2 "tcp:HOST:PORT" --api "$T/none.sock" --status --cancel
mig 2 "--bandwidth wants" --api "$T/none.sock" --bandwidth fast tcp:h:1
mig 2 "unknown option" --api "$T/none.sock" --frobnicate tcp:h:1
mig 1 "cannot reach the API socket .*none.sock" --api "$T/none.sock" tcp:10.0.0.2:4444
mig 1 "cannot reach the API socket" --api "$T/none.sock" --status
"$CASULO" migrate --help >"$T/out" 2>&1 || fail "casulo migrate --help exited non-zero"
grep -q -- "--auto-converge" "$T/out" || fail "migrate --help does not list --auto-converge"

expect_rejected 1 "incoming" --incoming unix:/tmp/x --memory 64M
expect_rejected 1 "restore" --incoming tcp:127.0.0.1:1 --restore "$T" --memory 64M
echo "ok"
