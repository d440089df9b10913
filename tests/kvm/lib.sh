# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the tests in tests/kvm/ (sourced, not run): find casulo
# and the tiny guests, run casulo with a time bound (or in the background,
# fed through a FIFO, for interactive tests), and assert on its exit status,
# stdout and stderr. A failed assertion prints what was expected, what came,
# and the whole run's output, then exits 1. A missing prerequisite skips
# (exit 77), except under CI=true, where it fails.

set -u

LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CASULO=${CASULO:-$LIB_ROOT/build/casulo}
GUESTS=${GUESTS:-$LIB_ROOT/build/guest}
# A hang detector, not a timing assertion: tiny guests finish in well under a second.
RUN_TIMEOUT=${KVM_TEST_TIMEOUT:-60}

T=$(mktemp -d "${TMPDIR:-/tmp}/casulo-kvm-test.XXXXXX")
PID=
RC=
RUN_DESC=

lib_cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -9 "$PID" 2>/dev/null
    fi
    exec 3>&-
    rm -rf "$T"
}
trap lib_cleanup EXIT

skip() {
    echo "SKIP: $*"
    if [ "${CI:-}" = true ]; then
        echo "(CI=true: a missing prerequisite is a failure)"
        exit 1
    fi
    exit 77
}

show_run() {
    echo "--- run: $RUN_DESC"
    echo "--- exit status: ${RC:-<none>}"
    echo "--- stdout:"
    head -c 8000 "$T/out" 2>/dev/null
    echo "--- stderr:"
    head -c 8000 "$T/err" 2>/dev/null
    echo "---"
}

fail() {
    echo "FAIL: $*"
    show_run
    exit 1
}

# kvm_require GUEST...: casulo built, /dev/kvm usable, the named guests built.
kvm_require() {
    [ -x "$CASULO" ] || skip "no casulo binary at $CASULO (make casulo)"
    [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
    local g
    for g in "$@"; do
        [ -f "$GUESTS/$g" ] || skip "guest $GUESTS/$g is not built (make guests)"
    done
}

is_pvm_host() { [ -d /sys/module/kvm_pvm ]; }

# casulo_run ARGS...: `casulo run ARGS` with stdin from $RUN_STDIN (default
# /dev/null); sets RC; stdout in $T/out, stderr in $T/err.
casulo_run() {
    RUN_DESC="casulo run $*"
    RC=
    timeout -k 5 "$RUN_TIMEOUT" "$CASULO" run "$@" <"${RUN_STDIN:-/dev/null}" >"$T/out" 2>"$T/err"
    RC=$?
    if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
        fail "casulo did not finish within ${RUN_TIMEOUT}s (killed)"
    fi
}

# casulo_start ARGS...: `casulo run ARGS` in the background in its own
# process group, stdin a FIFO held open on fd 3; sets PID.
casulo_start() {
    RUN_DESC="casulo run $* (background)"
    RC=
    rm -f "$T/in"
    mkfifo "$T/in"
    # Truncated here, not only by the background job's redirection: otherwise
    # wait_out could still see the previous run's output and go on too early.
    : >"$T/out"
    : >"$T/err"
    setsid "$CASULO" run "$@" <"$T/in" >"$T/out" 2>"$T/err" &
    PID=$!
    exec 3>"$T/in"
}

# send TEXT: write TEXT (printf format) to the background casulo's stdin.
send() {
    # shellcheck disable=SC2059
    printf "$1" >&3 || fail "could not write to casulo's stdin"
}

# wait_out TEXT [SECONDS]: until stdout holds TEXT (fixed string); fails on
# timeout or when casulo exits first.
wait_out() {
    local text=$1 secs=${2:-$RUN_TIMEOUT} i=0
    while ! grep -qF -- "$text" "$T/out" 2>/dev/null; do
        if ! kill -0 "$PID" 2>/dev/null; then
            wait "$PID"; RC=$?; PID=
            fail "casulo exited before printing '$text'"
        fi
        i=$((i + 1))
        [ $i -le $((secs * 10)) ] || fail "no '$text' on stdout after ${secs}s"
        sleep 0.1
    done
}

# wait_count TEXT N [SECONDS]: until stdout holds N lines containing TEXT.
wait_count() {
    local text=$1 n=$2 secs=${3:-$RUN_TIMEOUT} i=0
    while [ "$(grep -cF -- "$text" "$T/out" 2>/dev/null)" -lt "$n" ]; do
        kill -0 "$PID" 2>/dev/null || { wait "$PID"; RC=$?; PID=; fail "casulo exited before $n lines of '$text'"; }
        i=$((i + 1))
        [ $i -le $((secs * 10)) ] || fail "fewer than $n lines of '$text' after ${secs}s"
        sleep 0.1
    done
}

# casulo_wait [SECONDS]: wait for the background casulo to exit and set RC;
# if it has not exited in time, kill it and fail. Then check that nothing
# is left of its process group (threads, helper children) after a while.
casulo_wait() {
    local secs=${1:-$RUN_TIMEOUT} i=0
    while kill -0 "$PID" 2>/dev/null && [ "$(ps -o stat= -p "$PID" | cut -c1)" != Z ]; do
        i=$((i + 1))
        if [ $i -gt $((secs * 10)) ]; then
            kill -9 "$PID" 2>/dev/null
            wait "$PID" 2>/dev/null
            PID=
            fail "casulo still running ${secs}s after it should have stopped"
        fi
        sleep 0.1
    done
    wait "$PID"
    RC=$?
    local pgid=$PID
    PID=
    exec 3>&-
    i=0
    while pgrep -g "$pgid" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 300 ]; then
            echo "left over in process group $pgid:"
            ps -o pid,ppid,stat,args -g "$pgid"
            pkill -9 -g "$pgid"
            fail "processes of casulo's process group still alive 30s after it exited"
        fi
        sleep 0.1
    done
}

