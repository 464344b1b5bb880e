#!/usr/bin/env python3
"""bench/stats.py: statistics and reports for bench/run, plus small JSON
helpers the shell script uses.

  stats.py endpoints GUEST   < status.json   host_ifname ip, per endpoint
  stats.py wgifs GUEST       < status.json   WireGuard ifname and network name
  stats.py subnet            < inspect.json  the first IPv4 subnet
  stats.py mesh NET GPREFIX N < status.json  "handshaken total" (peer entries)
  stats.py mesh-pending NET GPREFIX < status.json  pairs not handshaken
  stats.py pairs N MIN                       ordered pairs (all or a sample)
  stats.py jcount            < json          length of a JSON array
  stats.py anat OUT NS...                    drop counters of namespaces
  stats.py report DIR [--out F] [--json F] [--plot F] [--mode M] ...
"""

import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys

PATH_NAMES = {
    "veth": "raw veth (the limit)",
    "bridge": "Linux bridge",
    "wg": "bare wireguard-go tunnel",
    "wg-stock": "bare wireguard-go tunnel, stock buffers",
    "same": "wgnet same-guest",
    "cross": "wgnet cross-guest",
    "same-nobpf": "wgnet same-guest, BPF detached",
    "cross-nobpf": "wgnet cross-guest, BPF detached",
}
TESTS = ("tcp1", "tcp4", "udp100", "udp500")


# --- small helpers for the shell ------------------------------------------


def guest_status(doc, name):
    for g in doc.get("guests", []):
        if g.get("name") == name:
            return g.get("status") or {}
    return {}


def cmd_endpoints(args):
    st = guest_status(json.load(sys.stdin), args[0])
    for ep in st.get("endpoints", []):
        if ep.get("host_ifname") and ep.get("ip"):
            print(ep["host_ifname"], ep["ip"])


def cmd_wgifs(args):
    st = guest_status(json.load(sys.stdin), args[0])
    for n in st.get("networks", []):
        if n.get("ifname"):
            print(n["ifname"], n.get("name", ""))


def cmd_subnet(_args):
    doc = json.load(sys.stdin)
    if isinstance(doc, list):
        doc = doc[0] if doc else {}
    for c in (doc.get("IPAM") or {}).get("Config") or []:
        s = c.get("Subnet", "")
        if s and ":" not in s:
            print(s)
            return


def load_status():
    """`wgnet status --json` from stdin; {} when the call failed."""
    try:
        return json.load(sys.stdin)
    except ValueError:
        return {}


def cmd_mesh(args):
    net, prefix, n = args[0], args[1], int(args[2])
    doc = load_status()
    pat = re.compile(re.escape(prefix) + r"\d+$")
    done = 0
    for g in doc.get("guests", []):
        if not pat.match(g.get("name", "")):
            continue
        for nw in (g.get("status") or {}).get("networks", []):
            if nw.get("name") != net:
                continue
            done += sum(1 for p in nw.get("peers", [])
                        if (p.get("latest_handshake") or 0) > 0)
    print(done, n * (n - 1))


def cmd_mesh_pending(args):
    """Pairs i<j (container numbers) on NET whose guests have not yet
    handshaken, one line per source: "i ip_j ip_k ..."."""
    net, prefix = args[0], args[1]
    doc = load_status()
    pat = re.compile(re.escape(prefix) + r"(\d+)$")
    ip2idx, pending = {}, set()
    for g in doc.get("guests", []):
        m = pat.match(g.get("name", ""))
        if not m:
            continue
        for ep in (g.get("status") or {}).get("endpoints", []):
            if ep.get("ip"):
                ip2idx[ep["ip"]] = int(m.group(1))
    for g in doc.get("guests", []):
        m = pat.match(g.get("name", ""))
        if not m:
            continue
        me = int(m.group(1))
        for nw in (g.get("status") or {}).get("networks", []):
            if nw.get("name") != net:
                continue
            for p in nw.get("peers", []):
                if (p.get("latest_handshake") or 0) > 0:
                    continue
                for a in p.get("allowed_ips", []):
                    other = ip2idx.get(a.split("/")[0])
                    if other is not None:
                        pending.add((min(me, other), max(me, other)))
                        break
    idx2ip = {}
    for ip, i in ip2idx.items():
        idx2ip.setdefault(i, ip)
    by = {}
    for i, j in sorted(pending):
        if j in idx2ip:
            by.setdefault(i, []).append(idx2ip[j])
    for i in sorted(by):
        print(i, " ".join(by[i]))


def cmd_pairs(args):
    n, want = int(args[0]), int(args[1])
    allp = [(i, j) for i in range(1, n + 1) for j in range(1, n + 1) if i != j]
    if len(allp) > want:
        rnd = random.Random(1)
        allp = sorted(rnd.sample(allp, want))
    for i, j in allp:
        print(i, j)


def cmd_jcount(_args):
    try:
        doc = json.load(sys.stdin)
    except ValueError:
        print(0)
        return
    print(len(doc) if isinstance(doc, list) else 1)


# --- drop anatomy (bench/run reads these before and after each iperf3 run) -


