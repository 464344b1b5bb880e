#!/usr/bin/env bash
# Issue 13 item 6: a container holds O(1) neighbour entries however many
# peers it talks to. 31 containers on one dual-stack network of one guest;
# c0 pings the 30 others over IPv4 and IPv6 and then holds at most 2
# neighbour entries (the gateway, once per family), while `ip addr` still
# shows the network's prefixes as Docker does. The kernel's neighbour
# limits are not touched.
source "$(dirname "$0")/lib.sh"
command -v wireguard-go >/dev/null || skip "wireguard-go missing"

UL=$T-ul; GA=$T-ga
mk_underlay "$UL" 10.88.0.1/24
mk_host "$UL" "$GA" 10.88.0.11/24 10.88.0.1 pa
start_guest "$GA" a
gcall a CreateHub >/dev/null
N1=$(printf 'a1%.0s' {1..32})
gcall a AddNetwork '{"network":{"id":"'$N1'","name":"net1","subnet":"172.18.0.0/16","gateway":"172.18.0.1","subnet6":"fd18::/64","gateway6":"fd18::1"}}' >/dev/null || fail "AddNetwork"
for i in $(seq 0 30); do
	ip netns add "$T-c$i"
	cid=$(printf '%02x' "$i"); cid=$(printf "$cid%.0s" {1..32})
	gcall a AddEndpoint '{"network_id":"'$N1'","container":{"id":"'$cid'","name":"c'$i'","netns":"/run/netns/'$T-c$i'"},"ip":"172.18.0.'$((i + 2))'","ip6":"fd18::'$((i + 2))'"}' >/dev/null || fail "AddEndpoint c$i"
done

n "$T-c0" ip -o addr show eth0 | grep -q "172.18.0.2/16" || fail "c0 does not show the /16: $(n "$T-c0" ip -o addr)"
n "$T-c0" ip -o addr show eth0 | grep -q "fd18::2/64" || fail "c0 does not show the /64: $(n "$T-c0" ip -o addr)"
n "$T-c0" ip route show 172.18.0.0/16 | grep -q "via 172.18.0.1 dev eth0.*onlink" || fail "subnet not routed via the gateway: $(n "$T-c0" ip route)"
n "$T-c0" ip -6 route show fd18::/64 | grep -q "via fd18::1 dev eth0.*onlink" || fail "subnet6 not routed via the gateway: $(n "$T-c0" ip -6 route)"
n "$T-c0" ip route show default | grep -q "via 172.18.0.1" || fail "no default route"
ok "addresses show the network's prefixes; the subnets go via the gateway (onlink)"

lost=0
for i in $(seq 1 30); do
	n "$T-c0" ping -c 1 -W 10 "172.18.0.$((i + 2))" >/dev/null || lost=$((lost + 1))
	n "$T-c0" ping -6 -c 1 -W 10 "fd18::$((i + 2))" >/dev/null || lost=$((lost + 1))
done
[ $lost = 0 ] || fail "$lost of 60 pings from c0 lost"
n "$T-c5" ping -c 1 -W 10 172.18.0.2 >/dev/null || fail "c5 -> c0"
ent=$(n "$T-c0" ip neigh show | grep -c .)
n "$T-c0" ip neigh show
[ "$ent" -le 2 ] || fail "c0 holds $ent neighbour entries after talking to 30 peers"
ok "c0 talked to 30 peers over IPv4 and IPv6 and holds $ent neighbour entries"
