#!/usr/bin/env bash
# Issue 7, security properties as negative tests:
# - a container cannot reach another network, also one that has no endpoint
#   in its own guest (SetIsolation: the guest knows every network's subnet);
# - nor the underlay or the control-plane addresses (ctrl drop);
# - nor spoof another container's address: in its guest (BPF anti-spoof) and
#   across guests (a compromised guest B without the BPF filter forging a
#   container's address: WireGuard's allowed-ips on A reject it);
# - it sees no WireGuard interface; key files are 0600 in 0700 directories;
#   no private key appears in any log, API answer or status output.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
wgnet network create --subnet 10.140.0.0/24 net1 >/dev/null
wgnet network create --subnet 10.141.0.0/24 net2 >/dev/null
for g in ga gb gc; do lab guest add $g >/dev/null; done
lab run --name a1 --network net1 --guest ga >/dev/null
lab run --name a2 --network net1 --guest ga >/dev/null
lab run --name b1 --network net1 --guest gb >/dev/null
lab run --name x1 --network net1 --guest gc >/dev/null
lab run --name n2 --network net2 --guest gb >/dev/null
ipa1=$(cip a1 net1); ipa2=$(cip a2 net1); ipb1=$(cip b1 net1)
ipx1=$(cip x1 net1); ipn2=$(cip n2 net2)
wait_for 10 reach a1 "$ipb1" || fail "a1 cannot reach b1"
wait_for 10 reach a1 "$ipx1" || fail "a1 cannot reach x1"
wait_for 10 reach a1 198.18.0.2 || fail "a1 cannot reach the lab's internet (NAT)"
ok "positive controls: a1 reaches b1, x1 (other guests) and the internet"

