#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Consistency checks of a running wgnet lab, for the reliability tests.

  meshcheck.py peers NET       every guest with endpoints on NET has exactly
                               the other such guests as WireGuard peers, with
                               their endpoints' /32 (/128) as allowed-ips;
                               guests without endpoints have no interface
  meshcheck.py snapshot        a canonical text snapshot of what is
                               configured (networks, endpoints, peer sets)

Reads `wgnet network inspect` and `wgnet status --json` (WGNET_BIN/wgnet).
Exit 0 and "ok ..." on success, 1 with the differences otherwise.
"""
import json
import os
import subprocess
import sys

WGNET = os.path.join(os.environ.get("WGNET_BIN", "build"), "wgnet")


def run(*args):
    return subprocess.run([WGNET, *args], check=True, capture_output=True,
                          text=True).stdout


def status():
    return json.loads(run("status", "--json"))


def inspect(net):
    return json.loads(run("network", "inspect", net))[0]


def peers(net):
    n = inspect(net)
    st = status()
    nid = n["Id"]
    want = {}  # guest -> set of allowed ips of its endpoints
    for c in n["Containers"].values():
        s = want.setdefault(c["Guest"], set())
        s.add(c["IPv4Address"].split("/")[0] + "/32")
        if c.get("IPv6Address"):
            s.add(c["IPv6Address"].split("/")[0] + "/128")
    keys = {}
    have = {}
    errs = []
    for g in st["guests"]:
        if g.get("state") == "dead":
            continue
        gs = g.get("status")
        if not gs:
            errs.append(f"guest {g['name']} ({g.get('state')}): no status")
            continue
        nets = [x for x in gs["networks"] if x["id"] == nid]
        if g["name"] not in want:
            if nets:
                errs.append(f"guest {g['name']} has no endpoint on {net} "
                            f"but still has its interface")
            continue
        if len(nets) != 1:
            errs.append(f"guest {g['name']}: {len(nets)} interfaces for {net}")
            continue
        keys[g["name"]] = nets[0]["public_key"]
        have[g["name"]] = {p["public_key"]: set(p["allowed_ips"])
                           for p in nets[0]["peers"]}
        eps = {e["ip"] + "/32" for e in gs["endpoints"]
               if e["network_id"] == nid and e["present"]}
        if eps != want[g["name"]]:
            errs.append(f"guest {g['name']}: endpoints {sorted(eps)} "
                        f"!= desired {sorted(want[g['name']])}")
    for g in want:
        if g not in have:
            if not errs:
                errs.append(f"guest {g} missing from status")
            continue
        exp = {keys[h]: want[h] for h in want if h != g and h in keys}
        if have[g] != exp:
            errs.append(f"guest {g}: peers {have[g]} != expected {exp}")
    if errs:
        print("\n".join(errs))
        return 1
    print(f"ok {net}: {len(want)} guests, "
          f"{sum(len(v) for v in want.values())} endpoints, full mesh")
    return 0


def snapshot():
    out = []
    nets = sorted(run("network", "ls", "--format", "{{.Name}}").split())
    for name in nets:
        n = inspect(name)
        n.pop("Created", None)
        # What the clock changes is not configured state.
        for g in (n.get("Guests") or {}).values():
            g.pop("KeyAgeSeconds", None)
        out.append(json.dumps(n, sort_keys=True))
    for g in sorted(status()["guests"], key=lambda g: g["name"]):
        gs = g.get("status") or {}
        out.append(f"guest {g['name']} {g.get('state')} "
                   f"{g.get('underlay')}")
        for x in sorted(gs.get("networks", []), key=lambda x: x["id"]):
            out.append(f"  net {x['id'][:12]} {x['ifname']} "
                       f"{x['public_key']} {x['listen_port']}")
            for p in sorted(x["peers"], key=lambda p: p["public_key"]):
                out.append(f"    peer {p['public_key']} {p['endpoint']} "
                           f"{sorted(p['allowed_ips'])}")
        for e in sorted(gs.get("endpoints", []),
                        key=lambda e: (e["network_id"], e["container_id"])):
            out.append(f"  ep {e['network_id'][:12]} {e['container']} "
                       f"{e['ip']} {e['host_ifname']} {e['present']}")
    print("\n".join(out))
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "peers":
        return peers(sys.argv[2])
    if len(sys.argv) == 2 and sys.argv[1] == "snapshot":
        return snapshot()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
