#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Many containers' DNS from one process (tests/netns/t-sec-dns-scale.sh).

  dnsmany.py add SOCK NET_ID IPPREFIX NS_PREFIX N
      AddEndpoint + SetDNS for containers 0..N-1 over the guest's control
      socket (one process, one connection per call): namespace
      /run/netns/<NS_PREFIX><i>, address <IPPREFIX>.<i/250>.<i%250+2>, one
      record "web<i>" -> that address and "web" -> 10.99.0.<i%250+1>.
  dnsmany.py resolve NS_PREFIX N [--flood-ns NS] [--forward NAME]
      enters each namespace (setns), makes a UDP socket there, sends every
      container's query for "web" to its own 127.0.0.11 at once and counts the
      right answers. With --flood-ns, that namespace first floods its resolver
      with names that go upstream and holds TCP connections, for the whole
      run. With --forward NAME, container 1 also resolves NAME (upstream).
      Prints "answered A/N forward F" ; exit 0 if every container answered.
"""
import ctypes
import json
import os
import select
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def call(sock, op, args):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock)
    b = json.dumps({"op": op, "args": args}).encode()
    s.sendall(b"WGNT" + struct.pack(">HHI", 1, 1, len(b)) + b)
    # One reply frame (the agent keeps the connection open for more).
    buf = b""
    while len(buf) < 12 or len(buf) < 12 + struct.unpack(">I", buf[8:12])[0]:
        x = s.recv(65536)
        if not x:
            break
        buf += x
    s.close()
    rep = json.loads(buf[12:])
    if not rep.get("ok"):
        raise SystemExit(f"{op}: {rep}")
    return rep.get("result")


def addr(prefix, i):
    return f"{prefix}.{i // 250}.{i % 250 + 2}"


def add(sock, net_id, prefix, nsp, n):
    t0 = time.time()
    for i in range(n):
        cid = f"{i:064x}"
        call(sock, "AddEndpoint", {
            "network_id": net_id, "ip": addr(prefix, i),
            "container": {"id": cid, "name": f"c{i}",
                          "netns": f"/run/netns/{nsp}{i}"}})
        call(sock, "SetDNS", {"container_id": cid, "records": [
            {"name": "web", "address": f"10.99.0.{i % 250 + 1}"},
            {"name": f"web{i}", "address": addr(prefix, i)}]})
    print(f"added {n} in {time.time() - t0:.1f}s")


def query(qid, name):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def answer_a(pkt):
    """(id, rcode, last A address or None)"""
    qid, flags, _qd, an = struct.unpack(">HHHH", pkt[:8])
    a = socket.inet_ntoa(pkt[-4:]) if an else None
    return qid, flags & 0xF, a


def flooder(ns):
    """Fork a child that floods from inside ns until killed."""
    pid = os.fork()
    if pid:
        return pid
    setns(f"/run/netns/{ns}")
    held = []
    for _ in range(40):
        t = socket.socket()
        t.setblocking(False)
        t.connect_ex(("127.0.0.11", 53))
        held.append(t)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setblocking(False)
    i = 0
    while True:
        try:
            u.sendto(query(i & 0xFFFF, f"x{i}.flood.example"), ("127.0.0.11", 53))
        except OSError:
            pass
        i += 1
        try:
            while True:
                u.recv(4096)
        except OSError:
            pass
        if i % 200 == 0:
            time.sleep(0.01)


def resolve(nsp, n, flood_ns=None, fwd=None):
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    fpid = flooder(flood_ns) if flood_ns else None
    if fpid:
        time.sleep(1.0)  # let the flood fill its share first
    socks = {}
    for i in range(n):
        if f"{nsp}{i}" == flood_ns:
            continue
        setns(f"/run/netns/{nsp}{i}")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.11", 53))
        s.setblocking(False)
        socks[s.fileno()] = (i, s)
    fwd_sock = None
    if fwd:
        setns(f"/run/netns/{nsp}1")
        fwd_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        fwd_sock.settimeout(5)
    libc.setns(own, CLONE_NEWNET)
    want = {i: f"10.99.0.{i % 250 + 1}" for i, _ in socks.values()}
    answered = set()
    deadline = time.time() + 20
    for tries in range(3):  # UDP: a lost datagram is resent, as a resolver does
        for fd, (i, s) in socks.items():
            if i not in answered:
                try:
                    s.send(query(i, "web"))
                except OSError:
                    pass
        t_end = min(deadline, time.time() + 5)
        while len(answered) < len(socks) and time.time() < t_end:
            r, _, _ = select.select([s for _, s in socks.values()], [], [], 0.5)
            for s in r:
                try:
                    pkt = s.recv(4096)
                except OSError:
                    continue
                i = socks[s.fileno()][0]
                qid, rc, a = answer_a(pkt)
                if qid == i and rc == 0 and a == want[i]:
                    answered.add(i)
        if len(answered) == len(socks):
            break
    fwd_ok = 0
    if fwd_sock:
        fwd_sock.sendto(query(0x4242, fwd), ("127.0.0.11", 53))
        try:
            qid, rc, a = answer_a(fwd_sock.recv(4096))
            fwd_ok = int(qid == 0x4242 and rc == 0 and a is not None)
        except OSError:
            pass
    if fpid:
        os.kill(fpid, 9)
        os.waitpid(fpid, 0)
    print(f"answered {len(answered)}/{len(socks)} forward {fwd_ok}")
    return 0 if len(answered) == len(socks) and (not fwd or fwd_ok) else 1


def main():
    a = sys.argv[1:]
    if a[0] == "add":
        add(a[1], a[2], a[3], a[4], int(a[5]))
        return 0
    if a[0] == "resolve":
        flood_ns = a[a.index("--flood-ns") + 1] if "--flood-ns" in a else None
        fwd = a[a.index("--forward") + 1] if "--forward" in a else None
        return resolve(a[1], int(a[2]), flood_ns, fwd)
    return 2


if __name__ == "__main__":
    sys.exit(main())
