#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The mesh logic of wgnet-host against fake guests (tests/netns/fake_guest.py,
# which keep the desired state they are sent and touch no network): peers,
# DNS and ports on attach/detach, rollback of a failed attach, replay after
# a guest or wgnet-host restart (same addresses), dead guests, vanished
# container namespaces.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "needs python3"
FG="$(cd "$(dirname "$0")" && pwd)/fake_guest.py"
W="$WGNET_BIN/wgnet"
SOCK="$TMP/host.sock"
export WGNET_HOST_SOCK="$SOCK"
HPID=

start_host() {
	"$WGNET_BIN/wgnet-host" --socket "$SOCK" --store "sqlite:$TMP/state.db" \
		--guest-timeout 4 -v --log-file "$TMP/host.log" &
	HPID=$!
	PIDS+=("$HPID")
	wait_for 30 "$W" network ls || fail "wgnet-host did not start"
}
stop_host() {
	kill -TERM "$HPID"
	wait "$HPID" || fail "wgnet-host exited $? on SIGTERM"
}
declare -A GPID
start_guest() { # NAME UNDERLAY [GENERATION]
	python3 "$FG" --name "$1" --socket "$TMP/$1.sock" --underlay "$2" \
		--generation "${3:-0}" &
	GPID[$1]=$!
	PIDS+=("$!")
	wait_for 30 python3 "$FG" --call "$TMP/$1.sock" Hello || fail "fake guest $1 did not start"
}
stop_guest() { kill "${GPID[$1]}"; wait "${GPID[$1]}" 2>/dev/null || true; }
# q GUEST PYTHON-EXPR: evaluate against the guest's state (s), print result
q() {
	python3 "$FG" --call "$TMP/$1.sock" _State | python3 -c "
import json, sys
s = json.load(sys.stdin)['result']
print($2)"
}
check_once() { [ "$(q "$1" "$2")" = True ]; }
# The container's own guest is configured when a connect returns; the other
# guests converge asynchronously (docs/control-plane.md): poll for them.
check() { # GUEST EXPR DESC
	wait_for 10 check_once "$1" "$2" || fail "$3: $(q "$1" s)"
	ok "$3"
}
at_exit "tail -30 '$TMP/host.log'"

G1=g1-$$ G2=g2-$$ G3=g3-$$
start_guest "$G1" 10.77.0.11
start_guest "$G2" 10.77.0.12
start_guest "$G3" 10.77.0.13
start_host
for g in $G1 $G2 $G3; do $W guest add "$g" --control "unix:$TMP/$g.sock" >/dev/null; done
[ "$($W guest ls | grep -c ' up ')" -eq 3 ] || fail "guests not up: $($W guest ls)"
check "$G1" "s['hub']" "guest add created the hub"

NET=m$$
NID=$($W network create --subnet 10.240.0.0/24 "$NET")
C1=$($W container add "a$$" --guest "$G1" --netns /run/netns/a -p 8080:80)
C2=$($W container add "b$$" --guest "$G2" --netns /run/netns/b)
C3=$($W container add "c$$" --guest "$G3" --netns /run/netns/c)
$W network connect --alias web "$NET" "a$$"
check "$G1" "list(s['networks']) == ['$NID'] and s['peers']['$NID'] == []" "first endpoint: network, no peers"
check "$G1" "s['ports']['$C1'] == [{'proto':'tcp','host_port':8080,'container_port':80,'container_ip':'10.240.0.2'}]" "ports published with the endpoint address"
$W network connect "$NET" "b$$"
$W network connect --ip 10.240.0.99 "$NET" "c$$"
K1=$(q "$G1" "s['networks']['$NID']['public_key']")
K2=$(q "$G2" "s['networks']['$NID']['public_key']")
K3=$(q "$G3" "s['networks']['$NID']['public_key']")
check "$G1" "sorted((p['public_key'], p['endpoint'], tuple(p['allowed_ips'])) for p in s['peers']['$NID']) == sorted([('$K2', '10.77.0.12:51820', ('10.240.0.3/32',)), ('$K3', '10.77.0.13:51820', ('10.240.0.99/32',))])" "g1 peers: g2 and g3 with their /32s"
check "$G3" "sorted(p['public_key'] for p in s['peers']['$NID']) == sorted(['$K1', '$K2'])" "g3 peers: g1 and g2"
check "$G2" "{(r['name'], r['address']) for r in s['dns']['$C2']} >= {('a$$','10.240.0.2'), ('web','10.240.0.2'), ('c$$','10.240.0.99'), ('b$$','10.240.0.3')}" "DNS records on the network"
$W network inspect "$NET" | grep -q "\"PublicKey\": \"$K3\"" || fail "inspect lacks g3's key"

# A failed AddEndpoint rolls back: address freed, guest network removed.
$W container add "x$$" --guest "$G1" --netns /run/netns/missing >/dev/null
NET2=n$$
NID2=$($W network create --subnet 10.241.0.0/24 "$NET2")
rc=0
$W network connect "$NET2" "x$$" 2>"$TMP/err" || rc=$?
[ $rc -ne 0 ] && grep -q "no such namespace" "$TMP/err" || fail "failed attach: rc=$rc $(cat "$TMP/err")"
check "$G1" "'$NID2' not in s['networks']" "failed attach removed the guest network"
$W network inspect "$NET2" | grep -q '"Containers": {}' || fail "failed attach left an endpoint"
$W container rm "x$$" >/dev/null
$W network rm "$NET2" >/dev/null
ok "failed attach rolled back"

