#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Who may talk to the daemon: its Unix socket is mode 0660 (group casulo
# when that group exists); TCP listens on loopback only unless
# --allow-remote, which needs a token; with a token every request must
# carry it (401 otherwise), compared in full.
. "$(dirname "$0")/lib.sh"
mgr_require
command -v curl >/dev/null || skip "curl is not installed"

daemon_start
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode $(stat -c %a "$SOCK"), not 660"
if getent group casulo >/dev/null; then
    [ "$(stat -c %G "$SOCK")" = casulo ] || fail "socket group $(stat -c %G "$SOCK"), not casulo"
else
    grep -q "no group 'casulo'" "$DLOG" || fail "the daemon did not say that group casulo is missing"
fi
# A second daemon on the same state directory or socket is refused.
refused 1 "another casulo serve is using the state directory" \
    "$CASULO" serve --state-dir "$STATE" --listen "unix:$T/other.sock"
refused 1 "is in use by another casulo serve" \
    "$CASULO" serve --state-dir "$T/state2" --listen "unix:$SOCK"
# A bare path is a Unix socket too.
ok vm --connect "$SOCK" list
daemon_stop
[ ! -e "$SOCK" ] || fail "the socket is left behind after SIGTERM"

# Remote TCP without the flag, or the flag without a token: refused.
refused 1 "is not a loopback address: remote access needs --allow-remote" \
    "$CASULO" serve --state-dir "$STATE" --listen tcp:0.0.0.0:0
refused 2 "--allow-remote needs --token-file FILE" \
    "$CASULO" serve --state-dir "$STATE" --listen tcp:0.0.0.0:0 --allow-remote
printf 'short\n' >"$T/short"
refused 1 "shorter than 16 characters" \
    "$CASULO" serve --state-dir "$STATE" --listen tcp:127.0.0.1:0 --token-file "$T/short"

# Loopback TCP with a token: every request needs it.
TOKEN=0123456789abcdef-secret
printf '%s\n' "$TOKEN" >"$T/token"
for try in 1 2 3 4 5; do
    PORT=$((20000 + RANDOM % 20000))
    "$CASULO" serve --state-dir "$STATE" --listen "tcp:127.0.0.1:$PORT" --token-file "$T/token" \
        >>"$DLOG" 2>&1 &
    DAEMON_PID=$!
    for i in $(seq 1 50); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/host" && break
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$DAEMON_PID" 2>/dev/null && break
    wait "$DAEMON_PID"; DAEMON_PID=
done
[ -n "$DAEMON_PID" ] || fail "no TCP daemon could start"
URL=http://127.0.0.1:$PORT
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/api/v1/vms")
[ "$code" = 401 ] && grep -q "missing or wrong bearer token" "$T/body" || fail "no token: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN}x" "$URL/api/v1/vms")
[ "$code" = 401 ] || fail "a longer token was accepted: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN%?}" "$URL/api/v1/vms")
[ "$code" = 401 ] || fail "a prefix of the token was accepted: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/")
[ "$code" = 401 ] || fail "the dashboard was served without the token: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/v1/vms")
[ "$code" = 200 ] || fail "the right token was refused: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/vms?token=$TOKEN")
[ "$code" = 200 ] || fail "the token as a query parameter was refused: $code"
refused 1 "missing or wrong bearer token" vm --connect "$URL" list
ok vm --connect "$URL" --token "$TOKEN" list
CASULO_TOKEN=$TOKEN ok vm --connect "tcp:127.0.0.1:$PORT" create t1 --kernel "$SPIN" --memory 16M
CASULO_TOKEN=$TOKEN CASULO_CONNECT=$URL ok vm info t1
[[ "$OUT" == *"state:        stopped"* ]] || fail "info over TCP: $OUT"
daemon_stop
echo "PASS: socket mode, loopback-only TCP, bearer token"
