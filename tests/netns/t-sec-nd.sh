#!/usr/bin/env bash
# Issue 14 item 3: ICMPv6 ND and MLD from a container with 1000 bytes of
# payload, hand-built (AF_PACKET), to a container of another network, of the
# same network, of an internal network, and out through the masquerade (the
# lab's underlay and internet get IPv6 for this), also from a container of
# an internal network: none arrives (raw ICMPv6 receivers count the marker),
# the nd / mcast counters move. Controls on the same paths: ping6 between
# containers of one network, to the gateway, to the internet; ICMPv6 echo
# with the marker reaches every receiver.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/seclib.sh"
lab_up
OUT=2001:db8:ffff::2
lab underlay -- ip addr add fd77::1/64 dev ulbr nodad
lab underlay -- ip addr add 2001:db8:ffff::1/64 dev inet0 nodad
lab underlay -- sysctl -qw net.ipv6.conf.all.forwarding=1
lab inet -- ip addr add "$OUT/64" dev eth0 nodad
lab inet -- ip -6 route add default via 2001:db8:ffff::1
wgnet network create --ipv6 --subnet 2001:db8:170::/64 --subnet 10.170.0.0/24 net1 >/dev/null
wgnet network create --ipv6 --subnet 2001:db8:171::/64 --subnet 10.171.0.0/24 net2 >/dev/null
wgnet network create --internal --ipv6 --subnet 2001:db8:172::/64 --subnet 10.172.0.0/24 net3 >/dev/null
lab guest add ga >/dev/null
lab guest exec ga -- ip addr add fd77::10/64 dev eth0 nodad
lab guest exec ga -- ip -6 route add default via fd77::1
for c in a1 a2; do lab run --name $c --network net1 --guest ga >/dev/null; done
lab run --name n2 --network net2 --guest ga >/dev/null
for c in i1 i2; do lab run --name $c --network net3 --guest ga >/dev/null; done
a1=$(cip6 a1 net1); a2=$(cip6 a2 net1); n2=$(cip6 n2 net2); i1=$(cip6 i1 net3); i2=$(cip6 i2 net3)
rx c:a2 "$TMP/a2.rx" icmp6-recv
rx c:n2 "$TMP/n2.rx" icmp6-recv
rx c:i2 "$TMP/i2.rx" icmp6-recv
rx i "$TMP/out.rx" icmp6-recv

# --- controls ----------------------------------------------------------------------
ping6() { lab exec "$1" -- ping -6 -c 1 -W 2 "$2" >/dev/null 2>&1; }
wait_for 10 ping6 a1 "$a2" || fail "a1 cannot ping6 a2"
wait_for 10 ping6 a1 "$(gw net1 6)" || fail "a1 cannot ping6 its gateway"
wait_for 10 ping6 a1 "$OUT" || fail "a1 cannot ping6 the internet (masquerade)"
wait_for 10 ping6 i1 "$i2" || fail "i1 cannot ping6 i2 (internal network)"
# controls M: an echo request carrying marker M on every receiver's path
controls() {
	send a1 --ip6 "$a1" "$a2" --icmp6 128 --marker "$1"
	send a1 --ip6 "$a1" "$OUT" --icmp6 128 --marker "$1"
	send i1 --ip6 "$i1" "$i2" --icmp6 128 --marker "$1"
	lab guest exec ga -- "$PY" -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.sendto(b'\x80\0\0\0\0\x01\0\x01$1', ('$n2', 0))"
	for r in a2 n2 i2 out; do
		wait_for 10 test "$(seen "$TMP/$r.rx" "$1")" -ge 1 || fail "control $1 did not reach $r"
	done
}
controls SECctl
ok "controls: ping6 a1->a2, gateway, internet; i1->i2; marked echo requests reach a2, n2, i2 and the internet"

# --- ND / MLD with payload ----------------------------------------------------------------
nd0=$(drop nd ga); mc0=$(drop mcast ga)
P="--payload 1000"
send a1 --ip6 "$a1" "$n2" --icmp6 136 $P --marker SECnaN2
send a1 --ip6 "$a1" "$n2" --icmp6 135 $P --marker SECnsN2
send a1 --ip6 "$a1" "$n2" --icmp6 143 --hbh 1 --hlim 64 $P --marker SECmldN2
send a1 --ip6 "$a1" "$a2" --icmp6 136 $P --marker SECnaA2
send a1 --ip6 "$a1" "$a2" --icmp6 131 --hbh 1 $P --marker SECmldA2
send a1 --ip6 "$a1" "$i2" --icmp6 136 $P --marker SECnaI2
send a1 --ip6 "$a1" "$i2" --icmp6 143 --hlim 64 $P --marker SECmldI2
send a1 --ip6 "$a1" "$OUT" --icmp6 136 $P --marker SECnaOut
send a1 --ip6 "$a1" "$OUT" --icmp6 135 $P --marker SECnsOut
send a1 --ip6 "$a1" "$OUT" --icmp6 143 --hbh 1 --hlim 64 $P --marker SECmldOut
send i1 --ip6 "$i1" "$OUT" --icmp6 136 $P --marker SECnaIOut
send i1 --ip6 "$i1" "$OUT" --icmp6 143 --hlim 64 $P --marker SECmldIOut
send a1 --ip6 fe80::77 "$n2" --icmp6 136 $P --marker SECnaLL
send a1 --ip6 "$a1" ff02::16 --icmp6 143 --hbh 1 $P --marker SECmldGroup
controls SECafter
for r in a2 n2 i2 out; do
	bad=$(grep -v "^ready\|^SECctl \|^SECafter " "$TMP/$r.rx" || true)
	[ -z "$bad" ] || fail "$r received: $bad"
done
expect_drop nd ga "$nd0" 13
expect_drop mcast ga "$mc0" 1
ok "NA/NS/MLD with payload to another network, the same network, an internal network, the internet, from an internal network, from link-local: none arrived (nd +$(( $(drop nd ga) - nd0 )), mcast +$(( $(drop mcast ga) - mc0 )))"
wait_for 10 ping6 a1 "$a2" || fail "a1 lost IPv6 to a2"
wait_for 10 ping6 a1 "$OUT" || fail "a1 lost IPv6 to the internet"
ok "after: ping6 a1->a2 and to the internet still work"
