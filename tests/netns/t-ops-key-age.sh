#!/usr/bin/env bash
# Issue 16, the maximum key age: a network created with
# --opt wgnet.key_max_age=20s has every guest's key rotated on its own, one
# guest at a time, while a ping at 100 packets/s runs between containers on
# two guests: 0 pings lost, the public keys in `network inspect` change
# without anyone asking, a handshake with the old private key is refused
# (the same attempt with the new key completes), and /metrics counts the
# rotations. Then one guest's agent is frozen: the rotation fails, is
# counted and logged, the old keys keep carrying the ping (0 lost), and
# once the agent runs again a retry rotates the keys. Bad durations are
# refused (wgnet-host --key-max-age, the network option).
source "$(dirname "$0")/lib.sh"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
command -v promtool >/dev/null || fail "promtool is missing (Debian package prometheus)"
MSOCK=$TMP/metrics.sock
MAXAGE=30
# Part B freezes vm-a2's agent for up to 3 * MAXAGE: longer than the lab's
# default guest timeout (30 s), after which the host declares the guest
# dead and takes its peer off the others (the ping then stops, by design:
# t-rel-dead-guest). What is tested here is the rotation, so the guests
# must stay merely "down" for the whole freeze.
export WGNET_LAB_GUEST_TIMEOUT=$((6 * MAXAGE))
# The host's default (1h) is overridden by the network's option.
export WGNET_HOST_ARGS="--metrics unix:$MSOCK --metrics-interval 1 --key-max-age 1h"
source "$(dirname "$0")/lablib.sh"
SCRAPE="$(dirname "$0")/scrape.py"
PY=$(command -v /usr/bin/python3 || command -v python3)
scrape() { "$PY" "$SCRAPE" "unix:$MSOCK" "$@"; }
# sample FILE METRIC LABELS: the first sample of METRIC with LABELS in it
sample() { grep -F "$2{" "$1" | grep -F -- "$3" | head -1 | awk '{print $NF}'; }

# Bad durations: a clear message and exit 1, nothing started.
for bad in 5x -1s 1.5h 90 3651d; do
	set +e
	"$WGNET_BIN/wgnet-host" --socket "$TMP/bad.sock" --store "$TMP/bad.db" \
		--key-max-age "$bad" >"$TMP/bad.out" 2>&1
	rc=$?
	set -e
	[ $rc = 1 ] || fail "wgnet-host --key-max-age $bad: exit $rc"
	grep -qF "invalid --key-max-age $bad" "$TMP/bad.out" || fail "--key-max-age $bad: $(cat "$TMP/bad.out")"
done
[ ! -e "$TMP/bad.db" ] || fail "wgnet-host opened its store despite a bad --key-max-age"
ok "wgnet-host refuses bad --key-max-age values (exit 1, a message)"

lab_up
if wgnet network create --opt wgnet.key_max_age=soon badnet >"$TMP/bad.out" 2>&1; then
	fail "network create with wgnet.key_max_age=soon succeeded"
fi
grep -qF 'invalid wgnet.key_max_age "soon"' "$TMP/bad.out" || fail "bad option: $(cat "$TMP/bad.out")"
wgnet network inspect badnet >/dev/null 2>&1 && fail "badnet was created"
ok "network create refuses wgnet.key_max_age=soon"

wgnet network create --opt wgnet.key_max_age=${MAXAGE}s knet >/dev/null
lab run --name a1 --network knet >/dev/null
lab run --name a2 --network knet >/dev/null
nid=$(wgnet network inspect -f '{{.Id}}' knet)
ip2=$(cip a2 knet)
ip1=$(cip a1 knet)
reach a1 "$ip2" || fail "a1 cannot ping a2"

# guests: "guest key age" per line, from network inspect's Guests
guests() {
	wgnet network inspect knet | python3 -c '
import json,sys
n = json.load(sys.stdin)[0]
assert n["KeyMaxAgeSeconds"] == int(sys.argv[1]), n["KeyMaxAgeSeconds"]
assert n["Options"]["wgnet.key_max_age"] == sys.argv[1] + "s"
for g, v in sorted(n["Guests"].items()): print(g, v["PublicKey"], v["KeyAgeSeconds"])' "$MAXAGE"
}
keydir() { echo "$WGNET_LAB_DIR/guests/vm-$1/state/keys"; }
guests >"$TMP/k0" || fail "network inspect: no KeyMaxAgeSeconds or key ages: $(wgnet network inspect knet)"
[ "$(wc -l <"$TMP/k0")" = 2 ] || fail "network inspect Guests: $(cat "$TMP/k0")"

