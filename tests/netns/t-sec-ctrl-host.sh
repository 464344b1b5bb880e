#!/usr/bin/env bash
# Issue 14 items 8 and 6 (host side, one machine): wgnet-host pushes its
# part of every guest's control-plane set (ctrl_prefixes): this machine's
# addresses, every guest's underlay network and --ctrl-prefix. wgnet-host
# runs here in the lab's underlay namespace, the namespace a real host
# shares with its VMs' underlay, so its addresses are ones the containers
# could otherwise reach (through the guest's masquerade).
#  - the set: the host's address 10.200.0.1 (on lo), the guests' underlay
#    network 10.77.0.0/16 (one entry for every guest on it, covering the
#    host's underlay address), the --ctrl-prefix 10.201.0.0/24; a guest
#    added or removed on that network changes no set and sends no
#    SetIsolation (no new isolation set version)
#  - packets: from a container, TCP and ping to the host's address, to
#    another guest's underlay address and into the --ctrl-prefix fail and
#    the ctrl drop counter moves; controls: the guest's own namespace
#    reaches those listeners, the container reaches a container on the
#    other guest (WireGuard) and the internet behind the --ctrl-prefix
#  - a bad --ctrl-prefix: a clear error, exit 1
#  - a guest whose control-plane map is full refuses SetIsolation: the op
#    that asked fails with its error, wgnet status shows it DEGRADED and
#    exits 1, and recovers once the set fits again
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/seclib.sh"

REAL=$WGNET_BIN
rc=0; "$REAL/wgnet-host" --socket "$TMP/bad.sock" --ctrl-prefix 10.201.0.1/24 >/dev/null 2>"$TMP/bad.err" || rc=$?
[ $rc = 1 ] || fail "a bad --ctrl-prefix: exit $rc"
grep -q "invalid --ctrl-prefix 10.201.0.1/24" "$TMP/bad.err" || fail "unclear error: $(cat "$TMP/bad.err")"
[ ! -e "$TMP/bad.sock" ] || fail "wgnet-host listened with a bad --ctrl-prefix"
rc=0; "$REAL/wgnet-host" --socket "$TMP/bad.sock" --ctrl-prefix nope >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "--ctrl-prefix nope: exit $rc"
ok "a bad --ctrl-prefix: '$(cut -c1-60 "$TMP/bad.err")…', exit 1"

# wgnet-host in the lab's underlay namespace (the same binaries otherwise).
mkdir "$TMP/hostbin"
for b in wgnet wgnet-guest wgnet-lab; do ln -s "$REAL/$b" "$TMP/hostbin/$b"; done
cat >"$TMP/hostbin/wgnet-host" <<EOS
#!/bin/sh
exec ip netns exec "$LP-ul" "$REAL/wgnet-host" "\$@"
EOS
chmod +x "$TMP/hostbin/wgnet-host"
export WGNET_BIN=$TMP/hostbin
LABBIN=$WGNET_BIN/wgnet-lab
MSOCK=$TMP/metrics.sock
export WGNET_HOST_ARGS="--ctrl-prefix 10.201.0.0/24 --metrics unix:$MSOCK --metrics-interval 1"
# degraded_metric GUEST VALUE: /metrics says so
degraded_metric() { "$PY" "$(dirname "$0")/scrape.py" "unix:$MSOCK" | grep -qx "wgnet_guest_degraded{guest=\"$1\"} $2"; }
lab_up
hostlog() { grep -E 'isolation|degraded|is down|SetIsolation' "$TMP/lab/host.log" | tail -8; }
# An address of the host's namespace outside the guests' underlay prefix
# (the guests add that prefix themselves), and a network behind the
# --ctrl-prefix in the "internet".
ip -n "$LP-ul" addr add 10.200.0.1/32 dev lo
lab inet -- ip addr add 10.201.0.1/24 dev eth0
ip -n "$LP-ul" route add 10.201.0.0/24 via 198.18.0.2
lab guest add ga >/dev/null || fail "guest add ga"
lab guest add gb >/dev/null || fail "guest add gb"
ulb=$(lab guest ls | awk '$1=="gb"{print $2}')
wgnet network create --subnet 10.181.0.0/24 net1 >/dev/null
lab run --name a1 --network net1 --guest ga >/dev/null
lab run --name b1 --network net1 --guest gb >/dev/null
ipb1=$(cip b1 net1)

