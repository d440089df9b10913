#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A TCP relay for the migration fault tests: listens on LISTEN_IP:PORT,
# connects to DEST_IP:PORT, and relays both ways, flipping one bit of the
# source-to-destination stream at byte offset FLIP (a damaged link that TCP's
# own checksum missed). With "garbage" instead of an offset it sends bytes
# that are not a migration stream at all and never relays. With
# "droprunning" it relays the destination's messages up to READY (ACCEPT,
# pass acknowledgements, READY) and swallows the rest: RUNNING never reaches
# the source.
import socket
import struct
import sys
import threading


MSG_READY = 6


def pump(src, dst, flip, until_ready=False):
    pos = 0
    pending = b""
    ready_sent = False
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if until_ready:
                # Frames: type, length, crc, reserved (u32 each), then the payload.
                pending += data
                while not ready_sent and len(pending) >= 16:
                    mtype, length = struct.unpack_from("<II", pending)
                    if len(pending) < 16 + length:
                        break
                    dst.sendall(pending[:16 + length])
                    pending = pending[16 + length:]
                    ready_sent = mtype == MSG_READY
                if ready_sent:
                    pending = b""
                continue
            if flip is not None and pos <= flip < pos + len(data):
                b = bytearray(data)
                b[flip - pos] ^= 0x10
                data = bytes(b)
            pos += len(data)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    lhost, lport, dhost, dport, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    if mode == "garbage":
        d = socket.create_connection((dhost, dport))
        d.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 4)
        d.settimeout(10)
        try:
            while d.recv(4096):
                pass
        except OSError:
            pass
        return
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((lhost, lport))
    ls.listen(1)
    print("listening", flush=True)
    s, _ = ls.accept()
    d = socket.create_connection((dhost, dport))
    drop = mode == "droprunning"
    t1 = threading.Thread(target=pump, args=(s, d, None if drop else int(mode)))
    t2 = threading.Thread(target=pump, args=(d, s, None, drop))
    t1.start()
    t2.start()
    t1.join()
    t2.join()


main()
