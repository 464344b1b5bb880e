#!/usr/bin/env bash
# Key rotation, the commit window: between the guests' RotateCommit (each
# has dropped its old interface and key) and the store taking the new keys,
# a change to the network must not reach a guest with its peers' old keys.
# wgnet-host pauses 8 s in that window here (WGNET_TEST_ROT_COMMIT_PAUSE_MS,
# a test hook); a container is connected on r1's guest in it, which changes
# r1's guest's peer entry on the others. While the pause lasts, r2 and r3
# still reach r1 and hold only new keys (the change is held); once the
# rotation is done, they reach the new container too. Before the hold, the
# delta carried r1's guest's old key and cut r2 and r3 off from r1 until
# the next refresh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
WGNET_TEST_ROT_COMMIT_PAUSE_MS=8000 lab_up

wgnet network create rnet >/dev/null
for c in r1 r2 r3; do lab run --name $c --network rnet >/dev/null; done
nid=$(wgnet network inspect -f '{{.Id}}' rnet)
ip1=$(cip r1 rnet)
for c in r2 r3; do wait_for 10 reach $c "$ip1" || fail "$c cannot reach r1"; done

# gkey GUEST: the guest's public key on rnet, as the agent has it now
gkey() {
	"$WGNET_BIN/wgnet-guest" call -s "$(lab guest sock "$1")" GetStatus | python3 -c '
import json,sys
print(*[n["public_key"] for n in json.load(sys.stdin)["networks"] if n["id"] == sys.argv[1]])' "$nid"
}
# peer_keys GUEST: the keys of its WireGuard peers on rnet
peer_keys() {
	"$WGNET_BIN/wgnet-guest" call -s "$(lab guest sock "$1")" GetStatus | python3 -c '
import json,sys
for n in json.load(sys.stdin)["networks"]:
    if n["id"] == sys.argv[1]: print("\n".join(sorted(p["public_key"] for p in n["peers"])))' "$nid"
}
declare -A old
for g in vm-r1 vm-r2 vm-r3; do old[$g]=$(gkey $g); [ -n "${old[$g]}" ] || fail "no key on $g"; done

# r4, on r1's guest, is connected in the window (not with the lab's run,
# which would wait for every guest, and so for the end of the hold).
lab run --name r4 --guest vm-r1 >/dev/null || fail "lab run r4"
wgnet network rotate-keys rnet >"$TMP/rot.out" 2>&1 &
rot=$!
PIDS+=($rot)
committed() { for g in vm-r1 vm-r2 vm-r3; do [ "$(gkey $g)" != "${old[$g]}" ] || return 1; done; }
wait_for 20 committed || fail "the guests did not commit the rotation"
pid_alive $rot || fail "rotate-keys ended before the pause: $(cat "$TMP/rot.out")"
t0=$SECONDS
wgnet network connect rnet r4 >/dev/null || fail "connect r4 in the commit window"
for c in r2 r3; do reach_now $c "$ip1" || fail "$c lost r1 while the rotation committed"; done
for g in vm-r2 vm-r3; do
	peer_keys $g | grep -qxF "${old[vm-r1]}" && fail "$g was given r1's guest's old key in the commit window"
	peer_keys $g | grep -qxF "$(gkey vm-r1)" || fail "$g does not hold r1's guest's new key"
done
pid_alive $rot || fail "the pause ended before the checks ($((SECONDS - t0)) s): make it longer"
ok "a connect in the commit window: r2 and r3 reach r1 and hold only the new keys"

wait $rot || fail "rotate-keys failed: $(cat "$TMP/rot.out")"
ip4=$(cip r4 rnet)
for c in r2 r3; do
	# r4's peer reaches them after the release, asynchronously: a ping
	# dropped before then is not retried by ping, so ping again.
	wait_for 20 reach_now $c "$ip4" || fail "$c cannot reach r4 after the rotation"
	reach $c "$ip1" || fail "$c cannot reach r1 after the rotation"
done
wgnet network inspect rnet | python3 -c '
import json,sys
keys={c["Name"]: c["PublicKey"] for c in json.load(sys.stdin)[0]["Containers"].values()}
assert keys["r1"] == keys["r4"] == sys.argv[1], (keys, sys.argv[1])' "$(gkey vm-r1)" ||
	fail "network inspect does not show r1's guest's new key for r1 and r4"
ok "after the rotation r2 and r3 reach r4 (held change delivered, new keys in the store)"
