#!/usr/bin/env bash
# Issue 14 item 1: hand-built frames from a container (AF_PACKET, what
# CAP_NET_RAW allows). VLAN-tagged frames (two 802.1Q tags of VLAN 0 around
# IPv4 to a container of another network in the same guest, one tag, 802.1ad,
# pre-standard QinQ, a forged source inside the tags), odd ethertypes and
# malformed IPv4/IPv6 headers never arrive, and each moves its own drop
# counter (vlan, ethertype, malformed, ip_options). Control: the same frame
# builder, untagged, reaches a container of the same network (v4 and v6).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/seclib.sh"
lab_up
wgnet network create --ipv6 --subnet 2001:db8:150::/64 --subnet 10.150.0.0/24 net1 >/dev/null
wgnet network create --subnet 10.151.0.0/24 net2 >/dev/null
lab guest add ga >/dev/null
for c in a1 a2; do lab run --name $c --network net1 --guest ga >/dev/null; done
lab run --name n2 --network net2 --guest ga >/dev/null
ipa1=$(cip a1 net1); ipa2=$(cip a2 net1); ipn2=$(cip n2 net2)
v6a1=$(cip6 a1 net1); v6a2=$(cip6 a2 net1)
rx c:a2 "$TMP/a2.rx" udp-recv :: 7001
rx c:n2 "$TMP/n2.rx" udp-recv 0.0.0.0 7001
wait_for 10 reach a1 "$ipa2" || fail "a1 cannot ping a2"

# --- control: untagged, hand-built, v4 and v6 --------------------------------
send a1 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECgood4
send a1 --ip6 "$v6a1" "$v6a2" --udp 7001 --marker SECgood6
wait_for 10 test "$(seen "$TMP/a2.rx" SECgood4)" -ge 1 || fail "control: a hand-built IPv4 frame did not reach a2"
wait_for 10 test "$(seen "$TMP/a2.rx" SECgood6)" -ge 1 || fail "control: a hand-built IPv6 frame did not reach a2"
lab guest exec ga -- "$PY" -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'SECctl', ('$ipn2', 7001))"
wait_for 10 test "$(seen "$TMP/n2.rx" SECctl)" -ge 1 || fail "control: n2's receiver gets nothing from its guest"
ok "controls: hand-built untagged frames reach a2 (IPv4, IPv6); n2's receiver works"

# --- VLAN tags -----------------------------------------------------------------
v0=$(drop vlan ga)
send a1 --tag 8100:0 --tag 8100:0 --ip4 "$ipa1" "$ipn2" --udp 7001 --marker SECvlan00 --count 3
send a1 --tag 8100:0 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECvlan1 --count 3
send a1 --tag 88a8:5 --tag 8100:0 --ip4 "$ipa1" "$ipn2" --udp 7001 --marker SECqinq --count 3
send a1 --tag 9100:0 --ip4 "$ipa1" "$ipn2" --udp 7001 --marker SECq9100 --count 3
send a1 --tag 8100:0 --tag 8100:0 --ip4 "$ipa2" "$ipn2" --udp 7001 --marker SECforged --count 3
send a1 --tag 8100:7 --ip6 "$v6a1" "$v6a2" --udp 7001 --marker SECvlan6 --count 3
# In-order controls behind them on both receivers' paths.
send a1 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECafter
lab guest exec ga -- "$PY" -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'SECafter', ('$ipn2', 7001))"
wait_for 10 test "$(seen "$TMP/a2.rx" SECafter)" -ge 1 || fail "a2 lost its control packet"
wait_for 10 test "$(seen "$TMP/n2.rx" SECafter)" -ge 1 || fail "n2 lost its control packet"
for m in SECvlan00 SECqinq SECq9100 SECforged; do
	[ "$(seen "$TMP/n2.rx" $m)" = 0 ] || fail "n2 (other network) received $m: $(cat "$TMP/n2.rx")"
done
for m in SECvlan1 SECvlan6; do
	[ "$(seen "$TMP/a2.rx" $m)" = 0 ] || fail "a2 received the tagged $m: $(cat "$TMP/a2.rx")"
done
expect_drop vlan ga "$v0" 18
ok "VLAN: 0/0 double tag to another network, single tag (skb vlan_present), 802.1ad, 0x9100, forged source in tags, tagged IPv6: none arrived, vlan +$(( $(drop vlan ga) - v0 ))"

# --- odd ethertypes -------------------------------------------------------------
e0=$(drop ethertype ga)
for et in 88cc 8863 9000 88b5 0805 86dc; do
	send a1 --ethertype $et --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECet
done
send a1 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECafter2
wait_for 10 test "$(seen "$TMP/a2.rx" SECafter2)" -ge 1 || fail "a2 lost its control packet"
[ "$(seen "$TMP/a2.rx" SECet)" = 0 ] || fail "a2 received an odd-ethertype frame"
expect_drop ethertype ga "$e0" 6
ok "odd ethertypes (LLDP, PPPoE, loopback, 802.1 local, 0x0805, 0x86dc): dropped, ethertype +$(( $(drop ethertype ga) - e0 ))"

# --- malformed headers ---------------------------------------------------------
m0=$(drop malformed ga); o0=$(drop ip_options ga)
send a1 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECtrunc4 --truncate 30
send a1 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECihl4 --ihl 4
send a1 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECtot --totlen 600
send a1 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECshort --totlen 12
send a1 --ip6 "$v6a1" "$v6a2" --udp 7001 --marker SECtrunc6 --truncate 40
send a1 --ip6 "$v6a1" "$v6a2" --udp 7001 --marker SECplen --totlen 900
send a1 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECopts --ihl 7
send a1 --ip6 "$v6a1" "$v6a2" --udp 7001 --marker SECrh --routing
send a1 --ip6 "$v6a1" "$v6a2" --udp 7001 --marker SEChbh3 --hbh 3
send a1 --ip4 "$ipa1" "$ipa2" --udp 7001 --marker SECafter3
wait_for 10 test "$(seen "$TMP/a2.rx" SECafter3)" -ge 1 || fail "a2 lost its control packet"
for m in SECtrunc4 SECihl4 SECtot SECshort SECtrunc6 SECplen SECopts SECrh SEChbh3; do
	[ "$(seen "$TMP/a2.rx" $m)" = 0 ] || fail "a2 received the malformed $m"
done
expect_drop malformed ga "$m0" 6
expect_drop ip_options ga "$o0" 3
ok "malformed: truncated IPv4/IPv6, IHL 4, total/payload length beyond the frame or below the header (malformed +$(( $(drop malformed ga) - m0 ))); IPv4 options, IPv6 routing header, 3 option headers (ip_options +$(( $(drop ip_options ga) - o0 )))"

wait_for 10 reach a1 "$ipa2" || fail "a1 lost its connectivity"
wait_for 10 reach a1 198.18.0.2 || fail "a1 cannot reach the lab's internet"
ok "after all that: a1 still reaches a2 and the internet"
