#!/usr/bin/env bash
# Issue 14 item 6: full maps fail closed and loudly.
# Part A, one guest driven directly, maps sized small (--map-subnets 3,
# --map-dests 4):
#  - SetIsolation with more subnets than fit: the call fails (exit 1, clear
#    message), GetStatus counts what is missing, and no isolated subnet is
#    reachable: those in the map are dropped by BPF (isolation counter), the
#    rest by the nftables backstop (its counter) — an address that answered
#    before it became an isolated subnet no longer does;
#  - UpdatePeers with more remote addresses than fit: the call fails, the
#    missing ones are counted, traffic to them is dropped (no_dest), the
#    containers still reach each other.
# Part B, the lab: a guest whose subnet map is too small for the networks
# refuses SetIsolation: the network create that asked fails with the
# guest's error, `wgnet status` prints the data-plane errors, shows the
# guest DEGRADED and exits 1; removing networks until they fit makes it
# exit 0 again.
source "$(dirname "$0")/lib.sh"
command -v wireguard-go >/dev/null || skip "wireguard-go missing"

UL=$T-aul; GA=$T-aga # (part B's lab has a prefix of its own, lablib.sh)
mk_underlay "$UL" 10.85.0.1/24
# An address in what will become an isolated subnet, outside every guest.
ip -n "$UL" addr add 172.25.0.1/16 dev br0
mk_host "$UL" "$GA" 10.85.0.11/24 10.85.0.1 pa
for c in c1 c2; do ip netns add "$T-$c"; done
GUEST_ARGS="--map-subnets 3 --map-dests 4" start_guest "$GA" a

