#!/usr/bin/env bash
# Issue 14 item 4: the guest's control listeners.
#  - the unix socket is created 0600; a peer that is neither uid 0 nor on
#    --control-uid is refused from SO_PEERCRED before a byte is read (tested
#    for real with a process of uid 65534, the socket's mode opened up to let
#    it reach the check), and counted; with --control-uid it is served;
#  - a client sending one byte every 1.9 s is cut off 2 s after its first
#    byte (counted), while another client and the container's DNS are
#    answered before the cut (the order is asserted, not a latency);
#  - a frame typed as a reply with a 7 MB length is refused from its header
#    (the request path's limit is 1 MiB whatever the type says).
# The vsock CID check has no loopback here: see test_server.c (unit).
source "$(dirname "$0")/lib.sh"
command -v wireguard-go >/dev/null || skip "wireguard-go missing"
HERE=$(cd "$(dirname "$0")" && pwd)

UL=$T-ul; GA=$T-ga
mk_underlay "$UL" 10.89.0.1/24
mk_host "$UL" "$GA" 10.89.0.11/24 10.89.0.1 pa
ip netns add "$T-c1"
start_guest "$GA" a
S=$(gsock a)
ctl() { gcall a GetStatus | jq_ "d['control']['$1']"; }

# --- socket mode and SO_PEERCRED ---------------------------------------------
[ "$(stat -c %a "$S")" = 600 ] || fail "control socket mode $(stat -c %a "$S"), want 600"
gcall a Hello >/dev/null || fail "root is refused"
ok "control socket is 0600; uid 0 is served"

# Let uid 65534 reach the socket file, so that only the credential check
# stands between it and the agent.
chmod 0711 "$TMP" "$TMP/a"
chmod 0666 "$S"
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups -- "$WGNET_BIN/wgnet-guest" call -s "$S" -t 3000 "$@"; }
if as_nobody Hello >"$TMP/nobody.out" 2>&1; then fail "uid 65534 was served: $(cat "$TMP/nobody.out")"; fi
[ "$(ctl refused_uid)" = 1 ] || fail "refused_uid $(ctl refused_uid), want 1"
grep -q "refused unix pid [0-9]* uid 65534" "$TMP/a/guest.log" || fail "no log line for the refused peer"
gcall a Hello >/dev/null || fail "root refused after the hostile peer"
ok "uid 65534 refused from SO_PEERCRED (counted, logged), root still served"

# Positive control: the same peer on the allow-list is served.
kill "$(cat "$TMP/a/pid")"; wait "$(cat "$TMP/a/pid")" 2>/dev/null || true
GUEST_ARGS="--control-uid 65534" start_guest "$GA" a
chmod 0666 "$S"
as_nobody Hello >/dev/null || fail "uid 65534 on --control-uid refused"
[ "$(ctl refused_uid)" = 0 ] || fail "refused_uid moved for an allowed peer"
ok "uid 65534 on --control-uid is served"
# (had it been accepted, the missing underlay stops it before any change)
n "$GA" timeout 10 "$WGNET_BIN/wgnet-guest" --vsock-allow 2,x --socket "$TMP/x.sock" \
	--state-dir "$TMP/xs" --underlay nosuchif0 --vsock-port 0 2>"$TMP/bad.err" && fail "--vsock-allow 2,x accepted"
grep -q "vsock-allow" "$TMP/bad.err" || fail "no clear error for a bad --vsock-allow"
ok "a bad --vsock-allow is refused at start"

# --- a container with DNS, to show the slow client does not stall it --------
N1=$(printf 'a1%.0s' {1..32}); C1=$(printf 'c1%.0s' {1..32})
gcall a CreateHub >/dev/null
gcall a AddNetwork '{"network":{"id":"'$N1'","name":"net1","subnet":"172.30.0.0/16","gateway":"172.30.0.1"}}' >/dev/null
gcall a AddEndpoint '{"network_id":"'$N1'","container":{"id":"'$C1'","name":"c1","netns":"/run/netns/'$T-c1'"},"ip":"172.30.0.2"}' >/dev/null
gcall a SetDNS '{"container_id":"'$C1'","records":[{"name":"web","address":"172.30.0.9"}]}' >/dev/null
[ "$(n "$T-c1" python3 "$HERE/dnsq.py" web)" = 172.30.0.9 ] || fail "DNS before the slow client"

# --- one byte every 1.9 s ----------------------------------------------------
# A control client and a DNS client are started first and wait, set up, for
# $TMP/go, which the slow client creates right after its first byte: their
# answers must come while the slow client is still connected (before the
# agent cuts it), whatever the load: an agent stalled by the slow client
# would only answer after the cut. The order is asserted, not a latency.
python3 - "$S" "$TMP/ready.hello" "$TMP/go" >"$TMP/hello.out" 2>&1 <<'EOF' &
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(sys.argv[1])
open(sys.argv[2], "w").close()
end = time.monotonic() + 60
while not os.path.exists(sys.argv[3]) and time.monotonic() < end:
    time.sleep(0.01)