# A guest reporting the all-zero key (no private key) is refused.
G4=g4-$$
start_guest "$G4" 10.77.0.14 zero
$W guest add "$G4" --control "unix:$TMP/$G4.sock" >/dev/null
$W container add "z$$" --guest "$G4" --netns /run/netns/z >/dev/null
rc=0
$W network connect "$NET" "z$$" 2>"$TMP/err" || rc=$?
[ $rc -ne 0 ] && grep -q "no valid public key" "$TMP/err" || fail "zero key accepted: $(cat "$TMP/err")"
check "$G1" "len(s['peers']['$NID']) == 2" "g1 peers unchanged by the refused guest"
$W container rm "z$$" >/dev/null
$W guest rm "$G4" >/dev/null
ok "zero public key refused"

# Detach: g2 leaves, the others drop it as a peer.
$W network disconnect "$NET" "b$$"
check "$G2" "'$NID' not in s['networks'] and s['endpoints'] == []" "g2 lost its last endpoint: network removed"
check "$G1" "[p['public_key'] for p in s['peers']['$NID']] == ['$K3']" "g1 peers: only g3"
check "$G1" "'b$$' not in [r['name'] for r in s['dns']['$C1']]" "b left a's DNS"
check "$G2" "'$C2' not in s['dns']" "b's own DNS forgotten with its last endpoint"
$W network connect "$NET" "b$$"
K2=$(q "$G2" "s['networks']['$NID']['public_key']")

# wgnet-host restart + a guest that lost everything (new keys): replay.
stop_host
stop_guest "$G1"
start_guest "$G1" 10.77.0.11 1
start_host
wait_for 10 bash -c "[ \"\$(python3 '$FG' --call '$TMP/$G1.sock' _State | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"result\"][\"endpoints\"]))')\" = 1 ]" ||
	fail "g1 not replayed"
K1b=$(q "$G1" "s['networks']['$NID']['public_key']")
[ "$K1b" != "$K1" ] || fail "fake guest kept its key"
check "$G1" "s['endpoints'][0]['ip'] == '10.240.0.2'" "replay kept a's address"
wait_for 30 bash -c "python3 '$FG' --call '$TMP/$G2.sock' _State | grep -q '$K1b'" || fail "g2 did not learn g1's new key"
check "$G3" "'$K1b' in [p['public_key'] for p in s['peers']['$NID']] and '$K1' not in [p['public_key'] for p in s['peers']['$NID']]" "g3 has g1's new key only"
check "$G1" "len(s['peers']['$NID']) == 2 and s['ports']['$C1'][0]['container_ip'] == '10.240.0.2'" "g1 got peers and ports back"
$W network inspect "$NET" | grep -q '"IPv4Address": "10.240.0.99/24"' || fail "static address changed over restart"

# A dead guest: its containers go, nobody keeps it as a peer.
stop_guest "$G3"
wait_for 15 bash -c "'$W' guest ls | grep -q '^$G3 .* dead '" || fail "g3 not declared dead: $($W guest ls)"
$W container ls | grep -q "c$$" && fail "dead guest's container kept"
check "$G1" "'$K3' not in [p['public_key'] for p in s['peers']['$NID']]" "dead g3 dropped from g1's peers"
$W status --json | python3 -c "
import json, sys
g = {x['name']: x for x in json.load(sys.stdin)['guests']}
assert g['$G3']['state'] == 'dead' and g['$G3']['status'] is None, g['$G3']
assert g['$G1']['state'] == 'up' and g['$G1']['status']['guest'] == '$G1'"
$W status | grep -q "latest handshake: never" || fail "status text"
ok "status"

# A vanished namespace: the container is removed through ContainerRemove.
python3 "$FG" --call "$TMP/$G2.sock" _Vanish "{\"container_id\": \"$C2\"}" >/dev/null
wait_for 15 bash -c "! '$W' container ls | grep -q 'b$$'" || fail "vanished container kept"
check "$G1" "s['peers']['$NID'] == []" "vanished b dropped from g1's peers"

# Teardown through the API.
$W container rm "a$$" >/dev/null
check "$G1" "s['endpoints'] == [] and '$NID' not in s['networks'] and '$C1' not in s['ports']" "container rm cleaned g1"
check "$G1" "s['ports'] == {} and s['dns'] == {}" "no ports or names left on g1"
$W network rm "$NET" >/dev/null
for g in $G1 $G2 $G3; do $W guest rm "$g" >/dev/null; done
[ "$($W guest ls | wc -l)" -eq 1 ] || fail "guests left"
stop_host
grep -E 'warn|error' "$TMP/host.log" | sed 's/^/    log: /' || true
! grep -E 'warn|error' "$TMP/host.log" | grep -v -E "is down|does not answer|is dead|vanished|attach .* failed|unreachable|no such namespace|RemoveNetwork on guest|replay" ||
	fail "unexpected warnings in the host log"
ok "teardown"