# stop_with SIGNAL: send SIGNAL to the background casulo and wait for it.
stop_with() {
    kill "-$1" "$PID" || fail "could not send $1 to casulo"
    casulo_wait 30
}

expect_rc() {
    [ "$RC" = "$1" ] || fail "exit status: expected $1, got $RC"
}

expect_rc_nonzero() {
    [ "$RC" != 0 ] || fail "exit status: expected non-zero, got 0"
}

# expect_out TEXT: a line of stdout contains TEXT (fixed string).
expect_out() {
    grep -qF -- "$1" "$T/out" || fail "stdout: expected a line containing '$1'"
}

# expect_out_re REGEX: a line of stdout matches the extended regex.
expect_out_re() {
    grep -qE -- "$1" "$T/out" || fail "stdout: expected a line matching /$1/"
}

expect_no_out() {
    ! grep -qF -- "$1" "$T/out" || fail "stdout: expected no line containing '$1', got: $(grep -F -- "$1" "$T/out" | head -n1)"
}

# expect_err_re REGEX: a line of stderr matches (case-insensitive).
expect_err_re() {
    grep -qiE -- "$1" "$T/err" || fail "stderr: expected a line matching /$1/ (case-insensitive)"
}

expect_no_err_re() {
    ! grep -qiE -- "$1" "$T/err" || fail "stderr: expected no line matching /$1/, got: $(grep -iE -- "$1" "$T/err" | head -n1)"
}

# out_value KEY: the value of the first "KEY=value" word on stdout.
out_value() {
    grep -oE -- "(^| )$1=[^ ]*" "$T/out" | head -n1 | sed 's/^ //; s/^[^=]*=//'
}

# expect_value KEY VALUE: the guest reported KEY=VALUE.
expect_value() {
    local got
    got=$(out_value "$1")
    [ "$got" = "$2" ] || fail "guest reported $1='$got', expected '$2'"
}

# expect_rejected STATUS REGEX ARGS...: `casulo run ARGS` must refuse the
# input: exit STATUS (1 bad input, 2 usage error), nothing from a guest on
# stdout, and a first stderr line naming the problem (REGEX, case-insensitive).
# Bad input gets exactly one line; a usage error may add one hint line.
expect_rejected() {
    local status=$1 re=$2 lines max=1
    shift 2
    casulo_run "$@"
    expect_rc "$status"
    [ "$status" = 2 ] && max=2
    lines=$(wc -l <"$T/err")
    [ "$lines" -ge 1 ] && [ "$lines" -le $max ] ||
        fail "stderr: expected 1..$max lines, got $lines"
    head -n1 "$T/err" | grep -qiE -- "$re" ||
        fail "stderr: expected the first line to match /$re/ (case-insensitive)"
    [ ! -s "$T/out" ] || fail "stdout: expected nothing for rejected input"
}

# cli_require: only the casulo binary (no /dev/kvm needed to reject input).
cli_require() {
    [ -x "$CASULO" ] || skip "no casulo binary at $CASULO (make casulo)"
}
