#!/usr/bin/env bash
# Two dockerd "machines" on one etcd store: one wgnet network created on
# each with the same `docker network create`, containers on A and B talk by
# address and by name, and between the machines the underlay carries only
# WireGuard UDP (docs/docker-plugin.md, multi-host).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dockerlib.sh"
command -v etcd >/dev/null || skip "needs etcd (apt-get install etcd-server)"
command -v tcpdump >/dev/null || skip "needs tcpdump"

UL=$T-ul
mk_underlay "$UL" 10.97.0.1/24
# etcd in the underlay namespace (ours: no port can collide), one member
mkdir -p "$TMP/etcd"
nsenter --net="/run/netns/$UL" -- setsid etcd --name e1 --data-dir "$TMP/etcd/data" \
	--listen-client-urls http://10.97.0.1:2379 --advertise-client-urls http://10.97.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster e1=http://127.0.0.1:2380 >"$TMP/etcd/log" 2>&1 &
PIDS+=($!)
wait_for 30 n "$UL" etcdctl --endpoints http://10.97.0.1:2379 endpoint health || { tail "$TMP/etcd/log"; fail "etcd did not start"; }
STORE=etcd://10.97.0.1:2379

for m in a b; do
	ip=10.97.0.1$([ $m = a ] && echo 1 || echo 2)
	dk_machine "$UL" $m $ip/24 10.97.0.1
	dk_host $m "$STORE"
	wgh $m guest add $m --control "unix:$(gsock $m)" >/dev/null
	at_exit dk_cleanup $m
	dk_dockerd_start $m
	dk_image $m
done
log "two dockerd machines on $STORE"

# --- the same network on each host: one wgnet network --------------------
dk a network create -d wgnet --ipam-driver wgnet --subnet 10.90.0.0/24 -o wgnet.name=shared n1 >/dev/null ||
	fail "network create on a"
out=$(dk b network create -d wgnet --ipam-driver wgnet --internal --subnet 10.90.0.0/24 -o wgnet.name=shared n1 2>&1) &&
	fail "a create that disagrees (internal) was accepted"
echo "$out" | grep -q "already exists with internal=false" || fail "unclear mismatch error: $out"
dk b network create -d wgnet --ipam-driver wgnet --subnet 10.90.0.0/24 -o wgnet.name=shared n1 >/dev/null ||
	fail "network create on b"
[ "$(wgh a network ls -q | wc -l)" = 1 ] || fail "not one wgnet network: $(wgh a network ls)"
wgh b network ls | grep -q shared || fail "host b does not see the shared network"
ok "docker network create on both hosts: one wgnet network; disagreeing options refused"

# --- containers on A and B -----------------------------------------------------
dk a run -d --network n1 --dns 10.90.0.1 --name srv "$IMG" httpd -f -p 80 -h /www >/dev/null
dk b run -d --network n1 --dns 10.90.0.1 --name cli "$IMG" sleep 1000 >/dev/null
SRV=$(dk_ip a srv) CLI=$(dk_ip b cli)
[ "$SRV" != "$CLI" ] || fail "both hosts gave $SRV"
log "srv on a: $SRV, cli on b: $CLI"

# nsenter execs tcpdump: $! is tcpdump itself (a subshell running it would
# wait for it before acting on the TERM trap lib.sh installs)
nsenter --net="/run/netns/$UL" -- timeout 300 tcpdump --immediate-mode -n -l -i br0 "ip and host 10.97.0.11 and host 10.97.0.12" \
	>"$TMP/ul.txt" 2>"$TMP/tcpdump.err" &
TD=$!
PIDS+=($TD)
wait_for 10 grep -q "listening on" "$TMP/tcpdump.err" || fail "tcpdump did not start"
wait_for 10 dk b exec cli ping -c 1 -W 1 "$SRV" || fail "cli on b cannot ping srv on a by address"
dk b exec cli ping -c 3 -W 2 "$SRV" | grep -q '3 packets received' || fail "ping by address lost packets"
# busybox-static's wget dies of SIGSEGV on some answers of its static
# resolver (even for a numeric host); nc opens the TCP connections.
dk b exec cli sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $SRV 80" | grep -q "hello from wgnet" ||
	fail "tcp from b to a by address"
ok "b -> a by address: ping and tcp"
wait_for 60 dk b exec cli nslookup srv 10.90.0.1 || fail "srv's name never reached wgnet's DNS"
dk b exec cli ping -c 3 -W 2 srv | grep -q "3 packets received" || fail "ping srv by name from b"
dk b exec cli sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 srv 80" | grep -q "hello from wgnet" ||
	fail "tcp to srv by name from b"
wait_for 60 dk a exec srv ping -c 1 -W 1 cli || fail "a -> b by name"
ok "b -> a and a -> b by name (Docker's resolver forwards to wgnet's at the gateway)"
# (--immediate-mode -l: every packet is printed as it is captured)
kill "$TD"
wait "$TD" 2>/dev/null || true
total=$(grep -c . "$TMP/ul.txt" || true)
wg=$(grep -cE 'UDP, length' "$TMP/ul.txt" || true)
[ "$total" -gt 0 ] || fail "tcpdump saw nothing between the machines"
[ "$total" = "$wg" ] || { grep -v 'UDP, length' "$TMP/ul.txt" | head; fail "non-WireGuard packets on the underlay"; }
grep -q '10\.90\.0\.' "$TMP/ul.txt" && fail "container addresses in clear on the underlay"
# every packet from or to a WireGuard listening port of a or b
wgports=$(for m in a b; do gcall $m GetStatus | python3 -c '
import json, sys
for n in json.load(sys.stdin)["networks"]:
    print(n["listen_port"])'; done | sort -u | tr '\n' ' ')
bad=$(python3 -c '
import re, sys
ports = set(sys.argv[2].split())
for l in open(sys.argv[1]):
    m = re.search(r"IP \S+\.(\d+) > \S+\.(\d+):", l)
    if not m or not ({m.group(1), m.group(2)} & ports):
        print(l.strip())' "$TMP/ul.txt" "$wgports")
[ -z "$bad" ] || { echo "$bad" | head; fail "packets not to or from a WireGuard port ($wgports)"; }
log "underlay a<->b: $total packets, all UDP to/from the WireGuard ports $wgports"
ok "the underlay carried only WireGuard UDP between the machines ($total packets)"

# --- addresses stay unique across hosts, rm -f frees on the right host ---------
dk a run -d --network n1 --name a2 "$IMG" sleep 1000 >/dev/null
dk b run -d --network n1 --name b2 "$IMG" sleep 1000 >/dev/null
addrs=$(for c in srv a2; do dk_ip a $c; done; for c in cli b2; do dk_ip b $c; done)
[ "$(echo "$addrs" | sort -u | wc -l)" = 4 ] || fail "duplicate addresses across hosts: $addrs"
dk b rm -f b2 >/dev/null
wgh a network inspect shared | grep -q "\"$(echo "$addrs" | tail -1)/24\"" && fail "b2's address still taken"
ok "four containers, four distinct addresses; rm -f on b frees b2's"
