#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hand-built frames from inside a container, and receivers that count
them (issue 14: VLAN tags, odd ethertypes, malformed headers, ND/MLD with
payload, packets to the guest itself).

  rawpkt.py send IFACE [options]     build one frame, send it COUNT times
      --dmac MAC          Ethernet destination (default: the guest side of
                          the veth, learnt from the neighbour table)
      --tag TPID:VID      a VLAN tag (repeatable, outermost first)
      --ethertype HEX     replaces the L3 ethertype (odd ethertypes)
      --ip4 SRC DST | --ip6 SRC DST
      --udp DPORT | --tcp-syn DPORT | --icmp TYPE | --icmp6 TYPE
      --payload N         N bytes of payload after the marker
      --marker TEXT       put in the payload (receivers count it)
      --ihl N             IPv4 header length in words (options are NOPs)
      --totlen N          IPv4 total length / IPv6 payload length override
      --hbh N             IPv6: N Hop-by-Hop headers (Router Alert)
      --routing           IPv6: a Routing header (type 4) first
      --hlim N            IPv6 hop limit (default 255 for ND, else 64)
      --truncate N        send only the first N bytes
      --count N           (default 1)
  rawpkt.py udp-recv ADDR PORT FILE  count datagrams per marker into FILE
  rawpkt.py icmp6-recv FILE          count ICMPv6 messages per marker
  rawpkt.py tcp-listen ADDR PORT FILE  count accepted connections into FILE

