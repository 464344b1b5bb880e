#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# wgnet-host + the wgnet CLI: every error case prints one "Error: ..." line
# and exits non-zero; create/ls/inspect/rm/prune work without guests. A fake
# guest (tests/netns/fake_guest.py, no networking) covers the cases that need
# a container. Runs its own wgnet-host on a private socket and store.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "needs python3"
FG="$(cd "$(dirname "$0")" && pwd)/fake_guest.py"
W="$WGNET_BIN/wgnet"
SOCK="$TMP/host.sock"
export WGNET_HOST_SOCK="$SOCK"

"$WGNET_BIN/wgnet-host" --socket "$SOCK" --store "sqlite:$TMP/state.db" \
	--log-file "$TMP/host.log" &
HPID=$!
PIDS+=("$HPID")
at_exit "cat '$TMP/host.log' | tail -20"
wait_for 30 test -S "$SOCK" || fail "wgnet-host did not start"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode is not 0660"

# expect_err PATTERN CMD...: non-zero exit, exactly one stderr line matching
expect_err() {
	local pat=$1 rc=0
	shift
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ $rc -ne 0 ] || fail "'$*' succeeded"
	[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "'$*': stderr is not one line: $(cat "$TMP/err")"
	grep -q '^Error: ' "$TMP/err" || fail "'$*': no 'Error: ' prefix: $(cat "$TMP/err")"
	grep -q -- "$pat" "$TMP/err" || fail "'$*': '$(cat "$TMP/err")' lacks '$pat'"
	ok "$* -> $(cat "$TMP/err")"
}

N=n$$
# --- happy paths without guests ---
id1=$($W network create "${N}a")
[[ $id1 =~ ^[0-9a-f]{64}$ ]] || fail "create printed '$id1'"
id2=$($W network create --subnet 10.213.0.0/24 --ip-range=10.213.0.128/25 \
	--gateway 10.213.0.254 --label env=test --label team=x -o foo=bar \
	--internal "${N}b")
id3=$($W network create -d bridge --ipv6 --subnet 10.214.0.0/24 \
	--subnet fd00:214::/64 --gateway fd00:214::1 "${N}c")
ok "created three networks"

$W network inspect "${N}b" >"$TMP/b.json"
python3 - "$TMP/b.json" "$id2" "${N}b" <<'EOF'
import json, sys
arr = json.load(open(sys.argv[1]))
assert isinstance(arr, list) and len(arr) == 1, arr
n = arr[0]
assert n["Id"] == sys.argv[2] and n["Name"] == sys.argv[3], n
assert n["Driver"] == "wgnet" and n["Scope"] == "local"
assert n["Internal"] is True and n["EnableIPv6"] is False
assert n["Labels"] == {"env": "test", "team": "x"}, n["Labels"]
assert n["Options"] == {"foo": "bar"}, n["Options"]
cfg = n["IPAM"]["Config"]
assert cfg == [{"Subnet": "10.213.0.0/24", "Gateway": "10.213.0.254",
                "IPRange": "10.213.0.128/25"}], cfg
assert n["Containers"] == {}
assert n["Created"].endswith("Z") and "T" in n["Created"]
EOF
ok "inspect shape"
grep -q '^    "Name"' <($W network inspect "${N}b" | sed -n 3p) ||
	grep -q '^        "Name"' <($W network inspect "${N}b") || fail "not 4-space indented"

$W network inspect "${N}c" | python3 -c '
import json, sys
n = json.load(sys.stdin)[0]
assert n["EnableIPv6"] is True and n["Driver"] == "wgnet", n
c = n["IPAM"]["Config"]
assert len(c) == 2 and c[1]["Subnet"] == "fd00:214::/64" and c[1]["Gateway"] == "fd00:214::1", c
assert "IPRange" not in c[0], c'
ok "IPv6 network: two IPAM entries, bridge driver stored as wgnet"

# auto subnet: the first default pool not in use
$W network inspect -f '{{.Name}} {{.Driver}}' "${N}a" | grep -qx "${N}a wgnet" || fail "inspect --format"
$W network inspect "${N}a" | grep -q '"Subnet": "172\.' || fail "auto subnet not from 172.x pools"

