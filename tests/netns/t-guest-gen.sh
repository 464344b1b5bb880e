#!/usr/bin/env bash
# Issue 13, guest side: per-network generations and deltas over persistent
# connections. SyncNetwork sets the full peer and record sets at a gen;
# UpdateNetwork applies a delta only from the gen the guest holds (ESTALE
# with the current gen otherwise); Hello reports every network's gen and a
# boot id; gens survive an agent restart. Real packets and real DNS answers
# prove what each change did; a container resolves only the records of the
# networks it is on.
source "$(dirname "$0")/lib.sh"
command -v wireguard-go >/dev/null || skip "wireguard-go missing"

UL=$T-ul; GA=$T-ga; GB=$T-gb
mk_underlay "$UL" 10.88.0.1/24
mk_host "$UL" "$GA" 10.88.0.11/24 10.88.0.1 pa
mk_host "$UL" "$GB" 10.88.0.12/24 10.88.0.1 pb
for c in c1 c2 c3; do ip netns add "$T-$c"; done
start_guest "$GA" a
start_guest "$GB" b
here=$(dirname "$0")
# One persistent connection per call of pc: every line one request.
pc() { python3 "$here/gcli.py" "$(gsock "$1")"; }

boot1=$(gcall a Hello | jq_ 'd["boot"]')
[ ${#boot1} = 32 ] || fail "Hello has no boot id"
[ "$(gcall a Hello | jq_ 'len(d["nets"])')" = 0 ] || fail "Hello nets not empty"
gcall a CreateHub >/dev/null; gcall b CreateHub >/dev/null
N1=$(printf 'a1%.0s' {1..32}); N2=$(printf 'b2%.0s' {1..32})
C1=$(printf 'c1%.0s' {1..32}); C2=$(printf 'c2%.0s' {1..32}); C3=$(printf 'c3%.0s' {1..32})
net1='{"id":"'$N1'","name":"net1","subnet":"172.18.0.0/16","gateway":"172.18.0.1"}'
net2='{"id":"'$N2'","name":"net2","subnet":"172.19.0.0/16","gateway":"172.19.0.1"}'
KA=$(gcall a AddNetwork '{"network":'"$net1"'}' | jq_ 'd["public_key"]')
KB=$(gcall b AddNetwork '{"network":'"$net1"'}' | jq_ 'd["public_key"]')
gcall a AddNetwork '{"network":'"$net2"'}' >/dev/null
ep() { gcall "$1" AddEndpoint '{"network_id":"'$2'","container":{"id":"'$3'","name":"'$4'","netns":"/run/netns/'$T-$4'"},"ip":"'$5'"}' >/dev/null || fail "AddEndpoint $4"; }
ep a "$N1" "$C1" c1 172.18.0.2
ep a "$N2" "$C2" c2 172.19.0.2
ep b "$N1" "$C3" c3 172.18.0.4
[ "$(gcall a Hello | jq_ 'd["nets"]["'$N1'"]')" = 0 ] || fail "a new network is not at gen 0"

PB='{"public_key":"'$KB'","endpoint":"10.88.0.12:51820","allowed_ips":["172.18.0.4/32"]}'
PA='{"public_key":"'$KA'","endpoint":"10.88.0.11:51820","allowed_ips":["172.18.0.2/32"]}'
R3='{"name":"c3","address":"172.18.0.4"}'
out=$(pc a <<REQ
{"op":"SyncNetwork","args":{"network_id":"$N1","gen":5,"peers":[$PB],"dns":[$R3,{"name":"web","address":"172.18.0.4"}]}}
{"op":"UpdateNetwork","args":{"network_id":"$N1","from_gen":4,"gen":6,"peers_remove":["$KB"]}}
{"op":"SyncNetwork","args":{"network_id":"$N2","gen":2,"peers":[],"dns":[{"name":"secret","address":"172.19.0.9"}]}}
{"op":"Hello"}
REQ
) || fail "persistent connection: $out"
echo "$out" | sed -n 1p | grep -q '"gen": 5' || fail "SyncNetwork reply: $out"
echo "$out" | sed -n 2p | grep -q '"code": 116' || fail "stale UpdateNetwork not ESTALE: $out"
echo "$out" | sed -n 2p | grep -q '"gen": 5' || fail "ESTALE without the current gen: $out"
echo "$out" | sed -n 4p | grep -q "\"$N1\": 5" || fail "Hello nets: $out"
ok "four requests on one connection; SyncNetwork at gen 5; stale delta refused with gen 5"
gcall b SyncNetwork '{"network_id":"'$N1'","gen":5,"peers":['"$PA"'],"dns":[{"name":"c1","address":"172.18.0.2"}]}' >/dev/null || fail "b SyncNetwork"

nsl() { n "$T-$1" busybox nslookup "$2" 127.0.0.11 2>&1; }
wait_for 10 n "$T-c1" ping -c 1 -W 1 172.18.0.4 >/dev/null || fail "c1 -> c3 after SyncNetwork"
nsl c1 c3 | grep -q 172.18.0.4 || fail "c1 does not resolve c3: $(nsl c1 c3)"
nsl c1 web | grep -q 172.18.0.4 || fail "c1 does not resolve the alias web"
out=$(nsl c1 secret) && fail "c1 resolves secret of net2 it is not on: $out"
nsl c2 secret | grep -q 172.19.0.9 || fail "c2 does not resolve secret on its network"
out=$(nsl c2 c3) && fail "c2 resolves c3 of net1 it is not on: $out"
ok "ping through the synced peer; each container resolves its own networks' records only"

gcall a UpdateNetwork '{"network_id":"'$N1'","from_gen":5,"gen":6,"peers_remove":["'$KB'"],"dns_remove":['"$R3"']}' | grep -q '"gen": 6' || fail "delta 5->6"
n "$T-c1" ping -c 1 -W 1 172.18.0.4 >/dev/null && fail "c1 reaches c3 after its peer was removed"
out=$(nsl c1 c3) && fail "c3 still resolves after dns_remove: $out"
nsl c1 web | grep -q 172.18.0.4 || fail "an unrelated record went with the delta"
[ "$(gcall a GetStatus | jq_ '[len(x["peers"]) for x in d["networks"] if x["id"]=="'$N1'"][0]')" = 0 ] || fail "the device still has the peer"
gcall a UpdateNetwork '{"network_id":"'$N1'","from_gen":6,"gen":7,"peers_set":['"$PB"'],"dns_add":['"$R3"','"$R3"']}' | grep -q '"gen": 7' || fail "delta 6->7"
wait_for 10 n "$T-c1" ping -c 1 -W 1 172.18.0.4 >/dev/null || fail "c1 -> c3 after the peer came back"
nsl c1 c3 | grep -q 172.18.0.4 || fail "c3 does not resolve after dns_add"
ok "deltas: a removed peer and record are gone (packets dropped, NXDOMAIN), added back they work"

# A bad delta changes nothing, not even the gen.
PX='{"public_key":"'$(wg genkey | wg pubkey)'","allowed_ips":["172.18.0.4/32"]}'
gcall a UpdateNetwork '{"network_id":"'$N1'","from_gen":7,"gen":8,"peers_set":['"$PB"','"$PX"']}' >/dev/null 2>&1 && fail "an address held by two peers was accepted"
gcall a UpdateNetwork '{"network_id":"'$N1'","from_gen":7,"gen":8,"peers_set":[{"public_key":"'$KA'","allowed_ips":[]}]}' >/dev/null 2>&1 && fail "the guest itself accepted as a peer"
[ "$(gcall a Hello | jq_ 'd["nets"]["'$N1'"]')" = 7 ] || fail "a refused delta moved the gen"
n "$T-c1" ping -c 1 -W 10 172.18.0.4 >/dev/null || fail "a refused delta broke the path"
ok "refused deltas change nothing"

# Restart: the gen is persisted; the boot id changes; traffic goes on.
pid=$(cat "$TMP/a/pid")
kill -TERM "$pid"
wait_for 10 dead "$pid"
start_guest "$GA" a
[ "$(gcall a Hello | jq_ 'd["nets"]["'$N1'"]')" = 7 ] || fail "gen lost across a restart"
[ "$(gcall a Hello | jq_ 'd["boot"]')" != "$boot1" ] || fail "same boot id after a restart"
n "$T-c1" ping -c 1 -W 10 172.18.0.4 >/dev/null || fail "no traffic after the restart"
nsl c1 c3 | grep -q 172.18.0.4 || fail "records lost across the restart"
gcall a UpdateNetwork '{"network_id":"'$N1'","from_gen":7,"gen":8,"dns_add":[{"name":"late","address":"172.18.0.4"}]}' | grep -q '"gen": 8' || fail "delta after the restart"
nsl c1 late | grep -q 172.18.0.4 || fail "late record"
ok "restart: gen 7 kept, new boot id, traffic and records go on, deltas continue"
