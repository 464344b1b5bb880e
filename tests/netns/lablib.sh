# Lab-based tests (sourced after lib.sh): a private lab with unique names,
# torn down on exit even on failure.
export WGNET_LAB_DIR=$TMP/lab
# A prefix of its own for the lab, claimed like $T (lab/claim.sh): no other
# run on the machine has it, and it is not $T, whose names ($T-ul, …) a test
# may use for namespaces of its own beside the lab.
if [ -z "${WGNET_LAB_PREFIX:-}" ]; then
	wgnet_claim_prefix t || fail "no free lab prefix in $WGNET_CLAIMS"
	export WGNET_LAB_PREFIX=$WGNET_CLAIMED
fi
export WGNET_HOST_SOCK=$TMP/host.sock
LP=$WGNET_LAB_PREFIX
lab() { "$WGNET_BIN/wgnet-lab" "$@"; }
wgnet() { "$WGNET_BIN/wgnet" "$@"; }
at_exit 'lab down'
# WGNET_TEST_CAPTURE=1: the underlay's UDP (every WireGuard packet between
# the guests: type, indices, counters; 96 bytes each) is captured to
# $TMP/underlay.pcap for the whole test, to be kept with WGNET_TEST_KEEP.
lab_up() {
	lab up >/dev/null || fail "wgnet-lab up"
	[ "${WGNET_TEST_CAPTURE:-}" = 1 ] || return 0
	command -v tcpdump >/dev/null || fail "WGNET_TEST_CAPTURE=1 needs tcpdump"
	# the lab script execs into tcpdump: $! is tcpdump's pid
	"$WGNET_BIN/wgnet-lab" underlay -- tcpdump -U -i any -n -s 96 \
		-w "$TMP/underlay.pcap" udp 2>"$TMP/underlay.tcpdump.txt" &
	PIDS+=($!)
	wait_for 10 grep -q "listening on" "$TMP/underlay.tcpdump.txt" || fail "tcpdump did not start"
}
# cip NAME [NET]: the container's IPv4 address on NET (or its first)
cip() {
	wgnet network inspect "${2:-$(first_net "$1")}" | python3 -c '
import json,sys
for n in json.load(sys.stdin):
    for c in n["Containers"].values():
        if c["Name"] == sys.argv[1]: print(c["IPv4Address"].split("/")[0])' "$1"
}
first_net() { lab exec "$1" -- true; wgnet network ls --format '{{.Name}}' | head -1; }
# reach FROM ADDR: one echo request, answered within 10 s. A first packet
# waits for the WireGuard handshake, whose initiation is sent again after
# 5 s if the peer had not been configured yet on a loaded machine: one
# packet and a deadline that covers that, not a loop of pings.
reach() { lab exec "$1" -- ping -c 1 -W 10 "$2" >/dev/null 2>&1; }
# reach_now FROM ADDR: one echo request answered within 2 s (for checks that
# something is NOT reachable: a longer wait would only slow them down)
reach_now() { lab exec "$1" -- ping -c 1 -W 2 "$2" >/dev/null 2>&1; }
# replays GUEST: how many times wgnet-host A has brought GUEST back to its
# desired state (host.log): a full replay, or, after a restart of wgnet-host
# that finds the guest's generations already current, "answers, in sync"
# (docs/control-plane.md: nothing is resent to a guest in sync)
replays() { grep -cE "guest $1: desired state replayed|guest $1 answers, in sync" "$WGNET_LAB_DIR/host.log" 2>/dev/null || true; }
# replayed GUEST N: more than N replays of GUEST
replayed() { [ "$(replays "$1")" -gt "$2" ]; }
