#!/usr/bin/env bash
# Issue 7: wgnet-guest killed with SIGKILL and restarted while containers
# ping each other across guests (a1 -> b1) and inside one guest (a1 -> a2):
# the data path keeps forwarding while the agent is down, the restarted agent
# adopts the interfaces, WireGuard devices and pinned maps without
# recreating them, and the pings (every 50 ms) lose nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
wgnet network create net1 >/dev/null
lab guest add ga >/dev/null
lab guest add gb >/dev/null
lab run --name a1 --network net1 --guest ga >/dev/null
lab run --name a2 --network net1 --guest ga >/dev/null
lab run --name b1 --network net1 --guest gb >/dev/null
ipa1=$(cip a1 net1); ipa2=$(cip a2 net1); ipb1=$(cip b1 net1)
wait_for 10 reach a1 "$ipb1" || fail "a1 cannot reach b1 before the test"
wait_for 10 reach a1 "$ipa2" || fail "a1 cannot reach a2 before the test"

# ifindex of every interface the agents made, the pinned maps' ids and the
# attached programs: the restarted agent must keep the interfaces and maps
# (adoption, not re-creation); programs are swapped in place (same name,
# new id, BPF_TC_F_REPLACE).
snap() {
	local g
	for g in ga gb; do
		echo "== $g"
		lab guest exec "$g" -- ip -o link show | awk '{print $1, $2}' | grep -v '^[0-9]*: lo:'
		bpftool -j map show pinned "/sys/fs/bpf/wgnet/$LP-$g/wgn_dests" | python3 -c 'import json,sys; print("map", json.load(sys.stdin)["id"])'
		lab guest exec "$g" -- bpftool -j net show | python3 -c '
import json,sys
for d in json.load(sys.stdin):
    for t in d.get("tc", []): print("tc", t["devname"], t["kind"], t["name"].split(":")[0])' | sort
	done
}
before=$(snap)
# The host replays an agent it finds restarted (a new boot id in Hello).
ra=$(replays ga) rb=$(replays gb)

pingit() { # NAME FROM ADDR COUNT
	lab exec "$2" -- ping -n -i 0.05 -W 1 -c "$(($4 + PING_TAIL))" "$3" >"$TMP/$1.txt" 2>&1
}
# 200 pings at 50 ms = 10 s, covering both kills and restarts.
pingit x a1 "$ipb1" 200 & px=$!
pingit y a1 "$ipa2" 200 & py=$!
pingit z b1 "$ipa1" 200 & pz=$!
# The kills come once every ping has had a reply (not after a pause).
wait_for 10 answered "$TMP/x.txt" && wait_for 10 answered "$TMP/y.txt" &&
	wait_for 10 answered "$TMP/z.txt" || fail "the pings did not start"
pa=$(cat "$WGNET_LAB_DIR/guests/ga/pid")
lab guest kill ga
dead "$pa" || fail "wgnet-guest of ga survived SIGKILL"
log "ga's agent killed"
sleep 2 # the data path runs without its agent
lab guest start ga >/dev/null || fail "ga's agent did not restart"
log "ga's agent restarted"
sleep 1
lab guest kill gb
sleep 1.5
lab guest start gb >/dev/null || fail "gb's agent did not restart"
log "gb's agent killed and restarted"
wait $px; wait $py; wait $pz # their exits say whether the tails were answered too
for p in x y z; do
	[ "$(ping_lost "$TMP/$p.txt" 200)" = 0 ] || { tail -5 "$TMP/$p.txt"; fail "ping $p lost $(ping_lost "$TMP/$p.txt" 200) of 200"; }
done
ok "3 x 200 pings (cross-guest both ways, in-guest) at 50 ms, 0% loss through two agent SIGKILLs"

# Once the host has replayed both restarted agents (polled in host.log),
# nothing may have been recreated.
wait_for 30 replayed ga "$ra" || fail "wgnet-host did not replay ga after its restart"
wait_for 30 replayed gb "$rb" || fail "wgnet-host did not replay gb after its restart"
after=$(snap)
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); fail "interfaces, maps or programs were recreated"; }
ok "interfaces, tc programs and pinned maps adopted unchanged"
grep -q "adopted [1-9]" "$WGNET_LAB_DIR/guests/ga/guest.log" || fail "ga's log does not show the adoption"
wgnet status --json | python3 -c '
import json,sys
st=json.load(sys.stdin)
for g in st["guests"]:
    if g["name"] not in ("ga","gb"): continue
    assert g["state"]=="up", g
    eps=g["status"]["endpoints"]
    assert all(e["present"] for e in eps), eps
    assert all(n["up"] for n in g["status"]["networks"]), g
' || fail "status after the restarts"
wait_for 10 reach a2 "$ipb1" || fail "a2 cannot reach b1 after the restarts"
lab run --name b2 --network net1 --guest gb >/dev/null || fail "attach after the restarts"
wait_for 10 reach b2 "$ipa1" || fail "new container b2 cannot reach a1"
ok "agents up, endpoints present, a new attach works"
