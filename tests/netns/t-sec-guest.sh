#!/usr/bin/env bash
# Issue 14 item 2: from a container, the guest's own addresses offer only
# ICMP echo at the gateway (v4, v6) and the answers of published ports. A TCP
# listener and a UDP receiver on every address of the guest's root namespace
# (:: dual-stack, so 0.0.0.0 too) count nothing from a container that tries
# the gateway (v4, v6), the underlay address, another local address of the
# guest (a spare veth in the guest), loopback, broadcast; the drop counters guest,
# ctrl and mcast move. nftables is the second line: with the BPF filter
# removed from the container's veth, the input chain drops it and counts.
# Controls on the same paths: ping to both gateways, TCP between two
# containers of the network, the internet through the masquerade, a
# published port from the underlay and from the guest itself.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/seclib.sh"
lab_up
wgnet network create --ipv6 --subnet 2001:db8:160::/64 --subnet 10.160.0.0/24 net1 >/dev/null
lab guest add ga >/dev/null
mkdir -p "$TMP/www"
echo "published $T" >"$TMP/www/index.html"
for c in a1 a2; do lab run --name $c --network net1 --guest ga >/dev/null; done
lab run --name web --guest ga --network net1 -p 8080:80 -- busybox httpd -f -p 80 -h "$TMP/www" >/dev/null
ipa1=$(cip a1 net1); ipa2=$(cip a2 net1); v6a1=$(cip6 a1 net1)
gw4=$(gw net1); gw6=$(gw net1 6)
gip=$(lab info --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["guests"]["ga"]["ip"])')
lab guest exec ga -- ip link add dsec0 type veth peer name dsec1
lab guest exec ga -- ip addr add 192.0.2.77/32 dev dsec0
lab guest exec ga -- ip link set dsec0 up
rx g:ga "$TMP/g.tcp" tcp-listen :: 7100
rx g:ga "$TMP/g.udp" udp-recv :: 7101
rx c:a2 "$TMP/a2.tcp" tcp-listen :: 7100

# --- controls --------------------------------------------------------------------
wait_for 10 reach a1 "$gw4" || fail "a1 cannot ping its gateway $gw4"
wait_for 10 lab exec a1 -- ping -6 -c 1 -W 2 "$gw6" || fail "a1 cannot ping its gateway $gw6"
wait_for 10 tcp_to a1 "$ipa2" 7100 || fail "a1 cannot open TCP to a2"
wait_for 10 reach a1 198.18.0.2 || fail "a1 cannot reach the internet (masquerade)"
get() { "$@" timeout 5 busybox wget -qO- "http://$gip:8080/index.html" 2>/dev/null; }
wait_for 10 test "$(get lab underlay --)" = "published $T" || fail "published port not reachable from the underlay"
wait_for 10 test "$(get lab guest exec ga --)" = "published $T" || fail "published port not reachable from the guest itself"
lab guest exec ga -- "$PY" -c 'import socket; socket.create_connection(("127.0.0.1", 7100), 2)'
wait_for 10 test "$(seen "$TMP/g.tcp" accepted)" = 1 || fail "the guest's listener does not accept"
ok "controls: ping gw4/gw6, TCP a1->a2, internet, published port from the underlay and from the guest, the guest's listener"

# --- BPF ------------------------------------------------------------------------
g0=$(drop guest ga); c0=$(drop ctrl ga); m0=$(drop mcast ga)
for a in "$gw4" "$gw6" 192.0.2.77 "$gip"; do
	tcp_to a1 "$a" 7100 && fail "a1 opened TCP to the guest at $a:7100"
