#!/usr/bin/env bash
# make demo: a private lab, a network, two containers in two micro-VMs
# (guests), ping and iperf3 between them through WireGuard, the network as
# Docker would show it, the mesh status; then everything is torn down.
set -eu
BIN=${WGNET_BIN:-$(cd "$(dirname "$0")/../build" && pwd)}
export WGNET_LAB_DIR=/run/wgnet-demo-$$ WGNET_LAB_PREFIX=wgd
export WGNET_HOST_SOCK=/run/wgnet-demo-$$/host.sock
lab() { "$BIN/wgnet-lab" "$@"; }
wgnet() { "$BIN/wgnet" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
trap 'step "tearing the lab down"; lab down' EXIT

step "lab up: underlay bridge, an internet namespace, wgnet-host"
lab up
step "wgnet network create demo-net"
wgnet network create demo-net
step "two containers, each in its own micro-VM (guest)"
lab run --name web --network demo-net -- busybox httpd -f -p 80 -h /tmp
lab run --name client --network demo-net
wgnet network ls
step "client pings web across the two guests (through WireGuard)"
lab exec client -- ping -c 4 web
step "iperf3 from client to web through WireGuard"
lab exec web -- iperf3 -s -1 -D >/dev/null
sleep 0.5
lab exec client -- iperf3 -c web -t 3 | tail -4
step "wgnet network inspect demo-net"
wgnet network inspect demo-net
step "wgnet status: guests, WireGuard peers, handshakes, BPF counters"
wgnet status
step "the packets on the underlay are WireGuard (UDP 51820), not plain ICMP"
G=$(lab ls | awk '$1=="client"{print $2}')
lab guest exec "$G" -- timeout 3 tcpdump -c 4 -n -i eth0 udp 2>/dev/null &
sleep 0.5
lab exec client -- ping -c 2 web >/dev/null
wait || true
