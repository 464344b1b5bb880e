# Helpers of the issue-14 security tests (sourced after lib.sh and
# lablib.sh): hand-built frames from containers (rawpkt.py), receivers that
# count what arrives, and the guests' BPF drop counters.
RAW="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/rawpkt.py"
# The distribution's interpreter: a version-manager shim takes seconds to
# start, longer than the timeouts below.
PY=$(command -v /usr/bin/python3 || command -v python3)
LABBIN="$WGNET_BIN/wgnet-lab"

# drop REASON GUEST: the guest's BPF drop counter (wgnet-guest GetStatus)
drop() { "$WGNET_BIN/wgnet-guest" call -s "$(lab guest sock "$2")" GetStatus | "$PY" -c '
import json,sys; print(json.load(sys.stdin)["drops"].get(sys.argv[1], 0))' "$1"; }
# stat NAME GUEST: a forwarding counter
stat_() { "$WGNET_BIN/wgnet-guest" call -s "$(lab guest sock "$2")" GetStatus | "$PY" -c '
import json,sys; print(json.load(sys.stdin)["stats"].get(sys.argv[1], 0))' "$1"; }
# rx WHERE FILE KIND ARGS...: start a counting receiver (rawpkt.py KIND ARGS
# FILE) in a container (c:NAME), a guest's root namespace (g:NAME), the
# underlay (u), the internet (i) or any namespace (n:NS); returns once it
# listens.
rx() {
	local where=$1 file=$2
	shift 2
	case $where in
	c:*) "$LABBIN" exec "${where#c:}" -- "$PY" "$RAW" "$@" "$file" & ;;
	g:*) "$LABBIN" guest exec "${where#g:}" -- "$PY" "$RAW" "$@" "$file" & ;;
	u) "$LABBIN" underlay -- "$PY" "$RAW" "$@" "$file" & ;;
	i) "$LABBIN" inet -- "$PY" "$RAW" "$@" "$file" & ;;
	n:*) ip netns exec "${where#n:}" "$PY" "$RAW" "$@" "$file" & ;;
	*) fail "rx: where? $where" ;;
	esac
	PIDS+=($!)
	wait_for 10 grep -q ready "$file" || fail "receiver $* ($where) did not start"
}
# seen FILE MARKER: how many packets with MARKER the receiver counted
seen() { awk -v m="$2" '$1==m{print $2; f=1} END{if(!f) print 0}' "$1"; }
# send CONTAINER ARGS...: one hand-built frame (rawpkt.py send eth0 ARGS)
send() { local c=$1; shift; lab exec "$c" -- "$PY" "$RAW" send eth0 "$@"; }
# cip6 NAME NET: the container's IPv6 address on NET
cip6() {
	wgnet network inspect "$2" | "$PY" -c '
import json,sys
for n in json.load(sys.stdin):
    for c in n["Containers"].values():
        if c["Name"] == sys.argv[1]: print(c["IPv6Address"].split("/")[0])' "$1"
}
# gw NET [6]: the network's IPv4 (or IPv6) gateway
gw() {
	wgnet network inspect "$1" | "$PY" -c '
import json,sys
for c in json.load(sys.stdin)[0]["IPAM"]["Config"]:
    if (":" in c["Gateway"]) == (sys.argv[1] == "6"): print(c["Gateway"])' "${2:-4}"
}
# tcp_to CONTAINER ADDR PORT: one TCP connect from the container (2 s)
tcp_to() { lab exec "$1" -- timeout 3 "$PY" -c '
import socket,sys
a=sys.argv[1]; s=socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
s.settimeout(2); s.connect((a, int(sys.argv[2])))' "$2" "$3" 2>/dev/null; }
# expect_drop REASON GUEST BEFORE N: the counter moved by at least N
expect_drop() {
	local now
	now=$(drop "$1" "$2")
	[ "$now" -ge $(($3 + $4)) ] || fail "$2: drop counter $1 went $3 -> $now, expected +$4"
}
# ctrl_set GUEST: the guest's control-plane map (wgn_ctrl), one CIDR a line
ctrl_set() { bpftool -j map dump pinned "/sys/fs/bpf/wgnet/$LP-$1/wgn_ctrl" | "$PY" -c '
import json,sys,ipaddress
for e in json.load(sys.stdin):
    k=e["formatted"]["key"]; a=bytes(k["addr"]); pl=k["prefixlen"]
    if a[:12]==bytes(10)+b"\xff\xff": print("%s/%d" % (ipaddress.ip_address(a[12:]), pl-96))
    else: print("%s/%d" % (ipaddress.ip_address(a), pl))' | sort; }
