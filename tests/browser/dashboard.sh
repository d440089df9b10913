#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dashboard end to end in a real browser: `casulo serve` on a loopback
# TCP port with a token, an echo-guest VM created through the REST API,
# then headless chromium (driven by playwright-core, dashboard.js) opens
# /?token=..., sees the VM, clicks Start, opens the console, sees the
# guest's output, types a line that the guest echoes back, and sees the VM
# stop when the guest powers off. Screenshot: build/test-logs/browser/dashboard.png.
#
# Needs node + npm (playwright-core is installed from tests/browser's lock
# file into build/browser), chromium (Debian's; CHROMIUM=path overrides),
# /dev/kvm, and a casulo built with npm (the dashboard's terminal).
# A missing prerequisite skips (exit 77), under CI=true it fails.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
CASULO=${CASULO:-$root/build/casulo}
GUESTS=${GUESTS:-$root/build/guest}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
logs=${TEST_LOG_DIR:-$root/build/test-logs}/browser
T=$(mktemp -d "${TMPDIR:-/tmp}/casulo-browser-test.XXXXXX")
SERVE_PID=
PORT=
TOKEN=

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
    echo "--- casulo serve log:"
    tail -n 40 "$T/serve.log" 2>/dev/null
    for f in "$T"/state/vms/*/vmm.log; do
        [ -f "$f" ] && { echo "--- $f:"; tail -n 20 "$f"; }
    done
    exit 1
}

api() {   # api METHOD PATH [JSON]: prints the body, fails on a non-2xx answer
    local method=$1 path=$2 body=${3:-}
    curl -sS --max-time 30 -f -X "$method" -H "Authorization: Bearer $TOKEN" \
        ${body:+-H 'Content-Type: application/json' -d "$body"} \
        "http://127.0.0.1:$PORT/api/v1$path"
}

cleanup() {
    if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
        # VMs outlive the daemon by design: power them off first.
        api POST /vms/echo1/power-off >/dev/null 2>&1
        local pid
        pid=$(api GET /vms/echo1 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("pid") or "")' 2>/dev/null)
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
        kill "$SERVE_PID" 2>/dev/null
        wait "$SERVE_PID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT

[ -x "$CASULO" ] || skip "no casulo binary at $CASULO (make casulo)"
[ -f "$GUESTS/echo.elf" ] || skip "guest echo.elf not built (make guests)"
[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are needed (playwright-core)"
[ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ] || skip "chromium is not installed (apt-get install chromium)"
command -v curl >/dev/null || skip "curl is needed"
command -v python3 >/dev/null || skip "python3 is needed"

# playwright-core, exactly as the lock file says; reinstalled only when it changes.
pw=$root/build/browser
mkdir -p "$pw" "$logs"
if ! cmp -s "$pw/.installed-lock" "$root/tests/browser/package-lock.json" ||
    [ ! -d "$pw/node_modules/playwright-core" ]; then
    cp "$root/tests/browser/package.json" "$root/tests/browser/package-lock.json" "$pw/"
    (cd "$pw" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error) ||
        skip "npm ci of playwright-core failed"
    cp "$root/tests/browser/package-lock.json" "$pw/.installed-lock"
fi

# A free loopback port: the kernel picks one, we hand it to the daemon.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
mkdir -p "$T/state"
"$CASULO" serve --state-dir "$T/state" --listen "tcp:127.0.0.1:$PORT" --token-file "$T/token" \
    >"$T/serve.log" 2>&1 &
SERVE_PID=$!
i=0
until api GET /host >/dev/null 2>&1; do
    kill -0 "$SERVE_PID" 2>/dev/null || fail "casulo serve exited at start"
    i=$((i + 1)); [ $i -le 300 ] || fail "casulo serve did not answer within 30s"
    sleep 0.1
done
# Without the token: refused (the page must really be sending it).
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/vms")
[ "$code" = 401 ] || fail "GET /api/v1/vms without the token: expected 401, got $code"

# The dashboard's terminal is only there when the build had npm.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/assets/xterm.js?token=$TOKEN")
[ "$code" = 200 ] || skip "this casulo has no dashboard terminal (/assets/xterm.js: $code; built without npm?)"

api POST /vms "{\"name\": \"echo1\", \"kernel\": \"$GUESTS/echo.elf\", \"cpus\": 1, \"memory\": \"64M\"}" \
    >"$T/create.json" || fail "creating the VM failed: $(cat "$T/create.json")"

rm -f "$logs/dashboard.png"
NODE_PATH=$pw/node_modules node "$root/tests/browser/dashboard.js" "http://127.0.0.1:$PORT/?token=$TOKEN" echo1 "$CHROMIUM" \
    "$logs/dashboard.png" 2>&1 | tee "$T/node.out"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || fail "the browser run failed (exit $rc)"
[ -s "$logs/dashboard.png" ] || fail "no screenshot at $logs/dashboard.png"
# What the browser typed went through the daemon into the guest: the VM's own log has it.
grep -qF "ECHO: hello from the browser" "$T"/state/vms/echo1/console.log ||
    fail "the guest's console log lacks the echo"
echo "PASS: dashboard in chromium"
