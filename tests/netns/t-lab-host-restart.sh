#!/usr/bin/env bash
# Issue 3: wgnet-host kill -9 and restart during a running ping: no address
# changes, the ping loses nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
wgnet network create net1 >/dev/null
lab run --name a --network net1 >/dev/null
lab run --name b --network net1 >/dev/null
before=$(wgnet network inspect net1 | python3 -c 'import json,sys; print(sorted((c["Name"],c["IPv4Address"]) for c in json.load(sys.stdin)[0]["Containers"].values()))')
ipb=$(cip b net1)
lab exec a -- ping -c $((50 + PING_TAIL)) -i 0.1 -W 1 "$ipb" >"$TMP/ping.txt" 2>&1 &
pp=$!
wait_for 15 answered "$TMP/ping.txt" || fail "the ping got no answer before the kill"
hp=$(cat "$WGNET_LAB_DIR/host.pid")
kill -9 "$hp"
wait_for 10 dead "$hp" || fail "wgnet-host survived kill -9"
lab host start >/dev/null || fail "wgnet-host did not restart"
wait $pp || true # its exit says whether the tail was answered too
[ "$(ping_lost "$TMP/ping.txt" 50)" = 0 ] || { tail -3 "$TMP/ping.txt"; fail "ping lost $(ping_lost "$TMP/ping.txt" 50) of 50 across the restart"; }
after=$(wgnet network inspect net1 | python3 -c 'import json,sys; print(sorted((c["Name"],c["IPv4Address"]) for c in json.load(sys.stdin)[0]["Containers"].values()))')
[ "$before" = "$after" ] || fail "addresses changed: $before -> $after"
lab run --name c --network net1 >/dev/null || fail "run after restart"
reach c "$ipb" || fail "new container cannot reach b after the restart"
ok "kill -9 + restart: 50/50 pings, addresses unchanged, new attach works"
