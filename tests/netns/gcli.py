#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A persistent control-protocol client for tests: reads one JSON request per
line on stdin ({"op":…, "args":…}), sends them all on ONE connection and
prints each reply as one JSON line.

  gcli.py SOCK < requests
"""
import json
import socket
import struct
import sys


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed")
        b += c
    return b


def main():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(sys.argv[1])
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        body = line.encode()
        s.sendall(b"WGNT" + struct.pack(">HHI", 1, 1, len(body)) + body)
        hdr = recv_exact(s, 12)
        n = struct.unpack(">I", hdr[8:12])[0]
        print(json.dumps(json.loads(recv_exact(s, n))), flush=True)
    s.close()


main()
