#!/usr/bin/env bash
# Issue 4, IPv6 dual stack: addresses from both subnets, inspect shows the
# second Config entry and IPv6Address; two containers in two guests ping each
# other over IPv6 by address and by name (AAAA); NDP answered by the BPF
# program (nd_reply moves); WireGuard allowed-ips carry the /128s; PTR for
# the IPv6 address. Documentation prefixes only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
wgnet network create --ipv6 --subnet 2001:db8:1::/64 --subnet 172.28.0.0/16 v6 >/dev/null ||
	fail "create dual-stack network"
wgnet network inspect v6 | python3 -c '
import json,sys
n = json.load(sys.stdin)[0]
assert n["EnableIPv6"] is True, n["EnableIPv6"]
c = n["IPAM"]["Config"]
assert c == [{"Subnet": "172.28.0.0/16", "Gateway": "172.28.0.1"},
             {"Subnet": "2001:db8:1::/64", "Gateway": "2001:db8:1::1"}], c' || fail "inspect: IPAM Config"
ok "inspect: EnableIPv6 and two Config entries"
lab run --name a --network v6 >/dev/null
lab run --name b --network v6 >/dev/null
ga=$(lab ls | awk '$1=="a"{print $2}'); gb=$(lab ls | awk '$1=="b"{print $2}')
[ "$ga" != "$gb" ] || fail "a and b share a guest"
v6of() {
	wgnet network inspect v6 | python3 -c '
import json,sys
for c in json.load(sys.stdin)[0]["Containers"].values():
    if c["Name"] == sys.argv[1]: print(c["IPv6Address"])' "$1"
}
a6=$(v6of a); b6=$(v6of b)
[[ $a6 == 2001:db8:1::*/64 && $b6 == 2001:db8:1::*/64 ]] || fail "IPv6Address: a=$a6 b=$b6"
a6=${a6%/64}; b6=${b6%/64}
lab exec a -- ip -6 -br addr show eth0 | grep -q "$a6/64" || fail "a has no $a6 on eth0"
lab exec a -- ip -4 -br addr show eth0 | grep -q "172.28." || fail "a has no IPv4 on eth0"
ok "addresses: a=$(cip a v6),$a6 b=$(cip b v6),$b6"

ndr() { wgnet status --json | python3 -c '
import json,sys
for g in json.load(sys.stdin)["guests"]:
    if g["name"] == sys.argv[1]: print(g["status"]["stats"]["nd_reply"])' "$1"; }
n0=$(ndr "$ga")
lab exec a -- ip -6 neigh flush dev eth0
lab exec a -- ping -6 -c 2 -W 10 "$b6" >/dev/null || fail "a cannot ping $b6"
lab exec b -- ping -6 -c 2 -W 10 "$a6" >/dev/null || fail "b cannot ping $a6"
n1=$(ndr "$ga")
[ "$n1" -gt "$n0" ] || fail "nd_reply did not move on $ga ($n0 -> $n1)"
# The subnet is routed via the gateway (onlink): a resolved the gateway,
# answered by the proxy-ND, and holds no entry per peer.
gw6=$(lab exec a -- ip -6 route show default | awk '/via/ { print $3; exit }')
lab exec a -- ip -6 neigh show "$gw6" | grep -q "lladdr" || fail "no neighbour entry for the gateway $gw6 in a"
[ -z "$(lab exec a -- ip -6 neigh show "$b6")" ] || fail "a holds a neighbour entry for the peer $b6"
ok "ping -6 across guests both ways; proxy-ND answered for the gateway (nd_reply $n0 -> $n1)"

out=$(lab exec a -- busybox nslookup -type=aaaa b 2>&1) || fail "AAAA b: $out"
echo "$out" | grep -q "$b6" || fail "AAAA for b is not $b6: $out"
lab exec a -- ping -6 -c 1 -W 10 b >/dev/null || fail "a cannot ping -6 b by name"
lab exec b -- ping -4 -c 1 -W 10 a >/dev/null || fail "b cannot ping -4 a by name"
out=$(lab exec a -- busybox nslookup "$b6" 2>&1) || fail "PTR $b6: $out"
echo "$out" | grep -q "name = b$" || fail "PTR $b6 is not b: $out"
ok "AAAA b -> $b6, ping -6 b by name, PTR $b6 -> b"

wgnet status --json | python3 -c '
import json,sys
st = {g["name"]: g["status"] for g in json.load(sys.stdin)["guests"]}
ga, gb, a6, b6 = sys.argv[1:5]
peers = st[ga]["networks"][0]["peers"]
assert len(peers) == 1 and b6 + "/128" in peers[0]["allowed_ips"], peers
assert any(ip.endswith("/32") for ip in peers[0]["allowed_ips"]), peers
peers = st[gb]["networks"][0]["peers"]
assert len(peers) == 1 and a6 + "/128" in peers[0]["allowed_ips"], peers' "$ga" "$gb" "$a6" "$b6" ||
	fail "allowed-ips without the /128s"
ok "WireGuard allowed-ips carry the /32 and /128 of the peer's container"

# a static --ip6 is honoured
wgnet network create --ipv6 --subnet 2001:db8:2::/64 v6b >/dev/null
lab run --name c --network v6b --ip6 2001:db8:2::99 >/dev/null || fail "run --ip6"
wgnet network inspect v6b | grep -q '"IPv6Address": "2001:db8:2::99/64"' || fail "static --ip6 not used"
lab exec c -- ip -6 -br addr show eth0 | grep -q "2001:db8:2::99/64" || fail "c has no 2001:db8:2::99"
ok "static --ip6 2001:db8:2::99 honoured"
