#!/usr/bin/env bash
# Issue 4, published ports: TCP and UDP reachable at the guest's underlay
# address from the underlay side (DNAT in the guest's table, the answers
# pass the control-plane drop); a publish on a host address; conflicts
# refused with one clear line (host-checked: same guest, proto, port, any or
# same address); mappings survive a wgnet-host kill + start and vanish with
# the container.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"
lab_up
wgnet network create net1 >/dev/null
lab guest add gp >/dev/null
gip=$(lab info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["guests"]["gp"]["ip"])')
mkdir -p "$TMP/www"
echo "published $T" >"$TMP/www/index.html"
cat >"$TMP/echo.py" <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"echo:" + d, a)
PY
lab run --name web --guest gp --network net1 -p 8080:80 -p "$gip:8081:80" \
	-- busybox httpd -f -p 80 -h "$TMP/www" >/dev/null || fail "run web -p"
lab run --name udp --guest gp --network net1 -p 5353:7/udp -- python3 "$TMP/echo.py" >/dev/null || fail "run udp -p"
ipweb=$(cip web net1)
get() { lab underlay -- timeout 5 busybox wget -qO- "http://$gip:$1/index.html" 2>&1; }
udp() { echo "ping-$T" | lab underlay -- timeout 5 nc -u -w 1 "$gip" "$1" 2>&1; }

wait_for 30 get 8080 || fail "tcp 8080 not reachable from the underlay: $(get 8080)"
[ "$(get 8080)" = "published $T" ] || fail "wrong page on 8080"
[ "$(get 8081)" = "published $T" ] || fail "wrong page on $gip:8081"
ok "TCP $gip:8080 and $gip:8081 -> $ipweb:80 from the underlay"
echoes() { [ "$(udp "$1")" = "echo:ping-$T" ]; }
wait_for 30 echoes 5353 || fail "udp 5353 did not echo: $(udp 5353)"
ok "UDP $gip:5353 -> udp:7 echoes from the underlay"

# conflicts: the host refuses before telling the guest
for spec in 8080:81 "$gip:8080:81" 8081:81; do
	out=$(lab run --name bad --guest gp --network net1 -p "$spec" 2>&1) && fail "conflicting -p $spec accepted"
	echo "$out" | grep -q "^Error: port 808[01]/tcp on guest gp is already allocated by container web$" ||
		fail "unclear conflict error for $spec: $out"
done
out=$(wgnet container add bad2 --guest gp --netns /run/netns/x -p 9000:1 -p 9000:2 2>&1) && fail "a port published twice accepted"
[ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "published twice" || fail "unclear error: $out"
lab ls | grep -q "^bad" && fail "a refused container is listed"
ok "conflicts refused: $(echo "$out")"
lab run --name other --guest gp --network net1 -p 8080:81/udp -p 127.0.0.2:8081:81 >/dev/null ||
	fail "same port on another protocol or host address refused"
lab run --name other2 --network net1 -p 8080:80 >/dev/null || fail "same port on another guest refused"
ok "same port on another protocol, host address or guest accepted"

hp=$(cat "$WGNET_LAB_DIR/host.pid")
kill -9 "$hp"
wait_for 10 dead "$hp" || fail "wgnet-host survived kill -9"
[ "$(get 8080)" = "published $T" ] || fail "8080 lost while wgnet-host is down"
n0=$(replays gp)
lab host start >/dev/null || fail "wgnet-host did not restart"
wait_for 30 replayed gp "$n0" || fail "the restarted wgnet-host did not replay gp"
[ "$(get 8080)" = "published $T" ] || fail "8080 lost after the wgnet-host restart"
[ "$(udp 5353)" = "echo:ping-$T" ] || fail "udp 5353 lost after the wgnet-host restart"
wgnet container ls | grep -q 8080 || true
ok "mappings survive wgnet-host kill -9 + start"

nftweb() { lab guest exec gp -- nft list table inet wgnet | grep -c "dnat ip to $ipweb:80" || true; }
[ "$(nftweb)" = 4 ] || fail "expected 4 DNAT rules for web, got $(nftweb)"
lab rm web >/dev/null
[ "$(nftweb)" = 0 ] || fail "DNAT rules for web left after rm: $(lab guest exec gp -- nft list table inet wgnet)"
get 8080 >/dev/null && fail "8080 still answers after rm"
[ "$(udp 5353)" = "echo:ping-$T" ] || fail "udp's mapping went with web"
lab run --name web2 --guest gp --network net1 -p 8080:80 -- busybox httpd -f -p 80 -h "$TMP/www" >/dev/null ||
	fail "port 8080 not free again after rm"
wait_for 30 get 8080 || fail "8080 of web2 not reachable"
ok "rm: web's DNAT rules gone, the port is free again"
