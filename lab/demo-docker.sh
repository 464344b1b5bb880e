#!/usr/bin/env bash
# make demo-docker: wgnet as Docker's network + IPAM plugin on two dockerd
# "machines" (network namespaces, each with its own dockerd 20.10, its
# wgnet-guest and its wgnet-host) sharing one etcd: the same `docker network
# create` on both, containers that talk by name across the machines, a
# published port, and the underlay carrying only WireGuard. Everything runs
# in namespaces and directories made here and is removed at the end
# (docs/docker-plugin.md). The machine's own /run/docker is never touched.
here=$(cd "$(dirname "$0")" && pwd)
export WGNET_BIN=${WGNET_BIN:-$(cd "$here/../build" && pwd)}
export T=${T:-wgd$$}
. "$here/../tests/netns/lib.sh"
. "$here/../tests/netns/dockerlib.sh"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
START=$(date +%s)

step "two machines (network namespaces) on an underlay, etcd, a wgnet-guest each"
UL=$T-ul
mk_underlay "$UL" 10.97.0.1/24
mkdir -p "$TMP/etcd"
nsenter --net="/run/netns/$UL" -- setsid etcd --name e1 --data-dir "$TMP/etcd/data" \
	--listen-client-urls http://10.97.0.1:2379 --advertise-client-urls http://10.97.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster e1=http://127.0.0.1:2380 >"$TMP/etcd/log" 2>&1 &
PIDS+=($!)
wait_for 30 n "$UL" etcdctl --endpoints http://10.97.0.1:2379 endpoint health || fail "etcd did not start"
for m in a b; do
	dk_machine "$UL" $m 10.97.0.1$([ $m = a ] && echo 1 || echo 2)/24 10.97.0.1
	step "machine $m: wgnet-host --plugin-socket …/wgnet.sock --store etcd://10.97.0.1:2379, its own dockerd"
	dk_host $m etcd://10.97.0.1:2379
	wgh $m guest add $m --control "unix:$(gsock $m)" >/dev/null
	at_exit dk_cleanup $m
	dk_dockerd_start $m
	dk_image $m
	echo "dockerd $(dk $m version -f '{{.Server.Version}}') on machine $m, plugin dir $TMP/$m/plugins"
done

step "the same network on both machines: one wgnet network"
for m in a b; do
	show dk $m network create -d wgnet --ipam-driver wgnet --subnet 10.90.0.0/24 -o wgnet.name=demo n1
done
show wgh a network ls

step "web on machine a (with -p 8080:80), client on machine b"
show dk a run -d --network n1 --dns 10.90.0.1 -p 8080:80 --name web "$IMG" httpd -f -p 80 -h /www
show dk b run -d --network n1 --dns 10.90.0.1 --name client "$IMG" sleep 1000
show dk a inspect -f '{{.Name}} {{.NetworkSettings.Networks.n1.IPAddress}}' web
show dk b inspect -f '{{.Name}} {{.NetworkSettings.Networks.n1.IPAddress}}' client

nsenter --net="/run/netns/$UL" -- timeout 120 tcpdump -n -l -i br0 "ip and host 10.97.0.11 and host 10.97.0.12" \
	>"$TMP/ul.txt" 2>/dev/null &
TD=$!
PIDS+=($TD)
step "client (machine b) -> web (machine a) by name, through WireGuard"
wait_for 30 dk b exec client nslookup web 10.90.0.1 || fail "web's name did not reach machine b"
show dk b exec client ping -c 3 web
show dk b exec client sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 web 80 | tail -1"
step "the published port from the underlay"
show n "$UL" wget -qO- -T 3 http://10.97.0.11:8080/
kill "$TD"
wait "$TD" 2>/dev/null || true
step "what the underlay carried between the machines (tcpdump): WireGuard UDP only"
head -8 "$TMP/ul.txt"
echo "… $(grep -c . "$TMP/ul.txt") packets, $(grep -vc 'UDP, length' "$TMP/ul.txt") of them not UDP"
step "wgnet status (machine a)"
wgh a status | head -30
step "done in $(($(date +%s) - START)) s; tearing everything down"