b = b'{"op":"Hello"}'
s.sendall(b"WGNT" + struct.pack(">HHI", 1, 1, len(b)) + b)
buf = s.recv(65536)
assert b'"ok":true' in buf, buf
print(f"at {time.time():.3f}")
EOF
HELLO=$!
PIDS+=($HELLO)
n "$T-c1" python3 "$HERE/dnsq.py" web --timeout 30 --ready "$TMP/ready.dns" --after "$TMP/go" >"$TMP/dns.out" 2>&1 &
DNS=$!
PIDS+=($DNS)
wait_for 60 test -e "$TMP/ready.hello" -a -e "$TMP/ready.dns" || fail "the waiting clients did not start"
python3 - "$S" "$TMP/go" >"$TMP/slow.out" 2>&1 <<'EOF' &
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
frame = b"WGNT" + struct.pack(">HHI", 1, 1, 40) + b'{"op":"Hello"}' + b" " * 26
t0 = None
for i, b in enumerate(frame):
    try:
        s.send(bytes([b]))
    except OSError:
        break
    if t0 is None:
        t0 = time.time()
        open(sys.argv[2], "w").close()
    s.settimeout(1.9)
    try:
        if s.recv(100) == b"":
            break
    except socket.timeout:
        pass
    except OSError:
        break
print(f"closed after {time.time() - t0:.1f}s, {i} bytes, at {time.time():.3f}")
EOF
SLOW=$!
PIDS+=($SLOW)
wait $HELLO || fail "Hello while a client trickles: $(cat "$TMP/hello.out")"
wait $DNS || fail "DNS while a client trickles: $(cat "$TMP/dns.out")"
grep -qx 172.30.0.9 "$TMP/dns.out" || fail "DNS answer while a client trickles: $(cat "$TMP/dns.out")"
wait $SLOW || true
grep -q "closed after" "$TMP/slow.out" || fail "slow client: $(cat "$TMP/slow.out")"
read -r secs nbytes closed_at < <(sed -nE 's/closed after ([0-9.]+)s, ([0-9]+) bytes, at ([0-9.]+)/\1 \2 \3/p' "$TMP/slow.out")
hello_at=$(sed -n 's/^at //p' "$TMP/hello.out")
dns_at=$(sed -n 's/^at //p' "$TMP/dns.out")
log "slow client cut after ${secs}s (${nbytes} bytes); Hello answered $(python3 -c "print(f'{$closed_at - $hello_at:.2f}')") s and DNS $(python3 -c "print(f'{$closed_at - $dns_at:.2f}')") s before the cut"
python3 -c "import sys; sys.exit(0 if $hello_at < $closed_at and $dns_at < $closed_at else 1)" ||
	fail "Hello (at $hello_at) or DNS (at $dns_at) answered only after the slow client was cut (at $closed_at)"
# The deadline runs from the first byte and is not renewed by the next ones:
# renewed, it would never cut this client (a byte every 1.9 s < 2 s) before
# its 54 bytes, ~100 s. The agent cannot cut before 2 s after reading the
# first byte (so >= 1.5 s here is certain); the upper bound of 20 s allows
# for seconds of scheduling delay at load 30 on 2 cores and still tells the
# two apart.
python3 -c "import sys; sys.exit(0 if 1.5 <= $secs <= 20 and $nbytes < 54 else 1)" ||
	fail "slow client closed after ${secs}s and ${nbytes} bytes, want 2 s from its first byte"
[ "$(ctl deadline_missed)" = 1 ] || fail "deadline_missed $(ctl deadline_missed), want 1"
ok "one byte every 1.9 s: cut off after ${secs}s (counted); a call and DNS answered meanwhile"

# --- a reply-typed frame with 7 MB on the request path -----------------------
python3 - "$S" >"$TMP/big.out" <<'EOF'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"WGNT" + struct.pack(">HHI", 1, 2, 7000000) + b'{"op":"Hello"}')
s.shutdown(socket.SHUT_WR)
buf = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    buf += b
print(json.dumps(json.loads(buf[12:])))
EOF
jq_ 'd["ok"] is False and d["code"] == 74' <"$TMP/big.out" | grep -q True || fail "7 MB reply-typed frame: $(cat "$TMP/big.out")"
[ "$(ctl bad_frames)" = 1 ] || fail "bad_frames $(ctl bad_frames), want 1"
gcall a Hello >/dev/null || fail "Hello after the 7 MB frame"
ok "a reply-typed 7 MB frame is refused from its header (EBADMSG, counted)"
