# SPDX-License-Identifier: GPL-2.0
# One scenario for both kinds of guest (sourced after lib.sh and lablib.sh by
# t-vm.sh, qemu micro-VMs with the kernel WireGuard, and by
# t-vm-scenario-ns.sh, namespace guests with wireguard-go): two containers
# in two guests on one network, a third on another network.
#
# Proves: the backend each guest picked (wgnet status), a WireGuard
# handshake, ping and a TCP transfer between the containers, the BPF
# programs at work in the guests (their counters move), isolation of the
# third container, and a clean teardown (no guest process, no underlay port).
#
# Needs: SCEN_UP_ARGS (extra `wgnet-lab up` arguments), SCEN_BACKEND
# (the backend every guest must report).

# gstatus GUEST: the agent's GetStatus result, through wgnet-host: a VM's
# control port (qemu's chardev) serves one client, and wgnet-host keeps its
# one connection to each guest (docs/control-plane.md), so a second client
# on the port would wait for it; the host's Status asks on that connection.
gstatus() {
	wgnet status --json | python3 -c '
import json, sys
st = {g["name"]: g for g in json.load(sys.stdin)["guests"]}
print(json.dumps(st[sys.argv[1]]["status"]))' "$1"
}
# counter GUEST NAME: one of its BPF stats.
counter() { gstatus "$1" | jq_ "d['stats']['$2']"; }
# guest_pid GUEST: the process that is the guest (qemu, or its agent).
guest_pid() {
	cat "$WGNET_LAB_DIR/guests/$1/qemu.pid" 2>/dev/null ||
		cat "$WGNET_LAB_DIR/guests/$1/pid" 2>/dev/null
}

t0=$(date +%s)
lab up $SCEN_UP_ARGS >/dev/null || fail "wgnet-lab up $SCEN_UP_ARGS"
wgnet network create --subnet 10.231.0.0/24 sa >/dev/null || fail "network create sa"
wgnet network create --subnet 10.232.0.0/24 sb >/dev/null || fail "network create sb"
for c in c1:sa c2:sa c3:sb; do
	lab run --name "${c%%:*}" --network "${c#*:}" >/dev/null || fail "run ${c%%:*}"
done
log "three containers up in $(($(date +%s) - t0)) s"
G1=$(lab ls | awk '$1 == "c1" { print $2 }')
G2=$(lab ls | awk '$1 == "c2" { print $2 }')
G3=$(lab ls | awk '$1 == "c3" { print $2 }')
[ "$G1" != "$G2" ] && [ "$G2" != "$G3" ] || fail "containers share a guest: $G1 $G2 $G3"
declare -A GPID GNUM
for g in "$G1" "$G2" "$G3"; do
	GPID[$g]=$(guest_pid "$g")
	GNUM[$g]=$(cat "$WGNET_LAB_DIR/guests/$g/num")
	[ -n "${GPID[$g]}" ] && pid_alive "${GPID[$g]}" || fail "no process for guest $g"
done
ip1=$(cip c1 sa); ip2=$(cip c2 sa); ip3=$(cip c3 sb)
log "c1=$ip1 ($G1) c2=$ip2 ($G2) c3=$ip3 ($G3)"

# The backend each guest chose by itself, as the host reports it.
wgnet status --json | python3 -c '
import json, sys
want, names = sys.argv[1], sys.argv[2:]
st = {g["name"]: g for g in json.load(sys.stdin)["guests"]}
for n in names:
    assert st[n]["backend"] == want, (n, st[n]["backend"])
    assert st[n]["status"]["backend"] == want, (n, st[n]["status"]["backend"])
' "$SCEN_BACKEND" "$G1" "$G2" "$G3" || fail "backend is not $SCEN_BACKEND: $(wgnet status)"
ok "every guest runs the $SCEN_BACKEND WireGuard backend (wgnet status)"