done
send a1 --ip4 "$ipa1" "$gw4" --udp 7101 --marker SECgw4
send a1 --ip6 "$v6a1" "$gw6" --udp 7101 --marker SECgw6
send a1 --ip4 "$ipa1" 192.0.2.77 --udp 7101 --marker SECdummy
send a1 --ip4 "$ipa1" 127.0.0.1 --udp 7101 --marker SECloop
send a1 --ip4 "$ipa1" "$gw4" --icmp 13 --marker SECtstamp
send a1 --ip4 "$ipa1" 255.255.255.255 --udp 7101 --marker SECbcast
send a1 --ip4 "$ipa1" 224.0.0.251 --udp 7101 --marker SECmdns
lab guest exec ga -- "$PY" -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'SECafter', ('127.0.0.1', 7101))"
wait_for 10 test "$(seen "$TMP/g.udp" SECafter)" = 1 || fail "the guest's UDP receiver lost its control packet"
[ "$(seen "$TMP/g.tcp" accepted)" = 1 ] || fail "the guest's TCP listener accepted a container's connection"
for m in SECgw4 SECgw6 SECdummy SECloop SECbcast SECmdns; do
	[ "$(seen "$TMP/g.udp" $m)" = 0 ] || fail "the guest received $m from a1"
done
expect_drop guest ga "$g0" 8
expect_drop ctrl ga "$c0" 1
expect_drop mcast ga "$m0" 2
wait_for 10 reach a1 "$gw4" || fail "ping to the gateway stopped"
ok "BPF: TCP to gw4, gw6, another local address and the underlay address, UDP to the gateways, local, loopback, ICMP timestamp, broadcast, mDNS: nothing arrived (guest +$(( $(drop guest ga) - g0 )), ctrl +$(( $(drop ctrl ga) - c0 )), mcast +$(( $(drop mcast ga) - m0 )))"

# --- nftables, the second line --------------------------------------------------------
# input_drop: packets of the input chain's final 'iifname "vh*" counter drop'
input_drop() { lab guest exec ga -- nft -j list chain inet wgnet input | "$PY" -c '
import json,sys
for o in json.load(sys.stdin)["nftables"]:
    r = o.get("rule")
    if not r: continue
    e = r["expr"]
    if len(e) == 3 and "drop" in e[2] and "counter" in e[1] and "match" in e[0]:
        print(e[1]["counter"]["packets"])'; }
vh=$(wgnet status --json | "$PY" -c '
import json,sys
for g in json.load(sys.stdin)["guests"]:
    for e in g["status"]["endpoints"]:
        if e["container"]=="a1": print(e["host_ifname"])')
[ -n "$vh" ] || fail "no veth of a1"
n0=$(input_drop)
[ -n "$n0" ] || fail "no input drop rule: $(lab guest exec ga -- nft list chain inet wgnet input)"
lab guest exec ga -- tc filter del dev "$vh" ingress
g1=$(drop guest ga)
tcp_to a1 "$gw4" 7100 && fail "without BPF: a1 opened TCP to the gateway"
tcp_to a1 192.0.2.77 7100 && fail "without BPF: a1 opened TCP to the dummy address"
send a1 --ip4 "$ipa1" "$gw4" --udp 7101 --marker SECnft
lab guest exec ga -- "$PY" -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'SECafter2', ('127.0.0.1', 7101))"
wait_for 10 test "$(seen "$TMP/g.udp" SECafter2)" = 1 || fail "the guest's UDP receiver lost its control packet"
[ "$(seen "$TMP/g.tcp" accepted)" = 1 ] || fail "without BPF: the guest accepted a container's connection"
[ "$(seen "$TMP/g.udp" SECnft)" = 0 ] || fail "without BPF: the guest received UDP from a1"
[ "$(drop guest ga)" = "$g1" ] || fail "the BPF filter was still there"
n1=$(input_drop)
[ "$n1" -ge $((n0 + 3)) ] || fail "nft input drop counter went $n0 -> $n1"
wait_for 10 reach a1 "$gw4" || fail "without BPF: ping to the gateway (nft accepts echo) failed"
ok "nftables input chain without BPF: TCP/UDP to the gateway and a local address dropped (counter $n0 -> $n1), echo still answered"
