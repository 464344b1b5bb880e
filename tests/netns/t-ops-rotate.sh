#!/usr/bin/env bash
# Issue 16, key rotation without loss: three guests on a network; a ping at
# 100 packets/s and an iperf3 TCP stream cross the rotation of every
# guest's key (wgnet network rotate-keys), then of one guest's (wgnet guest
# rotate-keys). Zero pings lost (one every 10 ms across the rotation: the
# loss property), the TCP stream carries data after the rotation and ends
# cleanly, its longest gap between two data segments while the keys rotate
# (captured where the stream arrives) is reported beside the 200 ms target
# and must stay under 1 s (a rotation that broke the session would stall
# TCP for a handshake and its retransmission timeouts; a loaded machine
# stalls TCP for 100-300 ms by itself, outside the rotation too), every
# public key in `network inspect` changed, and a
# handshake with an old private key is refused while the same attempt with
# the new key succeeds.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
command -v iperf3 >/dev/null || skip "iperf3 not installed"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
lab_up

wgnet network create rnet >/dev/null
for c in r1 r2 r3; do lab run --name $c --network rnet >/dev/null; done
nid=$(wgnet network inspect -f '{{.Id}}' rnet)
ip2=$(cip r2 rnet)
ip3=$(cip r3 rnet)
ip1=$(cip r1 rnet)
lab exec r1 -- ping -c 1 -W 10 r2 >/dev/null || fail "r1 cannot ping r2"
lab exec r1 -- ping -c 1 -W 10 r3 >/dev/null || fail "r1 cannot ping r3"
lab exec r2 -- ping -c 1 -W 10 r3 >/dev/null || fail "r2 cannot ping r3"

# keys: "container key" per line, from network inspect
keys() {
	wgnet network inspect rnet | python3 -c '
import json,sys
for c in json.load(sys.stdin)[0]["Containers"].values(): print(c["Name"], c["PublicKey"])' | sort
}
keydir() { echo "$WGNET_LAB_DIR/guests/vm-$1/state/keys"; }

