#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/scale's report: reads DIR/results.jsonl (and the raw files it names),
writes the "Control plane" section of the Markdown file OUT (between the
markers below, replaced in place or appended), or prints it when OUT is -.

  scale_report.py DIR OUT
"""
import json
import math
import os
import re
import sys

BEGIN = "<!-- control-plane:begin (bench/scale) -->"
END = "<!-- control-plane:end -->"



def ping_log(path):
    """RTTs (ms), packets sent and answered in a file of ping outputs."""
    if not os.path.exists(path):
        return [], 0, 0
    txt = open(path).read()
    rtt = [float(x) for x in re.findall(r"time=([\d.]+) ms", txt)]
    sent = sum(int(x) for x in re.findall(r"(\d+) packets transmitted", txt))
    recv = sum(int(x) for x in re.findall(r"(\d+) received", txt))
    return rtt, sent, recv

def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    k = (len(v) - 1) * p / 100
    f = math.floor(k)
    c = min(f + 1, len(v) - 1)
    return v[f] + (v[c] - v[f]) * (k - f)


def fmt(x, unit="ms", nd=1):
    return "–" if x is None else f"{x:.{nd}f} {unit}".strip()


def main():
    d, out = sys.argv[1], sys.argv[2]
    recs = [json.loads(line) for line in open(os.path.join(d, "results.jsonl")) if line.strip()]
    meta = {r["key"]: r["value"] for r in recs if r.get("kind") == "meta"}
    floor = [r["ms"] for r in recs if r.get("kind") == "floor" and r.get("ok")]
    con = {}
    fails = {}
    for r in recs:
        if r.get("kind") == "connect":
            (con if r.get("ok") else fails).setdefault(r["tag"], []).append(r["ms"])
    creates = [r["ms"] for r in recs if r.get("kind") == "create"]
    guests = [r["ms"] for r in recs if r.get("kind") == "guest"]
    L = []
    L.append(BEGIN)
    L.append("## Control plane (bench/scale)")
    L.append("")
    L.append(f"Run of `bench/scale` (`docs/benchmarks.md`); load at start {meta.get('start_load')}, "
             f"at end {meta.get('end_load')}; 2 shared cores. The kernel's neighbour limit "
             f"gc_thresh3 was {meta.get('gc_thresh3')} at start and {meta.get('gc_thresh3_end')} "
             "at end (bench/scale and the lab never change it).")
    L.append("")
    L.append("| connect (`wgnet network connect`) | n | p50 | p99 | failed |")
    L.append("|---|---|---|---|---|")
    L.append(f"| floor: bare veth add + move + address + up | {len(floor)} | {fmt(pct(floor, 50))} | {fmt(pct(floor, 99))} | – |")
    order = sorted(con.keys() | fails.keys(), key=lambda t: (not t.startswith("real"), int(re.sub(r"\D", "", t) or 0), t))
    names = {"sim": "simulated guests on the network", "normal": "real, before the SIGSTOP",
             "stopped": "real, one agent SIGSTOPped (connects on other guests)"}
    for t in order:
        v = con.get(t, [])
        name = names.get(t) or (f"{t[4:]} real lab guests on the network" if t.startswith("real") else t)
        if t == "sim":
            name = f"{meta.get('sim_reached', '?')} {name}"
        L.append(f"| {name} | {len(v)} | {fmt(pct(v, 50))} | {fmt(pct(v, 99))} | {len(fails.get(t, []))} |")
    L.append("")
    reals = [t for t in con if t.startswith("real")]
    if reals and "sim" in con:
        small = min(reals, key=lambda t: int(t[4:]))
        L.append(f"p99(sim {meta.get('sim_reached')}) / p99({small[4:]} real) = "
                 f"{pct(con['sim'], 99) / pct(con[small], 99):.2f} (target ≤ 1.5, p99 < 30 ms).")
    if "normal" in con and "stopped" in con:
        L.append(f"One agent SIGSTOPped: connects on the other guests p50 "
                 f"{pct(con['stopped'], 50) / pct(con['normal'], 50):.2f}×, p99 "
                 f"{pct(con['stopped'], 99) / pct(con['normal'], 99):.2f}× normal (target ≤ 1.5×).")
    if "par_ok" in meta:
        L.append(f"{meta.get('par_ok')} parallel connects to one network succeeded "
                 f"(lines/distinct addresses {meta.get('par_distinct')}), all done in {meta.get('par_ms', 0):.0f} ms.")
    if creates:
        cw = sum(v for k, v in meta.items() if k.startswith("create_wall_"))
        gw = sum(v for k, v in meta.items() if k.startswith("guest_wall_"))
        okc = sum(1 for r in recs if r.get("kind") == "create" and r.get("ok"))
        L.append(f"Containers each in its own guest: {okc}/{len(creates)} created and connected in "
                 f"{cw / 1000:.1f} s of wall time, {meta.get('grow_par', '?')} at once "
                 f"(`wgnet-lab run`: namespace, `wgnet container add`, `network connect --wait` (back once every guest on the network has it) with the "
                 f"guest's WireGuard interface; p50 {fmt(pct(creates, 50))}, p99 {fmt(pct(creates, 99))} each; "
                 f"target: 100 in < 10 s). Their guests (the VMs, `wgnet-lab guest add`) were started "
                 f"before, {len(guests)} in {gw / 1000:.1f} s (p50 {fmt(pct(guests, 50))} each).")
    rtt, sent, recv = ping_log(os.path.join(d, "raw", "mesh-measure.txt"))
    if sent:
        _, wsent, wrecv = ping_log(os.path.join(d, "raw", "mesh-warm.txt"))
        L.append(f"Full mesh, all ordered pairs one ping each (4 sources at once) after a warm-up round "
                 f"({wrecv}/{wsent} answered): {recv}/{sent} answered, "
                 f"RTT p50 {fmt(pct(rtt, 50), nd=3)}, p99 {fmt(pct(rtt, 99), nd=3)}, max {fmt(max(rtt) if rtt else None, nd=3)} "
                 f"(target p99 < 2 ms); most neighbour entries in one container: {meta.get('neigh_max')}, "
                 f"on one guest's underlay link: {meta.get('ul_neigh_max')}; UDP sends the guests' kernels "
                 f"refused (SndbufErrors) during the mesh: {meta.get('mesh_sndbuf_errors')}.")
        srtt, ssent, srecv = ping_log(os.path.join(d, "raw", "mesh-seq.txt"))
        if ssent:
            L.append(f"The same mesh with one source at a time: {srecv}/{ssent} answered, "
                     f"RTT p50 {fmt(pct(srtt, 50), nd=3)}, p99 {fmt(pct(srtt, 99), nd=3)}, "
                     f"max {fmt(max(srtt) if srtt else None, nd=3)} (target p99 < 2 ms).")
        brtt, bsent, brecv = ping_log(os.path.join(d, "raw", "mesh-base.txt"))
        if bsent and brtt and srtt:
            L.append(f"Baseline, in the same minutes: a bare wireguard-go tunnel between two namespaces "
                     f"(bench/run's `wg` path), pinged the same way between two sources of that pass: "
                     f"{brecv}/{bsent} answered, RTT p50 {fmt(pct(brtt, 50), nd=3)}, p99 {fmt(pct(brtt, 99), nd=3)}, "
                     f"max {fmt(max(brtt), nd=3)}. The mesh's p50 is {pct(srtt, 50) / pct(brtt, 50):.2f}x "
                     f"the tunnel's, its p99 {pct(srtt, 99) / pct(brtt, 99):.2f}x.")
    conv = [r for r in recs if r.get("kind") == "conv"]
    if "sim_reached" in meta:
        L.append("")
        L.append(f"Simulated guests (`wgnet-simguest`): {meta.get('sim_reached')} reached in "
                 f"{meta.get('sim_setup_ms', 0) / 1000:.0f} s of set-up (guest add + container + connect each).")
        cv = [r["ms"] for r in conv if r["ms"] >= 0]
        by = [r["bytes"] for r in conv]
        held = sum(1 for r in conv if r.get("held"))
        if "idle_req_per_s" in meta:
            L.append(f"Idle mesh: the host sends {meta['idle_req_per_s']} requests/s to the "
                     f"{meta.get('sim_reached')} guests (liveness probes and audits).")
        if conv:
            L.append(f"Convergence (`network connect --wait`: every guest on the network has acknowledged "
                     f"the new generation): {len(cv)}/{len(conv)} succeeded, p50 {fmt(pct(cv, 50))}, "
                     f"p99 {fmt(pct(cv, 99))} (target p99 < 1 s); after each plain connect every simulated "
                     f"guest held the new address in {held}/{len(conv)} samples. Bytes the host sent to all "
                     f"simulated guests per connect: p50 {pct(by, 50):.0f}, max {max(by):.0f} "
                     f"({pct(by, 50) / max(1, meta.get('sim_reached', 1)):.0f} per guest).")
        rf = os.path.join(d, "raw", "simstats-restart.json")
        if os.path.exists(rf):
            s = json.load(open(rf))
            L.append(f"Host restart with every simulated guest in sync: {meta.get('restart_answered')} guests "
                     f"answered the new host within {fmt(meta.get('restart_replay_ms'))} of its start "
                     f"(target < 5 s); until quiet (the bench's own polling) {fmt(meta.get('restart_quiet_ms'))}. "
                     f"What reached the guests: SyncNetwork {s['sync']}, UpdateNetwork {s['update']}, "
                     f"UpdatePeers (full sets) {s['update_peers']}, peers carried {s['peers_sent']} "
                     f"(target: no full peer set); requests by op {s.get('by_op')}.")
        L.append(f"Violations counted by the simulated guests: {meta.get('sim_violations_before', '–')} while the mesh grew and "
                 f"during the connect samples ({meta.get('sim_violation_kinds', '–')}), {meta.get('sim_violations', '–')} "
                 f"across the host restart.")
    L.append(END)
    sec = "\n".join(L) + "\n"
    if out == "-":
        sys.stdout.write(sec)
        return
    doc = open(out).read() if os.path.exists(out) else ""
    if BEGIN in doc and END in doc:
        a = doc.index(BEGIN)
        b = doc.index(END) + len(END)
        doc = doc[:a] + sec.rstrip("\n") + doc[b:]
    else:
        doc = doc.rstrip("\n") + "\n\n" + sec
    open(out, "w").write(doc)
    sys.stdout.write(sec)


main()