# --- the set ---------------------------------------------------------------------
in_set() { ctrl_set "$1" | grep -qx "$2"; }
for p in 10.200.0.1/32 10.77.0.0/16 198.18.0.1/32 10.201.0.0/24; do
	in_set ga "$p" || fail "ga's control-plane set lacks $p: $(ctrl_set ga | tr '\n' ' ')"
done
in_set ga 127.0.0.1/32 && fail "a loopback address in the set"
in_set ga "$ulb/32" && fail "gb's underlay $ulb has its own entry inside 10.77.0.0/16"
in_set ga 10.77.0.1/32 && fail "the host's underlay address has its own entry inside 10.77.0.0/16"
grep -q "isolation set [0-9]*: .* control-plane prefix" "$TMP/lab/host.log" || fail "no isolation set in host.log"
ok "ga's set: the host's addresses (10.200.0.1 on lo, 198.18.0.1), the underlay network 10.77.0.0/16 (gb's $ulb, the gateway), --ctrl-prefix 10.201.0.0/24"
# The host's own log of every new version of the set.
versions() { grep -c "isolation set [0-9]*:" "$TMP/lab/host.log"; }
v0=$(versions) s0=$(ctrl_set ga)
lab guest add gc >/dev/null || fail "guest add gc"
ulc=$(lab guest ls | awk '$1=="gc"{print $2}')
case $ulc in 10.77.*) ;; *) fail "gc's underlay $ulc is not on 10.77.0.0/16" ;; esac
in_set gc 10.200.0.1/32 || fail "gc did not get the set: $(ctrl_set gc | tr '\n' ' ')"
[ "$(versions)" = "$v0" ] || fail "gc's add made a new isolation set version: $(hostlog)"
[ "$(ctrl_set ga)" = "$s0" ] || fail "ga's set changed with gc's add: $(ctrl_set ga | tr '\n' ' ')"
lab guest rm gc >/dev/null || fail "guest rm gc"
[ "$(versions)" = "$v0" ] || fail "gc's removal made a new isolation set version: $(hostlog)"
[ "$(ctrl_set ga)" = "$s0" ] || fail "ga's set changed with gc's removal"
ok "a guest added on the same underlay ($ulc) and removed: no new set version ($v0 so far), ga's set unchanged"

# --- packets --------------------------------------------------------------------------
tcp_guest() { lab guest exec "$1" -- timeout 3 "$PY" -c '
import socket,sys
s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)' "$2" "$3" 2>/dev/null; }
rx u "$TMP/host.tcp" tcp-listen 0.0.0.0 7400
rx g:gb "$TMP/gb.tcp" tcp-listen 0.0.0.0 7401
rx i "$TMP/inet.tcp" tcp-listen 0.0.0.0 7402
wait_for 10 tcp_guest ga 10.200.0.1 7400 || fail "control: ga's namespace cannot reach the host at 10.200.0.1"
wait_for 10 tcp_guest ga "$ulb" 7401 || fail "control: ga's namespace cannot reach gb's underlay $ulb"
wait_for 10 tcp_guest ga 10.201.0.1 7402 || fail "control: ga's namespace cannot reach 10.201.0.1"
wait_for 10 tcp_to a1 198.18.0.2 7402 || fail "control: a1 cannot open TCP to the internet"
reach a1 "$ipb1" || fail "control: a1 cannot reach b1 ($ipb1) on gb through WireGuard"
h0=$(seen "$TMP/host.tcp" accepted) g0=$(seen "$TMP/gb.tcp" accepted) i0=$(seen "$TMP/inet.tcp" accepted)
ok "controls: the listeners answer ga's namespace ($h0/$g0), a1 reaches b1 on gb and the internet ($i0)"
c0=$(drop ctrl ga)
tcp_to a1 10.200.0.1 7400 && fail "a1 opened TCP to the host at 10.200.0.1"
tcp_to a1 "$ulb" 7401 && fail "a1 opened TCP to gb's underlay $ulb"
tcp_to a1 10.201.0.1 7402 && fail "a1 opened TCP into --ctrl-prefix 10.201.0.0/24"
reach_now a1 10.200.0.1 && fail "a1 pinged the host at 10.200.0.1"
reach_now a1 "$ulb" && fail "a1 pinged gb's underlay"
reach_now a1 10.201.0.1 && fail "a1 pinged into --ctrl-prefix"
[ "$(seen "$TMP/host.tcp" accepted)" = "$h0" ] || fail "the host's listener accepted a container"
[ "$(seen "$TMP/gb.tcp" accepted)" = "$g0" ] || fail "gb's underlay listener accepted a container"
[ "$(seen "$TMP/inet.tcp" accepted)" = "$i0" ] || fail "the listener behind --ctrl-prefix accepted a container"
expect_drop ctrl ga "$c0" 6
ok "from a1: TCP and ping to the host, to gb's underlay, into --ctrl-prefix fail (ctrl +$(($(drop ctrl ga) - c0)))"

