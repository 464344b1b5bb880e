# Multi-host lab tests (sourced after lib.sh and lablib.sh): etcd installed
# if missing (skip only when it cannot be), a two-machine lab whose etcd
# members listen on unix sockets in the lab's private directory (no port to
# collide with anything else on the machine) and are killed by PID on exit.
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server etcd-client; } >/dev/null 2>&1
	command -v etcd >/dev/null && command -v etcdctl >/dev/null || skip "etcd cannot be installed"
fi
export WGNET_LAB_LEASE_TTL=${WGNET_LAB_LEASE_TTL:-3}
lab_up2() { lab up --hosts 2 >/dev/null || fail "wgnet-lab up --hosts 2"; }
SOCK_B=$TMP/lab/host-b.sock
wgb() { "$WGNET_BIN/wgnet" -H "$SOCK_B" "$@"; }
# peers GUEST: "endpoint allowed_ips" lines of the guest's WireGuard peers
peers() {
	"$WGNET_BIN/wgnet-guest" call -s "$TMP/lab/guests/$1/guest.sock" GetStatus | python3 -c '
import json,sys
d=json.load(sys.stdin)
for n in d.get("networks", []):
    for p in n.get("peers", []):
        print(p["endpoint"], " ".join(p["allowed_ips"]))'
}
# ips NET: "name ip" per container, sorted
ips() {
	wgnet network inspect "$1" | python3 -c '
import json,sys
for c in sorted(json.load(sys.stdin)[0]["Containers"].values(), key=lambda c: c["Name"]):
    print(c["Name"], c["IPv4Address"])'
}
no_peer() { ! peers "$1" | grep -q -- "$2"; }
# has_peer GUEST IP: the guest's WireGuard peers include IP/32
has_peer() { peers "$1" | grep -q -- " ${2%/*}/32"; }
# meshed NET: the guest of every container on NET (either host) lists the
# address of every other container on NET (in another guest) as a peer. The
# other host's changes reach a guest through the etcd watch, asynchronously:
# a first packet sent before then waits for a handshake retry.
meshed() {
	local map g g2 ip p
	map=$(ips "$1" | while read -r c ip; do echo "$(cat "$TMP/lab/containers/$c/guest") ${ip%/*}"; done)
	for g in $(awk '{print $1}' <<<"$map" | sort -u); do
		p=$(peers "$g") || return 1
		while read -r g2 ip; do
			[ "$g2" = "$g" ] || grep -qF " $ip/32" <<<"$p" || return 1
		done <<<"$map"
	done
}