# under_traffic NAME CMD...: run CMD while r1 pings r3 at 100/s and r2
# streams TCP to r1 (iperf3 -R: r1 receives and reports per 0.1 s), for
# 25 s: a rotation takes ~1 s idle, several seconds at load 30 (it starts
# a wireguard-go per guest)
under_traffic() {
	local name=$1; shift
	lab exec r1 -- iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
	local srv=$!
	PIDS+=($srv)
	wait_for 30 lab exec r1 -- sh -c "ss -ltn | grep -q :5201" || fail "iperf3 server"
	# Every data segment of the stream where it arrives, for the gaps.
	# (not through the lab function: $! must be tcpdump itself)
	"$WGNET_BIN/wgnet-lab" exec r2 -- tcpdump -i any -nn -s 80 -B 16384 -w "$TMP/$name.pcap" \
		"tcp and src host $ip1 and src port 5201 and greater 200" 2>"$TMP/$name.tcpdump.txt" &
	local cap=$!
	PIDS+=($cap)
	wait_for 30 grep -q "listening on" "$TMP/$name.tcpdump.txt" || fail "$name: tcpdump did not start"
	lab exec r2 -- iperf3 -c "$ip1" -p 5201 -R -b 40M -t 25 -i 0.1 -J >"$TMP/$name.iperf.json" 2>&1 &
	local ipf=$! t00=$(date +%s%N)
	PIDS+=($ipf)
	lab exec r1 -- ping -n -i 0.01 -c $((2500 + PING_TAIL)) "$ip3" >"$TMP/$name.ping.txt" 2>&1 &
	local png=$!
	PIDS+=($png)
	# Start the rotation once both streams are flowing.
	local t0=$SECONDS
	until lab exec r1 -- ss -tn state established "( sport = :5201 )" | grep -q "$ip2"; do
		[ $((SECONDS - t0)) -lt 20 ] || fail "$name: the iperf3 stream did not start"
		sleep 0.1
	done
	local test0=$(date +%s%N) # ~ iperf3's time 0 (its streams are up)
	# Rotate in mid-stream: once r1 has had 4 MB acknowledged.
	until [ "$(lab exec r1 -- ss -tinH state established "( sport = :5201 )" |
		grep -o 'bytes_acked:[0-9]*' | cut -d: -f2 | sort -n | tail -1)" -ge 4000000 ] 2>/dev/null; do
		[ $((SECONDS - t0)) -lt 15 ] || fail "$name: the iperf3 stream carried less than 4 MB in 15 s"
		sleep 0.1
	done
	local s=$(date +%s%N)
	echo "$name: rotation starts at $(( (s - t00) / 1000000 )) ms"
	"$@" >"$TMP/$name.out" 2>&1 || fail "$name: $* failed: $(cat "$TMP/$name.out")"
	local e=$(date +%s%N)
	wait "$png" || true # its exit says whether the tail was answered too
	wait "$ipf" || fail "$name: iperf3 failed: $(tail -5 "$TMP/$name.iperf.json")"
	wait "$srv" 2>/dev/null || true
	# TERM, not INT: bash takes a child's death by SIGINT for its own.
	kill -TERM "$cap" 2>/dev/null
	wait "$cap" 2>/dev/null || true
	grep -q "^0 packets dropped by kernel" "$TMP/$name.tcpdump.txt" ||
		fail "$name: the capture lost packets, no gap can be measured: $(cat "$TMP/$name.tcpdump.txt")"
	tcpdump -r "$TMP/$name.pcap" -tt -nn 2>/dev/null | awk '{ print $1 }' >"$TMP/$name.times"
	[ "$(ping_lost "$TMP/$name.ping.txt" 2500)" = 0 ] ||
		fail "$name: ping lost $(ping_lost "$TMP/$name.ping.txt" 2500) of 2500: $(grep transmitted "$TMP/$name.ping.txt")"
	python3 - "$TMP/$name.iperf.json" "$name" "$(( (e - s) / 1000000 ))" \
		"$(( (s - test0) / 1000000 ))" "$TMP/$name.times" "$s" "$e" <<'EOF' || fail "$name: TCP stream across the rotation"
import json, sys
r = json.load(open(sys.argv[1]))
iv = [i["sum"] for i in r["intervals"]]
# The rotation's window in iperf3's clock, widened by 0.5 s before and 1 s
# after (iperf3's time 0 is within moments of the connection we saw).
w0 = int(sys.argv[4]) / 1000.0 - 0.5
w1 = w0 + 0.5 + int(sys.argv[3]) / 1000.0 + 1.0
base = [i for i in iv if i["bytes"] == 0 and (i["end"] <= w0 or i["start"] >= w1)]
zero = [i for i in iv if i["bytes"] == 0 and i["seconds"] >= 0.05 and i["end"] > w0 and i["start"] < w1]
print("%s: rotation window %.1f-%.1f s of iperf3's clock; empty 0.1 s intervals outside it (the loaded machine, not the rotation): %d" % (sys.argv[2], w0, w1, len(base)))
low = min(i["bits_per_second"] for i in iv[1:-1])
print("%s: rotation took %s ms; %d intervals of 0.1 s, none empty: %s; lowest %.0f Mbit/s, mean %.0f Mbit/s, %d retransmits" % (
    sys.argv[2], sys.argv[3], len(iv), not zero, low / 1e6,
    r["end"]["sum_received"]["bits_per_second"] / 1e6,
    r["end"]["sum_sent"].get("retransmits", -1)))
# A stall of 200 ms or more contains a whole 0.1 s interval: reported.
for i in iv:
    if i["bytes"] == 0: print("  empty interval %.1f-%.1f s" % (i["start"], i["end"]))
if w1 > iv[-1]["end"]: print("the rotation outlasted the stream"); sys.exit(1)
after = sum(i["bytes"] for i in iv if i["start"] >= w1)
print("%s: %d bytes after the rotation's window" % (sys.argv[2], after))
# The stall itself: the longest gap between two data segments that arrived
# from 0.5 s before the rotation started until 1 s after it ended.
t = [float(x) for x in open(sys.argv[5]) if x.strip()]
s0, e0 = int(sys.argv[6]) / 1e9 - 0.5, int(sys.argv[7]) / 1e9 + 1.0
win = [x for x in t if s0 <= x <= e0]
if len(win) < 100: print("%s: only %d segments captured in the window" % (sys.argv[2], len(win))); sys.exit(1)
g, at = max((b - a, a) for a, b in zip(win, win[1:]))
print("%s: %d data segments in the window, longest gap %.0f ms at +%.2f s of the rotation (target < 200 ms; fails at 1 s)" % (
    sys.argv[2], len(win), g * 1000, at - s0 - 0.5))
sys.exit(0 if after > 0 and g < 1.0 else 1)
EOF
}