N1=$(printf 'e1%.0s' {1..32})
C1=$(printf 'c1%.0s' {1..32}); C2=$(printf 'c2%.0s' {1..32})
gcall a CreateHub >/dev/null
gcall a AddNetwork '{"network":{"id":"'$N1'","name":"net1","subnet":"172.21.0.0/16","gateway":"172.21.0.1"}}' >/dev/null
ep() { gcall a AddEndpoint '{"network_id":"'$N1'","container":{"id":"'$1'","name":"'$2'","netns":"/run/netns/'$T-$2'"},"ip":"'$3'"}' >/dev/null; }
ep "$C1" c1 172.21.0.2 || fail "AddEndpoint c1"
ep "$C2" c2 172.21.0.3 || fail "AddEndpoint c2"
pings() { n "$T-$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1; }
st() { gcall a GetStatus | jq_ "$1"; }
drop() { st "d['drops']['$1']"; }
wait_for 10 pings c1 172.21.0.3 || fail "c1 -> c2"
wait_for 10 pings c1 172.25.0.1 || fail "c1 -> 172.25.0.1 before it is a wgnet subnet (the control)"
ok "controls: c1 reaches c2, and 172.25.0.1 while it is no wgnet subnet"

# --- isolation beyond the subnet map ---------------------------------------
iso='{"subnets":["172.21.0.0/16","172.22.0.0/16","172.23.0.0/16","172.24.0.0/16","172.25.0.0/16"]}'
if gcall a SetIsolation "$iso" >"$TMP/iso.out" 2>&1; then fail "SetIsolation beyond the map succeeded"; fi
grep -q "2 of the isolated subnets do not fit in the BPF subnet map (size 3, --map-subnets)" "$TMP/iso.out" ||
	fail "SetIsolation error: $(cat "$TMP/iso.out")"
[ "$(st "d['dp_errors']['isolation_missing']")" = 2 ] || fail "isolation_missing $(st "d['dp_errors']")"
ok "SetIsolation beyond the map: exit 1, '$(cut -c1-80 "$TMP/iso.out")…', 2 counted missing"

b=$(drop isolation)
pings c1 172.22.0.9 && fail "c1 reached 172.22.0.9 (isolated, in the map)"
[ "$(drop isolation)" -gt "$b" ] || fail "the BPF isolation counter did not move"
pings c1 172.25.0.1 && fail "c1 reached 172.25.0.1 (isolated, beyond the map)"
pings c1 172.24.0.1 && fail "c1 reached 172.24.0.1 (isolated, beyond the map)"
n "$GA" nft list chain inet wgnet forward >"$TMP/fwd.txt"
for s in 172.24.0.0/16 172.25.0.0/16; do
	grep -E "ip daddr $s counter packets [1-9]" "$TMP/fwd.txt" >/dev/null ||
		fail "no backstop drop counted for $s: $(cat "$TMP/fwd.txt")"
done
pings c1 172.21.0.3 || fail "c1 -> c2 after SetIsolation"
ok "isolated subnets unreachable: BPF drops what is in its map, nftables the rest (counters moved); c1 -> c2 still works"

# --- remote addresses beyond the destination map ----------------------------
KEY=$(wg genkey | wg pubkey)
peers='{"network_id":"'$N1'","peers":[{"public_key":"'$KEY'","endpoint":"10.85.0.99:51820","allowed_ips":["172.21.1.1/32","172.21.1.2/32","172.21.1.3/32","172.21.1.4/32","172.21.1.5/32"]}]}'
if gcall a UpdatePeers "$peers" >"$TMP/peers.out" 2>&1; then fail "UpdatePeers beyond the map succeeded"; fi
grep -q "3 remote addresses do not fit in the BPF destination map (size 4, --map-dests)" "$TMP/peers.out" ||
	fail "UpdatePeers error: $(cat "$TMP/peers.out")"
[ "$(st "d['dp_errors']['dests_missing']")" = 3 ] || fail "dests_missing $(st "d['dp_errors']")"
b=$(drop no_dest)
for i in 1 2 3 4 5; do pings c1 172.21.1.$i && fail "c1 reached 172.21.1.$i (no such peer)"; done
[ "$(drop no_dest)" -ge $((b + 3)) ] || fail "no_dest did not count the missing addresses ($b -> $(drop no_dest))"
pings c1 172.21.0.3 || fail "c1 -> c2 with a full destination map"
ok "UpdatePeers beyond the map: exit 1, 3 counted missing, their traffic dropped (no_dest), c1 -> c2 still works"

# Room again: fewer addresses fit, nothing is missing, the call succeeds.
peers2='{"network_id":"'$N1'","peers":[{"public_key":"'$KEY'","endpoint":"10.85.0.99:51820","allowed_ips":["172.21.1.1/32"]}]}'
gcall a UpdatePeers "$peers2" >/dev/null || fail "UpdatePeers that fits"
[ "$(st "d['dp_errors']['dests_missing']")" = 0 ] || fail "dests_missing after a set that fits"
ok "a peer set that fits: accepted, nothing missing"

# --- part B: the CLI -----------------------------------------------------------
source "$(dirname "$0")/lablib.sh"
export WGNET_GUEST_ARGS="--map-subnets 2"
lab_up
lab guest add gm >/dev/null || fail "lab guest add"
for x in m1 m2; do wgnet network create "$x" >/dev/null || fail "network create $x"; done
for x in m3 m4; do
	rc=0; wgnet network create "$x" >/dev/null 2>"$TMP/nc.err" || rc=$?
	[ $rc != 0 ] || fail "network create $x succeeded with gm's subnet map full"
	grep -q "guest gm refused the isolation set .*do not fit in the BPF subnet map" "$TMP/nc.err" ||
		fail "network create $x: $(cat "$TMP/nc.err")"
done
ok "network create past the subnet map fails with the guest's error: '$(cut -c1-90 "$TMP/nc.err")…'"
rc=0; wgnet status >"$TMP/st.out" 2>"$TMP/st.err" || rc=$?
[ $rc = 1 ] || fail "wgnet status exit $rc with a full subnet map"
grep -q "guest gm: 2 data-plane entries could not be programmed" "$TMP/st.err" || fail "status error: $(cat "$TMP/st.err")"
grep -q "Error: guest gm is degraded: SetIsolation: " "$TMP/st.err" || fail "status error: $(cat "$TMP/st.err")"
grep -q "data-plane errors: .*isolation missing 2" "$TMP/st.out" || fail "status output: $(grep -i error "$TMP/st.out")"
ok "wgnet status: exit 1, '$(head -1 "$TMP/st.err" | cut -c1-90)…'"
# Still one subnet too many after the first removal: it is removed, and
# says the guest still refuses.
rc=0; wgnet network rm m4 >/dev/null 2>"$TMP/rm.err" || rc=$?
[ $rc != 0 ] && grep -q "network m4 removed, but guest gm refused" "$TMP/rm.err" || fail "network rm m4: exit $rc, $(cat "$TMP/rm.err")"
wgnet network rm m3 >/dev/null || fail "network rm m3"
wait_for 10 wgnet status || fail "wgnet status still fails once the subnets fit: $(wgnet status 2>&1 | grep -i error)"
ok "once the subnets fit, wgnet status exits 0"
