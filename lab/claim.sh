# shellcheck shell=bash
# A name prefix that no other lab, test or bench run on this machine holds
# (sourced by tests/netns/lib.sh and bench/run; not by wgnet-lab itself).
#
#   wgnet_claim_prefix LETTER    sets WGNET_CLAIMED to LETTER and three more
#                                characters [a-z0-9], or returns 1 (a run
#                                may claim several: each call a new one)
#   wgnet_release_prefix         gives them all back (call it last, at exit)
#
# A prefix is claimed by creating /run/wgnet-claims/PREFIX: mkdir is atomic,
# so two runs started at the same moment cannot both get it (a pid modulo
# something, or $RANDOM checked and then used, can). A prefix is only taken
# when nothing on the machine carries it yet (namespaces, /etc/netns,
# wireguard-go UAPI sockets, bpffs pins), so the leftovers of a run that was
# killed are never mistaken for ours. A run killed with SIGKILL keeps its
# claim: that prefix stays unused until the machine restarts (/run is a
# tmpfs), which is what its leftovers need.
#
# Names built from PREFIX: namespaces "PREFIX-*", WireGuard interfaces
# "wPREFIX*" (lab) and "PREFIX*" / "tPREFIX*" (tests, bench), pins
# /sys/fs/bpf/wgnet/PREFIX-* and /sys/fs/bpf/wgnet-PREFIX-*.

WGNET_CLAIMS=/run/wgnet-claims
WGNET_CLAIMED=""
WGNET_CLAIMED_ALL=()

# Something on the machine already carries prefix $1.
wgnet_prefix_used() {
	local p=$1
	ip netns list 2>/dev/null | grep -q "^$p-" && return 0
	compgen -G "/etc/netns/$p-*" >/dev/null && return 0
	compgen -G "/var/run/wireguard/$p*" >/dev/null && return 0
	compgen -G "/var/run/wireguard/[tw]$p*" >/dev/null && return 0
	compgen -G "/sys/fs/bpf/wgnet/$p-*" >/dev/null && return 0
	compgen -G "/sys/fs/bpf/wgnet-$p-*" >/dev/null && return 0
	return 1
}

wgnet_claim_prefix() {
	local first=$1 chars=abcdefghijklmnopqrstuvwxyz0123456789 cand i
	mkdir -p "$WGNET_CLAIMS" || return 1
	for _ in $(seq 200); do
		cand=$first
		for i in 1 2 3; do cand+=${chars:$((RANDOM % 36)):1}; done
		[ -e "$WGNET_CLAIMS/$cand" ] && continue
		wgnet_prefix_used "$cand" && continue
		mkdir "$WGNET_CLAIMS/$cand" 2>/dev/null || continue
		echo "$$" >"$WGNET_CLAIMS/$cand/pid"
		WGNET_CLAIMED=$cand
		WGNET_CLAIMED_ALL+=("$cand")
		return 0
	done
	return 1
}

wgnet_release_prefix() {
	local p
	for p in ${WGNET_CLAIMED_ALL[@]+"${WGNET_CLAIMED_ALL[@]}"}; do
		rm -rf "${WGNET_CLAIMS:?}/$p"
	done
	WGNET_CLAIMED_ALL=()
	WGNET_CLAIMED=""
}
