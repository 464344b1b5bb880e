#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A fake wgnet-guest for host tests: speaks the framing of docs/protocol.md
on a unix socket and keeps the desired state it is sent in memory. Touches
no network at all.

    fake_guest.py --name g1 --socket PATH [--underlay 10.77.0.11]

Extra ops for tests: _State (the whole state), _Vanish {"container_id"}
(marks its endpoints present:false), _Calls (the ops received, in order).
Client mode: fake_guest.py --call SOCKET OP [JSON-ARGS] prints the reply.
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import threading

MAGIC = b"WGNT"


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def send_frame(conn, typ, obj):
    data = json.dumps(obj).encode()
    conn.sendall(MAGIC + struct.pack(">HHI", 1, typ, len(data)) + data)


def recv_frame(conn):
    hdr = recv_exact(conn, 12)
    if hdr[:4] != MAGIC:
        raise ValueError("bad magic")
    _ver, typ, length = struct.unpack(">HHI", hdr[4:])
    if length > (1 << 20):
        raise ValueError("too large")
    return typ, json.loads(recv_exact(conn, length))


class Guest:
    def __init__(self, name, underlay, generation):
        self.name = name
        self.underlay = underlay
        self.gen = generation
        self.lock = threading.Lock()
        self.hub = False
        self.networks = {}  # id -> {net, index, public_key, listen_port}
        self.endpoints = {}  # (nid, cid) -> args
        self.peers = {}  # nid -> peers
        self.dns = {}  # cid -> records
        self.ports = {}  # cid -> ports
        self.vanished = set()
        self.calls = []

    def forget_if_gone(self, cid):
        if not any(k[1] == cid for k in self.endpoints):
            self.dns.pop(cid, None)
            self.ports.pop(cid, None)

    def key(self, nid):
        if self.gen == "zero":  # a device without a private key
            return base64.b64encode(bytes(32)).decode()
        raw = hashlib.sha256(f"{self.name}/{nid}/{self.gen}".encode()).digest()
        return base64.b64encode(raw).decode()

    def op(self, op, a):
        self.calls.append(op)
        if op == "Hello":
            return {"version": 1, "guest": self.name, "backend": "userspace"}
        if op == "GetUnderlayEndpoint":
            return {"ifname": "eth0", "address": self.underlay,
                    "prefix": self.underlay.rsplit(".", 1)[0] + ".0/24",
                    "mtu": 1500}
        if op == "CreateHub":
            self.hub = True
            return {}
        if op == "DeleteHub":
            self.__init__(self.name, self.underlay, self.gen)
            return {}
        if not self.hub and not op.startswith("_") and op != "GetStatus":
            raise OSError(95, "CreateHub first")
        if op == "SetIsolation":
            self.isolate = list(a["subnets"])
            return {}
        if op == "AddNetwork":
            net = a["network"]
            nid = net["id"]
            if nid not in self.networks:
                used = {n["index"] for n in self.networks.values()}
                idx = next(i for i in range(1000) if i not in used)
                self.networks[nid] = {"net": net, "index": idx,
                                      "public_key": self.key(nid),
                                      "listen_port": 51820 + idx}
            n = self.networks[nid]
            return {"ifname": f"wg{n['index']}", "index": n["index"],
                    "public_key": n["public_key"],
                    "listen_port": n["listen_port"]}
        if op == "RemoveNetwork":
            nid = a["network_id"]
            self.networks.pop(nid, None)
            self.peers.pop(nid, None)
            for k in [k for k in self.endpoints if k[0] == nid]:
                del self.endpoints[k]
                self.forget_if_gone(k[1])
            return {}
        if op == "AddEndpoint":
            nid = a["network_id"]
            if nid not in self.networks:
                raise OSError(2, "unknown network " + nid)
            netns = a["container"]["netns"]
            if netns.endswith("/missing"):
                raise OSError(2, "no such namespace " + netns)
            self.endpoints[(nid, a["container"]["id"])] = a
            return {"ifname": "eth0", "host_ifname": "vhfake", "mac": a.get("mac", "")}
        if op == "RemoveEndpoint":
            cid = a["container_id"]
            self.endpoints.pop((a["network_id"], cid), None)
            self.forget_if_gone(cid)
            return {}
        if op == "UpdatePeers":
            if a["network_id"] not in self.networks:
                raise OSError(2, "unknown network")
            self.peers[a["network_id"]] = a["peers"]
            return {}
        if op in ("SetDNS", "PublishPorts"):
            cid = a["container_id"]
            # As wgnet-guest: it knows containers through their endpoints.
            if not any(k[1] == cid for k in self.endpoints):
                raise OSError(2, f"container {cid[:12]} has no endpoint on this guest")
            if op == "SetDNS":
                self.dns[cid] = a["records"]
            else:
                self.ports[cid] = a["ports"]
            return {}
        if op == "Reconcile":
            keep_n, keep_c = set(a["networks"]), set(a["containers"])
            removed = {"networks": [], "endpoints": []}
            for nid in list(self.networks):
                if nid not in keep_n:
                    self.op("RemoveNetwork", {"network_id": nid})
                    removed["networks"].append(nid)
            for k in list(self.endpoints):
                if k[1] not in keep_c:
                    del self.endpoints[k]
                    removed["endpoints"].append(k[1])
            for d in (self.dns, self.ports):
                for cid in list(d):
                    if cid not in keep_c:
                        del d[cid]
            return {"removed": removed}
        if op == "GetStatus":
            nets = [{"id": nid, "name": n["net"]["name"],
                     "ifname": f"wg{n['index']}", "index": n["index"],
                     "public_key": n["public_key"],
                     "listen_port": n["listen_port"],
                     "peers": [dict(p, latest_handshake=0, rx_bytes=0,
                                    tx_bytes=0)
                               for p in self.peers.get(nid, [])]}
                    for nid, n in self.networks.items()]
            eps = [{"network_id": nid, "container_id": cid,
                    "container": e["container"]["name"], "ifname": "eth0",
                    "host_ifname": "vhfake", "ip": e.get("ip", ""),
                    "ip6": e.get("ip6", ""), "mac": e.get("mac", ""),
                    "present": cid not in self.vanished}
                   for (nid, cid), e in self.endpoints.items()]
            return {"guest": self.name, "backend": "userspace",
                    "underlay": {"address": self.underlay},
                    "networks": nets, "endpoints": eps,
                    "drops": {"spoof": 0, "ctrl": 0},
                    "stats": {"fwd_local": 0}}
        if op == "_State":
            return {"hub": self.hub,
                    "networks": {k: {"public_key": v["public_key"],
                                     "listen_port": v["listen_port"]}
                                 for k, v in self.networks.items()},
                    "endpoints": [{"network_id": k[0], "container_id": k[1],
                                   "ip": v.get("ip"), "ip6": v.get("ip6"),
                                   "name": v["container"]["name"]}
                                  for k, v in self.endpoints.items()],
                    "peers": self.peers, "dns": self.dns,
                    "ports": self.ports}
        if op == "_Vanish":
            self.vanished.add(a["container_id"])
            return {}
        if op == "_Calls":
            return self.calls
        raise OSError(95, f"unknown op {op}")


