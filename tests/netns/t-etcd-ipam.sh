#!/usr/bin/env bash
# Issue 9: address allocation is a compare-and-swap in etcd. 20 containers
# started at once, half through host A and half through host B, on one
# network get 20 distinct addresses, and they reach each other.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/etcdlib.sh"
lab_up2
wgnet network create --subnet 10.133.0.0/24 par >/dev/null || fail "create par"
# One guest per machine, made first (parallel runs share them).
lab run --name sa --guest ga >/dev/null || fail "guest ga on A"
lab run --host B --name sb --guest gb >/dev/null || fail "guest gb on B"
for i in $(seq 1 10); do
	lab run --name pa$i --guest ga --network par >/dev/null 2>"$TMP/pa$i.err" &
	lab run --host B --name pb$i --guest gb --network par >/dev/null 2>"$TMP/pb$i.err" &
done
wait
for f in "$TMP"/p[ab]*.err; do [ -s "$f" ] && { cat "$f"; fail "parallel run $(basename "$f" .err)"; }; done
for h in wgnet wgb; do
	$h network inspect par | python3 -c '
import json,sys
ips=[c["IPv4Address"] for c in json.load(sys.stdin)[0]["Containers"].values()]
assert len(ips)==20 and len(set(ips))==20, ips
' || fail "$h: the 20 parallel containers do not have 20 distinct addresses"
done
ok "20 parallel containers, 10 per host, got 20 distinct addresses: $(ips par | awk '{print $2}' | sort -t. -k4n | tr '\n' ' ')"
wait_for 60 meshed par || fail "par not meshed: ga: $(peers ga); gb: $(peers gb); par: $(ips par | tr '\n' ' ')"
reach pa1 "$(cip pb10 par)" || fail "pa1 (A) cannot reach pb10 (B)"
reach pb1 "$(cip pa10 par)" || fail "pb1 (B) cannot reach pa10 (A)"
ok "they reach each other across hosts"
