#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `casulo run --console socket=PATH[,log=FILE]`: the echo guest's console
# served on a Unix socket. Clients that connect late get the output so far
# (the replay), every client sees new output, a line typed by one client
# reaches the guest, a ninth client is refused, clients that hang up do not
# disturb the rest, the log file gets the output, and the socket file is
# 0600 and removed at exit. The config file form does the same. Bad values
# (empty, unknown items, missing directory, a path in use or not a socket)
# are refused with one line before any guest runs; a stale socket file is
# replaced.
. "$(dirname "$0")/../kvm/lib.sh"
cli_require
command -v python3 >/dev/null || skip "python3 is needed for the socket client"
k=$GUESTS/echo.elf

# Option syntax: refused without KVM.
expect_rejected 1 "console.*socket=PATH" --kernel "$k" --console "socket="
expect_rejected 1 "console.*unknown item 'mode=raw'" --kernel "$k" --console "socket=$T/c.sock,mode=raw"
expect_rejected 1 "console.*empty value" --kernel "$k" --console "socket=$T/c.sock,log="
expect_rejected 1 "console.*repeated item" --kernel "$k" --console "socket=$T/a,socket=$T/b"
expect_rejected 1 "console.*needs socket=PATH" --kernel "$k" --console "log=$T/c.log"
long=$T/$(printf 'x%.0s' $(seq 1 120))
expect_rejected 1 "console socket=.*1 to 107 bytes" --kernel "$k" --console "socket=$long"
printf '{"kernel": "%s", "console": {"socket": "%s", "file": "x"}}\n' "$k" "$T/c.sock" >"$T/both.json"
expect_rejected 1 "either \"file\" or \"socket\"" --config "$T/both.json"
printf '{"kernel": "%s", "console": {"socket": 5}}\n' "$k" >"$T/type.json"
expect_rejected 1 "'console.socket' must be a string" --config "$T/type.json"

kvm_require echo.elf hello.elf

# The client side, in Python (always present, unlike socat): connects,
# reads until a text shows up, sends lines. Prints "OK ..." per step or
# "FAIL ..." and exits 1.
cat >"$T/client.py" <<'PY'
import os, socket, stat, sys, time

path = sys.argv[1]
DEADLINE = 30   # a hang detector only

def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(DEADLINE)
    return s

def read_until(s, text, buf=b""):
    end = time.time() + DEADLINE
    while text not in buf:
        if time.time() > end:
            fail("no %r after %ds; got %r" % (text, DEADLINE, buf))
        d = s.recv(4096)
        if not d:
            fail("EOF before %r; got %r" % (text, buf))
        buf += d
    return buf

def read_eof(s):
    buf = b""
    while True:
        d = s.recv(4096)
        if not d:
            return buf
        buf += d

if stat.S_IMODE(os.stat(path).st_mode) != 0o600:
    fail("socket mode %o" % stat.S_IMODE(os.stat(path).st_mode))
def connect_ready():
    """A client that got the replay. A slot freed by a client that just hung
    up is reused only once the VMM has noticed the hang-up, so a refusal
    here is retried (bounded)."""
    end = time.time() + DEADLINE
    while True:
        s = connect()
        buf = b""
        while b"READY" not in buf:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        if b"READY" in buf:
            return s
        s.close()
        if b"too many console clients" not in buf or time.time() > end:
            fail("no replay for a new client: %r" % buf)
        time.sleep(0.05)

a = connect()
read_until(a, b"READY")
print("OK first client sees READY")
# Connected after READY was printed: the replay brings it.
b = connect()
read_until(b, b"READY")
print("OK late client gets the replay")
# Six more make eight: the ninth is told why and closed.
extra = [connect_ready() for _ in range(6)]
ninth = connect()
refusal = read_eof(ninth)
if b"too many console clients" not in refusal:
    fail("ninth client got %r" % refusal)
print("OK ninth client refused")
for e in extra:
    e.close()
# Clients that hang up at once, with and without reading.
connect().close()
c = connect_ready()
c.close()
a.sendall(b"typed by client a\r")
for name, s in (("a", a), ("b", b)):
    out = read_until(s, b"ECHO: typed by client a")
    print("OK client %s sees the echo" % name)
# The guest powers off after the echo: casulo closes every client.
for s in (a, b):
    read_eof(s)