# --- a guest that refuses the set (item 6) ---------------------------------------
# gx's control-plane map holds exactly the set it gets now (ga's: gx's
# underlay network is in it already): one more address of the host's and
# it cannot take it (gy's add makes the host read its addresses again).
n=$(ctrl_set ga | wc -l)
WGNET_GUEST_ARGS="--map-ctrl $n" lab guest add gx >/dev/null || fail "guest add gx (--map-ctrl $n)"
wgnet status >/dev/null 2>&1 || fail "wgnet status fails before gx's map is full: $(wgnet status 2>&1 | grep -i error)"
ip -n "$LP-ul" addr add 10.200.0.2/32 dev lo
lab guest add gy >/dev/null || fail "guest add gy"
# gy's add waits for gy only: gx answers on its own time.
degraded() {
	local rc=0
	wgnet status >"$TMP/st.out" 2>"$TMP/st.err" || rc=$?
	[ $rc = 1 ] && grep -q "DEGRADED" "$TMP/st.out"
}
wait_for 10 degraded || fail "wgnet status: no degraded guest, exit 1: $(cat "$TMP/st.err")"
grep -q "Error: guest gx is degraded: SetIsolation: .*control-plane" "$TMP/st.err" || fail "status error: $(cat "$TMP/st.err")"
grep -q "DEGRADED: SetIsolation" "$TMP/st.out" || fail "status output: $(grep -A8 '^guest: gx' "$TMP/st.out")"
wait_for 10 degraded_metric gx 1 || fail "/metrics: $("$PY" "$(dirname "$0")/scrape.py" "unix:$MSOCK" | grep degraded)"
degraded_metric ga 0 || fail "/metrics: ga degraded"
ok "gx refuses its set: wgnet_guest_degraded{guest=\"gx\"} 1, wgnet status exit 1, '$(head -1 "$TMP/st.err" | cut -c1-100)…'"
rc=0; wgnet network create --subnet 10.182.0.0/24 net2 >/dev/null 2>"$TMP/nc.err" || rc=$?
[ $rc != 0 ] || fail "network create succeeded although gx refused the isolation set"
grep -q "guest gx refused the isolation set" "$TMP/nc.err" || fail "network create error: $(cat "$TMP/nc.err")"
ok "network create fails with gx's error (exit $rc): '$(cut -c1-100 "$TMP/nc.err")…'"
ip -n "$LP-ul" addr del 10.200.0.2/32 dev lo
lab guest rm gy >/dev/null || fail "guest rm gy"
wgnet network rm net2 >/dev/null || fail "network rm net2 once gx's set fits"
wait_for 15 wgnet status || fail "wgnet status still fails once gx's set fits: $(wgnet status 2>&1 | grep -i error)"
wait_for 10 degraded_metric gx 0 || fail "/metrics: gx still degraded"
ok "once the set fits again, gx takes it: wgnet status exits 0, wgnet_guest_degraded 0"
