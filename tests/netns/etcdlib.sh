# Multi-host lab tests (sourced after lib.sh and lablib.sh): etcd installed
# if missing (skip only when it cannot be), a two-machine lab whose etcd
# members the lab starts on random loopback ports and kills by PID on exit.
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server etcd-client; } >/dev/null 2>&1
	command -v etcd >/dev/null && command -v etcdctl >/dev/null || skip "etcd cannot be installed"
fi
export WGNET_LAB_LEASE_TTL=${WGNET_LAB_LEASE_TTL:-3}
# One retry: etcd's random loopback ports can be taken between the pick
# and the bind; the first failure's output is kept in the log.
lab_up2() {
	lab up --hosts 2 >"$TMP/up.log" 2>&1 && return 0
	echo "first wgnet-lab up --hosts 2 failed:"; cat "$TMP/up.log"
	lab down >/dev/null 2>&1
	lab up --hosts 2 >/dev/null || fail "wgnet-lab up --hosts 2"
}
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