def sh_out(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def cmd_anat(args):
    """Drop counters of the namespaces args[1:] into the JSON file args[0]:
    per link rx/tx dropped (and its kind), qdisc drops, per UDP socket its
    owner and drop count (ss skmem d), UDP receive-buffer errors (nstat)."""
    doc = {"ns": {}, "softnet_dropped": 0}
    for ns in args[1:]:
        e = {"links": {}, "qdisc_drops": 0, "socks": {}}
        try:
            links = json.loads(sh_out(["ip", "-n", ns, "-s", "-d", "-j",
                                       "link", "show"]) or "[]")
            qd = json.loads(sh_out(["tc", "-n", ns, "-s", "-j", "qdisc",
                                    "show"]) or "[]")
        except ValueError:
            links, qd = [], []
        for ln in links:
            st = ln.get("stats64") or {}
            e["links"][ln.get("ifname", "?")] = {
                "kind": (ln.get("linkinfo") or {}).get("info_kind", ""),
                "rx_drop": (st.get("rx") or {}).get("dropped", 0),
                "tx_drop": (st.get("tx") or {}).get("dropped", 0)}
        e["qdisc_drops"] = sum(q.get("drops", 0) for q in qd)
        txt = sh_out(["ss", "-N", ns, "-Huamnp"])
        for m in re.finditer(r"\S+\s+\d+\s+\d+\s+(\S+)\s+\S+\s*"
                             r"(?:users:\(\(\"([^\"]+)\",pid=(\d+)[^\n]*)?"
                             r"\s*skmem:\([^)]*\bd(\d+)\)", txt):
            e["socks"]["%s/%s/%s" % (m.group(1), m.group(2) or "?",
                                     m.group(3) or "?")] = {
                "proc": m.group(2) or "?", "drops": int(m.group(4))}
        e["udp_rcvbuf_errors"] = 0
        for ln in sh_out(["ip", "netns", "exec", ns, "nstat", "-azs",
                          "UdpRcvbufErrors", "Udp6RcvbufErrors"]).splitlines():
            f2 = ln.split()
            if len(f2) >= 2 and f2[1].isdigit():
                e["udp_rcvbuf_errors"] += int(f2[1])
        doc["ns"][ns] = e
    try:
        with open("/proc/net/softnet_stat") as fh:
            doc["softnet_dropped"] = sum(int(ln.split()[1], 16)
                                         for ln in fh if ln.strip())
    except (OSError, ValueError, IndexError):
        pass
    with open(args[0], "w") as fh:
        json.dump(doc, fh)


def anat_delta(f0, f1):
    """Drops between two anat snapshots, by where they happened."""
    try:
        with open(f0) as fh:
            a = json.load(fh)
        with open(f1) as fh:
            b = json.load(fh)
    except (OSError, ValueError):
        return None
    d = {"wg_sock": 0, "app_sock": 0, "tun_tx": 0, "links": 0, "qdisc": 0,
         "softnet": b.get("softnet_dropped", 0) - a.get("softnet_dropped", 0)}
    for ns, e in b.get("ns", {}).items():
        o = a.get("ns", {}).get(ns, {})
        d["qdisc"] += e.get("qdisc_drops", 0) - o.get("qdisc_drops", 0)
        for name, ln in e.get("links", {}).items():
            ol = o.get("links", {}).get(name, {})
            tx = ln["tx_drop"] - ol.get("tx_drop", 0)
            rx = ln["rx_drop"] - ol.get("rx_drop", 0)
            if ln.get("kind") == "tun":
                d["tun_tx"] += tx
                d["links"] += rx
            else:
                d["links"] += tx + rx
        wgd = 0
        for k, sk in e.get("socks", {}).items():
            if sk["proc"] == "wireguard-go":
                wgd += sk["drops"] - o.get("socks", {}).get(k, {}).get(
                    "drops", 0)
        d["wg_sock"] += wgd
        # iperf3's UDP socket lives only during the run: the namespace's
        # receive-buffer errors minus wireguard-go's.
        d["app_sock"] += max(0, e.get("udp_rcvbuf_errors", 0) -
                             o.get("udp_rcvbuf_errors", 0) - wgd)
    return d


# --- statistics --------------------------------------------------------------


def pct(vals, p):
    """Percentile with linear interpolation between closest ranks."""
    if not vals:
        return None
    v = sorted(vals)
    k = (len(v) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


RTT_RE = re.compile(r"time=([0-9.]+) ms")
SUM_RE = re.compile(r"(\d+) packets transmitted, (\d+) received")


def parse_ping(path):
    rtts, sent, recv = [], 0, 0
    try:
        with open(path) as f:
            for line in f:
                m = RTT_RE.search(line)
                if m:
                    rtts.append(float(m.group(1)) * 1000.0)  # µs
                    continue
                m = SUM_RE.search(line)
                if m:
                    sent += int(m.group(1))
                    recv += int(m.group(2))
    except OSError:
        pass
    return rtts, sent, recv


def ping_stats(path):
    rtts, sent, recv = parse_ping(path)
    if not rtts:
        return {"n": 0, "sent": sent, "loss_pct": 100.0 if sent else None}
    return {
        "n": len(rtts), "sent": sent,
        "loss_pct": 100.0 * (sent - recv) / sent if sent else None,
        "p50_us": pct(rtts, 50), "p99_us": pct(rtts, 99),
        "max_us": max(rtts), "mean_us": statistics.fmean(rtts),
    }


def iperf_stats(r):
    out = {"test": r["test"], "wall_s": r.get("wall_ms", 0) / 1000.0}
    try:
        with open(r["file"]) as f:
            d = json.load(f)
    except (OSError, ValueError):
        out["error"] = "no JSON output (timeout or crash)"
        return out
    if d.get("error"):
        out["error"] = d["error"]
    end = d.get("end") or {}
    if r["test"].startswith("tcp"):
        s = end.get("sum_received") or {}
        out["gbps"] = s.get("bits_per_second", 0) / 1e9 if s else None
        out["bytes"] = s.get("bytes", 0)
        out["retransmits"] = (end.get("sum_sent") or {}).get("retransmits")
    else:
        s = end.get("sum_received") or end.get("sum") or {}
        out["gbps"] = s.get("bits_per_second", 0) / 1e9 if s else None
        out["bytes"] = s.get("bytes", 0)
        out["loss_pct"] = s.get("lost_percent")
        out["jitter_ms"] = s.get("jitter_ms")
    hz, gbit = r.get("hz", 100), out.get("bytes", 0) * 8 / 1e9
    if gbit > 0:
        out["cpu_s_per_gbit"] = r.get("cpu_jiffies", 0) / hz / gbit
        out["wg_cpu_s_per_gbit"] = r.get("wg_jiffies", 0) / hz / gbit
        if "softirq_jiffies" in r:
            out["softirq_s_per_gbit"] = r["softirq_jiffies"] / hz / gbit
        cu = end.get("cpu_utilization_percent") or {}
        secs = (end.get("sum_sent") or end.get("sum") or {}).get("seconds")
        if cu and secs:
            out["iperf3_s_per_gbit"] = ((cu.get("host_total", 0) +
                                         cu.get("remote_total", 0)) / 100 *
                                        secs / gbit)
    if r.get("anat0") and r.get("anat1"):
        out["drops"] = anat_delta(r["anat0"], r["anat1"])
    out["cpu_busy_cores"] = (r.get("cpu_jiffies", 0) / hz / out["wall_s"]
                             if out["wall_s"] else None)
    return out


def analyse_paths(recs):
    order = []
    for r in recs:
        if r["kind"] == "meta" and r["key"] == "paths":
            order = [p for p in str(r["value"]).split() if p]
    per = {p: {} for p in order}
    for r in recs:
        if r["kind"] == "ping" and r["path"] in per:
            per[r["path"]].setdefault(r["round"], {})["ping"] = \
                ping_stats(r["file"])
        elif r["kind"] == "iperf" and r["path"] in per:
            per[r["path"]].setdefault(r["round"], {})[r["test"]] = \
                iperf_stats(r)
    res = {}
    for p in order:
        rounds = [per[p][k] for k in sorted(per[p])]

        def col(test, key):
            return med([rd.get(test, {}).get(key) for rd in rounds])
        errs = sorted({rd[t]["error"] for rd in rounds for t in TESTS
                       if t in rd and rd[t].get("error")})
        wgc = col("tcp1", "wg_cpu_s_per_gbit")
        anat = {}
        for t in ("tcp1", "udp500"):
            runs = [rd[t] for rd in rounds if t in rd]
            dr = [x["drops"] for x in runs if x.get("drops")]
            if not dr:
                continue
            anat[t] = {k: med([x[k] for x in dr]) for k in dr[0]}
            for k in ("cpu_s_per_gbit", "softirq_s_per_gbit",
                      "wg_cpu_s_per_gbit", "iperf3_s_per_gbit"):
                anat[t][k] = med([x.get(k) for x in runs])
        res[p] = {
            "name": PATH_NAMES.get(p, p),
            "rounds": len(rounds),
            "tcp1_gbps": col("tcp1", "gbps"),
            "tcp4_gbps": col("tcp4", "gbps"),
            "tcp1_retransmits": col("tcp1", "retransmits"),
            "udp100_gbps": col("udp100", "gbps"),
            "udp100_loss_pct": col("udp100", "loss_pct"),
            "udp500_gbps": col("udp500", "gbps"),
            "udp500_loss_pct": col("udp500", "loss_pct"),
            "rtt_p50_us": col("ping", "p50_us"),
            "rtt_p99_us": col("ping", "p99_us"),
            "rtt_max_us": col("ping", "max_us"),
            "ping_loss_pct": col("ping", "loss_pct"),
            "probes_per_round": col("ping", "n"),
            "cpu_s_per_gbit": col("tcp1", "cpu_s_per_gbit"),
            "cpu_s_per_gbit_tcp4": col("tcp4", "cpu_s_per_gbit"),
            "wg_cpu_s_per_gbit": wgc if p in ("wg", "wg-stock", "cross",
                                              "cross-nobpf") else None,
            "anatomy": anat,
            "errors": errs,
            "per_round": rounds,
        }
    return res


def snap_diff(dirs, key):
    """The lines of a count's list gained and lost over the churn."""
    def lines(when):
        try:
            with open(os.path.join(dirs[when], key)) as fh:
                return [x.rstrip("\n") for x in fh if x.strip()]
        except (KeyError, OSError):
            return None
    b, a = lines("before"), lines("after")
    if b is None or a is None:
        return [], []
    return ([x for x in a if x not in b], [x for x in b if x not in a])


def churn_detail(c):
    """Lines explaining a churn run: each failed cycle's error, the entries
    a growing count gained or lost."""
    L = ["cycle %d failed: %s" % (f["cycle"], f["error"] or "(no error kept)")
         for f in c.get("failed", [])]
    for r in c["counts"]:
        for what in ("gained", "lost"):
            for x in r.get(what, []):
                L.append("%s %s: %s" % (r["key"], what, x))
    return L


def analyse_churn(recs):
    snaps = {"before": {}, "after": {}}
    dirs = {}
    info = set()
    cyc, summ = [], None
    for r in recs:
        if r["kind"] == "snapdir":
            dirs[r["when"]] = r["dir"]
        elif r["kind"] == "snap":
            snaps[r["when"]][r["key"]] = r["value"]
            if r.get("info"):
                info.add(r["key"])
        elif r["kind"] == "churn":
            cyc.append(r)
        elif r["kind"] == "churnsum":
            summ = r
    if not summ:
        return None
    rows = []
    for k in snaps["before"]:
        b, a = snaps["before"][k], snaps["after"].get(k)
        row = {"key": k, "before": b, "after": a,
               "delta": (a - b) if isinstance(a, (int, float)) and
               isinstance(b, (int, float)) else None}
        if k in info:
            row["flag"] = "info"
        elif k.startswith("rss_kb."):
            g = 100.0 * (a - b) / b if b else None
            row["growth_pct"] = g
            row["flag"] = "ok" if g is not None and g < 5.0 else "GROWTH"
        else:
            row["flag"] = "ok" if row["delta"] == 0 else (
                "GROWTH" if (row["delta"] or 0) > 0 else "shrank")
        if row["delta"] and row.get("flag") != "info" and \
                not k.startswith("rss_kb."):
            row["gained"], row["lost"] = snap_diff(dirs, k)
        rows.append(row)
    ms = [c["ms"] for c in cyc]
    return {
        "failed": [{"cycle": c["i"], "error": c.get("err", "")}
                   for c in cyc if not c.get("ok")],
        "cycles": summ["cycles"], "failures": summ["fails"],
        "warmup_cycles": summ["warmup"],
        "pings": summ["pinged"], "pings_ok": summ["pingok"],
        "cycle_p50_ms": pct(ms, 50), "cycle_p99_ms": pct(ms, 99),
        "counts": rows,
    }


def analyse_scale(recs, meta):
    creates = [r for r in recs if r["kind"] == "create"]
    if not creates:
        return None
    n = len(creates)
    out = {"containers": n,
           "create_failures": sum(1 for r in creates if not r["ok"]),
           "create_total_s": meta.get("scale_create_ms", 0) / 1000.0,
           "create_p50_ms": pct([r["ms"] for r in creates], 50),
           "create_p99_ms": pct([r["ms"] for r in creates], 99)}
    for r in recs:
        if r["kind"] == "mesh":
            out["mesh_s"] = r["ms"] / 1000.0
            out["mesh_handshaken"] = r["handshaken"]
            out["mesh_peer_entries"] = r["pairs"]
            out["mesh_complete"] = (r["handshaken"] == r["pairs"]
                                    and r["pairs"] > 0)
            out["mesh_trigger_rounds"] = r.get("rounds")
            out["mesh_first_pings"] = r.get("first_pings")
            out["mesh_first_ping_failures"] = r.get("first_fails")
        elif r["kind"] == "allpairs":
            rtts, sent, recv = parse_ping(r["file"])
            out["allpairs"] = {
                "pairs": r["pairs"], "probes_per_pair": r["probes"],
                "samples": len(rtts),
                "loss_pct": 100.0 * (sent - recv) / sent if sent else None,
                "p50_us": pct(rtts, 50), "p99_us": pct(rtts, 99),
                "max_us": max(rtts) if rtts else None}
    att = [r for r in recs if r["kind"] == "attach"]
    okc = [r for r in att if r["ok"]]
    fl = [r for r in recs if r["kind"] == "floor" and r["ok"]]
    out["attach"] = {
        "samples": len(att), "failures": len(att) - len(okc),
        "connect_p50_ms": pct([r["connect_ms"] for r in okc], 50),
        "connect_p99_ms": pct([r["connect_ms"] for r in okc], 99),
        "first_packet_p50_ms": pct([r["first_ms"] for r in okc], 50),
        "first_packet_p99_ms": pct([r["first_ms"] for r in okc], 99),
        "floor_samples": len(fl),
        "floor_p50_ms": pct([r["ms"] for r in fl], 50),
        "floor_p99_ms": pct([r["ms"] for r in fl], 99)}
    mem = {}
    for r in recs:
        if r["kind"] == "mem":
            mem.setdefault(r["role"], []).append(r["rss_kb"] / 1024.0)
    out["memory_mb"] = {
        role: {"count": len(v), "p50": pct(v, 50), "max": max(v),
               "total": sum(v)} for role, v in mem.items()}
    return out


def ratio_line(name, val, ref, op, bound, unit_fmt):
    """One target: val/ref compared with bound ('>=' or '<=')."""
    if val is None or ref is None or ref == 0:
        return {"target": name, "status": "N/A", "ratio": None,
                "text": "not measured"}
    r = val / ref
    ok = r >= bound if op == ">=" else r <= bound
    text = "%.2fx (%s vs %s; needs %s %.2fx)" % (
        r, unit_fmt(val), unit_fmt(ref), op, bound)
    if not ok:
        by = (bound - r) / bound * 100 if op == ">=" else \
            (r - bound) / bound * 100
        text += " - missed by %.1f%%" % by
    return {"target": name, "status": "PASS" if ok else "MISS",
            "ratio": r, "text": text}


def no_worse(name, val, ref, fmt):
    """One target: val <= ref (counts and percentages, where 0 is fine)."""
    if val is None or ref is None:
        return {"target": name, "status": "N/A", "ratio": None,
                "text": "not measured"}
    ok = val <= ref
    text = "%s vs %s (median of rounds; needs <=)" % (fmt % val, fmt % ref)
    return {"target": name, "status": "PASS" if ok else "MISS",
            "ratio": val / ref if ref else None, "text": text}


def targets(paths, scale, churn):
    g = lambda p, k: paths.get(p, {}).get(k)
    gb = lambda v: "%.2f Gbit/s" % v
    us = lambda v: "%.0f us" % v
    t = [
        ratio_line("same-guest TCP throughput >= bridge",
                   g("same", "tcp1_gbps"), g("bridge", "tcp1_gbps"),
                   ">=", 1.0, gb),
        ratio_line("same-guest RTT p50 <= bridge",
                   g("same", "rtt_p50_us"), g("bridge", "rtt_p50_us"),
                   "<=", 1.0, us),
        ratio_line("cross-guest TCP throughput >= 95% of wireguard-go tunnel",
                   g("cross", "tcp1_gbps"), g("wg", "tcp1_gbps"),
                   ">=", 0.95, gb),
        ratio_line("cross-guest RTT p50 <= 1.1x wireguard-go tunnel",
                   g("cross", "rtt_p50_us"), g("wg", "rtt_p50_us"),
                   "<=", 1.1, us),
        no_worse("cross-guest TCP 1-stream retransmits <= wireguard-go "
                 "tunnel",
                 g("cross", "tcp1_retransmits"), g("wg", "tcp1_retransmits"),
                 "%.0f"),
        no_worse("cross-guest UDP 500M loss <= wireguard-go tunnel",
                 g("cross", "udp500_loss_pct"), g("wg", "udp500_loss_pct"),
                 "%.2f%%"),
    ]
    ap = (scale or {}).get("allpairs") or {}
    name = "all-pairs RTT p99 < 2 ms (%s containers%s)" % (
        (scale or {}).get("containers", "?"),
        "" if (scale or {}).get("containers") == 100
        else "; the target is stated for 100")
    if ap.get("p99_us") is not None:
        p = ap["p99_us"]
        ok = p < 2000 and (ap.get("loss_pct") or 0) == 0
        text = "%.3f ms = %.2fx of 2 ms, loss %.1f%%" % (
            p / 1000, p / 2000, ap.get("loss_pct") or 0)
        if p >= 2000:
            text += " - missed by %.1f%%" % ((p - 2000) / 20)
        t.append({"target": name, "status": "PASS" if ok else "MISS",
                  "ratio": p / 2000, "text": text})
    else:
        t.append({"target": name, "status": "N/A", "ratio": None,
                  "text": "not measured"})
    if churn:
        grew = [r for r in churn["counts"]
                if r["flag"] in ("GROWTH", "shrank")
                and not r["key"].startswith("rss_kb.")]
        t.append({
            "target": "churn: zero growth in every count (%d cycles)"
            % churn["cycles"],
            "status": "PASS" if not grew and churn["failures"] == 0
            else "MISS", "ratio": None,
            "text": ("all counts back where they started"
                     if not grew else "changed: " + ", ".join(
                         "%s %+d" % (r["key"], r["delta"]) for r in grew))
            + ("" if churn["failures"] == 0
               else "; %d failed cycles" % churn["failures"])})
        rss = [r for r in churn["counts"] if r["key"].startswith("rss_kb.")]
        worst = max((r.get("growth_pct") or 0 for r in rss), default=0)
        t.append({
            "target": "churn: RSS growth < 5%",
            "status": "PASS" if rss and all(r["flag"] == "ok" for r in rss)
            else "MISS", "ratio": worst / 5.0 if rss else None,
            "text": ", ".join("%s %+.1f%%" % (r["key"][7:],
                                              r.get("growth_pct") or 0)
                              for r in rss) +
            ("" if worst < 5 else " - missed by %.1f points" % (worst - 5))})
    else:
        t.append({"target": "churn", "status": "N/A", "ratio": None,
                  "text": "not measured"})
    return t


# --- formatting ----------------------------------------------------------------


def f(v, fmt="%.2f", none="-"):
    return none if v is None else fmt % v


def table(headers, rows):
    w = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w[i]) if i == 0
                               else str(x).rjust(w[i])
                               for i, x in enumerate(r))
    return "\n".join([line(headers), line(["-" * x for x in w])] +
                     [line(r) for r in rows])


