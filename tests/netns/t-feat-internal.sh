#!/usr/bin/env bash
# Issue 4, --internal: containers of an internal network reach each other
# (across guests, by name) but not the "internet" namespace; no default
# route, no masquerade; a normal network's container reaches the internet.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
inet=$(lab info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["internet_ip"])')
wgnet network create --internal in1 >/dev/null
wgnet network create pub >/dev/null
[ "$(wgnet network inspect -f '{{.Internal}}' in1)" = true ] || fail "in1 is not internal"
lab run --name i1 --network in1 >/dev/null
lab run --name i2 --network in1 >/dev/null
lab run --name p1 --network pub >/dev/null
[ "$(lab ls | awk '$1=="i1"{print $2}')" != "$(lab ls | awk '$1=="i2"{print $2}')" ] || fail "i1 and i2 share a guest"
lab exec i1 -- ping -c 1 -W 10 i2 >/dev/null || fail "i1 cannot ping i2"
lab exec i2 -- ping -c 1 -W 10 i1 >/dev/null || fail "i2 cannot ping i1"
ok "internal network: i1 and i2 (two guests) reach each other by name"
reach p1 "$inet" || fail "p1 (normal network) cannot reach the internet $inet"
ok "normal network: p1 reaches the internet $inet"
reach_now i1 "$inet" && fail "i1 (internal) reached the internet"
reach_now i2 "$inet" && fail "i2 (internal) reached the internet"
[ -z "$(lab exec i1 -- ip route show default)" ] || fail "i1 has a default route"
# even with a route added inside the container, nothing leaves
gw=$(wgnet network inspect in1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["IPAM"]["Config"][0]["Gateway"])')
# (onlink: the container's subnet itself is routed via the gateway, docs/architecture.md)
lab exec i1 -- ip route add default via "$gw" dev eth0 onlink || fail "cannot add a route in i1"
reach_now i1 "$inet" && fail "i1 reached the internet with its own default route"
g1=$(lab ls | awk '$1=="i1"{print $2}')
subnet=$(wgnet network inspect in1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["IPAM"]["Config"][0]["Subnet"])')
lab guest exec "$g1" -- nft list table inet wgnet >"$TMP/nft.txt"
grep -q "saddr $subnet .*masquerade" "$TMP/nft.txt" && fail "masquerade for the internal subnet: $(cat "$TMP/nft.txt")"
grep -q "saddr $subnet .*drop" "$TMP/nft.txt" || fail "no drop for the internal subnet: $(cat "$TMP/nft.txt")"
ok "internal network: no route out, no masquerade, the internet unreachable even with a container-made route"
