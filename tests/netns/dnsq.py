#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Minimal DNS client for the namespace tests (run inside a container's
namespace with nsenter).

  dnsq.py NAME [--tcp] [--server IP] [--timeout S] [--ms]
          [--ready FILE --after FILE2]
      one A query; prints the addresses (one a line; with --ms then
      "ms N", the query's time in this process), exit 0 if there is at
      least one, 1 on no answer / timeout, 2 on an error rcode. With
      --ready/--after: creates FILE once started, sends the query only once
      FILE2 exists (polled, up to 60 s) and prints "at T" (wall clock,
      seconds) when the answer came.
  dnsq.py --flood SECONDS NAME
      UDP queries for NAME as fast as possible (not waiting for answers) and
      TCP connections held open; prints how many were sent.
"""
import os
import random
import socket
import struct
import sys
import time


def query(name, qtype=1):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return qid, q + b"\0" + struct.pack(">HH", qtype, 1)


def skip_name(pkt, off):
    while True:
        n = pkt[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def parse(pkt, qid):
    rid, flags, qd, an = struct.unpack(">HHHH", pkt[:8])
    if rid != qid:
        return None, []
    off = 12
    for _ in range(qd):
        off = skip_name(pkt, off) + 4
    out = []
    for _ in range(an):
        off = skip_name(pkt, off)
        t, _c, _ttl, ln = struct.unpack(">HHIH", pkt[off:off + 10])
        off += 10
        if t == 1 and ln == 4:
            out.append(socket.inet_ntoa(pkt[off:off + 4]))
        off += ln
    return flags & 0xF, out


def one(name, tcp, server, timeout):
    qid, q = query(name)
    if tcp:
        s = socket.create_connection((server, 53), timeout=timeout)
        s.sendall(struct.pack(">H", len(q)) + q)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
            b = s.recv(4096)
            if not b:
                break
            buf += b
        s.close()
        pkt = buf[2:]
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        s.sendto(q, (server, 53))
        pkt, _ = s.recvfrom(4096)
        s.close()
    return parse(pkt, qid)


def flood(secs, name, server):
    end = time.time() + secs
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setblocking(False)
    held = []
    sent = 0
    while time.time() < end:
        if len(held) < 200:
            try:
                t = socket.socket()
                t.setblocking(False)
                t.connect_ex((server, 53))
                held.append(t)
            except OSError:
                pass
        for _ in range(50):
            _qid, q = query(f"x{random.randrange(1 << 30)}.{name}")
            try:
                u.sendto(q, (server, 53))
                sent += 1
            except OSError:
                pass
            try:
                while True:
                    u.recv(4096)
            except OSError:
                pass
    print(sent)


def main():
    a = sys.argv[1:]
    server = "127.0.0.11"
    timeout = 2.0
    tcp = False
    if "--server" in a:
        i = a.index("--server")
        server = a[i + 1]
        del a[i:i + 2]
    if "--timeout" in a:
        i = a.index("--timeout")
        timeout = float(a[i + 1])
        del a[i:i + 2]
    if "--tcp" in a:
        tcp = True
        a.remove("--tcp")
    if a and a[0] == "--flood":
        flood(float(a[1]), a[2], server)
        return 0
    ready = after = None
    if "--ready" in a:
        i = a.index("--ready")
        ready = a[i + 1]
        del a[i:i + 2]
    if "--after" in a:
        i = a.index("--after")
        after = a[i + 1]
        del a[i:i + 2]
    show_ms = "--ms" in a
    if show_ms:
        a.remove("--ms")
    if ready:
        open(ready, "w").close()
    if after:
        end = time.monotonic() + 60
        while not os.path.exists(after) and time.monotonic() < end:
            time.sleep(0.01)
    t0 = time.monotonic()
    try:
        rcode, addrs = one(a[0], tcp, server, timeout)
    except (OSError, struct.error, IndexError) as e:
        print(f"no answer: {e}", file=sys.stderr)
        return 1
    if rcode:
        print(f"rcode {rcode}", file=sys.stderr)
        return 2
    for x in addrs:
        print(x)
    if show_ms:
        print(f"ms {(time.monotonic() - t0) * 1000:.0f}")
    if after:
        print(f"at {time.time():.3f}")
    return 0 if addrs else 1


if __name__ == "__main__":
    sys.exit(main())