# drop COUNTER GUEST: the guest's BPF drop counter
drop() { "$WGNET_BIN/wgnet-guest" call -s "$(lab guest sock "$2")" GetStatus | python3 -c '
import json,sys; print(json.load(sys.stdin)["drops"].get(sys.argv[1], 0))' "$1"; }
subnets() { bpftool -j map dump pinned "/sys/fs/bpf/wgnet/$LP-$1/wgn_subnets" | python3 -c '
import json,sys,ipaddress
for e in json.load(sys.stdin):
    k=e["formatted"]["key"]; a=bytes(k["addr"]); pl=k["prefixlen"]
    if a[:12]==bytes(10)+b"\xff\xff": print("%s/%d" % (ipaddress.ip_address(a[12:]), pl-96), e["formatted"]["value"])
    else: print("%s/%d" % (ipaddress.ip_address(a), pl), e["formatted"]["value"])'; }

# --- another network -------------------------------------------------------
subnets ga | grep -q "^10.141.0.0/24 4294967295$" || fail "ga has no isolation entry for net2: $(subnets ga)"
i0=$(drop isolation ga)
lab underlay -- timeout 8 tcpdump --immediate-mode -n -l -i ulbr -c 1 "host $ipn2" >"$TMP/ul.txt" 2>&1 &
tp=$!
wait_for 8 listening "$TMP/ul.txt" || fail "tcpdump on the underlay did not start: $(cat "$TMP/ul.txt")"
reach_now a1 "$ipn2" && fail "a1 (net1) reached n2 (net2, no endpoint in ga)"
wait $tp || true
grep -q "^0 packets captured" "$TMP/ul.txt" || { cat "$TMP/ul.txt"; fail "a packet for net2 left ga on the underlay"; }
[ "$(drop isolation ga)" -gt "$i0" ] || fail "ga's isolation counter did not move"
reach_now b1 "$ipn2" && fail "b1 (net1) reached n2 (net2, same guest)"
reach_now n2 "$ipb1" && fail "n2 (net2) reached b1 (net1)"
ok "another network is unreachable, dropped as isolation in the guest, nothing on the underlay"
wgnet network create --subnet 10.142.0.0/24 net3 >/dev/null
for g in ga gb gc; do subnets $g | grep -q "^10.142.0.0/24 4294967295$" || fail "$g not told about net3"; done
wgnet network rm net3 >/dev/null
for g in ga gb gc; do subnets $g | grep -q "^10.142.0.0/24" && fail "$g kept net3's subnet"; done
lab run --name a3 --network net2 --guest ga >/dev/null
subnets ga | grep -q "^10.141.0.0/24 4294967295$" && fail "net2 still isolated on ga after joining it"
wait_for 10 reach a3 "$ipn2" || fail "a3 (net2 on ga) cannot reach n2"
lab rm a3 >/dev/null
subnets ga | grep -q "^10.141.0.0/24 4294967295$" || fail "net2 not isolated again on ga after leaving it: $(subnets ga)"
lab guest kill ga; lab guest start ga >/dev/null
subnets ga | grep -q "^10.141.0.0/24 4294967295$" || fail "isolation lost over an agent restart"
ok "network create/rm, join/leave and agent restarts keep every guest's isolated set right"

# --- underlay and control plane ----------------------------------------------
info=$(lab info --json)
ulga=$(echo "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["guests"]["ga"]["ip"])')
ulgb=$(echo "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["guests"]["gb"]["ip"])')
c0=$(drop ctrl ga)
for a in 10.77.0.1 "$ulga" "$ulgb"; do
	reach_now a1 "$a" && fail "a1 reached the underlay address $a"
	lab exec a1 -- timeout 3 bash -c "exec 3<>/dev/tcp/$a/22" 2>/dev/null && fail "a1 opened TCP to $a"
done
[ "$(drop ctrl ga)" -gt "$c0" ] || fail "ga's ctrl counter did not move"
ok "underlay gateway, own and other guests' underlay addresses unreachable (ctrl drops: $(drop ctrl ga))"

# --- spoofing in the guest ------------------------------------------------------
s0=$(drop spoof ga)
lab exec a1 -- ip addr add "$ipa2/32" dev eth0
lab exec a1 -- ping -c 2 -W 1 -I "$ipa2" "$ipb1" >/dev/null 2>&1 && fail "a1 spoofing a2's address reached b1"
lab exec a1 -- ip addr del "$ipa2/32" dev eth0
[ "$(drop spoof ga)" -ge $((s0 + 2)) ] || fail "ga's spoof counter did not move"
wait_for 10 reach a1 "$ipb1" || fail "a1 lost its own connectivity"
ok "in-guest spoofing dropped by BPF (spoof: $(drop spoof ga))"

# --- spoofing across guests: a compromised guest gb ----------------------------
# b1's guest-side veth loses its BPF filter; gb's stack forwards b1's packets
# to the WireGuard interface (a route added by the "attacker"). A packet with
# b1's own source reaches a1 (control); one with x1's (a container of gc)
# must be rejected by ga's WireGuard (allowed-ips of gb's peer).
st=$(wgnet status --json)
vhb1=$(echo "$st" | python3 -c '
import json,sys
for g in json.load(sys.stdin)["guests"]:
    for e in g["status"]["endpoints"]:
        if e["container"]=="b1": print(e["host_ifname"])')
wgb=$(echo "$st" | python3 -c '
import json,sys
for g in json.load(sys.stdin)["guests"]:
    if g["name"]=="gb":
        for n in g["status"]["networks"]:
            if n["name"]=="net1": print(n["ifname"])')
[ -n "$vhb1" ] && [ -n "$wgb" ] || fail "no veth/wg of b1"
hmac=$(lab guest exec gb -- cat /proc/self/net/dev >/dev/null; lab guest exec gb -- ip -o link show "$vhb1" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
lab guest exec gb -- tc filter del dev "$vhb1" ingress
lab guest exec gb -- ip route replace "$ipa1/32" dev "$wgb"
# b1 routes its subnet via the gateway; make a1 on-link so that the
# hand-made neighbour entry is what carries the packets.
lab exec b1 -- ip route replace "$ipa1/32" dev eth0
lab exec b1 -- ip neigh replace "$ipa1" lladdr "$hmac" dev eth0 nud permanent
lab exec b1 -- ip addr add "$ipx1/32" dev eth0
# sniff LABEL SRC: count b1's echo requests from SRC that a1 receives
sniff() {
	lab exec a1 -- timeout 8 tcpdump --immediate-mode -n -l -i eth0 -c 3 "icmp[icmptype] == icmp-echo and src $2" >"$TMP/$1.txt" 2>&1 &
	local tp=$!
	wait_for 8 listening "$TMP/$1.txt" || fail "tcpdump in a1 did not start: $(cat "$TMP/$1.txt")"
	lab exec b1 -- ping -c 3 -i 0.2 -W 1 -I "$2" "$ipa1" >/dev/null 2>&1
	wait $tp
	sed -n 's/^\([0-9]*\) packets captured/\1/p' "$TMP/$1.txt"
}
n=$(sniff own "$ipb1")
[ "${n:-0}" -ge 1 ] || { cat "$TMP/own.txt"; fail "control: b1's own packets through the filterless path did not reach a1"; }
n=$(sniff forged "$ipx1")
[ "${n:-1}" = 0 ] || { cat "$TMP/forged.txt"; fail "a1 received a packet from gb forging x1 ($ipx1)"; }
ok "compromised guest gb: its own source reaches a1, x1's forged source never does (WireGuard allowed-ips)"

# --- no WireGuard, no keys in a container ------------------------------------
links=$(lab exec a1 -- ip -o -d link show)
[ "$(echo "$links" | wc -l)" = 2 ] || fail "a1 sees other links: $links"
echo "$links" | grep -qi "wireguard\|tun " && fail "a1 sees a WireGuard/TUN interface"
lab exec a1 -- ip -o link show | grep -q "$wgb\|w$LP" && fail "a1 sees a wg interface"
ok "a container sees lo and its eth0 only (namespace lab: the filesystem, so /var/run/wireguard, is shared: see docs/reliability.md)"

# --- key files ------------------------------------------------------------------
nkeys=0
for g in ga gb gc; do
	d=$WGNET_LAB_DIR/guests/$g/state
	[ "$(stat -c %a "$d/keys")" = 700 ] || fail "$g: keys/ is $(stat -c %a "$d/keys")"
	[ "$(stat -c %a "$d")" = 700 ] || fail "$g: state dir is $(stat -c %a "$d")"
	for k in "$d"/keys/*; do
		[ "$(stat -c %a "$k")" = 600 ] || fail "$k is $(stat -c %a "$k")"
		nkeys=$((nkeys + 1))
	done
	[ "$(stat -c %a "$d/state.json")" = 600 ] || fail "$g: state.json is $(stat -c %a "$d/state.json")"
done
[ $nkeys -ge 3 ] || fail "only $nkeys key files"
ok "$nkeys key files 0600 in 0700 directories"

# --- private keys nowhere ---------------------------------------------------------
out=$TMP/outputs
{
	wgnet status --json; wgnet status; wgnet network inspect net1 net2
	wgnet network ls; wgnet container ls; wgnet guest ls
	for g in ga gb gc; do
		"$WGNET_BIN/wgnet-guest" call -s "$(lab guest sock $g)" GetStatus
		"$WGNET_BIN/wgnet-guest" call -s "$(lab guest sock $g)" Hello
		"$WGNET_BIN/wgnet-guest" call -s "$(lab guest sock $g)" GetUnderlayEndpoint
		cat "$WGNET_LAB_DIR/guests/$g/guest.log" "$WGNET_LAB_DIR/guests/$g/state/state.json"
	done
	cat "$WGNET_LAB_DIR/host.log"
	strings "$WGNET_LAB_DIR/state.db"* 2>/dev/null
} >"$out" 2>&1
found=0
for g in ga gb gc; do
	for k in "$WGNET_LAB_DIR/guests/$g/state/keys"/*; do
		b64=$(tr -d '\n' <"$k")
		hex=$(echo "$b64" | base64 -d | od -An -tx1 | tr -d ' \n')
		if grep -qF "$b64" "$out" || grep -qiF "$hex" "$out"; then
			echo "private key of $k found"; found=1
		fi
	done
done
[ $found = 0 ] || fail "a private key leaked"
grep -q "public_key" "$out" || fail "the outputs look empty"
ok "no private key (base64 or hex) in $(wc -l <"$out") lines of logs, API answers, status, state and store"
