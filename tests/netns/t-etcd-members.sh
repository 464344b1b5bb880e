#!/usr/bin/env bash
# Issue 9, etcd failures: one member of three stopped -> everything works;
# all stopped -> existing traffic continues and the CLI says, in one line,
# that the store is unreachable; members back -> changes flow again (watch
# re-established, peers pushed across hosts).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
source "$(dirname "$0")/etcdlib.sh"
lab_up2
wgnet network create --subnet 10.135.0.0/24 n1 >/dev/null || fail "create n1"
lab run --name a1 --network n1 >/dev/null || fail "run a1"
lab run --host B --name b1 --network n1 >/dev/null || fail "run b1"
wait_for 30 meshed n1 || fail "n1 not meshed: $(peers vm-a1)"
reach a1 "$(cip b1 n1)" || fail "a1 cannot reach b1"

lab etcd stop 1
lab run --name a2 --network n1 >/dev/null || fail "run a2 with one member down"
lab run --host B --name b2 --network n1 >/dev/null || fail "run b2 with one member down"
wait_for 30 meshed n1 || fail "n1 not meshed with one member down: $(peers vm-a2)"
reach a2 "$(cip b2 n1)" || fail "a2 cannot reach b2 with one member down"
wgb network create --subnet 10.136.0.0/24 n2 >/dev/null || fail "network create with one member down"
ok "one etcd member stopped: everything still works"

ipb1=$(cip b1 n1) ipa2=$(cip a2 n1)
# ended LOG: how many times a host's etcd watch has been cut (host.log of
# A, host-b.log of B); once per outage
ended() { grep -c "watch on .* ended" "$TMP/lab/$1" 2>/dev/null || true; }
cut() { [ "$(ended "$1")" -gt "$2" ]; } # cut LOG N: more than N
wa=$(ended host.log) wb=$(ended host-b.log)
lab etcd stop-all
for h in wgnet wgb; do
	out=$($h network ls 2>&1) && fail "$h network ls succeeded without etcd"
	[ "$(echo "$out" | wc -l)" = 1 ] || fail "not one line: $out"
	echo "$out" | grep -q "^Error: store unreachable: etcd+unix://$TMP/lab/etcd/m1:2379," || fail "unclear error: $out"
done
out=$(lab run --name a3 --network n1 2>&1) && fail "a container attached without etcd"
lab exec a1 -- ping -c 3 -i 0.5 -W 1 "$ipb1" >/dev/null || fail "traffic A->B stopped without etcd"
reach b2 "$ipa2" || fail "traffic B->A stopped without etcd"
# Once both hosts have seen their watch cut (polled, not a pause), the
# data path must still carry traffic: losing the store changes nothing.
wait_for 20 cut host.log "$wa" || fail "host A did not notice its watch ended"
wait_for 20 cut host-b.log "$wb" || fail "host B did not notice its watch ended"
reach a1 "$ipb1" || fail "traffic stopped after the hosts lost etcd"
ok "all members stopped: existing traffic continues; the CLI says: $(wgnet network ls 2>&1)"

lab etcd start-all
wait_for 15 wgnet network ls || fail "host A does not come back to etcd"
wait_for 15 wgb network ls || fail "host B does not come back to etcd"
lab run --host B --name b3 --network n1 >/dev/null || fail "run b3 after etcd returned"
wait_for 10 reach a1 "$(cip b3 n1)" || fail "a1 (A) does not get b3's peer (B) after etcd returned"
lab run --name a4 --network n1 >/dev/null || fail "run a4 after etcd returned"
wait_for 10 reach b1 "$(cip a4 n1)" || fail "b1 (B) does not get a4's peer (A) after etcd returned"
grep -q "full resync" "$TMP/lab/host.log" || fail "host A did not resync after the watch came back"
ok "members restarted: changes flow again between hosts"
