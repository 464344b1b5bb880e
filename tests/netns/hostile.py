#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hostile input for wgnet's sockets, table-driven (issue 7).

  hostile.py frames SOCK          raw frames: truncated, oversized, wrong
                                  version/magic/type, non-JSON, not objects,
                                  unknown ops, unknown fields, wrong types
  hostile.py host-ops SOCK        bad args for every wgnet-host op
  hostile.py guest-ops SOCK       bad args for every wgnet-guest op
  hostile.py dns                  malformed DNS packets to 127.0.0.11:53 (run
                                  inside a container's namespace); then a
                                  real query must still be answered
  hostile.py http SOCK            malformed HTTP on the Docker API socket

Every case must get a clear error (a reply frame with ok false, a one-line
message and an errno code; or, for a frame that never completes, a clean
close); the server must answer a good request afterwards. Prints one line
per case; exit 1 if any case fails.
"""
import json
import os
import socket
import struct
import sys
import time

FAILS = []


def frame(payload, magic=b"WGNT", ver=1, typ=1, length=None):
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload).encode()
    elif isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    return magic + struct.pack(">HHI", ver, typ, n) + payload


def exchange(path, data, shut=True, timeout=15):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    if shut:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    buf = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    except ConnectionResetError:
        pass
    s.close()
    if len(buf) < 12:
        return None if not buf else {"_raw": buf}
    magic, ver, typ, n = buf[:4], *struct.unpack(">HHI", buf[4:12])
    # A connection carries any number of exchanges: the first reply frame
    # answers the first request (later ones answer later requests).
    if magic != b"WGNT" or ver != 1 or typ != 2 or len(buf) < 12 + n:
        return {"_raw": buf}
    return json.loads(buf[12:12 + n])


def check(name, rep, allow_close=False, want_ok=False):
    if rep is None:
        good = allow_close
        what = "closed"
    elif "_raw" in rep:
        good, what = False, f"bad reply frame {rep['_raw'][:40]!r}"
    elif want_ok:
        good, what = rep.get("ok") is True, json.dumps(rep)[:100]
    else:
        err = rep.get("error", "")
        good = (rep.get("ok") is False and isinstance(err, str) and err
                and "\n" not in err and len(err) < 600
                and isinstance(rep.get("code"), int) and rep["code"] > 0)
        what = f"code {rep.get('code')}: {err}"
    print(f"{'ok  ' if good else 'FAIL'} {name}: {what}")
    if not good:
        FAILS.append(name)


def req(op, args=None):
    r = {"op": op}
    if args is not None:
        r["args"] = args
    return frame(r)


def frames(path, hello):
    big = 1 << 20
    cases = [
        ("empty connection", b"", True),
        ("truncated header", b"WGNT\x00\x01", True),
        ("header only, body missing", frame(b"", length=40), True),
        ("truncated body", frame(b'{"op":"Hel', length=40), True),
        ("oversized length 1 MiB + 1", frame(b"", length=big + 1), False),
        ("oversized length 4 GiB - 1", frame(b"", length=0xFFFFFFFF), False),
        ("wrong magic", frame({"op": hello}, magic=b"XXXX"), False),
        ("HTTP on the socket", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False),
        ("wrong version 0", frame({"op": hello}, ver=0), False),
        ("wrong version 2", frame({"op": hello}, ver=2), False),
        ("wrong version 65535", frame({"op": hello}, ver=0xFFFF), False),
        ("reply type instead of request", frame({"op": hello}, typ=2), False),
        ("type 7", frame({"op": hello}, typ=7), False),
        ("zero-length payload", frame(b""), False),
        ("non-JSON", frame(b"hello world"), False),
        ("binary garbage", frame(bytes(range(256))), False),
        ("NUL inside JSON", frame(b'{"op":"He\x00llo"}'), False),
        ("invalid UTF-8", frame(b'{"op":"\xff\xfe"}'), False),
        ("JSON array", frame([1, 2]), False),
        ("JSON string", frame('"Hello"'), False),
        ("JSON number", frame(b"42"), False),
        ("JSON null", frame(b"null"), False),
        ("no op", frame({"args": {}}), False),
        ("op is a number", frame({"op": 5}), False),
        ("op is null", frame({"op": None}), False),
        ("op is an object", frame({"op": {"x": 1}}), False),
        ("empty op", frame({"op": ""}), False),
        ("unknown op", req("Bogus"), False),
        ("op with a path", req("../../etc/passwd"), False),
        ("op 10 kB long", req("A" * 10000), False),
        ("args is an array", req(hello, [1]), False),
        ("args is a string", req(hello, "x"), False),
        ("unknown top-level field", frame({"op": hello, "args": {},
                                           "bogus": 1}), False),
        ("deeply nested JSON", frame(b'{"op":"' + hello.encode() + b'","args":{"a":'
                                     + b"[" * 5000 + b"]" * 5000 + b"}}"), False),
        ("two frames in one connection", req("Bogus") + req(hello), False),
        ("trailing garbage after JSON", frame(b'{"op":"Bogus"} xyz'), False),
    ]
    for name, data, may_close in cases:
        check(name, exchange(path, data), allow_close=may_close)
    # A frame that stalls mid-way: the server must not hang on it.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(frame(b"", length=100)[:12] + b'{"op"')
    t = time.time()
    check("good request while another client stalls",
          exchange(path, req(hello), timeout=20), want_ok=True)
    d = time.time() - t
    print(f"{'ok  ' if d < 12 else 'FAIL'} the stalled client delayed it {d:.1f}s")
    if d >= 12:
        FAILS.append("stall")
    s.close()
    check("good request afterwards", exchange(path, req(hello)), want_ok=True)


BAD_STR = [None, 5, 1.5, True, [], {}, "", "../x", "a;b", "$(x)", "a b",
           "x" * 200, "\u00e9", "a\nb", "/etc/passwd"]


def op_cases(path, ops, good_op):
    for op, fields in ops:
        check(f"{op} without args", exchange(path, req(op)))
        check(f"{op} args []", exchange(path, req(op, [])))
        for f, kind in fields:
            for v in BAD_STR if kind == "s" else [None, "x", -1, 1.5, {}, [1],
                                                 ["../x"], [5], [{}]]:
                a = {k: v2 for k, v2 in ops_defaults(fields).items()}
                a[f] = v
                if v is None:
                    del a[f]
                check(f"{op} {f}={json.dumps(v)[:30]}", exchange(path, req(op, a)))
    check("good request afterwards", exchange(path, req(good_op)),
          want_ok=True)


def ops_defaults(fields):
    d = {}
    for f, kind in fields:
        d[f] = "0" * 64 if kind == "s" else []
    return d


def host_ops(path):
    # Every op with required fields; each case leaves exactly one field bad.
    nid = "f" * 64
    ops = [
        ("NetworkInspect", [("network", "s")]),
        ("NetworkRemove", [("network", "s")]),
        ("NetworkConnect", [("network", "s"), ("container", "s")]),
        ("NetworkDisconnect", [("network", "s"), ("container", "s")]),
        ("GuestAdd", [("name", "s"), ("control", "s")]),
        ("GuestRemove", [("name", "s")]),
        ("ContainerAdd", [("name", "s"), ("guest", "s"), ("netns", "s")]),
        ("ContainerRemove", [("container", "s")]),
    ]
    op_cases(path, ops, "NetworkList")
    extra = [
        ("NetworkCreate name", {"name": "../x"}),
        ("NetworkCreate name 200", {"name": "n" * 200}),
        ("NetworkCreate shell name", {"name": "$(reboot)"}),
        ("NetworkCreate subnet garbage", {"name": "hx1", "subnet": "1.2.3"}),
        ("NetworkCreate subnet /33", {"name": "hx1", "subnet": "10.9.0.0/33"}),
        ("NetworkCreate subnet host bits", {"name": "hx1", "subnet": "10.9.0.1/24"}),
        ("NetworkCreate subnet number", {"name": "hx1", "subnet": 5}),
        ("NetworkCreate gateway outside", {"name": "hx1", "subnet": "10.9.0.0/24",
                                           "gateway": "10.10.0.1"}),
        ("NetworkCreate ip_range outside", {"name": "hx1", "subnet": "10.9.0.0/24",
                                            "ip_range": "10.8.0.0/25"}),
        ("NetworkCreate internal string", {"name": "hx1", "internal": "yes"}),
        ("NetworkCreate labels array", {"name": "hx1", "labels": [1]}),
        ("NetworkCreate unknown field", {"name": "hx1", "bogus": 1}),
        ("NetworkCreate ipv6 without subnet6", {"name": "hx1", "ipv6": True}),
        ("NetworkList filters string", {"filters": "x"}),
        ("NetworkList unknown filter", {"filters": {"bogus": ["1"]}}),
        ("NetworkPrune filters array", {"filters": [1]}),
        ("NetworkConnect ip garbage", {"network": "net1", "container": "c1",
                                       "ip": "300.1.1.1"}),
        ("ContainerAdd bad port", {"name": "hx2", "guest": "g1", "netns": "/x",
                                   "ports": [{"proto": "sctp", "host_port": 0}]}),
    ]
    for name, a in extra:
        op = name.split()[0]
        check(name, exchange(path, req(op, a)))


def guest_ops(path):
    ops = [
        ("AddNetwork", [("network", "o")]),
        ("RemoveNetwork", [("network_id", "s")]),
        ("AddEndpoint", [("network_id", "s"), ("container", "o"), ("ip", "s")]),
        ("RemoveEndpoint", [("network_id", "s"), ("container_id", "s")]),
        ("UpdatePeers", [("network_id", "s"), ("peers", "o")]),
        ("SetDNS", [("container_id", "s"), ("records", "o")]),
        ("PublishPorts", [("container_id", "s"), ("ports", "o")]),
        ("Reconcile", [("networks", "o"), ("containers", "o")]),
        ("SetIsolation", [("subnets", "o")]),
    ]
    # Cases where every field but one is right would be accepted by
    # RemoveNetwork/RemoveEndpoint/Reconcile (idempotent, "0"*64 is unknown,
    # and an all-empty Reconcile would remove everything): those ops get
    # only the bad-field cases below, never a fully valid request.
    for op, fields in ops:
        check(f"{op} without args", exchange(path, req(op)))
        check(f"{op} args []", exchange(path, req(op, [])))
        for f, kind in fields:
            vals = BAD_STR if kind == "s" else [None, "x", -1, 1.5, [1], ["../x"],
                                                [5], [{}], [{"public_key": 5}]]
            for v in vals:
                a = {}
                for g, k2 in fields:
                    if g == f:
                        continue
                    a[g] = "0" * 64 if k2 == "s" else None
                a = {k: v2 for k, v2 in a.items() if v2 is not None}
                if op == "Reconcile":
                    a = {"networks": "x"}
                if v is not None:
                    a[f] = v
                if op in ("RemoveNetwork", "RemoveEndpoint") and v == "0" * 64:
                    continue
                rep = exchange(path, req(op, a))
                # An array of junk where an array is expected may be valid
                # for AddNetwork's object check etc.: all must be errors.
                check(f"{op} {f}={json.dumps(v)[:30]}", rep)
    nid = "ab" * 32
    net = {"id": nid, "name": "hx", "subnet": "10.99.0.0/24",
           "gateway": "10.99.0.1"}
    bad_nets = [
        ("id ../x", dict(net, id="../x")),
        ("id uppercase", dict(net, id="AB" * 32)),
        ("id too long", dict(net, id="a" * 65)),
        ("name shell", dict(net, name="$(x)")),
        ("subnet garbage", dict(net, subnet="10.99.0/24")),
        ("subnet v6 in subnet", dict(net, subnet="fd00::/64")),
        ("subnet host bits", dict(net, subnet="10.99.0.1/24")),
        ("gateway outside", dict(net, gateway="10.98.0.1")),
        ("gateway missing", {k: v for k, v in net.items() if k != "gateway"}),
        ("subnet6 garbage", dict(net, subnet6="fd00::/200", gateway6="fd00::1")),
        ("gateway6 outside", dict(net, subnet6="fd00::/64", gateway6="fd01::1")),
        ("internal string", dict(net, internal="yes")),
    ]
    for name, n in bad_nets:
        check(f"AddNetwork {name}", exchange(path, req("AddNetwork", {"network": n})))
    check("AddEndpoint unknown network", exchange(path, req("AddEndpoint", {
        "network_id": nid, "container": {"id": "c" * 64, "name": "x",
                                         "netns": "/run/netns/none"},
        "ip": "10.99.0.2"})))
    check("UpdatePeers unknown network", exchange(path, req("UpdatePeers", {
        "network_id": nid, "peers": []})))
    # over the agent's limit of 8192 subnets (guest/agent.h AG_MAX_ISOLATE)
    check("SetIsolation 9000 subnets", exchange(path, req("SetIsolation", {
        "subnets": ["10.0.0.0/8"] * 9000})))
    check("SetIsolation bad CIDR", exchange(path, req("SetIsolation", {
        "subnets": ["10.0.0.0/8", "10.0.0.0/99"]})))
    check("CreateHub ctrl_prefixes garbage", exchange(path, req("CreateHub", {
        "ctrl_prefixes": ["x"]})))
    check("CreateHub ctrl_prefixes string", exchange(path, req("CreateHub", {
        "ctrl_prefixes": "10.0.0.0/8"})))
    check("SetDNS unknown container", exchange(path, req("SetDNS", {
        "container_id": "d" * 64, "records": []})))
    check("SetDNS record without address", exchange(path, req("SetDNS", {
        "container_id": "d" * 64, "records": [{"name": "x"}]})))
    check("PublishPorts port 0", exchange(path, req("PublishPorts", {
        "container_id": "d" * 64, "ports": [{"proto": "tcp", "host_port": 0,
                                             "container_port": 80,
                                             "container_ip": "10.0.0.1"}]})))
    check("good request afterwards", exchange(path, req("GetStatus")),
          want_ok=True)


def dns():
    def q(data, wait=0.3):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(wait)
        s.sendto(data, ("127.0.0.11", 53))
        try:
            r = s.recv(4096)
        except socket.timeout:
            r = None
        s.close()
        return r

    def name(n):
        return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".")) + b"\0"

    hdr = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    cases = [
        ("empty datagram", b""),
        ("1 byte", b"\x12"),
        ("header only", hdr[:12]),
        ("truncated question", hdr + b"\x03ab"),
        ("label over 63", hdr + b"\x40" + b"a" * 64 + b"\0\0\1\0\1"),
        ("name over 255", hdr + (b"\x3f" + b"a" * 63) * 5 + b"\0\0\1\0\1"),
        ("compression loop", hdr + b"\xc0\x0c\0\1\0\1"),
        ("pointer out of range", hdr + b"\xc0\xff\0\1\0\1"),
        ("qdcount 65535", struct.pack(">HHHHHH", 1, 0x0100, 0xFFFF, 0, 0, 0)
         + name("a") + b"\0\1\0\1"),
        ("ancount lies", struct.pack(">HHHHHH", 1, 0x0100, 1, 50, 50, 50)
         + name("a") + b"\0\1\0\1"),
        ("a response (QR set)", struct.pack(">HHHHHH", 1, 0x8180, 1, 0, 0, 0)
         + name("a") + b"\0\1\0\1"),
        ("opcode 15", struct.pack(">HHHHHH", 1, 0x7900, 1, 0, 0, 0)
         + name("a") + b"\0\1\0\1"),
        ("reserved label type", hdr + b"\x80abc\0\0\1\0\1"),
        ("random 512 bytes", os.urandom(512)),
        ("64 kB of zeros", bytes(65000)),
        ("OPT with huge length", struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 1)
         + name("a") + b"\0\1\0\1" + b"\0\0\x29\x10\0\0\0\0\0\xff\xff"),
    ]
    for n, d in cases:
        r = q(d)
        # Either no answer, or a well-formed one with an error rcode.
        good = r is None or (len(r) >= 12 and (r[3] & 0x0F) != 0) or n in (
            "ancount lies",)
        print(f"{'ok  ' if good else 'FAIL'} dns {n}: "
              f"{'no answer' if r is None else 'rcode %d' % (r[3] & 15)}")
        if not good:
            FAILS.append("dns " + n)
    # TCP: a length prefix that lies, then garbage.
    try:
        t = socket.create_connection(("127.0.0.11", 53), timeout=3)
        t.sendall(b"\xff\xff" + b"x" * 10)
        t.shutdown(socket.SHUT_WR)
        t.settimeout(3)
        try:
            t.recv(100)
        except (socket.timeout, ConnectionResetError):
            pass
        t.close()
        print("ok   dns tcp lying length: handled")
    except OSError as e:
        print(f"ok   dns tcp: {e}")
    want = sys.argv[2] if len(sys.argv) > 2 else None
    if want:
        r = None
        for _ in range(3):
            r = q(struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + name(want)
                  + b"\0\1\0\1", wait=2)
            if r:
                break
        good = r is not None and r[:2] == b"\x42\x42" and (r[3] & 15) == 0 \
            and struct.unpack(">H", r[6:8])[0] >= 1
        print(f"{'ok  ' if good else 'FAIL'} dns: a real query for {want} "
              f"is still answered")
        if not good:
            FAILS.append("dns real query")


def http(path):
    cases = [
        ("garbage", b"\x00\x01\x02garbage\r\n\r\n"),
        ("no method", b" / HTTP/1.1\r\n\r\n"),
        ("huge header", b"GET /_ping HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 200000
         + b"\r\n\r\n"),
        ("bad content-length", b"POST /networks/create HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: -5\r\n\r\n{}"),
        ("lying content-length", b"POST /networks/create HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: 100000\r\n\r\n{}"),
        ("non-JSON body", b"POST /networks/create HTTP/1.1\r\nHost: x\r\n"
         b"Content-Type: application/json\r\nContent-Length: 5\r\n\r\nhello"),
        ("path traversal", b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("create with bad name", b"POST /networks/create HTTP/1.1\r\nHost: x\r\n"
         b"Content-Type: application/json\r\nContent-Length: 18\r\n\r\n"
         b'{"Name":"../../x"}'),
        ("bad chunked", b"POST /networks/create HTTP/1.1\r\nHost: x\r\n"
         b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
    ]
    for n, d in cases:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        try:
            s.sendall(d)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        buf = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                buf += b
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        line = buf.split(b"\r\n", 1)[0].decode(errors="replace")
        code = int(line.split()[1]) if line.startswith("HTTP/") and len(line.split()) > 1 else 0
        good = not buf or code >= 400
        print(f"{'ok  ' if good else 'FAIL'} http {n}: {line or 'closed'}")
        if not good:
            FAILS.append("http " + n)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    buf = s.recv(4096)
    s.close()
    good = buf.startswith(b"HTTP/1.1 200")
    print(f"{'ok  ' if good else 'FAIL'} http: /_ping still answered")
    if not good:
        FAILS.append("http ping")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    what = sys.argv[1]
    if what == "frames":
        frames(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "Hello")
    elif what == "host-ops":
        host_ops(sys.argv[2])
    elif what == "guest-ops":
        guest_ops(sys.argv[2])
    elif what == "dns":
        dns()
    elif what == "http":
        http(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{len(FAILS)} failed" + (": " + ", ".join(FAILS) if FAILS else ""))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
