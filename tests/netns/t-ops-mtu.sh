#!/usr/bin/env bash
# Issue 16, one MTU per network: a guest on a 1280-byte underlay joins a
# network of 1500-byte guests; every container (and every WireGuard
# interface) on the network gets 1280 - 80 = 1200; a 1400-byte ping (IP
# length, so fragmented at the source) and TCP both ways work, no black
# hole. When it leaves, the MTU goes back up. Docker's
# com.docker.network.driver.mtu sets the MTU and is refused for a guest
# whose underlay cannot carry it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up

# mtu_of CONTAINER IF: the MTU of an interface inside a container
mtu_of() { lab exec "$1" -- ip -o link show "${2:-eth0}" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
# wg_mtus GUEST: the MTUs of the guest's WireGuard interfaces (wireguard-go TUNs)
wg_mtus() { lab guest exec "$1" -- ip -o link show type tun | sed -n 's/.* mtu \([0-9]*\) .*/\1/p' | sort -u; }
# all_mtu WANT C...: every container's eth0, both ends, and its guest's wg, is WANT
all_mtu() {
	local want=$1 c g; shift
	for c in "$@"; do
		[ "$(mtu_of "$c")" = "$want" ] || return 1
		g=$(lab ls | awk -v c="$c" '$1==c{print $2}')
		[ "$(wg_mtus "$g")" = "$want" ] || return 1
		lab guest exec "$g" -- ip -o link show type veth | grep ": vh" | grep -v " mtu $want " | grep -q . && return 1
	done
	return 0
}

wgnet network create m1 >/dev/null
lab run --name a1 --network m1 >/dev/null
lab run --name a2 --network m1 >/dev/null
all_mtu 1420 a1 a2 || fail "1500-byte underlays: MTU is not 1420 everywhere ($(mtu_of a1) $(mtu_of a2))"
ok "1500-byte underlays: the network's MTU is 1420"

lab run --name s1 --network m1 --underlay-mtu 1280 >/dev/null
lab guest exec vm-s1 -- ip -o link show eth0 | grep -q " mtu 1280 " || fail "s1's underlay is not 1280"
wait_for 10 all_mtu 1200 a1 a2 s1 ||
	fail "after a 1280-byte guest joined: a1=$(mtu_of a1) a2=$(mtu_of a2) s1=$(mtu_of s1), wg a1=$(wg_mtus vm-a1)"
ok "a 1280-byte underlay joined: every container veth (both ends) and WireGuard interface on m1 is at 1200"

ip_s1=$(cip s1 m1)
ip_a1=$(cip a1 m1)
# 1400-byte IP packets: 1372 bytes of ICMP payload + 8 + 20. The source
# fragments them (they are larger than its 1200 MTU) and each fragment fits
# the 1280-byte underlay once encrypted.
lab exec a1 -- ping -c 3 -W 10 -s 1372 "$ip_s1" >/dev/null || fail "1400-byte ping a1 -> s1 (1280 underlay)"
lab exec s1 -- ping -c 3 -W 10 -s 1372 "$ip_a1" >/dev/null || fail "1400-byte ping s1 -> a1"
lab exec a2 -- ping -c 3 -W 10 -s 1372 a1 >/dev/null || fail "1400-byte ping a2 -> a1"
# Full-size unfragmented packets pass; one byte more is refused at the
# source (the container knows the MTU: no silent loss on the way).
lab exec a1 -- ping -c 2 -W 10 -M do -s 1172 "$ip_s1" >/dev/null || fail "1200-byte DF ping a1 -> s1"
lab exec a1 -- ping -c 1 -W 2 -M do -s 1173 "$ip_s1" >"$TMP/df.txt" 2>&1 && fail "a 1201-byte DF packet left a1"
grep -qi "too long\|mtu" "$TMP/df.txt" || fail "1201-byte DF ping: not refused locally: $(cat "$TMP/df.txt")"
ok "1400-byte ping a1 <-> s1 and a2 -> a1 (fragmented at the source); 1200-byte DF passes, 1201 refused locally"

# TCP both ways: 8 MiB of random bytes, checked end to end.
head -c 8M /dev/urandom >"$TMP/tx"
# xfer FROM TO TO_IP PORT: send $TMP/tx over TCP, compare what arrived
xfer() {
	rm -f "$TMP/rx"
	lab exec "$2" -- timeout 30 nc -l "$3" "$4" >"$TMP/rx" &
	local pid=$!
	wait_for 30 lab exec "$2" -- sh -c "ss -ltn | grep -q :$4" || fail "no listener in $2"
	lab exec "$1" -- timeout 30 nc -N "$3" "$4" <"$TMP/tx" || fail "TCP $1 -> $2: the sender failed"
	wait "$pid" || fail "TCP $1 -> $2: the receiver failed"
	cmp -s "$TMP/tx" "$TMP/rx" || fail "TCP $1 -> $2: got $(stat -c %s "$TMP/rx") of 8388608 bytes"
}
xfer a1 s1 "$ip_s1" 5201
xfer s1 a1 "$ip_a1" 5202
xfer s1 a2 "$(cip a2 m1)" 5203
ok "TCP 8 MiB a1 -> s1, s1 -> a1, s1 -> a2 across the 1280-byte underlay, byte for byte"

lab rm s1 >/dev/null
wait_for 10 all_mtu 1420 a1 a2 || fail "after s1 left: a1=$(mtu_of a1) a2=$(mtu_of a2)"
ok "the 1280-byte guest left: m1 is back at 1420"

# Docker's option.
o=com.docker.network.driver.mtu
wgnet network create -o $o=abc bad1 2>"$TMP/e1" && fail "mtu=abc accepted"
grep -q "invalid $o" "$TMP/e1" || fail "mtu=abc: $(cat "$TMP/e1")"
wgnet network create -o $o=100 bad2 2>"$TMP/e2" && fail "mtu=100 accepted"
wgnet network ls --format '{{.Name}}' | grep -q bad && fail "a refused network exists"
wgnet network create -o $o=1300 m2 >/dev/null
lab run --name b1 --network m2 >/dev/null
wait_for 30 all_mtu 1300 b1 || fail "explicit MTU 1300: b1=$(mtu_of b1)"
lab run --name b2 --network m2 --underlay-mtu 1280 2>"$TMP/e3" && fail "a 1280-byte guest joined a network with MTU 1300"
grep -q "MTU 1300 is larger than this guest's underlay carries (1200" "$TMP/e3" || fail "refusal message: $(cat "$TMP/e3")"
python3 -c 'import json,sys; c=json.load(sys.stdin)[0]["Containers"]; assert len(c)==1, c' < <(wgnet network inspect m2) ||
	fail "the refused container is on m2"
all_mtu 1300 b1 || fail "b1 changed after the refusal"
lab exec b1 -- ping -c 1 -W 2 -M do -s 1272 "$(wgnet network inspect m2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["IPAM"]["Config"][0]["Gateway"])')" >/dev/null ||
	fail "1300-byte DF ping to the gateway"
ok "com.docker.network.driver.mtu: bad values refused at create; 1300 applied; a 1280-byte guest refused at connect with a clear error"
