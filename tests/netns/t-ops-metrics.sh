#!/usr/bin/env bash
# Issue 16, Prometheus metrics: wgnet-host --metrics serves /metrics; the
# output passes `promtool check metrics`; the WireGuard byte counters and
# the BPF forwarding counters of the guests move when traffic flows; the
# control-plane families are there; a frozen guest does not slow a scrape;
# non-loopback addresses are refused.
source "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || fail "promtool is missing (Debian package prometheus, in the Makefile's PKGS)"
MSOCK=$TMP/metrics.sock
export WGNET_HOST_ARGS="--metrics unix:$MSOCK --metrics-interval 1"
source "$(dirname "$0")/lablib.sh"
SCRAPE="$(dirname "$0")/scrape.py"
PY=$(command -v /usr/bin/python3 || command -v python3)
scrape() { "$PY" "$SCRAPE" "unix:$MSOCK" "$@"; }
# within SECS CMD...: poll CMD until it succeeds or SECS seconds have passed
within() {
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}
lab_up

# sample FILE METRIC LABELS: the value of the first sample of METRIC whose
# labels contain the fixed string LABELS
sample() { grep -F "$2{" "$1" | grep -F -- "$3" | head -1 | awk '{print $NF}'; }

wgnet network create mnet >/dev/null
lab run --name m1 --network mnet >/dev/null
lab run --name m2 --network mnet >/dev/null
lab exec m1 -- ping -c 2 -W 10 m2 >/dev/null || fail "m1 cannot ping m2"
key2=$(wgnet network inspect mnet | python3 -c '
import json,sys
for c in json.load(sys.stdin)[0]["Containers"].values():
    if c["Name"] == "m2": print(c["PublicKey"])')
[ -n "$key2" ] || fail "no public key for m2 in network inspect"

# has_peer: m1's guest reports its peer m2 with a handshake
has_peer() {
	scrape >"$TMP/m.txt" || return 1
	local hs
	hs=$(sample "$TMP/m.txt" wireguard_latest_handshake_seconds "public_key=\"$key2\",guest=\"vm-m1\",network=\"mnet\"")
	[ -n "$hs" ] && [ "$hs" != 0 ]
}
within 20 has_peer || fail "no handshake for m2's key in /metrics: $(grep wireguard_latest "$TMP/m.txt")"
promtool check metrics <"$TMP/m.txt" >"$TMP/promtool.txt" 2>&1 || fail "promtool: $(cat "$TMP/promtool.txt")"
ok "/metrics passes promtool check metrics ($(wc -l <"$TMP/m.txt") lines)"

for f in wireguard_sent_bytes_total wireguard_received_bytes_total wgnet_drops_total \
	wgnet_forwarded_total wgnet_guests wgnet_guest_up wgnet_guest_last_answer_age_seconds \
	wgnet_guest_queue_depth wgnet_guest_last_ack_age_seconds \
	wgnet_host_op_duration_seconds wgnet_store_duration_seconds; do
	grep -q "^# TYPE $f " "$TMP/m.txt" || fail "family $f missing"
done
[ "$(sample "$TMP/m.txt" wgnet_guests 'state="up"')" = 2 ] || fail "wgnet_guests{state=up} is not 2"
# Both guests acknowledged the connects: an ack age exists for each.
[ -n "$(sample "$TMP/m.txt" wgnet_guest_last_ack_age_seconds 'guest="vm-m1"')" ] || fail "no ack age for vm-m1"
c=$(sample "$TMP/m.txt" wgnet_host_op_duration_seconds_count 'op="NetworkConnect"')
[ "${c:-0}" -ge 2 ] || fail "connect latency histogram: count ${c:-none}"
ok "families present; 2 guests up; connect latency histogram counted $c connects"

sent0=$(sample "$TMP/m.txt" wireguard_sent_bytes_total "public_key=\"$key2\",guest=\"vm-m1\"")
fwd0=$(sample "$TMP/m.txt" wgnet_forwarded_total 'guest="vm-m1",kind="fwd_remote"')
[ -n "$sent0" ] && [ -n "$fwd0" ] || fail "no sent/forwarded samples: $(grep -E 'sent_bytes|forwarded' "$TMP/m.txt")"
# 200 pings of 1000 bytes: at least 200 KB more sent to m2's guest.
lab exec m1 -- ping -c 200 -i 0.01 -s 1000 -q m2 >/dev/null || fail "ping m1 -> m2"
moved() {
	scrape >"$TMP/m2.txt" || return 1
	local s f
	s=$(sample "$TMP/m2.txt" wireguard_sent_bytes_total "public_key=\"$key2\",guest=\"vm-m1\"")
	f=$(sample "$TMP/m2.txt" wgnet_forwarded_total 'guest="vm-m1",kind="fwd_remote"')
	[ $((s - sent0)) -ge 200000 ] && [ $((f - fwd0)) -ge 200 ]
}
within 15 moved || fail "counters did not move: sent $sent0 -> $(sample "$TMP/m2.txt" wireguard_sent_bytes_total "public_key=\"$key2\",guest=\"vm-m1\""), fwd_remote $fwd0 -> $(sample "$TMP/m2.txt" wgnet_forwarded_total 'guest="vm-m1",kind="fwd_remote"')"
ok "wireguard_sent_bytes_total and wgnet_forwarded_total{kind=fwd_remote} moved with 200 x 1000-byte pings"

# A frozen guest agent: GetStatus to it times out in the collector, a
# scrape still answers at once from the cache.
apid=$(cat "$WGNET_LAB_DIR/guests/vm-m2/pid")
kill -STOP "$apid"
at_exit "kill -CONT $apid"
# the collector has run into it (its GetStatus timed out)
frozen() { scrape >"$TMP/m3.txt" && [ "$(sample "$TMP/m3.txt" wgnet_guest_status_ok 'guest="vm-m2"')" = 0 ]; }
within 20 frozen || fail "the collector did not notice the frozen guest"
WGNET_SCRAPE_TIME=$TMP/ms scrape >"$TMP/m3.txt" || fail "scrape with a frozen guest"
ms=$(cat "$TMP/ms")
kill -CONT "$apid"
# Served from the cache: a scrape that collected itself would wait out the
# frozen guest's GetStatus, its whole 2 s deadline (METRICS_CALL_MS). The
# bound is that deadline, not a speed goal (a request to a process on a
# machine at load 30 can take a few hundred ms by itself).
[ "$ms" -lt 2000 ] || fail "a scrape took $ms ms while a guest was frozen: it waited on the guest"
promtool check metrics <"$TMP/m3.txt" >/dev/null 2>&1 || fail "promtool (frozen guest)"
ok "a scrape took $ms ms while guest vm-m2's agent was frozen"

scrape /nope >/dev/null 2>&1 && fail "/nope answered 200"
# Loopback TCP, in a namespace of this test's own: its loopback and its
# ports are nobody else's, so the port cannot be taken between choice and
# bind (a port picked on the machine's loopback could). Then refusals.
mns=$T-metrics
ip netns add "$mns"
ip -n "$mns" link set lo up
port=9100
ip netns exec "$mns" "$WGNET_BIN/wgnet-host" --socket "$TMP/h2.sock" --store "sqlite:$TMP/h2.db" --docker-socket none \
	--metrics "127.0.0.1:$port" >"$TMP/h2.log" 2>&1 &
h2=$!
PIDS+=($h2)
within 10 ip netns exec "$mns" "$PY" "$SCRAPE" "127.0.0.1:$port" || fail "no metrics on 127.0.0.1:$port: $(cat "$TMP/h2.log")"
ip netns exec "$mns" "$PY" "$SCRAPE" "127.0.0.1:$port" | promtool check metrics >/dev/null 2>&1 || fail "promtool on an empty host"
kill "$h2"
wait "$h2" || fail "wgnet-host with metrics did not exit cleanly on SIGTERM"
for bad in 10.77.0.1:9100 0.0.0.0:9100 '[::]:9100' nonsense unix:relative 127.0.0.1:0; do
	"$WGNET_BIN/wgnet-host" --socket "$TMP/h3.sock" --store "sqlite:$TMP/h3.db" --docker-socket none \
		--metrics "$bad" >"$TMP/h3.log" 2>&1 && fail "--metrics $bad accepted"
	grep -qF "cannot serve metrics on $bad" "$TMP/h3.log" || fail "--metrics $bad: $(cat "$TMP/h3.log")"
done
ok "loopback TCP works; 404 for other paths; non-loopback, wildcard and malformed addresses refused"