The receivers write "ready" and then, after every packet, one line per
marker ("MARKER COUNT") to FILE (replaced atomically), until killed.
"""
import argparse
import ipaddress
import os
import socket
import struct
import subprocess
import sys

ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def neigh_mac(iface):
    out = subprocess.run(["ip", "-4", "neigh", "show", "dev", iface],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if "lladdr" in f:
            return f[f.index("lladdr") + 1]
    return None


def guest_mac(iface):
    """The guest-side MAC of the veth: the BPF proxy-ARP answers any other
    address of the subnet with it, so ask for one if none is known yet."""
    mac = neigh_mac(iface)
    if not mac:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", iface],
                             capture_output=True, text=True).stdout.split()
        if "inet" in out:
            me = ipaddress.ip_interface(out[out.index("inet") + 1])
            for h in me.network.hosts():
                if h != me.ip:
                    subprocess.run(["ping", "-c", "1", "-W", "1", str(h)],
                                   capture_output=True)
                    break
        mac = neigh_mac(iface)
    if not mac:
        raise SystemExit("no neighbour on %s: cannot learn the guest's MAC"
                         % iface)
    return mac


def l4(a, v6, src, dst):
    body = a.marker.encode() + b"x" * a.payload
    if a.udp is not None:
        proto, hdr = 17, struct.pack("!HHHH", 40000, a.udp, 8 + len(body), 0)
    elif a.tcp_syn is not None:
        proto = 6
        hdr = struct.pack("!HHIIBBHHH", 40001, a.tcp_syn, 1, 0, 5 << 4, 2,
                          64240, 0, 0)
        body = b""
    elif a.icmp is not None:
        proto = 1
        hdr = struct.pack("!BBHHH", a.icmp, 0, 0, 0x77, 1)
    else:
        proto = 58
        hdr = struct.pack("!BBHI", a.icmp6, 0, 0, 0)
    seg = bytearray(hdr + body)
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), proto)
    else:
        pseudo = src + dst + struct.pack("!xBH", proto, len(seg))
    c = {17: 6, 6: 16, 1: 2, 58: 2}[proto]
    seg[c:c + 2] = struct.pack("!H", csum((b"" if proto == 1 else pseudo) +
                                          bytes(seg)))
    return proto, bytes(seg)


def ip4(a):
    src, dst = socket.inet_aton(a.ip4[0]), socket.inet_aton(a.ip4[1])
    proto, seg = l4(a, False, src, dst)
    opts = b"\x01" * (4 * (a.ihl - 5)) if a.ihl > 5 else b""
    hl = max(a.ihl, 5) * 4
    tot = a.totlen if a.totlen is not None else hl + len(seg)
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x40 | (a.ihl & 0xF), 0, tot,
                              1, 0, 64, proto, 0, src, dst) + opts)
    h[10:12] = struct.pack("!H", csum(bytes(h)))
    return ETH_P_IP, bytes(h) + seg


def ip6(a):
    src = socket.inet_pton(socket.AF_INET6, a.ip6[0])
    dst = socket.inet_pton(socket.AF_INET6, a.ip6[1])
    proto, seg = l4(a, True, src, dst)
    ext, nh = b"", proto
    for _ in range(a.hbh):
        ext = struct.pack("!BBBBHH", nh, 0, 5, 2, 0, 0x0100) + ext
        nh = 0
    if a.routing:
        ext = struct.pack("!BBBBI", nh, 2, 4, 0, 0) + dst + ext
        nh = 43
    pl = a.totlen if a.totlen is not None else len(ext) + len(seg)
    hlim = a.hlim if a.hlim is not None else 255 \
        if a.icmp6 is not None and 133 <= a.icmp6 <= 137 else 64
    h = struct.pack("!IHBB16s16s", 0x60000000, pl, nh, hlim, src, dst)
    return ETH_P_IPV6, h + ext + seg


def send(a):
    dmac = bytes.fromhex((a.dmac or guest_mac(a.iface)).replace(":", ""))
    with open("/sys/class/net/%s/address" % a.iface) as f:
        smac = bytes.fromhex(f.read().strip().replace(":", ""))
    etype, l3 = ip6(a) if a.ip6 else ip4(a)
    if a.ethertype is not None:
        etype = a.ethertype
    tags = b""
    for t in a.tag:
        tpid, vid = t.split(":")
        tags += struct.pack("!HH", int(tpid, 16), int(vid))
    frame = dmac + smac + tags + struct.pack("!H", etype) + l3
    if a.truncate is not None:
        frame = frame[:a.truncate]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    for _ in range(a.count):
        s.send(frame)


def publish(path, counts):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("ready\n")
        for k, v in sorted(counts.items()):
            f.write("%s %d\n" % (k, v))
    os.replace(tmp, path)


def marker_of(data):
    i = data.find(b"SEC")
    if i < 0:
        return "other"
    j = i
    while j < len(data) and 0x21 <= data[j] <= 0x7E and data[j] != ord("x"):
        j += 1
    return data[i:j].decode()


def recv_loop(sock, path, count_of):
    counts = {}
    publish(path, counts)
    while True:
        data = sock.recv(65536)
        k = count_of(data)
        if k:
            counts[k] = counts.get(k, 0) + 1
            publish(path, counts)


def udp_recv(addr, port, path):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((addr, port))
    recv_loop(s, path, marker_of)


def icmp6_recv(path):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    recv_loop(s, path, lambda d: marker_of(d) if b"SEC" in d else None)


def tcp_listen(addr, port, path):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((addr, port))
    s.listen(64)
    counts = {"accepted": 0}
    publish(path, counts)
    while True:
        c, peer = s.accept()
        counts["accepted"] += 1
        publish(path, counts)
        c.close()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "udp-recv":
        return udp_recv(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    if len(sys.argv) > 1 and sys.argv[1] == "icmp6-recv":
        return icmp6_recv(sys.argv[2])
    if len(sys.argv) > 1 and sys.argv[1] == "tcp-listen":
        return tcp_listen(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["send"])
    p.add_argument("iface")
    p.add_argument("--dmac")
    p.add_argument("--tag", action="append", default=[])
    p.add_argument("--ethertype", type=lambda x: int(x, 16))
    p.add_argument("--ip4", nargs=2)
    p.add_argument("--ip6", nargs=2)
    p.add_argument("--udp", type=int)
    p.add_argument("--tcp-syn", type=int)
    p.add_argument("--icmp", type=int)
    p.add_argument("--icmp6", type=int)
    p.add_argument("--payload", type=int, default=0)
    p.add_argument("--marker", default="SECmark")
    p.add_argument("--ihl", type=int, default=5)
    p.add_argument("--totlen", type=int)
    p.add_argument("--hbh", type=int, default=0)
    p.add_argument("--routing", action="store_true")
    p.add_argument("--hlim", type=int)
    p.add_argument("--truncate", type=int)
    p.add_argument("--count", type=int, default=1)
    a = p.parse_args()
    if not (a.ip4 or a.ip6):
        p.error("--ip4 or --ip6")
    if [a.udp, a.tcp_syn, a.icmp, a.icmp6].count(None) != 3:
        p.error("exactly one of --udp, --tcp-syn, --icmp, --icmp6")
    send(a)


if __name__ == "__main__":
    main()