$W network ls >"$TMP/ls"
head -1 "$TMP/ls" | grep -q '^NETWORK ID     NAME  *DRIVER    SCOPE$' || fail "ls header: $(head -1 "$TMP/ls")"
grep -q "^${id1:0:12}   ${N}a  *wgnet     local$" "$TMP/ls" || fail "ls row: $(cat "$TMP/ls")"
[ "$($W network ls -q | wc -l)" -ge 3 ] || fail "ls -q"
$W network ls -q --no-trunc | grep -qx "$id2" || fail "ls -q --no-trunc"
[ "$($W network ls -f "name=${N}" --format '{{.Name}}' | tr '\n' ' ')" = "${N}a ${N}b ${N}c " ] ||
	fail "ls name filter / sort / format"
[ "$($W network ls -f label=env=test -q)" = "${id2:0:12}" ] || fail "label filter"
[ "$($W network ls --filter "id=${id3:0:8}" --format '{{.Name}}\t{{.IPv6}}')" = "${N}c	true" ] ||
	fail "id filter / format with \\t"
$W network ls -f dangling=true -q | grep -qx "${id1:0:12}" || fail "dangling filter"
$W network ls --format 'table {{.Name}}\t{{.Internal}}' -f "name=${N}b" >"$TMP/t"
grep -qx 'NAME  *INTERNAL' <(head -1 "$TMP/t") || fail "table format header: $(head -1 "$TMP/t")"
grep -qx "${N}b  *true" <(sed -n 2p "$TMP/t") || fail "table format row: $(cat "$TMP/t")"
ok "ls, filters, --format"

# --- error cases ---
expect_err "No such network: nope$$" $W network inspect "nope$$"
expect_err "not found" $W network rm "nope$$"
expect_err "invalid subnet" $W network create --subnet 10.0.0.0/40 "${N}x"
expect_err "invalid subnet" $W network create --subnet 10.300.0.0/16 "${N}x"
expect_err "it should be 10.1.0.0/16" $W network create --subnet 10.1.2.3/16 "${N}x"
expect_err "overlaps" $W network create --subnet 10.213.0.0/16 "${N}x"
expect_err "overlaps" $W network create --subnet 10.214.0.64/26 "${N}x"
expect_err "already exists" $W network create "${N}a"
expect_err "invalid network name" $W network create "a/b$$"
expect_err "invalid network name" $W network create "a b$$"
expect_err "invalid network name" $W network create 'x;rm$$'
expect_err "invalid network name" $W network create '$(id)'
expect_err "invalid network name" $W network create ".hidden$$"
expect_err "invalid network name" $W network create "$(printf 'a%.0s' {1..65})"
expect_err "not inside subnet" $W network create --subnet 10.215.0.0/24 --ip-range 10.216.0.0/25 "${N}x"
expect_err "not inside subnet" $W network create --subnet 10.215.0.0/24 --gateway 10.216.0.1 "${N}x"
expect_err "need a subnet" $W network create --gateway 10.216.0.1 "${N}x"
expect_err "not supported" $W network create -d overlay "${N}x"
expect_err "needs an IPv6 subnet" $W network create --ipv6 "${N}x"
expect_err "only one IPv4 and one IPv6 subnet" $W network create --subnet 10.0.0.0/8 --subnet 10.1.0.0/16 "${N}x"
expect_err "invalid filter 'colour'" $W network ls -f colour=red
expect_err "bad format of filter" $W network ls -f name
expect_err "cannot reach wgnet-host at $TMP/none.sock" $W -H "$TMP/none.sock" network ls
expect_err "unreachable" $W guest add "g$$" --control "unix:$TMP/no-guest.sock"
expect_err "no such guest" $W container add "c$$" --guest "nog$$" --netns /run/netns/x
expect_err "no such container" $W network connect "${N}a" "noc$$"
expect_err "invalid port spec" $W container add "c$$" --guest g --netns /x -p 80
rc=0
$W network create 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "usage error exits $rc, not 2"
rc=0
$W network frobnicate 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "unknown command exits $rc, not 2"
[ "$($W network ls -q | wc -l)" -eq 3 ] || fail "a failed create left something behind"
ok "usage errors exit 2"

