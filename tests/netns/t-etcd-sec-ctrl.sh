#!/usr/bin/env bash
# Issue 14 item 8, two machines (lab/multihost.sh: A's underlay 10.77/16, B's
# 10.78/16, routed to each other): every wgnet-host puts the underlay
# network of every guest in the store, the other machine's too, in its
# guests' control-plane sets, so a container on B cannot reach a guest of A
# on its underlay address (before, only B's own underlay prefix was in).
#  - the set: A's first guest brings A's underlay network 10.77.0.0/16 into
#    B's guest's set through the etcd watch (one entry, no /32 per guest);
#    a second guest on A changes nothing there
#  - packets: from a container on B, TCP and ping to A's guests' underlay
#    addresses fail and the ctrl counter of B's guest moves; controls: B's
#    guest namespace reaches the same listener, the container on B reaches
#    the container on A through WireGuard
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/etcdlib.sh"
source "$(dirname "$0")/seclib.sh"
lab_up2
wgnet network create --subnet 10.134.0.0/24 n1 >/dev/null || fail "create n1 on A"
lab run --host B --name b1 --network n1 >/dev/null || fail "run b1 on B"
grep -qx B "$TMP/lab/guests/vm-b1/machine" || fail "b1's guest is not on machine B"

# --- the set ---------------------------------------------------------------------
in_set() { ctrl_set "$1" | grep -qx "$2"; }
in_set vm-b1 10.78.0.0/16 || fail "B's guest lacks its own underlay prefix"
in_set vm-b1 10.77.0.0/16 && fail "B's guest holds A's underlay network before A has a guest"
lab run --name a1 --network n1 >/dev/null || fail "run a1 on A"
ula=$(cat "$TMP/lab/guests/vm-a1/ip")
ipa1=$(cip a1 n1)
wait_for 15 in_set vm-b1 10.77.0.0/16 || fail "B's guest lacks A's guest's underlay network 10.77.0.0/16 ($ula): $(ctrl_set vm-b1 | tr '\n' ' ')"
in_set vm-b1 "$ula/32" && fail "B's guest holds A's guest's $ula/32 inside 10.77.0.0/16"
ok "A's first guest ($ula) brings A's underlay network 10.77.0.0/16 into B's guest's set through the etcd watch"
s0=$(ctrl_set vm-b1)
lab guest add ga2 >/dev/null || fail "guest add ga2 on A"
ula2=$(cat "$TMP/lab/guests/ga2/ip")
in_set ga2 10.78.0.0/16 || fail "ga2 lacks B's underlay network: $(ctrl_set ga2 | tr '\n' ' ')"
in_set vm-a1 10.78.0.0/16 || fail "A's own guest lacks B's underlay network"
# The watch is ordered: once B has a new isolation set with n2's subnet
# (created on A after ga2), it has read ga2 too. Its control-plane part is
# as large as before ga2.
blog() { grep -o "isolation set [0-9]*: [0-9]* subnet(s), [0-9]* control-plane" "$TMP/lab/host-b.log" | tail -n 1; }
nctrl0=$(blog | awk '{print $6}')
[ -n "$nctrl0" ] || fail "no isolation set in B's log"
wgnet network create --subnet 10.135.0.0/24 n2 >/dev/null || fail "create n2 on A"
b_has_n2() { blog | grep -q ": 2 subnet(s)"; }
wait_for 15 b_has_n2 || fail "B did not take n2 into its isolation set: $(blog)"
[ "$(blog | awk '{print $6}')" = "$nctrl0" ] || fail "ga2 changed B's control-plane part: $nctrl0 → $(blog)"
[ "$(ctrl_set vm-b1)" = "$s0" ] || fail "B's guest's set changed with ga2 ($ula2): $(ctrl_set vm-b1 | tr '\n' ' ')"
ok "a second guest on A ($ula2) changes nothing in B's guest's set ($nctrl0 host prefixes); both A's guests hold B's 10.78.0.0/16"

# --- packets --------------------------------------------------------------------------
tcp_guest() { lab guest exec "$1" -- timeout 3 "$PY" -c '
import socket,sys
s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)' "$2" "$3" 2>/dev/null; }
rx g:vm-a1 "$TMP/a.tcp" tcp-listen 0.0.0.0 7500
rx g:ga2 "$TMP/a2.tcp" tcp-listen 0.0.0.0 7500
wait_for 10 tcp_guest vm-b1 "$ula" 7500 || fail "control: B's guest cannot reach A's guest at $ula"
wait_for 10 tcp_guest vm-b1 "$ula2" 7500 || fail "control: B's guest cannot reach ga2 at $ula2"
wait_for 30 meshed n1 || fail "n1 not meshed: $(peers vm-b1)"
reach b1 "$ipa1" || fail "control: b1 (B) cannot reach a1 (A) at $ipa1 through WireGuard"
s1=$(seen "$TMP/a.tcp" accepted) s2=$(seen "$TMP/a2.tcp" accepted)
ok "controls: B's guest namespace reaches A's guests' listeners ($s1, $s2), b1 reaches a1 through WireGuard"
c0=$(drop ctrl vm-b1)
tcp_to b1 "$ula" 7500 && fail "b1 (B) opened TCP to A's guest underlay $ula"
tcp_to b1 "$ula2" 7500 && fail "b1 (B) opened TCP to ga2's underlay $ula2"
reach_now b1 "$ula" && fail "b1 pinged A's guest underlay $ula"
reach_now b1 "$ula2" && fail "b1 pinged ga2's underlay $ula2"
[ "$(seen "$TMP/a.tcp" accepted)" = "$s1" ] || fail "A's guest's listener accepted a container of B"
[ "$(seen "$TMP/a2.tcp" accepted)" = "$s2" ] || fail "ga2's listener accepted a container of B"
expect_drop ctrl vm-b1 "$c0" 4
ok "from b1 on B: TCP and ping to A's guests' underlay addresses fail (ctrl +$(($(drop ctrl vm-b1) - c0)))"
