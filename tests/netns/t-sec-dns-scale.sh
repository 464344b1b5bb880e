#!/usr/bin/env bash
# Issue 14 item 7: DNS for many containers in one guest.
# N containers (default 300; WGNET_DNS_SCALE_N) on one network of one guest,
# each resolving a name through its own 127.0.0.11. Positive: every one is
# answered. Then one container floods its resolver (names that go upstream
# to a resolver that never answers them, and 40 TCP connections held open):
# it is refused beyond its own share (fwd_refused_ctr, tcp_refused_ctr
# move), nothing is refused guest-wide, and every other container is still
# answered, including a forwarded name of another container.
# The per-server logic is also covered fast by test_dns.c ("300 containers,
# one flooding").
source "$(dirname "$0")/lib.sh"
command -v wireguard-go >/dev/null || skip "wireguard-go missing"
HERE=$(cd "$(dirname "$0")" && pwd)
N=${WGNET_DNS_SCALE_N:-300}

UL=$T-ul; GA=$T-ga
mk_underlay "$UL" 10.86.0.1/24
mk_host "$UL" "$GA" 10.86.0.11/24 10.86.0.1 pa
for ((i = 0; i < N; i++)); do ip netns add "$T-d$i"; done

# The upstream: answers names that start with "ok", never the others.
n "$UL" python3 - >"$TMP/up.log" 2>&1 <<'EOF' &
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.86.0.1", 53))
while True:
    q, peer = s.recvfrom(4096)
    if q[12:15] != b"\x02ok":
        continue
    qid = q[:2]
    end = q.index(b"\0", 12) + 5
    s.sendto(qid + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:end]
             + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01", peer)
EOF
PIDS+=($!)
GUEST_ARGS="--upstream-dns 10.86.0.1" start_guest "$GA" a
N1=$(printf 'd1%.0s' {1..32})
gcall a CreateHub >/dev/null
gcall a AddNetwork '{"network":{"id":"'$N1'","name":"net1","subnet":"172.28.0.0/16","gateway":"172.28.255.254"}}' >/dev/null
python3 "$HERE/dnsmany.py" add "$(gsock a)" "$N1" 172.28 "$T-d" "$N" || fail "adding $N containers"
dstat() { gcall a GetStatus | jq_ "d['dns']['$1']"; }
[ "$(dstat clients)" = "$N" ] || fail "the DNS server serves $(dstat clients) containers, want $N"

out=$(python3 "$HERE/dnsmany.py" resolve "$T-d" "$N" --forward ok.example) || fail "resolving: $out"
echo "$(gcall a GetStatus | jq_ "d['dns']")"
ok "$N containers, each through its own 127.0.0.11: $out"

out=$(python3 "$HERE/dnsmany.py" resolve "$T-d" "$N" --flood-ns "$T-d0" --forward ok.example) ||
	fail "with one container flooding: $out; dns $(gcall a GetStatus | jq_ 'd["dns"]')"
fr=$(dstat fwd_refused_ctr); tr=$(dstat tcp_refused_ctr)
[ "$fr" -gt 0 ] || fail "the flood was never refused beyond its share (fwd_refused_ctr $fr)"
[ "$tr" -gt 0 ] || fail "the flood's TCP connections were not capped (tcp_refused_ctr $tr)"
[ "$(dstat fwd_refused_total)" = 0 ] || fail "forwards refused guest-wide: $(dstat fwd_refused_total)"
[ "$(dstat tcp_refused_total)" = 0 ] || fail "TCP refused guest-wide: $(dstat tcp_refused_total)"
ok "one container flooding: refused beyond its share ($fr forwards, $tr TCP), the other $((N - 1)): $out"
