# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the tests in tests/manager/ (sourced, not run): a
# `casulo serve` daemon on a private state directory and socket, the
# `casulo vm` client pointed at it, and checks on the VMM processes it runs.
# Everything the daemon starts is found by its state directory (unique to
# the test) and ended by pid at exit. A missing prerequisite skips (exit 77),
# except under CI=true, where it fails.

set -u

LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CASULO=${CASULO:-$LIB_ROOT/build/casulo}
GUESTS=${GUESTS:-$LIB_ROOT/build/guest}
# A hang detector, not a timing assertion.
WAIT_S=${MANAGER_TEST_TIMEOUT:-60}

# Short: the VMs' sockets live under it and Unix socket paths are limited.
T=$(mktemp -d "${TMPDIR:-/tmp}/cmgr.XXXXXX")
STATE=$T/state
SOCK=$T/casulo.sock
DLOG=$T/daemon.log
export CASULO_CONNECT=unix:$SOCK
unset CASULO_TOKEN
DAEMON_PID=
SPIN=

# The pids of the VMMs this test's daemon started (found by their state directory).
vmm_pids() {
    local p
    for p in $(pgrep -f -- "--config $STATE/vms/" 2>/dev/null); do
        [ "$p" != "$$" ] && echo "$p"
    done
}

lib_cleanup() {
    if [ -n "$DAEMON_PID" ]; then
        kill -9 "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID" 2>/dev/null
    fi
    local p
    for p in $(vmm_pids); do
        kill -9 "$p" 2>/dev/null
    done
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

fail() {
    echo "FAIL: $*"
    echo "--- daemon log (last 40 lines):"
    tail -n 40 "$DLOG" 2>/dev/null
    echo "---"
    exit 1
}

# mgr_require: casulo built, /dev/kvm usable, the spin guest built.
mgr_require() {
    [ -x "$CASULO" ] || skip "no casulo binary at $CASULO (make casulo)"
    [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
    [ -f "$GUESTS/spin.elf" ] || skip "guest $GUESTS/spin.elf is not built (make guests)"
    SPIN=$GUESTS/spin.elf
}

# daemon_start [ARGS...]: `casulo serve` in the background; waits until it answers.
# $CASULO_VMM: another casulo binary to run the VMs (a sanitizer build of the
# daemon cannot run VMMs under seccomp).
daemon_start() {
    "$CASULO" serve --state-dir "$STATE" --listen "unix:$SOCK" ${CASULO_VMM:+--vmm "$CASULO_VMM"} \
        "$@" >>"$DLOG" 2>&1 &
    DAEMON_PID=$!
    local i=0
    until "$CASULO" vm list >/dev/null 2>&1; do
        kill -0 "$DAEMON_PID" 2>/dev/null || { wait "$DAEMON_PID"; DAEMON_PID=; fail "the daemon exited at start"; }
        i=$((i + 1))
        [ $i -le $((WAIT_S * 10)) ] || fail "the daemon did not answer within ${WAIT_S}s"
        sleep 0.1
    done
}

daemon_kill9() {
    kill -9 "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
}

daemon_stop() {
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID"
    local rc=$?
    DAEMON_PID=
    [ $rc = 0 ] || fail "the daemon exited with status $rc on SIGTERM"
}

vm() { "$CASULO" vm "$@"; }

# ok CMD...: CMD must succeed (its output in $OUT).
ok() {
    OUT=$("$@" 2>"$T/stderr") || fail "'$*' failed: $(cat "$T/stderr")"
}

# refused STATUS TEXT CMD...: CMD must exit STATUS with TEXT (fixed string) on stderr.
refused() {
    local want=$1 text=$2 rc
    shift 2
    "$@" >"$T/stdout" 2>"$T/stderr"
    rc=$?
    [ $rc = "$want" ] || fail "'$*' exited $rc, not $want (stderr: $(cat "$T/stderr"))"
    grep -qF -- "$text" "$T/stderr" || fail "'$*': stderr lacks '$text': $(cat "$T/stderr")"
}

# field NAME KEY: a line of `casulo vm info NAME` ("state", "pid", ...).
field() {
    "$CASULO" vm info "$1" 2>/dev/null | awk -v k="$2:" '$1 == k { print $2 }'
}

# wait_state NAME STATE
wait_state() {
    local i=0
    while [ "$(field "$1" state)" != "$2" ]; do
        i=$((i + 1))
        [ $i -le $((WAIT_S * 10)) ] || fail "VM $1 is '$(field "$1" state)', not '$2' after ${WAIT_S}s"
        sleep 0.1
    done
}

# wait_ready NAME [TEXT]: until the VM's console log holds TEXT (spin's ready line).
wait_ready() {
    local log=$STATE/vms/$1/console.log text=${2:-SPINNING} i=0
    while ! grep -qF -- "$text" "$log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le $((WAIT_S * 10)) ] || fail "VM $1 printed no '$text' within ${WAIT_S}s"
        sleep 0.1
    done
}

# create_spin NAME [ARGS...]: a tiny VM that prints its ready line and idles in hlt.
create_spin() {
    local name=$1
    shift
    ok vm create "$name" --kernel "$SPIN" --cmdline mode=hlt --memory 16M "$@"
}

# consistent: every VM the daemon says has a pid has exactly that process,
# and no VMM process runs that the daemon does not list.
consistent() {
    local listed=() name pid p
    while read -r name; do
        pid=$(field "$name" pid)
        [ -n "$pid" ] || continue
        kill -0 "$pid" 2>/dev/null || fail "VM $name: the daemon says pid $pid, which is gone"
        grep -qF -- "$STATE/vms/$name/vm.json" "/proc/$pid/cmdline" 2>/dev/null ||
            fail "VM $name: pid $pid is not its VMM"
        listed+=("$pid")
    done < <(vm list | awk 'NR > 1 { print $1 }')
    for p in $(vmm_pids); do
        [[ " ${listed[*]} " == *" $p "* ]] || fail "VMM pid $p runs, but no VM lists it (a duplicate or a lost VM)"
    done
}