def serve(args):
    g = Guest(args.name, args.underlay, args.generation)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.socket)
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        try:
            conn.settimeout(5)
            _typ, req = recv_frame(conn)
            with g.lock:
                try:
                    res = g.op(req["op"], req.get("args") or {})
                    rep = {"ok": True, "result": res}
                except OSError as e:
                    rep = {"ok": False, "error": e.strerror or str(e),
                           "code": e.errno or 22}
                except (KeyError, TypeError) as e:
                    rep = {"ok": False, "error": f"bad args: {e}",
                           "code": 22}
            # Echo the request id, as the agent does (docs/protocol.md):
            # the host matches replies by it.
            if isinstance(req, dict) and "id" in req:
                rep["id"] = req["id"]
            send_frame(conn, 2, rep)
        except (EOFError, ValueError, OSError):
            pass
        finally:
            conn.close()


def call(path, op, args):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    send_frame(s, 1, {"op": op, "args": args})
    _typ, rep = recv_frame(s)
    s.close()
    return rep


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--call":
        args = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
        rep = call(sys.argv[2], sys.argv[3], args)
        print(json.dumps(rep))
        return 0 if rep.get("ok") else 1
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--socket", required=True)
    p.add_argument("--underlay", default="10.77.0.11")
    p.add_argument("--generation", default="0",
                   help="changes the public keys (a guest that lost them)")
    serve(p.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
