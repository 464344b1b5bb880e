#!/usr/bin/env bash
# Issue 9: two machines, one etcd cluster. A network created on host A is
# visible on host B; containers in guests of A and of B reach each other
# through WireGuard (guest to guest over the routed underlays); names
# resolve across hosts; isolation between networks holds across hosts; a
# host refuses to manage another host's guests.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/etcdlib.sh"
lab_up2
wgnet network create --subnet 10.131.0.0/24 n1 >/dev/null || fail "create n1 on A"
wgb network ls --format '{{.Name}}' | grep -qx n1 || fail "n1 not visible on host B"
wgb network inspect n1 | grep -q 10.131.0.0/24 || fail "n1's subnet not seen by B"
out=$(wgb network create --subnet 10.131.0.0/25 n1b 2>&1) && fail "B created a subnet overlapping A's"
echo "$out" | grep -qi overlap || fail "unclear overlap error: $out"
ok "a network created on host A is visible on host B (and B sees its subnet)"

lab run --name a1 --network n1 >/dev/null || fail "run a1 on A"
lab run --host B --name b1 --network n1 >/dev/null || fail "run b1 on B"
[ "$(lab ls | awk '$1=="b1"{print $2}')" = vm-b1 ] || fail "b1 not placed"
grep -qx B "$TMP/lab/guests/vm-b1/machine" || fail "b1's guest is not on machine B"
ipa=$(cip a1 n1) ipb=$(cip b1 n1)
[ -n "$ipa" ] && [ -n "$ipb" ] && [ "$ipa" != "$ipb" ] || fail "addresses: a1=$ipa b1=$ipb"
wait_for 30 meshed n1 || fail "n1 not meshed: $(peers vm-a1)"
reach a1 "$ipb" || fail "a1 (host A) cannot reach b1 (host B) at $ipb"
reach b1 "$ipa" || fail "b1 cannot reach a1"
peers vm-a1 | grep -q "^10\.78\..*$ipb/32" || fail "a1's guest has no peer at B's underlay: $(peers vm-a1)"
peers vm-b1 | grep -q "^10\.77\..*$ipa/32" || fail "b1's guest has no peer at A's underlay: $(peers vm-b1)"
ok "containers on A and B ping each other through WireGuard, guest to guest"
lab exec a1 -- getent hosts b1 | grep -q "$ipb" || fail "a1 cannot resolve b1"
lab exec b1 -- getent hosts a1 | grep -q "$ipa" || fail "b1 cannot resolve a1"
ok "names resolve across hosts"
# Both hosts show the whole network.
[ "$(wgnet network inspect n1 | grep -c '"Name": "[ab]1"')" = 2 ] || fail "A does not show both containers"
[ "$(wgb network inspect n1 | grep -c '"Name": "[ab]1"')" = 2 ] || fail "B does not show both containers"
ok "either host shows the whole network"

wgb network create --subnet 10.132.0.0/24 n2 >/dev/null || fail "create n2 on B"
lab run --host B --name b2 --network n2 >/dev/null || fail "run b2 on B"
lab run --name a2 --network n2 >/dev/null || fail "run a2 on A"
wait_for 30 meshed n2 || fail "n2 not meshed: $(peers vm-a2)"
reach a2 "$(cip b2 n2)" || fail "a2 cannot reach b2 on n2"
reach_now a1 "$(cip b2 n2)" && fail "isolation: a1 (n1, host A) reaches b2 (n2, host B)"
reach_now b1 "$(cip a2 n2)" && fail "isolation: b1 (n1, host B) reaches a2 (n2, host A)"
reach_now b2 "$ipa" && fail "isolation: b2 (n2) reaches a1 (n1)"
peers vm-a1 | grep -q "$(cip b2 n2)/32" && fail "n2's peer leaked into a1's guest"
ok "isolation holds across hosts"

out=$(wgnet container rm b1 2>&1) && fail "host A removed host B's container"
echo "$out" | grep -q "served by host B" || fail "unclear error for a remote container: $out"
out=$(wgnet network connect n2 b1 2>&1) && fail "host A attached host B's container"
ok "a host refuses to manage another host's guests: $out"
lab rm b1 >/dev/null || fail "rm b1 through B"
wait_for 10 no_peer vm-a1 "$ipb/32" ||
	fail "b1's address still a peer of a1's guest after it was removed on B"
ok "a container removed on B leaves A's peer sets"
