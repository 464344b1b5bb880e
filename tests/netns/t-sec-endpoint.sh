#!/usr/bin/env bash
# Issue 14 items 5 and 9: endpoint set-up fails closed, veth names unique.
#  - two containers whose ids share their first 16 characters get different
#    guest-side names; the second does not delete the first's interface
#    (same ifindex), and both carry traffic;
#  - the agent killed between set-up steps (test hook WGNET_GUEST_FAULT):
#    after the veth is made, after the program is attached (state not yet
#    saved) — no interface is left up and unfiltered; the next start removes
#    the orphan pair (logged) and a new connect works. Killed after the state
#    is saved: the next start adopts the endpoint and brings it up filtered.
source "$(dirname "$0")/lib.sh"
command -v wireguard-go >/dev/null || skip "wireguard-go missing"

UL=$T-ul; GA=$T-ga
mk_underlay "$UL" 10.87.0.1/24
mk_host "$UL" "$GA" 10.87.0.11/24 10.87.0.1 pa
for c in c1 c2 c3; do ip netns add "$T-$c"; done
start_guest "$GA" a

N1=$(printf 'a1%.0s' {1..32})
P=0123456789abcdef  # the shared prefix
C1=${P}$(printf '1%.0s' {1..48}); C2=${P}$(printf '2%.0s' {1..48})
C3=$(printf 'c3%.0s' {1..32})
gcall a CreateHub >/dev/null
gcall a AddNetwork '{"network":{"id":"'$N1'","name":"net1","subnet":"172.31.0.0/16","gateway":"172.31.0.1"}}' >/dev/null
ep() { # cid name ip
	gcall a AddEndpoint '{"network_id":"'$N1'","container":{"id":"'$1'","name":"'$2'","netns":"/run/netns/'$T-$2'"},"ip":"'$3'"}'
}
hostif() { echo "$1" | jq_ 'd["host_ifname"]'; }
ifidx() { n "$GA" ip -o link show "$1" | cut -d: -f1; }
pings() { n "$T-$1" ping -c 1 -W 2 "$2" >/dev/null; }
# Every guest-side veth is either down or has the BPF program on ingress.
no_open_iface() {
	local ifn
	for ifn in $(n "$GA" ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^vh'); do
		if n "$GA" ip -o link show "$ifn" | grep -q '[<,]UP[,>]'; then
			n "$GA" tc filter show dev "$ifn" ingress | grep -q bpf ||
				{ echo "$ifn is up without a BPF program"; return 1; }
		fi
	done
}
vh_count() { n "$GA" ip -o link show type veth | grep -c ': vh' || true; }

# --- item 9: ids sharing a 16-character prefix --------------------------------
R1=$(ep "$C1" c1 172.31.0.2) || fail "AddEndpoint c1"
I1=$(hostif "$R1"); X1=$(ifidx "$I1")
R2=$(ep "$C2" c2 172.31.0.3) || fail "AddEndpoint c2"
I2=$(hostif "$R2")
[ "$I1" != "$I2" ] || fail "both containers got guest-side name $I1"
[ "$(ifidx "$I1")" = "$X1" ] || fail "the second endpoint replaced the first one's $I1"
wait_for 10 pings c1 172.31.0.3 || fail "c1 -> c2"
pings c2 172.31.0.2 || fail "c2 -> c1"
ok "ids sharing 16 characters: $I1 and $I2, the first kept its ifindex, both carry traffic"

# --- item 5: killed between steps ----------------------------------------------
restart() { # [FAULT]
	kill "$(cat "$TMP/a/pid")" 2>/dev/null || true
	wait "$(cat "$TMP/a/pid")" 2>/dev/null || true
	WGNET_GUEST_FAULT=${1:-} start_guest "$GA" a
}
before=$(vh_count)
for step in ep_after_veth ep_after_attach; do
	restart "$step"
	pid=$(cat "$TMP/a/pid")
	if ep "$C3" c3 172.31.0.4 >/dev/null 2>&1; then fail "$step: AddEndpoint answered"; fi
	rc=0; wait "$pid" || rc=$?
	[ $rc = 99 ] || fail "$step: agent exit $rc, want 99 (the hook)"
	[ "$(vh_count)" = $((before + 1)) ] || fail "$step: no half-made veth to look at"
	no_open_iface || fail "$step: an interface is up and unfiltered"
	n "$T-c3" ip -o link show eth0 | grep -q '[<,]UP[,>]' && fail "$step: the container's end is up"
	restart
	wait_for 10 grep -q "no endpoint owns this interface" "$TMP/a/guest.log" || fail "$step: no orphan removal logged"
	[ "$(vh_count)" = "$before" ] || fail "$step: the orphan is still there after restart"
	[ "$(gcall a GetStatus | jq_ 'd["orphans_removed"]')" = 1 ] || fail "$step: orphans_removed is not 1"
	pings c1 172.31.0.3 || fail "$step: c1 -> c2 after restart"
	sed -i 's/no endpoint owns this interface/(seen)/' "$TMP/a/guest.log"
	ok "killed at $step: nothing up and unfiltered; the restart removed the orphan"
done
R3=$(ep "$C3" c3 172.31.0.4) || fail "AddEndpoint c3 after the restarts"
wait_for 10 pings c3 172.31.0.2 || fail "c3 -> c1 after the restarts"
ok "a new connect works after the restarts"
gcall a RemoveEndpoint '{"network_id":"'$N1'","container_id":"'$C3'"}' >/dev/null

# Killed after the state is saved: the endpoint is owned; the restart
# attaches it and brings it up.
restart ep_after_save
pid=$(cat "$TMP/a/pid")
if ep "$C3" c3 172.31.0.4 >/dev/null 2>&1; then fail "ep_after_save: AddEndpoint answered"; fi
rc=0; wait "$pid" || rc=$?
[ $rc = 99 ] || fail "ep_after_save: agent exit $rc, want 99"
no_open_iface || fail "ep_after_save: an interface is up and unfiltered"
restart
no_open_iface || fail "after adoption: an interface is up and unfiltered"
wait_for 10 pings c3 172.31.0.2 || fail "c3 -> c1 after adoption"
ok "killed after the save: adopted, filtered, up"