# --- cases that need a container: a fake guest ---
python3 "$FG" --name "g$$" --socket "$TMP/g.sock" --underlay 10.77.0.11 &
PIDS+=("$!")
wait_for 30 test -S "$TMP/g.sock" || fail "fake guest did not start"
$W guest add "g$$" --control "unix:$TMP/g.sock" >/dev/null
expect_err "already exists" $W guest add "g$$" --control "unix:$TMP/g.sock"
$W container add "c$$" --guest "g$$" --netns /run/netns/none -p 8080:80 >/dev/null
$W container add "d$$" --guest "g$$" --netns /run/netns/none2 >/dev/null
expect_err "already in use" $W container add "c$$" --guest "g$$" --netns /run/netns/x
expect_err "already allocated" $W container add "e$$" --guest "g$$" --netns /x -p 8080:81
expect_err "does not belong" $W network connect --ip 10.99.0.5 "${N}b" "c$$"
expect_err "invalid IPv4 address" $W network connect --ip 10.213.0.999 "${N}b" "c$$"
expect_err "invalid alias name" $W network connect --alias 'a b' "${N}b" "c$$"
$W network connect --ip 10.213.0.10 --alias web "${N}b" "c$$"
expect_err "already exists in network" $W network connect "${N}b" "c$$"
expect_err "already in use" $W network connect --ip 10.213.0.10 "${N}b" "d$$"
$W network inspect "${N}b" | grep -q '"IPv4Address": "10.213.0.10/24"' || fail "static address not shown"
expect_err "has active endpoints" $W network rm "${N}b"
expect_err "has 2 container" $W guest rm "g$$"
expect_err "is not connected" $W network disconnect "${N}a" "c$$"
$W network disconnect "${N}b" "c$$"
$W network inspect "${N}b" | grep -q '"Containers": {}' || fail "disconnect left the endpoint"
$W container rm "c$$" "d$$" >/dev/null
$W guest rm "g$$" >/dev/null
ok "connect/disconnect errors"

# --- rm and prune ---
[ "$($W network rm "${N}a")" = "${N}a" ] || fail "rm"
expect_err "No such network: ${N}a" $W network inspect -f '{{.Name}}' "${N}a"
echo n | $W network prune >/dev/null
[ "$($W network ls -q | wc -l)" -eq 2 ] || fail "prune without 'y' removed something"
$W network prune -f >"$TMP/prune"
grep -qx "${N}b" "$TMP/prune" && grep -qx "${N}c" "$TMP/prune" || fail "prune output: $(cat "$TMP/prune")"
[ "$($W network ls -q | wc -l)" -eq 0 ] || fail "prune left networks"
ok "rm, prune"

# Concurrent clients: every create succeeds, no two subnets overlap.
for i in $(seq 1 24); do $W network create "${N}p$i" >/dev/null 2>"$TMP/par$i" & done
wait_for 30 bash -c "[ \$('$W' network ls -q -f name=${N}p | wc -l) -eq 24 ]" ||
	fail "parallel creates: $(cat "$TMP"/par*)"
[ "$($W network ls -f "name=${N}p" --format '{{.ID}}' | xargs $W network inspect -f '{{.Id}}' | wc -l)" -eq 24 ] || fail "inspect of 24"
$W network ls -q --no-trunc -f "name=${N}p" | xargs $W network inspect | python3 -c '
import ipaddress, json, sys
nets = [ipaddress.ip_network(n["IPAM"]["Config"][0]["Subnet"]) for n in json.load(sys.stdin)]
assert len(nets) == 24
for i, a in enumerate(nets):
    for b in nets[i + 1:]:
        assert not a.overlaps(b), (a, b)'
$W network prune -f >/dev/null
ok "24 parallel creates, distinct subnets"

# Bad frames never crash the daemon.
python3 - "$SOCK" <<'EOF'
import socket, struct, sys
def raw(data):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
    s.sendall(data)
    try:
        return s.recv(65536)
    except Exception:
        return b""
    finally:
        s.close()
assert b'"ok": false' in raw(b"WGNT\0\1\0\1\0\0\0\5{bad}") or b'"ok":false' in raw(b"WGNT\0\1\0\1\0\0\0\5{bad}")
assert b"false" in raw(b"WGNT\0\1\0\1\xff\xff\xff\xff")
assert b"false" in raw(b"XXXX\0\1\0\1\0\0\0\2{}")
body = b'{"op":"NetworkCreate","args":{"name":["x"]}}'
assert b"must be a string" in raw(b"WGNT\0\1\0\1" + struct.pack(">I", len(body)) + body)
body = b'{"op":"NetworkCreate","args":[]}'
assert b"false" in raw(b"WGNT\0\1\0\1" + struct.pack(">I", len(body)) + body)
raw(b"WGNT")  # short header, then close
EOF
$W network ls >/dev/null || fail "wgnet-host died on bad input"
ok "bad frames get error replies"

kill -TERM "$HPID"
rc=0
wait "$HPID" || rc=$?
[ $rc -eq 0 ] || fail "wgnet-host exited $rc on SIGTERM"
[ ! -e "$SOCK" ] || fail "socket left behind"
ok "SIGTERM: exit 0, socket removed"