print("OK clients see EOF at exit")
PY

# Socket and log, the main scenario.
casulo_start --kernel "$k" --console "socket=$T/c.sock,log=$T/c.log"
i=0
while [ ! -S "$T/c.sock" ]; do
    i=$((i + 1)); [ $i -le 300 ] || fail "no console socket after 30s"
    kill -0 "$PID" 2>/dev/null || fail "casulo exited before creating the console socket"
    sleep 0.1
done
python3 "$T/client.py" "$T/c.sock" >"$T/client.out" 2>&1 ||
    { cat "$T/client.out"; fail "console socket client failed"; }
casulo_wait 30
expect_rc 0
grep -q "OK clients see EOF" "$T/client.out" || { cat "$T/client.out"; fail "client did not finish"; }
expect_no_out "READY"   # the guest's output went to the socket, not stdout
grep -qF "READY" "$T/c.log" || fail "console log lacks READY: $(head -c 300 "$T/c.log")"
grep -qF "ECHO: typed by client a" "$T/c.log" || fail "console log lacks the echo"
[ ! -e "$T/c.sock" ] || fail "the console socket was left behind at exit"

# The log is appended to, not truncated: a second run adds its own lines.
casulo_start --kernel "$k" --console "socket=$T/c.sock,log=$T/c.log"
i=0
while [ ! -S "$T/c.sock" ]; do
    i=$((i + 1)); [ $i -le 300 ] || fail "no console socket after 30s"
    sleep 0.1
done
python3 - "$T/c.sock" <<'PY' || fail "second run: client failed"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(30)
buf = b""
while b"READY" not in buf:
    buf += s.recv(4096)
s.sendall(b"second\n")
while b"ECHO: second" not in buf:
    d = s.recv(4096)
    if not d: sys.exit(1)
    buf += d
PY
casulo_wait 30
expect_rc 0
[ "$(grep -c READY "$T/c.log")" = 2 ] || fail "console log: expected two runs' READY, got: $(cat "$T/c.log")"

# The config file form.
printf '{"kernel": "%s", "console": {"socket": "%s", "log": "%s"}}\n' "$k" "$T/f.sock" "$T/f.log" >"$T/vm.json"
casulo_start --config "$T/vm.json"
i=0
while [ ! -S "$T/f.sock" ]; do
    i=$((i + 1)); [ $i -le 300 ] || fail "config file: no console socket after 30s"
    kill -0 "$PID" 2>/dev/null || fail "config file: casulo exited early"
    sleep 0.1
done
python3 "$T/client.py" "$T/f.sock" >"$T/client.out" 2>&1 ||
    { cat "$T/client.out"; fail "config file: console socket client failed"; }
casulo_wait 30
expect_rc 0
grep -qF "ECHO: typed by client a" "$T/f.log" || fail "config file: console log lacks the echo"

# Bad places for the socket, refused before the guest runs.
expect_rejected 1 "cannot bind the console socket $T/nodir/c.sock: No such file" \
    --kernel "$GUESTS/hello.elf" --console "socket=$T/nodir/c.sock"
: >"$T/plain"
expect_rejected 1 "console socket $T/plain.*not a socket" \
    --kernel "$GUESTS/hello.elf" --console "socket=$T/plain"
expect_rejected 1 "cannot open console log $T/nodir/c.log" \
    --kernel "$GUESTS/hello.elf" --console "socket=$T/c.sock,log=$T/nodir/c.log"
# In use: another process listens there (and keeps its socket).
python3 - "$T/used.sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
time.sleep(60)
PY
holder=$!
i=0
while [ ! -S "$T/used.sock" ]; do i=$((i + 1)); [ $i -le 100 ] || break; sleep 0.1; done
expect_rejected 1 "console socket $T/used.sock is in use" \
    --kernel "$GUESTS/hello.elf" --console "socket=$T/used.sock"
# Stale: nobody listens on it any more; it is replaced and the guest runs.
kill "$holder"
wait "$holder" 2>/dev/null
[ -S "$T/used.sock" ] || fail "the test's own socket file vanished"
casulo_run --kernel "$GUESTS/hello.elf" --console "socket=$T/used.sock,log=$T/h.log"
expect_rc 0
grep -qF "hello from casulo guest" "$T/h.log" || fail "stale socket: guest output missing from the log"
echo "PASS: console socket"
