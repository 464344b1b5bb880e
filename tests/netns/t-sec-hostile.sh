#!/usr/bin/env bash
# Issue 7: hostile input on every interface, table-driven. The CLI (bad and
# missing flag values, bad CIDRs, overlapping subnets, names with path or
# shell characters, addresses outside subnets), the host API socket and the
# guest control socket (raw frames and bad args for every op:
# tests/netns/hostile.py), DNS at 127.0.0.11 from inside a container, the
# Docker API socket when wgnet-host serves one, and concurrent contradictory
# requests. Each gets a clear error; no daemon crashes (same pids); nothing
# already configured changes (snapshot of networks, endpoints and peer sets
# before and after).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
H="$(cd "$(dirname "$0")" && pwd)/hostile.py"
MC="$(dirname "$0")/meshcheck.py"
lab_up
wgnet network create --subnet 10.150.1.0/24 net1 >/dev/null
lab guest add g1 >/dev/null
lab guest add g2 >/dev/null
lab run --name c1 --network net1 --guest g1 >/dev/null
lab run --name c2 --network net1 --guest g2 >/dev/null
ip netns add "$LP-c-c3"
ip netns add "$LP-c-c4"
at_exit "ip netns del $LP-c-c3; ip netns del $LP-c-c4"
wgnet container add c3 --guest g1 --netns "/run/netns/$LP-c-c3" >/dev/null
wgnet container add c4 --guest g2 --netns "/run/netns/$LP-c-c4" >/dev/null
ip1=$(cip c1 net1); ip2=$(cip c2 net1)
wait_for 10 reach c1 "$ip2" || fail "c1 cannot reach c2"
pids() { cat "$WGNET_LAB_DIR/host.pid" "$WGNET_LAB_DIR/guests/g1/pid" "$WGNET_LAB_DIR/guests/g2/pid" | tr '\n' ' '; }
alive() { for p in $(pids); do pid_alive "$p" || fail "daemon $p died"; done; }
pids0=$(pids)
snap0=$(python3 "$MC" snapshot)

# --- the CLI ---------------------------------------------------------------
long=$(printf 'n%.0s' $(seq 200))
nbad=0
while IFS= read -r line; do
	[ -z "$line" ] && continue
	eval "set -- $line"
	set +e
	"$WGNET_BIN/wgnet" "$@" >"$TMP/cli.out" 2>"$TMP/cli.err"
	rc=$?
	set -e
	first=$(head -1 "$TMP/cli.err")
	if [ $rc = 0 ] || [ $rc -gt 2 ] || ! grep -q "^Error: \|^usage: \|^Usage: " "$TMP/cli.err" ||
		[ "$(grep -c '^Error: ' "$TMP/cli.err")" -gt 1 ] ||
		{ [ "$(wc -l <"$TMP/cli.err")" -gt 3 ] && ! grep -q '^Usage: wgnet' "$TMP/cli.err"; }; then
		echo "FAIL wgnet $line -> rc $rc: $(cat "$TMP/cli.err" "$TMP/cli.out" | head -5)"
		nbad=$((nbad + 1))
	else
		echo "ok   wgnet $line -> $rc: $first"
	fi
	alive
