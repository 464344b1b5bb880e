#!/usr/bin/env bash
# Issue 14 item 4, two machines: a container on machine A reaches containers
# on machine B through WireGuard (control) but not machine B's underlay: a
# TCP listener in B's guest root namespace (on its underlay address) and one
# in B's underlay namespace (its gateway 10.78.0.1) count nothing, and A's
# guest counts ctrl drops. A's guest's set holds B's underlay (the lab gives
# each wgnet-host --ctrl-prefix of the other machine) and B's guest's /32
# (every guest of the shared store).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/etcdlib.sh"
source "$(dirname "$0")/seclib.sh"
lab_up2
wgnet network create --subnet 10.133.0.0/24 n1 >/dev/null || fail "create n1 on A"
lab run --name a1 --network n1 >/dev/null || fail "run a1 on A"
lab run --host B --name b1 --network n1 >/dev/null || fail "run b1 on B"
ipb=$(cip b1 n1)
wait_for 10 reach a1 "$ipb" || fail "control: a1 (host A) cannot reach b1 (host B)"
ok "control: a1 on A reaches b1 on B through WireGuard"

ulb=$(cat "$TMP/lab/guests/vm-b1/ip")
[ -n "$ulb" ] || fail "no underlay address of vm-b1"
in_set() { ctrl_set "$1" | grep -qx "$2"; }
wait_for 10 in_set vm-a1 10.78.0.0/16 || fail "vm-a1's set lacks machine B's underlay: $(ctrl_set vm-a1)"
in_set vm-a1 "$ulb/32" || fail "vm-a1's set lacks vm-b1's underlay address $ulb: $(ctrl_set vm-a1)"
in_set vm-b1 10.77.0.0/16 || fail "vm-b1's set lacks machine A's underlay: $(ctrl_set vm-b1)"
ok "sets: vm-a1 holds 10.78.0.0/16 and $ulb/32, vm-b1 holds 10.77.0.0/16"

rx g:vm-b1 "$TMP/gb.tcp" tcp-listen 0.0.0.0 7300
rx "n:$LP-ulb" "$TMP/ulb.tcp" tcp-listen 0.0.0.0 7300
lab guest exec vm-a1 -- "$PY" -c "import socket; socket.create_connection(('$ulb', 7300), 2)"
wait_for 10 test "$(seen "$TMP/gb.tcp" accepted)" = 1 || fail "control: vm-a1 itself cannot reach vm-b1's listener"
c0=$(drop ctrl vm-a1)
tcp_to a1 "$ulb" 7300 && fail "a1 (machine A) opened TCP to vm-b1's underlay $ulb"
tcp_to a1 10.78.0.1 7300 && fail "a1 (machine A) opened TCP to machine B's underlay gateway"
[ "$(seen "$TMP/gb.tcp" accepted)" = 1 ] || fail "vm-b1's listener accepted a connection from a1"
[ "$(seen "$TMP/ulb.tcp" accepted)" = 0 ] || fail "B's underlay listener accepted a connection from a1"
expect_drop ctrl vm-a1 "$c0" 2
wait_for 10 reach a1 "$ipb" || fail "a1 lost b1"
ok "a1 cannot reach machine B's underlay (guest $ulb, gateway 10.78.0.1): ctrl +$(( $(drop ctrl vm-a1) - c0 )); the guest itself can"