def md_table(headers, rows, numeric=True):
    """numeric: columns after the first are right-aligned."""
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---:" if i and numeric else "---"
                          for i in range(len(headers))) + "|"]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


PATH_HDR = ["path", "TCP 1 Gbit/s", "TCP 1 retr", "TCP 4 Gbit/s", "UDP 100M loss %",
            "UDP 500M Gbit/s", "UDP 500M loss %", "RTT p50 us",
            "RTT p99 us", "RTT max us", "CPU s/Gbit", "wg-go CPU s/Gbit"]


def path_rows(paths):
    rows = []
    for p, r in paths.items():
        rows.append([r["name"], f(r["tcp1_gbps"]),
                     f(r["tcp1_retransmits"], "%.0f"), f(r["tcp4_gbps"]),
                     f(r["udp100_loss_pct"]), f(r["udp500_gbps"], "%.3f"),
                     f(r["udp500_loss_pct"]), f(r["rtt_p50_us"], "%.0f"),
                     f(r["rtt_p99_us"], "%.0f"), f(r["rtt_max_us"], "%.0f"),
                     f(r["cpu_s_per_gbit"], "%.3f"),
                     f(r["wg_cpu_s_per_gbit"], "%.3f")])
    return rows


ANAT_HDR = ["path", "test", "wg-go socket", "TUN tx", "qdisc",
            "other links", "iperf3 socket", "softnet", "CPU s/Gbit",
            "softirq s/Gbit", "wg-go s/Gbit", "iperf3 s/Gbit"]