done <<EOF
network
network bogus
network create
network create --subnet
network create --subnet 10.151.0.0/33 x1
network create --subnet 300.1.0.0/16 x1
network create --subnet 10.151.0.0 x1
network create --subnet 10.151.0.0/24 --subnet 10.152.0.0/24 x1
network create --subnet 10.150.0.0/16 x1
network create --subnet 10.150.1.128/25 x1
network create --subnet 10.150.1.0/24 x1
network create --subnet 10.151.0.0/24 --gateway 10.152.0.1 x1
network create --subnet 10.151.0.0/24 --gateway 10.151.0.0/24 x1
network create --gateway 10.151.0.1 x1
network create --subnet 10.151.0.0/24 --ip-range 10.152.0.0/25 x1
network create --subnet 10.151.0.0/24 --ip-range 10.151.0.0/23 x1
network create --ipv6 x1
network create --subnet fd00::/200 x1
network create -d macvlan x1
network create --label x1
network create -o x1
network create --bogus x1
network create net1
network create ../x
network create 'a;b'
network create '\$(touch /tmp/pwned)'
network create 'a b'
network create ''
network create -- -x
network create $long
network create /etc/passwd
network connect net1
network connect net1 nosuch
network connect nosuch c3
network connect net1 c1
network connect --ip 10.160.0.5 net1 c3
network connect --ip 10.150.1.999 net1 c3
network connect --ip 10.150.1.1 net1 c3
network connect --ip $ip1 net1 c3
network connect --ip fd00::5 net1 c3
network connect --ip6 fd00::5 net1 c3
network connect --alias '../x' net1 c3
network connect --alias 'a;b' net1 c3
network connect --ip
network disconnect net1 c3
network disconnect net1 nosuch
network rm
network rm nosuch
network rm net1
network inspect nosuch
network ls -f bogus=1
network ls -f name
network ls --format
network prune -f --filter bogus=1
container add
container add x9 --guest nosuch --netns /run/netns/x
container add ../x --guest g1 --netns /run/netns/x
container add 'a;b' --guest g1 --netns /run/netns/x
container add x9 --guest g1 --netns ''
container add x9 --guest g1 --netns /run/netns/x -p 99999:80
container add x9 --guest g1 --netns /run/netns/x -p abc
container add x9 --guest g1 --netns /run/netns/x -p 80:80/sctp
container add c1 --guest g1 --netns /run/netns/x
container rm nosuch
guest add g9 --control garbage
guest add ../g --control unix:/tmp/x
guest add g9
guest rm g1
guest rm nosuch
status --bogus
-H /nonexistent/sock network ls
bogus
EOF
[ $nbad = 0 ] || fail "$nbad CLI cases without a clear error"
wgnet network ls --format '{{.Name}}' | grep -qvx 'net1' && fail "a bad create left a network: $(wgnet network ls)"
[ ! -e /tmp/pwned ] || { rm -f /tmp/pwned; fail "a shell name was executed"; }
ok "CLI: every bad command gives one clear error and exit 1/2"

# --- raw frames and bad args ------------------------------------------------
python3 "$H" frames "$WGNET_HOST_SOCK" NetworkList >"$TMP/h1" 2>&1 || { cat "$TMP/h1"; fail "host socket frames"; }
python3 "$H" host-ops "$WGNET_HOST_SOCK" >"$TMP/h2" 2>&1 || { grep -v "^ok" "$TMP/h2"; fail "host ops"; }
alive
ok "host API socket: $(grep -c '^ok' "$TMP/h1") frame and $(grep -c '^ok' "$TMP/h2") op cases"
gs=$(lab guest sock g1)
python3 "$H" frames "$gs" Hello >"$TMP/g1" 2>&1 || { cat "$TMP/g1"; fail "guest socket frames"; }
python3 "$H" guest-ops "$gs" >"$TMP/g2" 2>&1 || { grep -v "^ok" "$TMP/g2"; fail "guest ops"; }
alive
ok "guest control socket: $(grep -c '^ok' "$TMP/g1") frame and $(grep -c '^ok' "$TMP/g2") op cases"

# --- DNS from inside a container ---------------------------------------------
lab exec c1 -- python3 "$H" dns c2 >"$TMP/d" 2>&1 || { cat "$TMP/d"; fail "DNS"; }
alive
ok "DNS at 127.0.0.11: $(grep -c '^ok' "$TMP/d") malformed-packet cases, a real query still answered"

# --- the Docker API, when served ------------------------------------------------
dsock=$(dirname "$WGNET_HOST_SOCK")/docker.sock
if [ -S "$dsock" ]; then
	python3 "$H" http "$dsock" >"$TMP/w" 2>&1 || { cat "$TMP/w"; fail "HTTP"; }
	alive
	ok "Docker API socket: $(grep -c '^ok' "$TMP/w") malformed-request cases"
