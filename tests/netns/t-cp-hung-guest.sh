#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Issue 13: a guest agent that accepts and never answers (SIGSTOP) delays
# only its own queue. Guests: wgnet-simguest processes (the real control
# protocol with generations, applied and checked in memory); the hung one
# is a process of its own. While it is stopped, connects of containers on
# the other guests complete (a generous bound only), list/inspect/status
# answer, and its acknowledged generation falls behind the network's; after
# SIGCONT it converges. Also: 20 parallel connects to one network all
# succeed with distinct addresses.
. "$(dirname "$0")/lib.sh"

[ -x "$WGNET_BIN/wgnet-simguest" ] || skip "needs wgnet-simguest"
W="$WGNET_BIN/wgnet"
SOCK="$TMP/host.sock"
export WGNET_HOST_SOCK="$SOCK"
BOUND=20 # seconds: generous, not a speed goal (those are in bench/)

"$WGNET_BIN/wgnet-host" --socket "$SOCK" --store "sqlite:$TMP/state.db" \
	--guest-timeout 300 -v --log-file "$TMP/host.log" &
PIDS+=("$!")
wait_for 10 "$W" network ls || fail "wgnet-host did not start"
at_exit "tail -20 '$TMP/host.log'"

mkdir -p "$TMP/ok" "$TMP/hung"
"$WGNET_BIN/wgnet-simguest" --count 4 --dir "$TMP/ok" --prefix "ok$T-" >"$TMP/sim-ok.log" 2>&1 &
PIDS+=("$!")
"$WGNET_BIN/wgnet-simguest" --count 1 --dir "$TMP/hung" --prefix "hung$T-" >"$TMP/sim-hung.log" 2>&1 &
HUNG_PID=$!
PIDS+=("$HUNG_PID")
# A stopped process is not killed by SIGTERM: continue it first.
at_exit "kill -CONT $HUNG_PID"
wait_for 10 test -S "$TMP/ok/ok$T-3.sock" || fail "simguest did not start"
wait_for 10 test -S "$TMP/hung/hung$T-0.sock" || fail "simguest (hung) did not start"

HG="hung$T-0"
for i in 0 1 2 3; do
	"$W" guest add "ok$T-$i" --control "unix:$TMP/ok/ok$T-$i.sock" >/dev/null
done
"$W" guest add "$HG" --control "unix:$TMP/hung/$HG.sock" >/dev/null
NET=cp$T
"$W" network create --subnet 10.250.0.0/16 "$NET" >/dev/null
"$W" container add "h$T" --guest "$HG" --netns "/run/netns/h$T" >/dev/null
"$W" container add "c$T-0" --guest "ok$T-0" --netns "/run/netns/c$T-0" >/dev/null
"$W" network connect "$NET" "h$T"
"$W" network connect --wait "$NET" "c$T-0"

# inspect → "GEN HUNG_ACKED"
gens() {
	"$W" network inspect "$NET" | python3 -c '
import json, sys
n = json.load(sys.stdin)[0]
print(n["Generation"], n["Guests"][sys.argv[1]]["Generation"])' "$HG"
}
read -r gen0 acked0 <<<"$(gens)"
[ "$gen0" = "$acked0" ] || fail "not converged before the stop: gen $gen0, hung guest acked $acked0"
ok "converged at generation $gen0 before the stop"

kill -STOP "$HUNG_PID"
for k in 1 2 3 4 5 6; do
	c="c$T-$k"
	"$W" container add "$c" --guest "ok$T-$((k % 4))" --netns "/run/netns/$c" >/dev/null
	s=$(date +%s%N)
	timeout "$BOUND" "$W" network connect "$NET" "$c" >/dev/null ||
		fail "connect of $c on a healthy guest did not complete within ${BOUND}s while $HG is stopped"
	log "connect $c: $(( ($(date +%s%N) - s) / 1000000 )) ms"
done
ok "6 connects on other guests completed while $HG is stopped"
timeout "$BOUND" "$W" network ls >/dev/null || fail "network ls waited behind the hung guest"
timeout "$BOUND" "$W" container ls >/dev/null || fail "container ls waited behind the hung guest"
timeout "$BOUND" "$W" status --json >"$TMP/status.json" || fail "status waited behind the hung guest"
ok "list, inspect and status answer while $HG is stopped"
read -r gen1 acked1 <<<"$(gens)"
[ "$gen1" -gt "$gen0" ] && [ "$acked1" -lt "$gen1" ] ||
	fail "the hung guest is not behind: gen $gen0 -> $gen1, acked $acked0 -> $acked1"
ok "the hung guest's acknowledged generation ($acked1) is behind the network's ($gen1)"
# Its backlog: generations it has not acknowledged grew while stopped.
[ $((gen1 - acked1)) -gt $((gen0 - acked0)) ] || fail "backlog did not grow"
# The others are current (each connect waited for its own guest; the rest
# converge on their own).
converged_others() {
	"$W" network inspect "$NET" | python3 -c '
import json, sys
n = json.load(sys.stdin)[0]
bad = {g: x for g, x in n["Guests"].items() if g != sys.argv[1] and x["Generation"] != n["Generation"]}
sys.exit(1 if bad else 0)' "$HG"
}
wait_for "$BOUND" converged_others || fail "healthy guests did not converge: $("$W" network inspect "$NET")"
ok "the healthy guests converged while $HG is stopped"

kill -CONT "$HUNG_PID"
hung_converged() {
	local g a
	read -r g a <<<"$(gens)"
	[ "$g" = "$a" ]
}
wait_for 60 hung_converged || fail "after SIGCONT $HG did not converge: $(gens)"
ok "after SIGCONT the hung guest converged (generation $(gens | cut -d' ' -f1))"

# 20 parallel connects to one network: all succeed, distinct addresses.
NET2=par$T
"$W" network create --subnet 10.251.0.0/24 "$NET2" >/dev/null
for k in $(seq 1 20); do
	"$W" container add "p$T-$k" --guest "ok$T-$((k % 4))" --netns "/run/netns/p$T-$k" >/dev/null
done
pids=()
for k in $(seq 1 20); do
	timeout 60 "$W" network connect "$NET2" "p$T-$k" >"$TMP/par-$k.out" 2>&1 &
	pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel connect failed: $(cat "$TMP"/par-*.out)"; done
"$W" network inspect "$NET2" | python3 -c '
import json, sys
n = json.load(sys.stdin)[0]
ips = [c["IPv4Address"] for c in n["Containers"].values()]
assert len(ips) == 20 and len(set(ips)) == 20, ips'
ok "20 parallel connects to one network, 20 distinct addresses"
# What the simulated guests received: checked as they applied it.
for ctl in "$TMP/ok/ok$T--control.sock" "$TMP/hung/hung$T--control.sock"; do
	python3 "$(dirname "$0")/fake_guest.py" --call "$ctl" SimStats | python3 -c '
import json, sys
r = json.load(sys.stdin)["result"]
# A record may reach a guest a moment before its address does (the new
# endpoint is committed before its guest has added it): not counted.
k = r["by_kind"]
assert k["dup_addr"] == k["self_peer"] == k["gen"] == k["unknown_net"] == 0, r
assert r["update"] > 0, r  # deltas (UpdateNetwork) were used
print("   ", sys.argv[1].rsplit("/", 2)[1], "sync", r["sync"], "update", r["update"], "estale", r["estale"], "requests", r["requests"])' "$ctl" ||
		fail "simguest counters: $(python3 "$(dirname "$0")/fake_guest.py" --call "$ctl" SimStats)"
done
ok "no address clash, self-peer, generation going back or unknown network in what the guests were sent"