def anat_rows(paths):
    rows = []
    for r in paths.values():
        for t, a in (r.get("anatomy") or {}).items():
            rows.append([r["name"], {"tcp1": "TCP 1", "udp500": "UDP 500M"}
                         .get(t, t)] +
                        [f(a.get(k), "%.0f") for k in
                         ("wg_sock", "tun_tx", "qdisc", "links", "app_sock",
                          "softnet")] +
                        [f(a.get(k), "%.3f") for k in
                         ("cpu_s_per_gbit", "softirq_s_per_gbit",
                          "wg_cpu_s_per_gbit", "iperf3_s_per_gbit")])
    return rows


def scale_lines(s):
    if not s:
        return ["not measured"]
    a, ap = s.get("attach", {}), s.get("allpairs", {})
    mem = s.get("memory_mb", {})
    L = ["containers: %d, each in its own guest (%d failed); created in "
         "%.1f s (per container p50 %s ms, p99 %s ms)" % (
             s["containers"], s["create_failures"], s["create_total_s"],
             f(s["create_p50_ms"], "%.0f"), f(s["create_p99_ms"], "%.0f")),
         "full mesh: %s s after the last attach (%s of %s peer entries "
         "handshaken%s; %s trigger round(s); %s of %s first pings, one "
         "per pair, unanswered within 3 s)" % (
             f(s.get("mesh_s"), "%.1f"), s.get("mesh_handshaken"),
             s.get("mesh_peer_entries"),
             "" if s.get("mesh_complete") else ", INCOMPLETE",
             s.get("mesh_trigger_rounds"),
             s.get("mesh_first_ping_failures"), s.get("mesh_first_pings")),
         "all-pairs RTT: p50 %s us, p99 %s us, max %s us over %s samples "
         "(%s pairs x %s probes), loss %s%%" % (
             f(ap.get("p50_us"), "%.0f"), f(ap.get("p99_us"), "%.0f"),
             f(ap.get("max_us"), "%.0f"), ap.get("samples"),
             ap.get("pairs"), ap.get("probes_per_pair"),
             f(ap.get("loss_pct"), "%.1f")),
         "attach (network connect -> first ping answered, %s samples, %s "
         "failed): p50 %s ms, p99 %s ms; the connect command alone p50 %s "
         "ms, p99 %s ms" % (
             a.get("samples"), a.get("failures"),
             f(a.get("first_packet_p50_ms"), "%.1f"),
             f(a.get("first_packet_p99_ms"), "%.1f"),
             f(a.get("connect_p50_ms"), "%.1f"),
             f(a.get("connect_p99_ms"), "%.1f")),
         "floor (bare veth add + move + address + up, %s samples): p50 %s "
         "ms, p99 %s ms" % (a.get("floor_samples"),
                            f(a.get("floor_p50_ms"), "%.1f"),
                            f(a.get("floor_p99_ms"), "%.1f"))]
    for role in ("wgnet-host", "wgnet-guest", "wireguard-go"):
        m = mem.get(role)
        if m:
            L.append("memory %s: %d process(es), RSS p50 %.1f MB, max %.1f "
                     "MB, total %.1f MB" % (role, m["count"], m["p50"],
                                             m["max"], m["total"]))
    return L