else
	log "no Docker API socket at $dsock: HTTP cases skipped"
fi

# --- nothing changed, nobody died ---------------------------------------------------
[ "$(pids)" = "$pids0" ] || fail "daemon pids changed: $pids0 -> $(pids)"
snap1=$(python3 "$MC" snapshot)
[ "$snap0" = "$snap1" ] || { diff <(echo "$snap0") <(echo "$snap1"); fail "configured state changed"; }
wait_for 10 reach c1 "$ip2" || fail "c1 cannot reach c2 after the hostile input"
ok "daemons alive with the same pids; networks, endpoints, peer sets unchanged; traffic flows"

# --- concurrent contradictory requests ------------------------------------------------
for i in $(seq 10); do wgnet network connect net1 c3 >"$TMP/p$i" 2>&1 & done
wait
nok=0
for i in $(seq 10); do
	if [ -s "$TMP/p$i" ]; then grep -qi "already" "$TMP/p$i" || fail "unclear error: $(cat "$TMP/p$i")"; else nok=$((nok + 1)); fi
done
[ $nok = 1 ] || fail "$nok of 10 parallel connects of c3 succeeded"
# The other guests converge asynchronously after the winning connect.
wait_for 15 python3 "$MC" peers net1 || { python3 "$MC" peers net1; fail "mesh after parallel connects"; }
[ "$(ip -n "$LP-c-c3" -o -4 addr show | grep -vc ' lo ')" = 1 ] || fail "c3 has not exactly one address"
ok "10 parallel connects of one container: 1 succeeded, 9 'already' errors, one address"

ipx=10.150.1.77
wgnet network disconnect net1 c3
wgnet network connect --ip $ipx net1 c3 >"$TMP/s1" 2>&1 & a=$!
wgnet network connect --ip $ipx net1 c4 >"$TMP/s2" 2>&1 & b=$!
ra=0; rb=0; wait $a || ra=1; wait $b || rb=1
[ $((ra + rb)) = 1 ] || fail "two containers, one static address: rc $ra $rb"
grep -qhi "in use\|taken\|already" "$TMP/s1" "$TMP/s2" || fail "unclear error: $(cat "$TMP/s1" "$TMP/s2")"
ok "two parallel connects with one static address: one wins, the other: $(cat "$TMP/s1" "$TMP/s2")"

for i in $(seq 10); do wgnet network create --subnet 10.155.0.0/24 race >"$TMP/r$i" 2>&1 & done
wait
nok=$(for i in $(seq 10); do grep -q '^Error' "$TMP/r$i" || echo x; done | wc -l)
[ "$nok" = 1 ] || fail "$nok of 10 parallel creates of one name succeeded"
for round in 1 2 3; do
	for i in $(seq 4); do
		wgnet network create --subnet 10.155.0.0/24 race >/dev/null 2>&1 &
		wgnet network rm race >/dev/null 2>&1 &
	done
	wait
done
wgnet network ls --format '{{.Name}}' | grep -c '^race$' | grep -q '^[01]$' || fail "race listed twice"
wgnet network rm race >/dev/null 2>&1 || true
wgnet network ls --format '{{.Name}}' | grep -q '^race$' && fail "race cannot be removed"
wgnet network create --subnet 10.155.0.0/24 race >/dev/null || fail "race cannot be created again"
# Every guest's isolated set is the list of subnets.
for g in g1 g2; do
	bpftool -j map dump pinned "/sys/fs/bpf/wgnet/$LP-$g/wgn_subnets" | grep -q . || fail "no subnets on $g"
done
python3 "$MC" peers net1 >/dev/null || fail "mesh after the races"
[ "$(pids)" = "$pids0" ] || fail "daemon pids changed in the races"
ok "create/rm races of one name: one winner each time, consistent end state, daemons alive"