# both_rotated FILE: every guest's key differs from the one in FILE, and
# each is at most half the maximum old: the next rotation (due at 90 % of
# the maximum at the earliest) is at least 0.4 x the maximum away. One of
# the two gaps between the guests' rotations is at least half the period,
# so this comes true once per period.
both_rotated() {
	guests >"$TMP/k.now" || return 1
	python3 - "$1" "$TMP/k.now" "$MAXAGE" <<'EOF2'
import sys
o = {l.split()[0]: l.split()[1] for l in open(sys.argv[1])}
n = {l.split()[0]: (l.split()[1], l.split()[2]) for l in open(sys.argv[2])}
assert set(o) == set(n) == {"vm-a1", "vm-a2"}
assert all(o[g] != n[g][0] for g in o)
assert all(n[g][1] != "None" and int(n[g][1]) <= int(sys.argv[3]) // 2 for g in n)
EOF2
}

# The old key will be refused: a WireGuard interface in the underlay
# namespace with a1's old private key tries to reach a2's (new) interface;
# no handshake. The same with a1's new key completes. Set up now, so that
# the check fits between two rotations. wireguard-go's UAPI socket is
# machine-wide: a unique name.
wif=w${LP}ka
ul2=$(lab guest ls | awk '$1=="vm-a2"{print $2}')
at_exit "lab underlay -- ip link del $wif; rm -f /var/run/wireguard/$wif.sock"
lab underlay -- wireguard-go "$wif" >/dev/null 2>&1 || fail "wireguard-go in the underlay namespace"
lab underlay -- ip addr add "$ip1/32" dev "$wif"
lab underlay -- ip link set "$wif" up
lab underlay -- ip route add "$ip2/32" dev "$wif"

# A. Under a ping at 100/s, every key rotates on its own.
cp "$(keydir a1)/$nid.key" "$TMP/a1.old.key"
lab exec a1 -- ping -D -i 0.01 -n -c $((5000 + PING_TAIL)) "$ip2" >"$TMP/ping.a.txt" 2>&1 &
png=$!
PIDS+=($png)
t0=$SECONDS
wait_for $((3 * MAXAGE)) both_rotated "$TMP/k0" || fail "the keys did not all rotate on their own in $((3 * MAXAGE)) s: before $(cat "$TMP/k0"); now $(cat "$TMP/k.now")"
log "every key rotated on its own after $((SECONDS - t0)) s of pinging: $(tr '\n' ' ' <"$TMP/k.now")"
pid_alive "$png" || fail "the ping ended before every key had rotated"
wait "$png" || true # its exit says whether the tail was answered too
# lost FILE N: the failure message of a ping that lost some of its first N
lost() {
	echo "ping lost $(ping_lost "$1" "$2") of $2: $(grep transmitted "$1"); $(ping_gaps "$1" "$2")"
	echo "host log:"
	grep -E "rotat|down|up again|dead|unreachable" "$WGNET_LAB_DIR/host.log" | tail -20
	local g
	for g in vm-a1 vm-a2; do
		echo "$g log:"
		grep -E "rotat|wb|peer|Sync|Update" "$WGNET_LAB_DIR/guests/$g/guest.log" 2>/dev/null | tail -12
	done
}
[ "$(ping_lost "$TMP/ping.a.txt" 5000)" = 0 ] || fail "$(lost "$TMP/ping.a.txt" 5000)"
n=$(grep -cE "network knet: keys rotated \((vm-a1|vm-a2), max_age\)" "$WGNET_LAB_DIR/host.log")
ok "5000 pings at 100/s from a1 to a2 across $n automatic rotations: 0 lost"

# The handshake check runs without the ping: a completed handshake with
# a1's key (the control attempt) takes over a2's session with a1 until a1
# shakes hands again. Between two rotations: polled like the rotations.
wait_for $((2 * MAXAGE)) both_rotated "$TMP/k0" || fail "no quiet moment between rotations: $(cat "$TMP/k.now")"
cp "$TMP/k.now" "$TMP/k1"
port2=$(wgnet status --json | python3 -c '
import json,sys
for g in json.load(sys.stdin)["guests"]:
    if g["name"] == "vm-a2": print(g["status"]["networks"][0]["listen_port"])')
key2=$(awk '$1=="vm-a2"{print $2}' "$TMP/k1")

# try KEYFILE: one handshake attempt; 0 if it completed
try() {
	lab underlay -- wg set "$wif" private-key "$1" peer "$key2" endpoint "$ul2:$port2" allowed-ips "$ip2/32"
	lab underlay -- ping -c 3 -i 0.3 -W 1 "$ip2" >/dev/null 2>&1
	local hs
	hs=$(lab underlay -- wg show "$wif" latest-handshakes | awk '{print $2}')
	lab underlay -- wg set "$wif" peer "$key2" remove
	[ "${hs:-0}" != 0 ]
}
tc=$SECONDS
cp "$(keydir a1)/$nid.key" "$TMP/a1.new.key"
cmp -s "$TMP/a1.old.key" "$TMP/a1.new.key" && fail "a1's key file did not change"
try "$TMP/a1.old.key" && fail "a handshake with a1's old key succeeded"
try "$TMP/a1.new.key" || fail "the control attempt with a1's new key got no handshake (vm-a2 at $ul2:$port2, key $key2; $(lab guest exec vm-a2 -- wg show all 2>&1 | head -30))"
guests >"$TMP/k.after"
diff <(awk '{print $1, $2}' "$TMP/k1") <(awk '{print $1, $2}' "$TMP/k.after") >/dev/null ||
	fail "the keys rotated again during the handshake check (inconclusive): $(cat "$TMP/k.after")"
ok "a handshake with a1's old key is refused; the same with its new key completes (checked in $((SECONDS - tc)) s, between two rotations)"

# /metrics: the rotations counted with their trigger, the ages young.
rotated_metric() {
	scrape >"$TMP/m.txt" || return 1
	local g
	for g in vm-a1 vm-a2; do
		[ "$(sample "$TMP/m.txt" wgnet_key_rotations_total "guest=\"$g\",network=\"knet\",trigger=\"max_age\"")" -ge 1 ] || return 1
		[ "$(sample "$TMP/m.txt" wgnet_key_age_seconds "guest=\"$g\",network=\"knet\"")" -lt "$MAXAGE" ] || return 1
	done
}
wait_for 10 rotated_metric || fail "metrics: $(grep -E '^wgnet_key' "$TMP/m.txt")"
promtool check metrics <"$TMP/m.txt" >"$TMP/promtool.txt" 2>&1 || fail "promtool: $(cat "$TMP/promtool.txt")"
ok "wgnet_key_rotations_total{trigger=max_age} counted both guests; wgnet_key_age_seconds below $MAXAGE s; promtool passes"


# B. A frozen guest agent: the rotation fails (a timeout), is counted and
# retried with backoff; the old keys keep working; after the thaw a retry
# succeeds.
# a1 and a2 shake hands again after the control attempt took a2's session
wait_for 30 reach_now a1 "$ip2" || fail "a1 cannot reach a2 after the handshake check"
fails0=$(sample "$TMP/m.txt" wgnet_key_rotation_failures_total 'network="knet",trigger="max_age"')
fails0=${fails0:-0}
# Freeze when no rotation is in flight or about to start (every key at
# most MAXAGE - 8 s old; one starts a few seconds before MAXAGE): one the
# freeze cut between its commits moved a guest's key in the store while the
# other was frozen (a half-done rotation the replay repairs, not what this
# part tests).
fresh() {
	guests >"$TMP/k.fresh" || return 1
	awk -v max=$((MAXAGE - 8)) '$3 == "None" || $3 > max { bad = 1 } END { exit bad || NR != 2 }' "$TMP/k.fresh"
}
wait_for $((2 * MAXAGE)) fresh || fail "no moment without a rotation due: $(cat "$TMP/k.fresh")"
guests >"$TMP/k2"
apid=$(cat "$WGNET_LAB_DIR/guests/vm-a2/pid")
lab exec a1 -- ping -D -i 0.01 -n -c $((8000 + PING_TAIL)) "$ip2" >"$TMP/ping.b.txt" 2>&1 &
png=$!
PIDS+=($png)
kill -STOP "$apid"
at_exit "kill -CONT $apid"
failed() {
	scrape >"$TMP/m.txt" || return 1
	[ "$(sample "$TMP/m.txt" wgnet_key_rotation_failures_total 'network="knet",trigger="max_age"')" -gt "$fails0" ]
}
wait_for $((3 * MAXAGE)) failed || { kill -CONT "$apid"; fail "no failed rotation counted while vm-a2 was frozen: $(grep -E '^wgnet_key' "$TMP/m.txt")"; }
kill -CONT "$apid"
grep -qE "network knet: automatic rotation of guest vm-a. failed .*retry in [0-9]+s" "$WGNET_LAB_DIR/host.log" ||
	fail "the failed rotation was not logged"
log "$(grep -E 'automatic rotation of guest vm-a. failed' "$WGNET_LAB_DIR/host.log" | tail -1)"
# The keys did not change while the rotation could not finish.
diff <(awk '{print $1, $2}' "$TMP/k2") <(guests | awk '{print $1, $2}') >/dev/null ||
	fail "keys changed while a guest was frozen"
ok "a rotation with vm-a2's agent frozen failed, was logged and counted; the keys stayed"
wait_for $((6 * MAXAGE)) both_rotated "$TMP/k2" || fail "no retry rotated the keys after the thaw: $(cat "$TMP/k.now")"
ok "after the thaw, retries rotated both keys"
wait "$png" || true # its exit says whether the tail was answered too
[ "$(ping_lost "$TMP/ping.b.txt" 8000)" = 0 ] || fail "$(lost "$TMP/ping.b.txt" 8000)"
ok "8000 pings at 100/s across the frozen agent, the failed rotation and the retries: 0 lost"
