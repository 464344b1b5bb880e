#!/usr/bin/env bash
# Issue 3, the seed's scenario, with the CLI alone: two containers in two
# guests on one network ping each other; a third on another network cannot
# reach them; network rm refused while attached, accepted after.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
wgnet network create net1 >/dev/null
wgnet network create net2 >/dev/null
lab run --name c1 --network net1 >/dev/null
lab run --name c2 --network net1 >/dev/null
lab run --name c3 --network net2 >/dev/null
[ "$(lab ls | awk '$1=="c1"{print $2}')" != "$(lab ls | awk '$1=="c2"{print $2}')" ] || fail "c1 and c2 share a guest"
ip1=$(cip c1 net1); ip2=$(cip c2 net1); ip3=$(cip c3 net2)
log "c1=$ip1 c2=$ip2 c3=$ip3"
reach c1 "$ip2" || fail "c1 cannot reach c2"
reach c2 "$ip1" || fail "c2 cannot reach c1"
ok "two containers in two guests ping each other"
# The lab's underlay is routed (a guest reaches every other through the
# gateway): c1's guest talks to two others and holds one neighbour entry on
# the underlay, as a micro-VM in a VPC would, so a 100-guest mesh does not
# fill the kernel's neighbour table that the lab's guests share.
lab run --name c4 --network net1 >/dev/null
ip4=$(cip c4 net1)
# c1's guest learns of c4 asynchronously: a ping lost before then is not
# retried by ping itself, so ping again (2 s each) until it answers.
wait_for 20 reach_now c1 "$ip4" || fail "c1 cannot reach c4"
reach c1 198.18.0.2 || fail "c1 cannot reach the lab's internet"
read -r g1 gw ulns < <(lab info --json | python3 -c '
import json,sys; d=json.load(sys.stdin)
print(d["guests"][d["containers"]["c1"]["guest"]]["netns"], d["underlay_gateway"], d["underlay_ns"])')
ent=$(ip -n "$g1" -4 neigh show dev eth0 | grep -v FAILED | grep -c . || true)
[ "$ent" = 1 ] || fail "c1's guest holds $ent IPv4 underlay neighbour entries after reaching two guests: $(ip -n "$g1" neigh show dev eth0)"
ip -n "$g1" -4 neigh show dev eth0 | grep -q "^$gw " || fail "the entry is not the underlay gateway $gw: $(ip -n "$g1" neigh show dev eth0)"
# IPv6 link-local entries (router and neighbour solicitations) come from
# the gateway's side only: every MAC the guest learned is one of the
# underlay namespace's, none another guest's.
ulmacs=$(ip -n "$ulns" -o link | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
for mac in $(ip -n "$g1" neigh show dev eth0 | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2); do
	grep -qxF "$mac" <<<"$ulmacs" || fail "c1's guest learned $mac on the underlay, not the gateway's: $(ip -n "$g1" neigh show dev eth0)"
done
ok "c1's guest reached two guests and the internet through one underlay neighbour (the gateway)"
lab rm c4 >/dev/null
reach_now c3 "$ip1" && fail "c3 (net2) reached c1"
reach_now c1 "$ip3" && fail "c1 reached c3 (net2)"
ok "container on another network is isolated"
wgnet status --json | python3 -c '
import json,sys
st=json.load(sys.stdin)
hs=[p["latest_handshake"] for g in st["guests"] if g.get("status") for n in g["status"]["networks"] for p in n["peers"]]
assert hs and all(h>0 for h in hs), hs' || fail "handshakes missing in wgnet status"
ok "wgnet status shows the handshakes"
out=$(wgnet network rm net1 2>&1) && fail "network rm accepted with endpoints"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "rm error is not one line: $out"
echo "$out" | grep -qi "active endpoints" || fail "unclear rm error: $out"
ok "network rm refused while attached: $out"
lab rm c1 c2 >/dev/null
wgnet network rm net1 >/dev/null || fail "network rm after the containers left"
wgnet network ls --format '{{.Name}}' | grep -qx net1 && fail "net1 still listed"
ok "network rm accepted after the containers left"