old=$(keys)
cp "$(keydir r1)/$nid.key" "$TMP/r1.old.key"
under_traffic all wgnet network rotate-keys rnet
new=$(keys)
[ "$(wc -l <"$TMP/all.out")" = 3 ] || fail "rotate-keys printed: $(cat "$TMP/all.out")"
python3 - "$old" "$new" <<'EOF' || fail "keys did not all change: $old / $new"
import sys
o = dict(l.split() for l in sys.argv[1].splitlines())
n = dict(l.split() for l in sys.argv[2].splitlines())
assert set(o) == set(n) == {"r1", "r2", "r3"}, (o, n)
assert all(o[c] != n[c] for c in o), (o, n)
assert len(set(n.values())) == 3
EOF
ok "network rotate-keys: 2500 pings at 100/s, 0 lost; TCP carried on across it; all 3 keys changed in network inspect"

# One guest only.
before=$(keys)
under_traffic one wgnet guest rotate-keys vm-r2
after=$(keys)
[ "$(diff <(echo "$before") <(echo "$after") | grep -c '^>')" = 1 ] || fail "guest rotate-keys changed: $(diff <(echo "$before") <(echo "$after"))"
diff <(echo "$before") <(echo "$after") | grep -q '^> r2 ' || fail "r2's key did not change"
ok "guest rotate-keys vm-r2: 0 pings lost, TCP carried on, only r2's key changed"