def churn_rows(c):
    return [[r["key"], r["before"], r["after"],
             "%+d" % r["delta"] if r["delta"] is not None else "-",
             r["flag"] + (" (%+.1f%%)" % r["growth_pct"]
                          if r.get("growth_pct") is not None else "")]
            for r in c["counts"]]


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=5).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"
    model = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            mem = "%.1f GiB" % (int(fh.readline().split()[1]) / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "kernel": platform.release(),
            "cpu": model, "memory": mem,
            "wireguard-go": sh(["wireguard-go", "--version"]),
            "iperf3": sh(["iperf3", "--version"]),
            "date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC")}


def plot(paths, png, workdir):
    dat = os.path.join(workdir, "plot.dat")
    with open(dat, "w") as fh:
        fh.write("# label tcp1 tcp4 p50 p99\n")
        for p, r in paths.items():
            fh.write('"%s" %s %s %s %s\n' % (
                r["name"].replace("wgnet ", "wgnet\\n").replace(", ", "\\n"),
                f(r["tcp1_gbps"], "%.4f", "NaN"),
                f(r["tcp4_gbps"], "%.4f", "NaN"),
                f(r["rtt_p50_us"], "%.1f", "NaN"),
                f(r["rtt_p99_us"], "%.1f", "NaN")))
    gp = """set terminal pngcairo size 1400,600 font ",10"
set output '%s'
set multiplot layout 1,2 title "wgnet bench: medians across rounds (log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set logscale y
set grid ytics
set key top right
set xtics rotate by -30 left noenhanced
set title "throughput (Gbit/s)"
set yrange [0.01:*]
plot '%s' using 2:xtic(1) title "TCP 1 stream", '' using 3 title "TCP 4 streams"
set title "RTT (us)"
set yrange [1:*]
plot '%s' using 4:xtic(1) title "p50", '' using 5 title "p99"
unset multiplot
""" % (png, dat, dat)
    gpf = os.path.join(workdir, "plot.gp")
    with open(gpf, "w") as fh:
        fh.write(gp)
    r = subprocess.run(["gnuplot", gpf], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write("bench: gnuplot failed: %s\n" % r.stderr.strip())
        return False
    return True


def cmd_report(argv):
    ap = argparse.ArgumentParser(prog="stats.py report")
    ap.add_argument("dir")
    ap.add_argument("--out")
    ap.add_argument("--json")
    ap.add_argument("--plot")
    ap.add_argument("--mode", default="full")
    for k in ("rounds", "time", "probes", "mtu", "udp-len", "scale", "churn"):
        ap.add_argument("--" + k, type=int)
    ap.add_argument("--interval")
    a = ap.parse_args(argv)
    recs = []
    with open(os.path.join(a.dir, "results.jsonl")) as fh:
        for line in fh:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    meta = {r["key"]: r["value"] for r in recs if r["kind"] == "meta"}
    notes = ["%s: %s" % (r["path"], r["msg"]) for r in recs
             if r["kind"] == "note"]
    paths = analyse_paths(recs)
    churn = analyse_churn(recs)
    scale = analyse_scale(recs, meta)
    bpf = {}
    for r in recs:
        if r["kind"] == "bpfstats":
            try:
                with open(r["file"]) as fh:
                    st = json.load(fh)
            except (OSError, ValueError):
                continue
            for g in st.get("guests", []):
                if g.get("name") in ("vm-pa", "vm-pc", "vm-qa", "vm-qc"):
                    s = g.get("status") or {}
                    bpf[g["name"]] = {"stats": s.get("stats"),
                                      "drops": s.get("drops")}
    tg = targets(paths, scale, churn)
    mach = machine()
    params = {"mode": a.mode, "rounds": a.rounds, "iperf_seconds": a.time,
              "ping_probes": a.probes, "ping_interval_s": a.interval,
              "baseline_mtu": a.mtu, "udp_payload": a.udp_len,
              "scale": a.scale, "churn": a.churn,
              "total_s": meta.get("total_ms", 0) / 1000.0,
              "phase_s": {k[9:]: meta[k] / 1000.0 for k in meta
                          if k.startswith("phase_ms_")},
              "load_start": meta.get("start_load"),
              "load_end": meta.get("end_load")}
    doc = {"machine": mach, "params": params, "paths": paths,
           "scale": scale, "churn": churn, "targets": tg, "notes": notes,
           "bpf_counters": bpf}

    # stdout
    print()
    print("wgnet bench (%s mode, %s round(s), iperf3 %ss, %s pings at %ss) "
          "- %s, %s CPUs, kernel %s" % (a.mode, a.rounds, a.time, a.probes,
                                        a.interval, mach["date"],
                                        mach["nproc"], mach["kernel"]))
    print()
    if paths:
        print(table(PATH_HDR, path_rows(paths)))
        print()
    print("scale:")
    for line in scale_lines(scale):
        print("  " + line)
    print()
    if churn:
        print("churn: %d cycles (+%d warm-up), %d failed, cycle p50 %s ms, "
              "p99 %s ms, pings ok %d/%d" % (
                  churn["cycles"], churn["warmup_cycles"], churn["failures"],
                  f(churn["cycle_p50_ms"], "%.0f"),
                  f(churn["cycle_p99_ms"], "%.0f"), churn["pings_ok"],
                  churn["pings"]))
        print(table(["count", "before", "after", "delta", ""],
                    churn_rows(churn)))
        for line in churn_detail(churn):
            print("  " + line)
        print()
    print("targets:")
    w = max(len(t["target"]) for t in tg)
    for t in tg:
        print("  %-4s  %s  %s" % (t["status"], t["target"].ljust(w),
                                  t["text"]))
    for n in notes:
        print("note: " + n)
    print("total %.0f s" % params["total_s"])

    for fn in (a.out, a.json, a.plot):
        if fn:
            os.makedirs(os.path.dirname(os.path.abspath(fn)), exist_ok=True)
    plotted = False
    if a.plot and paths:
        plotted = plot(paths, a.plot, a.dir)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(doc, fh, indent=2, default=str)
            fh.write("\n")
    if a.out:
        write_md(a.out, doc, a, plotted)


def bpf_fmt(d):
    if not d:
        return "-"
    return ", ".join("%s %s" % (k, v) for k, v in d.items() if v) or "all 0"


def write_md(out, doc, a, plotted):
    m, p = doc["machine"], doc["params"]
    L = ["# wgnet performance report", "",
         "Generated by `bench/run`%s on %s. Method and how to read this: "
         "[benchmarks.md](benchmarks.md)." % (
             " --quick" if p["mode"] == "quick" else "", m["date"]), ""]
    if p["mode"] == "quick":
        L += ["**Quick mode**: one short round, small scale and churn. "
              "These numbers check that the harness works; they are not "
              "the report.", ""]
    L += ["Machine: %s CPUs (%s), %s, kernel %s; %s; %s." % (
        m["nproc"], m["cpu"], m["memory"], m["kernel"], m["wireguard-go"],
        m["iperf3"]),
        "Load average %s at the start, %s at the end (other work on the "
        "machine shows up here)." % (p["load_start"], p["load_end"]), "",
        "Parameters: %s round(s), each path once per round in rotating "
        "order; iperf3 runs of %s s; %s pings per path per round at %s s "
        "intervals; UDP payload %s bytes; veth/bridge MTU %s; scale %s; "
        "churn %s. Total %.0f s." % (
            p["rounds"], p["iperf_seconds"], p["ping_probes"],
            p["ping_interval_s"], p["udp_payload"], p["baseline_mtu"],
            p["scale"], p["churn"], p["total_s"]), ""]
    L += ["## Targets", "", md_table(
        ["target", "result", "detail"],
        [[t["target"], "**%s**" % t["status"], t["text"]]
         for t in doc["targets"]], numeric=False), ""]
    if doc["paths"]:
        L += ["## Paths", "",
              "Medians across rounds. CPU s/Gbit: busy CPU time of the "
              "whole machine (from /proc/stat) during the TCP 1-stream "
              "run, divided by the Gbit transferred; wg-go: the same for "
              "the wireguard-go processes of the path only.", "",
              md_table(PATH_HDR, path_rows(doc["paths"])), ""]
        if plotted:
            L += ["![throughput and RTT per path](%s)" %
                  os.path.basename(a.plot), ""]
        ar = anat_rows(doc["paths"])
        if ar:
            L += ["Where the WireGuard paths drop packets, and CPU per Gbit "
                  "(medians across rounds of the per-run deltas): drops on "
                  "wireguard-go's UDP sockets (`ss` skmem d: receive-buffer "
                  "overflow), on the TUN's transmit ring (`ip -s link` tx "
                  "dropped), in qdiscs (`tc -s`), on the other links "
                  "(veths, bridge), on iperf3's sockets, and in the softnet "
                  "backlog (machine-wide); CPU: busy and softirq time of the "
                  "whole machine, the path's wireguard-go processes, and "
                  "iperf3 (client + server, from its JSON).", "",
                  md_table(ANAT_HDR, ar), ""]
        errs = [(r["name"], e) for r in doc["paths"].values()
                for e in r["errors"]]
        if errs:
            L += ["iperf3 errors: " + "; ".join("%s: %s" % x for x in errs),
                  ""]
    if doc["bpf_counters"]:
        L += ["BPF counters of the path guests after the runs (vm-pa: "
              "same-guest and cross-guest client side, vm-pc: cross-guest "
              "server side, vm-qa/vm-qc: the detached variants, which must "
              "show no forwarding):", "",
              md_table(["guest", "counters", "drops"],
                       [[g, bpf_fmt(v["stats"]), bpf_fmt(v["drops"])]
                        for g, v in sorted(doc["bpf_counters"].items())],
                       numeric=False),
              ""]
    L += ["## Scale", ""] + ["- " + x for x in scale_lines(doc["scale"])]
    L += [""]
    c = doc["churn"]
    L += ["## Churn", ""]
    if c:
        L += ["%d create/attach/detach/remove cycles after %d warm-up "
              "cycles; %d failed; cycle p50 %s ms, p99 %s ms; a ping "
              "through every 10th attachment: %d/%d answered." % (
                  c["cycles"], c["warmup_cycles"], c["failures"],
                  f(c["cycle_p50_ms"], "%.0f"), f(c["cycle_p99_ms"], "%.0f"),
                  c["pings_ok"], c["pings"]), "",
              md_table(["count", "before", "after", "delta", ""],
                       churn_rows(c)), ""]
        if churn_detail(c):
            L += ["- " + x.replace("|", "\\|") for x in churn_detail(c)] + [""]
    else:
        L += ["not measured", ""]
    if doc["notes"]:
        L += ["## Notes", ""] + ["- " + n for n in doc["notes"]] + [""]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as fh:
        fh.write("\n".join(L))


CMDS = {"endpoints": cmd_endpoints, "wgifs": cmd_wgifs,
        "subnet": cmd_subnet, "mesh": cmd_mesh,
        "mesh-pending": cmd_mesh_pending, "pairs": cmd_pairs,
        "jcount": cmd_jcount, "anat": cmd_anat, "report": cmd_report}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CMDS:
        sys.stderr.write(__doc__)
        sys.exit(2)
    CMDS[sys.argv[1]](sys.argv[2:])
