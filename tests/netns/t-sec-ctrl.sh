#!/usr/bin/env bash
# Issue 14 item 4 (one machine): the control-plane set of a guest holds the
# underlay's IPv4 and IPv6 prefixes, 169.254.0.0/16 and fe80::/10 (the agent's
# own part), this machine's addresses and every guest's underlay address
# (pushed by the host: on branch secbpf, not in this version). From a container:
# a listener in the underlay namespace on 169.254.169.254 (metadata), on the
# underlay's IPv6 address and on its IPv4 gateway counts nothing, a packet to
# fe80::/10 off-link is dropped; the ctrl counter moves. Controls: TCP to the
# lab's internet through the masquerade, ping6 to the gateway.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/seclib.sh"
lab_up
lab underlay -- ip addr add fd77::1/64 dev ulbr nodad
lab underlay -- ip addr add 169.254.169.254/32 dev ulbr
lab guest add ga >/dev/null
# The underlay gets IPv6 after the agent started: the next push reads it.
lab guest exec ga -- ip addr add fd77::10/64 dev eth0 nodad
lab guest exec ga -- ip -6 route add default via fd77::1
wgnet network create --ipv6 --subnet 2001:db8:180::/64 --subnet 10.180.0.0/24 net1 >/dev/null
lab run --name a1 --network net1 --guest ga >/dev/null
ipa1=$(cip a1 net1); v6a1=$(cip6 a1 net1)

# --- the set ---------------------------------------------------------------------
set_ga=$(ctrl_set ga)
for p in 10.77.0.0/16 fd77::/64 169.254.0.0/16 fe80::/10; do
	echo "$set_ga" | grep -qx "$p" || fail "ga's control-plane set lacks $p: $set_ga"
done
lab guest exec ga -- nft list chain inet wgnet forward | grep -q "ip6 daddr fd77::/64 .*drop" ||
	fail "no forward drop for the underlay's IPv6 prefix"
ok "set: underlay v4+v6 prefixes, 169.254.0.0/16, fe80::/10; nftables too"

# --- packets --------------------------------------------------------------------------
rx u "$TMP/ul.tcp" tcp-listen :: 7200
rx i "$TMP/inet.tcp" tcp-listen 0.0.0.0 7200
wait_for 10 tcp_to a1 198.18.0.2 7200 || fail "control: a1 cannot open TCP to the internet"
wait_for 10 lab exec a1 -- ping -6 -c 1 -W 2 "$(gw net1 6)" || fail "control: a1 cannot ping6 its gateway"
lab underlay -- "$PY" -c 'import socket; socket.create_connection(("fd77::1", 7200), 2)'
wait_for 10 test "$(seen "$TMP/ul.tcp" accepted)" = 1 || fail "control: the underlay listener does not accept"
ok "controls: TCP to the internet (masquerade), ping6 to the gateway, the underlay listener works"
c0=$(drop ctrl ga)
for a in 169.254.169.254 fd77::1 10.77.0.1; do
	tcp_to a1 "$a" 7200 && fail "a1 opened TCP to the control plane at $a"
done
send a1 --ip6 "$v6a1" fe80::1 --udp 7201 --marker SECll
send a1 --ip4 "$ipa1" 169.254.1.1 --udp 7201 --marker SECll4
[ "$(seen "$TMP/ul.tcp" accepted)" = 1 ] || fail "the underlay listener accepted a container's connection"
expect_drop ctrl ga "$c0" 5
ok "metadata 169.254.169.254, the underlay's IPv6 and IPv4 addresses, fe80::/10 off-link, 169.254/16: unreachable (ctrl +$(( $(drop ctrl ga) - c0 )))"
