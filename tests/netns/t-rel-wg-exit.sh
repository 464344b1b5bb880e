#!/usr/bin/env bash
# The data path outlives its wireguard-go: when the userspace WireGuard of a
# guest's network exits (killed here with SIGKILL, as a crash or the OOM
# killer would), its TUN interface goes with it. The agent notices within a
# second and rebuilds the interface as it was (name, port, key, peers), so
# traffic comes back on its own, without the host. Checked three ways:
# while the agent runs; after a key rotation, when the interface has its
# second name and port; and with the agent stopped at the time (its restart
# rebuilds it). A host restart after all that finds every guest in sync and
# the path working.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
wgnet network create net1 >/dev/null
lab run --name a1 --network net1 >/dev/null
lab run --name b1 --network net1 >/dev/null
ipb1=$(cip b1 net1)
wait_for 10 reach a1 "$ipb1" || fail "a1 cannot reach b1 before the test"

# wgif GUEST: the name of the guest's (only) WireGuard interface
wgif() { lab guest exec "$1" -- ip -o link show type tun | awk -F': ' '{print $2}' | head -1; }
# wgpid IFNAME: the wireguard-go serving it (started by our lab)
wgpid() { pgrep -fx "wireguard-go $1" | head -1; }
# port GUEST: its listen port on net1 as the host has it
port() {
	wgnet status --json | python3 -c '
import json,sys
for g in json.load(sys.stdin)["guests"]:
    if g["name"] == sys.argv[1]: print(g["status"]["networks"][0]["listen_port"])' "$1"
}
rebuilt() { grep -c "$1: rebuilt with 1 peers" "$WGNET_LAB_DIR/guests/vm-a1/guest.log" || true; }

# kill_wg WHAT: kill vm-a1's wireguard-go; the same interface (name, port
# as the host has it) carries a1 -> b1 again within 10 s.
kill_wg() {
	local ifn pid n0 t0
	ifn=$(wgif vm-a1)
	[ -n "$ifn" ] || fail "$1: no WireGuard interface on vm-a1"
	pid=$(wgpid "$ifn")
	[ -n "$pid" ] || fail "$1: no wireguard-go for $ifn"
	n0=$(rebuilt "$ifn")
	t0=$SECONDS
	kill -KILL "$pid"
	wait_for 10 dead "$pid" || fail "$1: wireguard-go $pid survived SIGKILL"
	wait_for 10 reach_now a1 "$ipb1" || fail "$1: a1 cannot reach b1 after wireguard-go of $ifn was killed: $(tail -5 "$WGNET_LAB_DIR/guests/vm-a1/guest.log")"
	[ "$(rebuilt "$ifn")" -gt "$n0" ] || fail "$1: the agent did not log the rebuild of $ifn"
	[ "$(wgif vm-a1)" = "$ifn" ] || fail "$1: $ifn came back as $(wgif vm-a1)"
	[ "$(lab guest exec vm-a1 -- wg show "$ifn" listen-port)" = "$(port vm-a1)" ] ||
		fail "$1: $ifn listens on $(lab guest exec vm-a1 -- wg show "$ifn" listen-port), the host has $(port vm-a1)"
	ok "$1: wireguard-go of $ifn killed; the interface rebuilt as it was and a1 reaches b1 again after $((SECONDS - t0)) s"
}

kill_wg "agent running"

wgnet network rotate-keys net1 >/dev/null || fail "rotate-keys net1"
wait_for 10 reach a1 "$ipb1" || fail "a1 cannot reach b1 after the rotation"
case $(wgif vm-a1) in *r) ;; *) fail "after a rotation the interface is $(wgif vm-a1), not the second name" ;; esac
kill_wg "after a key rotation"

# The agent stopped: nothing rebuilds until it starts again.
ifn=$(wgif vm-a1)
pid=$(wgpid "$ifn")
lab guest stop vm-a1 >/dev/null
kill -KILL "$pid"
wait_for 10 dead "$pid" || fail "wireguard-go $pid survived SIGKILL"
reach_now a1 "$ipb1" && fail "a1 reaches b1 with neither its wireguard-go nor its agent"
lab guest start vm-a1 >/dev/null || fail "vm-a1's agent did not start"
wait_for 10 reach_now a1 "$ipb1" || fail "a1 cannot reach b1 after the agent's restart rebuilt $ifn"
[ "$(wgif vm-a1)" = "$ifn" ] || fail "$ifn came back as $(wgif vm-a1) after the agent's restart"
ok "agent stopped when wireguard-go was killed: its restart rebuilt $ifn"

r0=$(replays vm-a1)
lab host restart >/dev/null || fail "wgnet-host did not restart"
wait_for 20 replayed vm-a1 "$r0" || fail "the restarted host did not reach vm-a1"
wait_for 10 reach a1 "$ipb1" || fail "a1 cannot reach b1 after the host's restart"
ok "host restarted: vm-a1 in sync, a1 reaches b1"
