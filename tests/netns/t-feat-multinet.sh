#!/usr/bin/env bash
# Issue 4, multi-network: c1 on net1, c2 on net2 are isolated; connect adds
# eth1 to the running c1 (c2 by name, DNS from both networks, default route
# stays on net1); disconnect removes it again. A ping from c1 to a net1 peer
# (c3, another guest) runs across both and loses nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
wgnet network create net1 >/dev/null
wgnet network create net2 >/dev/null
lab run --name c1 --network net1 >/dev/null
lab run --name c2 --network net2 >/dev/null
lab run --name c3 --network net1 >/dev/null
ip2=$(cip c2 net2); ip3=$(cip c3 net1)
gw1=$(wgnet network inspect net1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["IPAM"]["Config"][0]["Gateway"])')
# nsl FROM NAME: busybox nslookup's output (status kept in $?)
nsl() { lab exec "$1" -- busybox nslookup "$2" 2>&1; }

reach_now c1 "$ip2" && fail "c1 reached c2 before connect"
out=$(nsl c1 c2) && fail "c1 resolved c2 before connect: $out"
echo "$out" | grep -q NXDOMAIN || fail "c2 from c1 is not NXDOMAIN: $out"
ok "c1 (net1) cannot reach or resolve c2 (net2)"

lab exec c1 -- ping -n -i 0.05 -c $((240 + PING_TAIL)) -W 1 "$ip3" >"$TMP/ping.txt" 2>&1 &
pp=$!
wait_for 15 answered "$TMP/ping.txt" || fail "the net1 ping got no answer before the connect"
wgnet network connect --wait --alias c1b net2 c1 >/dev/null || fail "network connect"
lab exec c1 -- ip -br link show eth1 >/dev/null 2>&1 || fail "no eth1 in c1 after connect"
ip1b=$(cip c1 net2)
lab exec c1 -- ip -br addr show eth1 | grep -q "$ip1b/" || fail "eth1 does not carry $ip1b"
lab exec c1 -- ping -c 1 -W 10 c2 >/dev/null || fail "c1 cannot ping c2 by name after connect"
lab exec c2 -- ping -c 1 -W 10 c1b >/dev/null || fail "c2 cannot ping c1 by its net2 alias"
lab exec c2 -- ping -c 1 -W 10 c1 >/dev/null || fail "c2 cannot ping c1 by name"
[ "$(nsl c2 c1 | grep -A1 'Name:' | grep -c "$ip1b")" -ge 1 ] || fail "c1 resolved from net2 is not its net2 address"
nsl c1 c3 | grep -q "$ip3" || fail "c1 lost net1 names while on net2"
nsl c1 c2 | grep -q "$ip2" || fail "c1 does not resolve net2 names"
def=$(lab exec c1 -- ip -4 route show default)
echo "$def" | grep -q "via $gw1 dev eth0" || fail "default route moved: $def"
[ "$(echo "$def" | wc -l)" = 1 ] || fail "two default routes: $def"
ok "connect: eth1 $ip1b, c2 by name, alias c1b, names of both networks, default route still via $gw1 on eth0"

wgnet network disconnect net2 c1 >/dev/null || fail "network disconnect"
lab exec c1 -- ip link show eth1 >/dev/null 2>&1 && fail "eth1 still in c1 after disconnect"
reach_now c1 "$ip2" && fail "c1 reached c2 after disconnect"
out=$(nsl c1 c2) && fail "c1 still resolves c2: $out"
echo "$out" | grep -q NXDOMAIN || fail "c2 from c1 after disconnect is not NXDOMAIN: $out"
out=$(nsl c2 c1b) && fail "c2 still resolves c1's alias: $out"
nsl c1 c3 | grep -q "$ip3" || fail "c1 lost net1 names after disconnect"
ok "disconnect: eth1 gone, c2 unreachable and NXDOMAIN again, net1 names kept"

# once more: connect/disconnect again works the same (no leftovers)
wgnet network connect --wait net2 c1 >/dev/null || fail "second connect"
lab exec c1 -- ping -c 1 -W 10 c2 >/dev/null || fail "c1 cannot ping c2 after the second connect"
wgnet network disconnect net2 c1 >/dev/null || fail "second disconnect"
reach_now c1 "$ip2" && fail "c1 reached c2 after the second disconnect"
ok "second connect/disconnect cycle"

wait $pp || true # its exit says whether the tail was answered too
[ "$(ping_lost "$TMP/ping.txt" 240)" = 0 ] || { tail -3 "$TMP/ping.txt"; fail "the net1 ping lost $(ping_lost "$TMP/ping.txt" 240) of 240"; }
ok "net1 ping across two connect/disconnect cycles: 240 of 240 answered"