# The old key is refused: a WireGuard interface in the underlay namespace
# with r1's old private key tries to reach r2's (new) interface; it never
# completes a handshake. The same with r1's new key does (so the attempt
# itself is sound). wireguard-go's UAPI socket is machine-wide: a unique name.
wif=w${LP}old
port2=$(wgnet status --json | python3 -c '
import json,sys
for g in json.load(sys.stdin)["guests"]:
    if g["name"] == "vm-r2": print(g["status"]["networks"][0]["listen_port"])')
ul2=$(lab guest ls | awk '$1=="vm-r2"{print $2}')
key2=$(keys | awk '$1=="r2"{print $2}')
at_exit "lab underlay -- ip link del $wif; rm -f /var/run/wireguard/$wif.sock"
lab underlay -- wireguard-go "$wif" >/dev/null 2>&1 || fail "wireguard-go in the underlay namespace"
lab underlay -- ip addr add "$ip1/32" dev "$wif"
lab underlay -- ip link set "$wif" up
lab underlay -- ip route add "$ip2/32" dev "$wif"
# try KEYFILE: one handshake attempt; 0 if it completed. One packet starts
# it; its reply (if any) ends the wait early, else 10 s: room for a loaded
# machine, and for a second initiation (resent after 5 s) when refused.
try() {
	lab underlay -- wg set "$wif" private-key "$1" peer "$key2" endpoint "$ul2:$port2" allowed-ips "$ip2/32"
	lab underlay -- ping -c 1 -W 10 "$ip2" >/dev/null 2>&1
	local hs
	hs=$(lab underlay -- wg show "$wif" latest-handshakes | awk '{print $2}')
	lab underlay -- wg set "$wif" peer "$key2" remove
	[ "${hs:-0}" != 0 ]
}
try "$TMP/r1.old.key" && fail "a handshake with r1's old key succeeded"
cp "$(keydir r1)/$nid.key" "$TMP/r1.new.key"
cmp -s "$TMP/r1.old.key" "$TMP/r1.new.key" && fail "r1's key file did not change"
try "$TMP/r1.new.key" || fail "the control attempt with r1's new key got no handshake"
ok "a handshake with r1's old key is refused; the same with its new key completes"
ls "$(keydir r1)" | grep -q next && fail "a .next key file was left: $(ls "$(keydir r1)")"
[ "$(lab guest exec vm-r1 -- ip -o link show type tun | wc -l)" = 1 ] || fail "vm-r1 has $(lab guest exec vm-r1 -- ip -o link show type tun | wc -l) WireGuard interfaces"
ok "one WireGuard interface per guest left, no stray key file"

# The rotation's 1 s persistent keepalive (it makes the next interfaces
# shake hands at once) ends with the rotation: the peer sets the host sends
# after the commit clear it, on every guest (it used to stay where the
# commit's held peers already matched the host's set: a keepalive a
# second per peer pair for good).
keepalives() {
	local g i
	for g in r1 r2 r3; do
		for i in $(lab guest exec "vm-$g" -- ip -o link show type tun | awk -F': ' '{print $2}'); do
			lab guest exec "vm-$g" -- wg show "$i" persistent-keepalive
		done
	done >"$TMP/ka.txt"
	[ "$(wc -l <"$TMP/ka.txt")" = 6 ] && ! grep -qv 'off$' "$TMP/ka.txt"
}
wait_for 10 keepalives || fail "persistent keepalives left after the rotations: $(cat "$TMP/ka.txt")"
ok "no persistent keepalive left on any guest after the rotations"

# A stale rotation request is refused (the agent read it late, e.g. after a
# freeze, when its host had given up and started another rotation): a
# RotatePrepare no newer than the last rotation, and any step of a rotation
# that is not the one in progress, leave the guest as it is.
gsk=$(lab guest sock vm-r1)
rcall() { "$WGNET_BIN/wgnet-guest" call -s "$gsk" -t 20000 "$@" 2>&1; }
out=$(rcall RotatePrepare "{\"network_id\":\"$nid\",\"new_key\":true,\"rotation\":1}") &&
	fail "a RotatePrepare of rotation 1 (older than the last) was taken: $out"
echo "$out" | grep -q "stale" || fail "RotatePrepare of rotation 1: $out"
[ "$(lab guest exec vm-r1 -- ip -o link show type tun | wc -l)" = 1 ] || fail "the stale RotatePrepare made an interface"
rid=$(date +%s%6N)
rcall RotatePrepare "{\"network_id\":\"$nid\",\"new_key\":false,\"rotation\":$rid}" >/dev/null ||
	fail "a RotatePrepare of a new rotation was refused"
for op in RotateSwitch RotateCommit RotateAbort; do
	out=$(rcall $op "{\"network_id\":\"$nid\",\"rotation\":$((rid - 1))}") &&
		fail "$op of another rotation was taken: $out"
	echo "$out" | grep -q "not the one in progress" || fail "$op of another rotation: $out"
done
[ "$(lab guest exec vm-r1 -- ip -o link show type tun | wc -l)" = 2 ] || fail "a stale step touched the rotation in progress"
rcall RotateAbort "{\"network_id\":\"$nid\",\"rotation\":$rid}" >/dev/null || fail "the abort of the rotation in progress was refused"
[ "$(lab guest exec vm-r1 -- ip -o link show type tun | wc -l)" = 1 ] || fail "the abort left the next interface"
# r1 and r2 shake hands again after the handshake check above took r2's
# session with r1's key (as in t-ops-key-age).
wait_for 30 reach_now r1 "$ip2" || fail "r1 cannot reach r2 after the stale requests"
ok "stale rotation requests refused (ESTALE): an older RotatePrepare, steps of another rotation; the one in progress unharmed"
