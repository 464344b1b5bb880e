# Shared helpers of the namespace tests (sourced). Every name a test makes
# carries $T, a prefix claimed for this run alone (lab/claim.sh: no other
# test, lab or bench on the machine holds it, and nothing a killed run left
# behind carries it); cleanup removes it all, even on failure, and gives
# the prefix back.
set -eu

[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
# shellcheck source=lab/claim.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lab/claim.sh"
# shellcheck source=lab/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lab/proc.sh"
if [ -z "${T:-}" ]; then
	wgnet_claim_prefix t || { echo "FAIL: no free test prefix in $WGNET_CLAIMS" >&2; exit 1; }
	T=$WGNET_CLAIMED
fi
WGNET_BIN=${WGNET_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
TMP=$(mktemp -d /tmp/wgnet-$T-XXXX)
# python3 is Debian's (the Makefile installs it), also for what runs in the
# test's namespaces: a version manager's shim earlier in PATH (pyenv) takes
# seconds to start on a loaded machine, and every bounded wait that runs a
# Python helper would count it.
if [ -x /usr/bin/python3 ]; then
	mkdir -p "$TMP/bin" && ln -sf /usr/bin/python3 "$TMP/bin/python3"
	PATH="$TMP/bin:$PATH"
fi
PIDS=()
CLEANUPS=()

log() { echo "[$(date +%T)] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
ok() { echo "ok - $*"; }

at_exit() { CLEANUPS+=("$*"); }
cleanup() {
	local rc=$? i
	set +e
	# WGNET_TEST_KEEP=DIR: a failed run's files (its logs, captures, the
	# lab's state) are copied to DIR before anything is torn down.
	if [ $rc != 0 ] && [ $rc != 77 ] && [ -n "${WGNET_TEST_KEEP:-}" ]; then
		mkdir -p "$WGNET_TEST_KEEP" &&
			cp -r "$TMP" "$WGNET_TEST_KEEP/$(basename "$0" .sh)-$(basename "$TMP")" 2>/dev/null
	fi
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[$i]}" >/dev/null 2>&1; done
	for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null; done
	for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null; done
	# What still runs in this test's namespaces was started by it (the
	# guests' wireguard-go daemons): ended by pid, or they would keep the
	# namespace alive and their inotify instances, until wireguard-go can
	# start nowhere on the machine (max_user_instances, 128).
	# Every prefix the run claimed: $T and its lab's (lablib.sh), in case
	# `lab down` could not finish.
	local pre
	for pre in "$T" ${WGNET_CLAIMED_ALL[@]+"${WGNET_CLAIMED_ALL[@]}"}; do
		for ns in $(ip netns list | awk '{print $1}' | grep "^$pre-"); do
			for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
		done
		for ns in $(ip netns list | awk '{print $1}' | grep "^$pre-"); do ip netns del "$ns"; done
	done
	rm -rf "$TMP"
	wgnet_release_prefix
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# n NS CMD...: run in a namespace (nsenter keeps /sys, so bpffs stays visible)
n() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }

# wait_for SECONDS CMD...: poll until CMD succeeds, for SECONDS of wall
# time (however long each try of CMD takes); CMD is tried at least once
wait_for() {
	local end=$((SECONDS + $1)); shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# Loss across an event, counted by sequence number: ping sends N + PING_TAIL
# and the test asks how many of icmp_seq 1..N got no reply. iputils ping
# waits only twice the largest round-trip time for the replies to its last
# packets, so on a loaded machine a late last reply counted as a loss; the
# tail absorbs that, and the N that matter are each answered or not.
PING_TAIL=20
# ping_lost FILE N: how many of icmp_seq 1..N have no reply in ping's
# output FILE (run without -q)
ping_lost() {
	awk -v n="$2" '/bytes from/ && match($0, /icmp_seq=[0-9]+/) {
		s = substr($0, RSTART + 9, RLENGTH - 9) + 0
		if (s >= 1 && s <= n && !seen[s]++) c++
	} END { print n - c }' "$1"
}

# ping_gaps FILE N: the runs of unanswered sequence numbers among the first
# N of a `ping -D` output, each with the wall-clock time of the last answer
# before it ("seq 812-889 (78) after 13:14:02.118"), for a failure message
# to say when the loss happened.
ping_gaps() {
	awk -v n="$2" '/bytes from/ && match($0, /icmp_seq=[0-9]+/) {
		s = substr($0, RSTART + 9, RLENGTH - 9) + 0
		if (match($0, /^\[[0-9.]+\]/)) t[s] = substr($0, 2, RLENGTH - 2)
		ok[s] = 1
	} END {
		for (s = 1; s <= n; s++) {
			if (ok[s]) { last = t[s]; continue }
			e = s; while (e < n && !ok[e + 1]) e++
			ts = last ? strftime("%H:%M:%S", int(last)) sprintf(".%03d", (last - int(last)) * 1000) : "the start"
			printf "seq %d-%d (%d) after %s; ", s, e, e - s + 1, ts
			s = e
		}
	}' "$1"
}

# mk_underlay PREFIX.0.1/24 NS: a bridge namespace
mk_underlay() {
	local ns=$1 gw=$2
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add br0 type bridge
	ip -n "$ns" addr add "$gw" dev br0
	ip -n "$ns" link set br0 up
	n "$ns" sysctl -qw net.ipv4.ip_forward=1
}

# mk_host UNDERLAY_NS NS IP/PLEN GW [PORT]: a namespace with eth0 on the
# bridge; the bridge port is PORT, or "p" and the host's ordinal (unique in
# the underlay namespace, which is the test's own)
MK_HOSTS=0
mk_host() {
	MK_HOSTS=$((MK_HOSTS + 1))
	local ul=$1 ns=$2 addr=$3 gw=$4 port=${5:-p$MK_HOSTS}
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ul" link add "$port" type veth peer name eth0 netns "$ns"
	ip -n "$ul" link set "$port" master br0 up
	ip -n "$ns" addr add "$addr" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "$gw"
}

# start_guest NS NAME: run wgnet-guest in NS; sets GSOCK_<NAME>
start_guest() {
	local ns=$1 name=$2
	local d="$TMP/$name"
	mkdir -p "$d"
	nsenter --net="/run/netns/$ns" -- "$WGNET_BIN/wgnet-guest" --name "$name" \
		--socket "$d/guest.sock" --state-dir "$d/state" \
		--pin-dir "/sys/fs/bpf/wgnet-$T-$name" --wg-prefix "${T:0:8}${name:0:1}" \
		--underlay eth0 --vsock-port 0 --nft-table "wgnet" --upstream-dns none ${GUEST_ARGS:-} \
		>>"$d/guest.log" 2>&1 &
	echo $! >"$d/pid"
	PIDS+=($!)
	at_exit "rm -rf /sys/fs/bpf/wgnet-$T-$name"
	wait_for 10 test -S "$d/guest.sock" || { cat "$d/guest.log"; fail "wgnet-guest $name did not start"; }
}

# dead PID: the process is gone (exited, even if not yet reaped)
dead() { ! pid_alive "$1"; }
# answered FILE: a ping writing to FILE has had a reply
answered() { grep -q "bytes from" "$1"; }
# listening FILE: a tcpdump writing to FILE is capturing
listening() { grep -q "listening on" "$1"; }

gsock() { echo "$TMP/$1/guest.sock"; }
# gcall NAME OP [JSON]
gcall() { local g=$1; shift; "$WGNET_BIN/wgnet-guest" call -s "$(gsock "$g")" "$@"; }
jq_() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
