# shellcheck shell=bash
# bench/lib.sh: helpers for bench/run (sourced, not executed).
#
# Everything the bench makes carries the run's prefix $PFX: namespaces
# "$PFX-…", WireGuard interfaces "t$PFX…" (bare tunnel) and "w$PFX…" (the
# lab's), so nothing can collide with another lab or test on the machine.
# What we create is recorded under $BW and removed by bench_cleanup, which
# bench/run installs as its EXIT/INT/TERM trap.

# shellcheck source=lab/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lab/proc.sh"

BENCH_NS=()		# namespaces we made (outside the lab)
BENCH_PIDS=()		# processes we started (iperf3 servers, wireguard-go)
BENCH_SOCKS=()		# wireguard-go UAPI sockets of our bare tunnel
LAB_STARTED=0

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
warn() { printf '[%s] warning: %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

now() { echo "$EPOCHREALTIME"; }
# The system's interpreter: a version manager's shim in PATH (pyenv) can
# take seconds to start on a loaded machine, which timed loops would count.
PY=$(command -v /usr/bin/python3 || command -v python3)
python3() { "$PY" "$@"; }
export -f python3
# ms between two $EPOCHREALTIME stamps
ms_since() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.3f", (b - a) * 1000 }'; }

# A record for bench/stats.py: one JSON object per line in $BW/results.jsonl.
# Arguments: key=value pairs; values that look like numbers stay numbers.
rec() {
	local kv k v sep="" out="{"
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		if [[ $v =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
			out+="$sep\"$k\":$v"
		else
			v=${v//\\/\\\\}
			v=${v//\"/\\\"}
			out+="$sep\"$k\":\"$v\""
		fi
		sep=,
	done
	echo "$out}" >>"$BW/results.jsonl"
}

# --- namespaces and processes we own ------------------------------------------

ns_add() {
	ip netns add "$1" || return 1
	BENCH_NS+=("$1")
	ip -n "$1" link set lo up
}

# bg_start LOG CMD...: start a process, remember its pid in BENCH_PIDS and
# BG_PID (no command substitution: the child must stay ours).
bg_start() {
	local logf=$1
	shift
	"$@" >"$logf" 2>&1 </dev/null &
	BG_PID=$!
	BENCH_PIDS+=("$BG_PID")
}

alive() {	# how many of the given pids still run
	local p c=0
	for p in "$@"; do pid_alive "$p" && c=$((c + 1)); done
	echo "$c"
}

lab() { "$WGNET_BIN/wgnet-lab" "$@"; }
wgn() { "$WGNET_BIN/wgnet" "$@"; }

bench_cleanup() {
	local p n s lf
	[ "${CLEANED:-0}" = 1 ] && return
	CLEANED=1
	trap - INT TERM
	log "cleaning up"
	for p in ${BENCH_PIDS[@]+"${BENCH_PIDS[@]}"}; do pid_stop "$p" TERM; done
	if [ "$LAB_STARTED" = 1 ]; then
		# The whole lab goes: stop wgnet-host first so that removing each
		# container does not fan peer updates out to every other guest.
		# The agents still tear down their interfaces, nft and pins.
		# Containers (and their auto-made guests) are removed 8 at a
		# time; `wgnet-lab down` then sweeps whatever is left.
		# --keep: the lab's logs (wgnet-host, each agent) before they go.
		if [ "${KEEP:-0}" = 1 ] && [ -d "$WGNET_LAB_DIR" ]; then
			mkdir -p "$BW/lab-logs"
			cp "$WGNET_LAB_DIR"/*.log "$BW/lab-logs/" 2>/dev/null
			for lf in "$WGNET_LAB_DIR"/guests/*/guest.log; do
				[ -f "$lf" ] && cp "$lf" "$BW/lab-logs/$(basename "$(dirname "$lf")").log"
			done
		fi
		lab host stop >/dev/null 2>&1
		local c rp=()
		for c in "$WGNET_LAB_DIR"/containers/*; do
			[ -d "$c" ] || continue
			lab rm "${c##*/}" >/dev/null 2>&1 &
			rp+=($!)
			while [ "$(alive "${rp[@]}")" -ge 8 ]; do sleep 0.05; done
		done
		[ ${#rp[@]} -gt 0 ] && wait "${rp[@]}"
		lab down >/dev/null 2>&1 || warn "wgnet-lab down failed (lab dir $WGNET_LAB_DIR)"
	fi
	for n in ${BENCH_NS[@]+"${BENCH_NS[@]}"}; do ip netns del "$n" 2>/dev/null; done
	for s in ${BENCH_SOCKS[@]+"${BENCH_SOCKS[@]}"}; do rm -f "$s"; done
	wgnet_release_prefix
	log "cleaned up"
	if [ "${KEEP:-0}" = 1 ]; then
		log "raw results kept in $BW"
	elif [ -n "$BW" ]; then
		rm -rf "$BW"
	fi
}

# --- a bare wireguard-go tunnel (the baseline of the encrypted paths) -----------

# Two namespaces joined by a veth (the underlay), a wireguard-go interface in
# each, configured by hand with wg(8): the best the encrypted path can be.
# Each wireguard-go runs in a session of its own, as wgnet's do (the
# scheduler's autogroups then treat both alike). "wg" gets the data-path
# settings wgnet gives its own wireguard-go: 7 MiB UDP socket buffers
# (`wgnet-guest tune`, the same code; later wireguard-go releases set them
# themselves) and a TUN txqueuelen of 2000; "wg-stock" is wireguard-go
# 0.0.20220316 as it starts.
declare -A TUN_PIDS
# Each path's client and server namespaces, destination, and the namespaces
# whose answers count.
declare -A CLI SRV DST ANS
# setup_tunnel PATH NSLETTER IFTAG NET3 NET4 TUNE
setup_tunnel() {
	local path=$1 l=$2 tag=$3 ul=$4 ov=$5 tune=$6 a b n ifn peer me other
	a=$PFX-${l}a b=$PFX-${l}b
	ns_add "$a" && ns_add "$b" || return 1
	ip -n "$a" link add eth0 type veth peer name eth0 netns "$b" || return 1
	ip -n "$a" addr add "$ul.1/24" dev eth0 && ip -n "$b" addr add "$ul.2/24" dev eth0 &&
		ip -n "$a" link set eth0 up && ip -n "$b" link set eth0 up || return 1
	(umask 077; wg genkey >"$BW/$l-a.key" && wg genkey >"$BW/$l-b.key") || return 1
	for n in a b; do
		ifn=t${PFX}$tag$n
		[ -e "/var/run/wireguard/$ifn.sock" ] && { warn "$ifn.sock exists"; return 1; }
		BENCH_SOCKS+=("/var/run/wireguard/$ifn.sock")
		bg_start "$BW/wireguard-go-$l$n.log" setsid ip netns exec "$PFX-$l$n" wireguard-go -f "$ifn"
		TUN_PIDS[$path]+=" $BG_PID"
		for _ in $(seq 50); do [ -S "/var/run/wireguard/$ifn.sock" ] && break; sleep 0.1; done
		[ -S "/var/run/wireguard/$ifn.sock" ] || return 1
	done
	for n in a b; do
		ifn=t${PFX}$tag$n
		if [ $n = a ]; then peer=b me=1 other=2; else peer=a me=2 other=1; fi
		ip netns exec "$PFX-$l$n" wg set "$ifn" private-key "$BW/$l-$n.key" listen-port 51820 \
			peer "$(wg pubkey <"$BW/$l-$peer.key")" allowed-ips "$ov.$other/32" \
			endpoint "$ul.$other:51820" || return 1
		ip -n "$PFX-$l$n" addr add "$ov.$me/24" dev "$ifn" || return 1
		if [ "$tune" = 1 ]; then	# wgnet's TUN ring (guest/ops_net.c)
			ip -n "$PFX-$l$n" link set "$ifn" txqueuelen 2000 || return 1
		fi
		ip -n "$PFX-$l$n" link set "$ifn" up || return 1
		[ "$tune" = 1 ] || continue
		# wireguard-go binds its sockets when the link comes up.
		for _ in $(seq 50); do
			ip netns exec "$PFX-$l$n" "$WGNET_BIN/wgnet-guest" tune "$ifn" && break
			sleep 0.1
		done || return 1
	done
	CLI[$path]=$a SRV[$path]=$b DST[$path]=$ov.2 ANS[$path]="$a $b"
}

# --- /proc readings -------------------------------------------------------------

# Busy jiffies of the whole machine (user nice system irq softirq steal;
# idle and iowait excluded).
cpu_busy() {
	local _c u n s _i _w q sq st
	read -r _c u n s _i _w q sq st _ </proc/stat
	echo $((u + n + s + q + sq + st))
}

# softirq jiffies of the whole machine
cpu_softirq() {
	local _c _u _n _s _i _w _q sq _
	read -r _c _u _n _s _i _w _q sq _ </proc/stat
	echo "$sq"
}

# utime+stime (jiffies) summed over the given pids (gone pids count 0)
proc_jiffies() {
	local p sum=0 f
	for p in "$@"; do
		f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		f=${f##*) }	# after the command name: field 3 is first
		# shellcheck disable=SC2086
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}

rss_kb() { awk '/^VmRSS:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# PIDs of wireguard-go processes whose interface name (argv[1]) starts
# with $1; /proc is read, nothing else.
wggo_pids() {
	local want=$1 d arg0 arg1
	for d in /proc/[0-9]*; do
		{ IFS= read -r -d "" arg0 && IFS= read -r -d "" arg1; } 2>/dev/null <"$d/cmdline" || continue
		[ "${arg0##*/}" = wireguard-go ] || continue
		[[ $arg1 == "$want"* ]] && echo "${d#/proc/}"
	done
}

# wireguard-go PIDs of the WireGuard interfaces of lab guest namespace $1
lab_wg_pids() {
	local ns=$1 ifn
	for ifn in $(ip -n "$ns" -o link show type tun 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
		wggo_pids "$ifn"
	done
}

# --- measurements ----------------------------------------------------------------

# measure_ping PATH ROUND NS DST: >= $PROBES echo requests at $PING_IV
measure_ping() {
	local path=$1 round=$2 ns=$3 dst=$4 out
	out="$BW/raw/ping-$path-$round.txt"
	ip netns exec "$ns" ping -n -c "$PROBES" -i "$PING_IV" -W 1 "$dst" >"$out" 2>&1
	rec kind=ping path="$path" round="$round" file="$out"
}

# measure_iperf PATH ROUND TEST NS DST WGPIDS [ANATNS]: one iperf3 client run.
# TEST: tcp1, tcp4, udp100, udp500. CPU: machine busy and softirq jiffies
# and the wireguard-go processes' jiffies over the run. ANATNS: namespaces
# whose drop counters are read before and after (outside the CPU window).
measure_iperf() {
	local path=$1 round=$2 test=$3 ns=$4 dst=$5 wgpids=$6 anat=${7:-} out args c0 c1 w0 w1 q0 q1 t0 t1 a0="" a1=""
	out="$BW/raw/iperf-$path-$round-$test.json"
	case $test in
	tcp1) args=(-t "$IPERF_T") ;;
	tcp4) args=(-t "$IPERF_T" -P 4) ;;
	udp100) args=(-t "$IPERF_T" -u -b 100M -l "$UDP_LEN") ;;
	udp500) args=(-t "$IPERF_T" -u -b 500M -l "$UDP_LEN") ;;
	esac
	if [ -n "$anat" ]; then
		a0="$out.anat0" a1="$out.anat1"
		# shellcheck disable=SC2086
		python3 "$HERE/stats.py" anat "$a0" $anat
	fi
	# shellcheck disable=SC2086
	w0=$(proc_jiffies $wgpids)
	c0=$(cpu_busy)
	q0=$(cpu_softirq)
	t0=$(now)
	timeout $((IPERF_T + 15)) ip netns exec "$ns" iperf3 -c "$dst" -J --connect-timeout 3000 \
		"${args[@]}" >"$out" 2>"$out.err"
	t1=$(now)
	c1=$(cpu_busy)
	q1=$(cpu_softirq)
	# shellcheck disable=SC2086
	w1=$(proc_jiffies $wgpids)
	# shellcheck disable=SC2086
	[ -n "$anat" ] && python3 "$HERE/stats.py" anat "$a1" $anat
	rec kind=iperf path="$path" round="$round" test="$test" file="$out" \
		cpu_jiffies=$((c1 - c0)) softirq_jiffies=$((q1 - q0)) wg_jiffies=$((w1 - w0)) \
		wall_ms="$(ms_since "$t0" "$t1")" hz="$CLK_TCK" ncpu="$NCPU" anat0="$a0" anat1="$a1"
}

# iperf3 server in NS bound to IP, left running until cleanup
iperf_server() {
	local ns=$1 ip=$2 tag=$3
	bg_start "$BW/iperf-server-$tag.log" ip netns exec "$ns" iperf3 -s -B "$ip"
	for _ in $(seq 50); do
		ip netns exec "$ns" ss -Hltn "sport = :5201" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	warn "iperf3 server in $ns did not start"
	return 1
}

# first IPv4 address of DEV in NS
ns_ip4() { ip -n "$1" -4 -o addr show dev "$2" 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }'; }
