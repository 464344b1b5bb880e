#!/usr/bin/env bash
# wgnet as Docker's remote network + IPAM driver with a real dockerd 20.10
# (docs/docker-plugin.md): one machine namespace with its dockerd, its
# wgnet-guest (host mode) and wgnet-host serving the plugin.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dockerlib.sh"

UL=$T-ul
mk_underlay "$UL" 10.93.0.1/24
dk_machine "$UL" m 10.93.0.11/24 10.93.0.1
dk_host m
wgh m guest add m --control "unix:$(gsock m)" >/dev/null
at_exit dk_cleanup m
dk_dockerd_start m
dk_image m
log "dockerd $(dk m version -f '{{.Server.Version}}') up in $T-m"

# --- create, run, ping by name -------------------------------------------
dk m network create -d wgnet --ipam-driver wgnet --subnet 10.90.0.0/24 n1 >/dev/null
dk m network inspect -f '{{.Driver}} {{.IPAM.Driver}}' n1 | grep -qx 'wgnet wgnet' || fail "n1 is not a wgnet network"
wgh m network ls | grep -q 'docker-10.90.0.0-24' || fail "no wgnet network for n1"
dk m run -d --network n1 --name web "$IMG" httpd -f -p 80 -h /www >/dev/null
WEB=$(dk_ip m web)
[ "$WEB" = 10.90.0.2 ] || fail "web got $WEB, want 10.90.0.2 (wgnet's first free address)"
dk m exec web ip -o link show eth0 | grep -q 'mtu 1420' || fail "web's eth0 is not wgnet's veth"
out=$(dk m run --rm --network n1 "$IMG" ping -c 3 web) || fail "ping web by name: $out"
echo "$out" | grep -q '3 packets received' || fail "ping by name lost packets: $out"
ok "docker run on n1, ping -c 3 web by name"
dk m run --rm --network n1 "$IMG" wget -qO- http://web/ | grep -q "hello from wgnet" || fail "http to web"
ok "tcp to web by name"

# --- connect / disconnect on a running container ---------------------------
dk m network create -d wgnet --ipam-driver wgnet --subnet 10.94.0.0/24 n2 >/dev/null
dk m run -d --network n2 --name other "$IMG" sleep 1000 >/dev/null
dk m network connect n2 web
dk m exec web ip -o addr show eth1 | grep -q 'inet 10.94.0.' || fail "no eth1 with an n2 address after connect"
dk m exec web ping -c 2 -W 10 "$(dk_ip m other n2)" >/dev/null || fail "web cannot reach other over eth1"
dk m network disconnect n2 web
dk m exec web ip link show eth1 >/dev/null 2>&1 && fail "eth1 still there after disconnect"
wgh m network inspect docker-10.94.0.0-24 | grep -q "10.94.0.3" && fail "disconnect did not free web's n2 address"
ok "network connect: eth1 appears; disconnect: it goes"

# --- isolation between two wgnet networks ---------------------------------
before=$(drops m isolation)
dk m exec other ping -c 2 -W 1 "$WEB" >/dev/null 2>&1 && fail "n2 reached n1"
after=$(drops m isolation)
[ "$after" -gt "$before" ] || fail "isolation drops did not grow ($before -> $after)"
ok "n2 -> n1 dropped (isolation $before -> $after)"

# --- the host's own addresses are control plane ---------------------------
before=$(drops m ctrl)
dk m exec web ping -c 2 -W 1 10.93.0.11 >/dev/null 2>&1 && fail "a container reached the host's address"
dk m exec web wget -qO- -T 2 http://10.93.0.1/ >/dev/null 2>&1 && fail "a container reached the underlay"
after=$(drops m ctrl)
[ "$after" -gt "$before" ] || fail "ctrl drops did not grow ($before -> $after)"
ok "container -> host addresses dropped (ctrl $before -> $after)"

# --- published ports --------------------------------------------------------
dk m run -d --network n1 -p 8080:80 --name pub "$IMG" httpd -f -p 80 -h /www >/dev/null
wait_for 10 n "$UL" wget -qO- -T 2 http://10.93.0.11:8080/ || fail "-p 8080:80 not reachable from the underlay"
n "$UL" wget -qO- -T 2 http://10.93.0.11:8080/ | grep -q "hello from wgnet" || fail "wrong answer on 8080"
out=$(dk m run -d --network n1 -p 8080:80 "$IMG" sleep 100 2>&1) && fail "a second -p 8080 was accepted"
echo "$out" | grep -q "already allocated" || fail "no clear error for a taken port: $out"
dk m rm -f pub >/dev/null
n "$UL" wget -qO- -T 2 http://10.93.0.11:8080/ >/dev/null 2>&1 && fail "port 8080 still open after rm -f pub"
ok "-p 8080:80 from the underlay; conflict refused; closed after rm"