# First packets: the handshake (slow under emulation).
wait_for 90 reach c1 "$ip2" || fail "c1 cannot reach c2"
reach c2 "$ip1" || fail "c2 cannot reach c1"
ok "c1 and c2 (two guests) ping each other"
wgnet status --json | python3 -c '
import json, sys
st = {g["name"]: g for g in json.load(sys.stdin)["guests"]}
for n in sys.argv[1:]:
    peers = [p for net in st[n]["status"]["networks"] if net["name"] == "sa" for p in net["peers"]]
    assert peers and all(p["latest_handshake"] > 0 for p in peers), (n, peers)
' "$G1" "$G2" || fail "no handshake in wgnet status: $(wgnet status)"
ok "WireGuard handshake between $G1 and $G2 (latest_handshake > 0)"

# The BPF programs in the guests carry the packets: to WireGuard on the
# sender, from WireGuard to the endpoint on the receiver.
r1=$(counter "$G1" fwd_remote); w1=$(counter "$G1" from_wg)
r2=$(counter "$G2" fwd_remote); w2=$(counter "$G2" from_wg)
lab exec c1 -- ping -c 5 -i 0.2 -W 2 "$ip2" >/dev/null || fail "ping c1 -> c2"
R1=$(counter "$G1" fwd_remote); W1=$(counter "$G1" from_wg)
R2=$(counter "$G2" fwd_remote); W2=$(counter "$G2" from_wg)
log "$G1 fwd_remote $r1 -> $R1, from_wg $w1 -> $W1; $G2 fwd_remote $r2 -> $R2, from_wg $w2 -> $W2"
[ $((R1 - r1)) -ge 5 ] && [ $((W1 - w1)) -ge 5 ] &&
	[ $((R2 - r2)) -ge 5 ] && [ $((W2 - w2)) -ge 5 ] ||
	fail "BPF counters did not move with 5 pings"
ok "BPF counters in both guests count the 5 pings both ways"

# A TCP transfer.
# The client starts once the server listens (port 5201 = 0x1451 in state
# 0A in c2's /proc/net/tcp6 or tcp: there in a VM's busybox too), polled.
iperf_listening() {
	lab exec c2 -- cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q ':1451 [0-9A-F]*:[0-9A-F]* 0A'
}
lab exec c2 -- iperf3 -s -1 -D >/dev/null || fail "iperf3 server in c2"
wait_for 30 iperf_listening || fail "iperf3 server in c2 does not listen"
out=$(lab exec c1 -- iperf3 -c "$ip2" -t 2 -J) || fail "iperf3 c1 -> c2: $out"
bytes=$(echo "$out" | jq_ "d['end']['sum_received']['bytes']")
mbit=$(echo "$out" | jq_ "round(d['end']['sum_received']['bits_per_second'] / 1e6, 1)")
[ "$bytes" -gt 100000 ] || fail "TCP transfer moved only $bytes bytes"
ok "TCP c1 -> c2: $bytes bytes in 2 s ($mbit Mbit/s)"

# Isolation: c3 is on another network.
reach c3 "$ip1" && fail "c3 (sb) reached c1 (sa)"
reach c1 "$ip3" && fail "c1 (sa) reached c3 (sb)"
ok "c3 on another network cannot reach c1, nor c1 c3"

if declare -F scen_report >/dev/null; then scen_report; fi

# Teardown: removing a container removes its auto-made guest: no process,
# no underlay port left; then the whole lab.
lab rm c3 >/dev/null || fail "rm c3"
no_port() { ! lab underlay -- ip link show "ul${GNUM[$G3]}" >/dev/null 2>&1; }
wait_for 20 dead "${GPID[$G3]}" || fail "guest process ${GPID[$G3]} of $G3 still there"
wait_for 20 no_port || fail "underlay port ul${GNUM[$G3]} of $G3 still there"
ok "rm c3: its guest and underlay port are gone"
lab down >/dev/null || fail "wgnet-lab down"
for g in "$G1" "$G2"; do
	pid_alive "${GPID[$g]}" && fail "guest process ${GPID[$g]} of $g still there"
done
ip netns list | grep -q "^$LP-" && fail "namespaces left: $(ip netns list | grep "^$LP-")"
ok "lab down: no guest process, no namespace left"