# --- internal networks -------------------------------------------------------
dk m network create -d wgnet --ipam-driver wgnet --internal --subnet 10.95.0.0/24 n3 >/dev/null
wgh m network inspect docker-10.95.0.0-24 | grep -q '"Internal": true' || fail "n3 is not internal in wgnet"
dk m run -d --network n3 --name i1 "$IMG" sleep 1000 >/dev/null
dk m run --rm --network n3 "$IMG" ping -c 2 -W 10 i1 >/dev/null || fail "internal peers cannot talk"
dk m exec i1 ip route | grep -q default && fail "a container on an internal network has a default route"
dk m exec i1 ping -c 1 -W 1 10.93.0.1 >/dev/null 2>&1 && fail "internal network reached the underlay"
ok "--internal: peers talk, no default route, nothing leaves"

# --- rm refused while in use, rm -f frees the address ----------------------
out=$(dk m network rm n1 2>&1) && fail "network rm n1 accepted while web runs"
echo "$out" | grep -q "active endpoints" || fail "unclear error for rm in use: $out"
dk m rm -f web >/dev/null
wgh m network inspect docker-10.90.0.0-24 | grep -q "\"$WEB/24\"" && fail "rm -f web did not free $WEB"
dk m run -d --network n1 --name web2 "$IMG" sleep 1000 >/dev/null
[ "$(dk_ip m web2)" = "$WEB" ] || fail "the freed address $WEB was not reused"
dk m rm -f web2 >/dev/null
dk m network rm n1 >/dev/null
wgh m network ls | grep -q 'docker-10.90.0.0-24' && fail "wgnet network left after docker network rm n1"
ok "network rm refused in use; rm -f frees the address; rm removes the wgnet network"

# --- bad input: clear errors -------------------------------------------------
out=$(dk m network create -d wgnet --ipam-driver wgnet n4 2>&1) && fail "create without --subnet accepted"
echo "$out" | grep -q "needs --subnet" || fail "unclear error without --subnet: $out"
out=$(dk m network create -d wgnet --ipam-driver wgnet --subnet 10.94.0.0/16 n4 2>&1) && fail "overlap accepted"
echo "$out" | grep -q "overlaps" || fail "unclear overlap error: $out"
out=$(dk m network create -d wgnet --ipam-driver wgnet --subnet 10.96.0.0/24 -o color=red n4 2>&1) && fail "unknown -o accepted"
echo "$out" | grep -q "unknown option" || fail "unclear -o error: $out"
ok "missing subnet, overlap, unknown option refused with one clear line"

# --- dockerd restart, then wgnet-host restart under a 20/s ping ----------------
dk m network create -d wgnet --ipam-driver wgnet --subnet 10.90.0.0/24 n1 >/dev/null
dk m run -d --network n1 --name srv "$IMG" sleep 1000 >/dev/null
dk m run -d --network n1 --name cli "$IMG" sleep 1000 >/dev/null
SRV=$(dk_ip m srv) CLI=$(dk_ip m cli)
dk_dockerd_stop m
dk_dockerd_start m
[ "$(dk_ip m srv)" = "$SRV" ] && [ "$(dk_ip m cli)" = "$CLI" ] || fail "addresses changed across the dockerd restart"
dk m exec cli ping -c 2 -W 10 srv >/dev/null || fail "srv unreachable after the dockerd restart"
ok "dockerd restarted (live-restore): same addresses, srv reachable"
dk m exec cli ping -i 0.05 -c 200 -W 1 "$SRV" >"$TMP/ping.log" 2>&1 &
PING=$!
PIDS+=($PING)
wait_for 20 answered "$TMP/ping.log" || fail "the ping did not start: $(cat "$TMP/ping.log")"
dk_host_stop m
dk_host m
wgh m guest ls | grep -q . || fail "wgnet-host lost its guest"
wait "$PING" || true
grep -q '200 packets transmitted, 200 packets received' "$TMP/ping.log" || { cat "$TMP/ping.log"; fail "ping lost packets across the wgnet-host restart"; }
[ "$(dk_ip m srv)" = "$SRV" ] || fail "srv's address changed across the wgnet-host restart"
out=$(dk m run --rm --network n1 "$IMG" ping -c 1 -W 10 srv) || fail "new container after the wgnet-host restart: $out"
ok "wgnet-host restarted: 200/200 pings at 20/s, same addresses, new containers attach"
