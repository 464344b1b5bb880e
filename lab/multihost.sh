# wgnet-lab --hosts 2 (sourced by wgnet-lab): a second "machine" and an etcd
# cluster shared by the two wgnet-host instances (issue 9, docs/etcd.md).
#
#   machine A: the usual underlay ($PFX-ul, 10.77.0.0/16), wgnet-host on
#              $WGNET_HOST_SOCK, id A
#   machine B: underlay namespace $PFX-ulb (bridge ulbr, 10.78.0.0/16),
#              wgnet-host on $LAB_DIR/host-b.sock, id B
#   A and B are routed to each other over a veth (10.76.0.1 <-> 10.76.0.2).
#   etcd: three members whose client and peer URLs are unix sockets in the
#   lab's private directory ($LAB_DIR/etcd/mN:2379 client, mN:2380 peer; no
#   TCP port, so nothing on the machine can take or collide with them),
#   data in $LAB_DIR/etcd/m{1,2,3}, killed by PID on `down`.
#
#   wgnet-lab up --hosts 2
#   wgnet-lab run --host B --name c ...     a container (and guest) on B
#   wgnet-lab host-sock [A|B]               the wgnet-host socket of a machine
#   wgnet-lab host start|stop|restart|kill B
#   wgnet-lab etcd ls | endpoints | stop N | start N | stop-all | start-all
#
# Environment: WGNET_LAB_LEASE_TTL (wgnet-host --lease-ttl, default 10).

MH_LINK_A=10.76.0.1
MH_LINK_B=10.76.0.2
MH_A_SOCK=$HOST_SOCK
MH_A_NS=$UL_NS
MH_A_NET=$UL_NET

mh_on() { [ -f "$LAB_DIR/etcd/cluster" ]; }
mh_dir() { echo "$LAB_DIR/etcd"; }
mh_b_ns() { echo "$PFX-ulb"; }

# The store and extra wgnet-host arguments of machine A (hooks of
# host_start in wgnet-lab).
lab_store() {
	if mh_on; then echo "etcd+unix://$(mh_endpoints)"; else echo "sqlite:$LAB_DIR/state.db"; fi
}
lab_host_args() {
	mh_on && echo "--id A --lease-ttl ${WGNET_LAB_LEASE_TTL:-10}"
}

# etcd names a unix URL's socket by its "host:port", relative to the
# member's working directory ($LAB_DIR/etcd, shared by the three members):
# unix://mN:2379 is the file $LAB_DIR/etcd/mN:2379.
mh_client_sock() { echo "$(mh_dir)/m$1:2379"; }
mh_peer_url() { echo "unix://m$1:2380"; }
mh_client_url() { echo "unix://m$1:2379"; }

# The members' client sockets, comma-separated (wgnet-host --store
# etcd+unix://...).
mh_endpoints() {
	local i out=""
	for i in 1 2 3; do out="$out${out:+,}$(mh_client_sock "$i")"; done
	echo "$out"
}

# mh_select A|B: the underlay and wgnet-host every following step uses.
mh_select() {
	case ${1:-A} in
	A|a)
		UL_NS=$MH_A_NS; UL_NET=$MH_A_NET; UL_GW=$MH_A_NET.0.1
		HOST_SOCK=$MH_A_SOCK; LAB_MACHINE=A ;;
	B|b)
		mh_on || die "machine B needs: wgnet-lab up --hosts 2"
		UL_NS=$(mh_b_ns); UL_NET=10.78; UL_GW=10.78.0.1
		HOST_SOCK=$LAB_DIR/host-b.sock; LAB_MACHINE=B ;;
	*) die "unknown machine $1 (A or B)" ;;
	esac
	export WGNET_HOST_SOCK=$HOST_SOCK
}

# The machine of an existing guest (A unless recorded otherwise).
mh_select_guest() {
	local m
	{ read -r m <"$LAB_DIR/guests/$1/machine"; } 2>/dev/null || m=A
	mh_select "$m"
}

mh_note_guest() { echo "${LAB_MACHINE:-A}" >"$1/machine"; }

mh_host_sock() {
	case ${1:-A} in
	A|a) echo "$MH_A_SOCK" ;;
	B|b) echo "$LAB_DIR/host-b.sock" ;;
	*) die "unknown machine $1" ;;
	esac
}

# --- etcd ---------------------------------------------------------------

mh_etcd_cluster() {
	local i out=""
	for i in 1 2 3; do out="$out${out:+,}m$i=$(mh_peer_url "$i")"; done
	echo "$out"
}

mh_etcd_start() {
	local i=$1 d pid
	d=$(mh_dir)
	pid=$(cat "$d/m$i.pid" 2>/dev/null)
	[ -n "$pid" ] && pid_alive "$pid" && return 0
	mkdir -p "$d/m$i"
	chmod 700 "$d/m$i"
	# A member killed with SIGKILL leaves its client socket file behind,
	# and etcd does not bind over it. The member is ours and not running.
	rm -f "$d/m$i:2379" "$d/m$i:2380"
	(cd "$d" && exec setsid etcd --name "m$i" --data-dir "$d/m$i" \
		--listen-client-urls "$(mh_client_url "$i")" \
		--advertise-client-urls "$(mh_client_url "$i")" \
		--listen-peer-urls "$(mh_peer_url "$i")" \
		--initial-advertise-peer-urls "$(mh_peer_url "$i")" \
		--initial-cluster "$(mh_etcd_cluster)" \
		--initial-cluster-state new \
		--initial-cluster-token "wgnet-lab-$PFX-$(cat "$d/token")" \
		--heartbeat-interval 100 --election-timeout 1000 \
		>>"$d/m$i.log" 2>&1 </dev/null) &
	echo $! >"$d/m$i.pid"
}

mh_etcd_stop() {
	local i=$1 pid d
	d=$(mh_dir)
	pid=$(cat "$d/m$i.pid" 2>/dev/null) || return 0
	pid_stop "$pid" TERM
	rm -f "$d/m$i.pid"
}

# Every running member answers /health with a leader.
mh_etcd_healthy() {
	local i pid
	for i in 1 2 3; do
		pid=$(cat "$(mh_dir)/m$i.pid" 2>/dev/null) || continue
		pid_alive "$pid" || continue
		curl -s --max-time 1 --unix-socket "$(mh_client_sock "$i")" http://localhost/health |
			grep -q '"health":"true"' || return 1
	done
}

mh_etcd_wait() {
	local i pid
	for _ in $(seq 100); do
		mh_etcd_healthy && return 0
		for i in 1 2 3; do
			pid=$(cat "$(mh_dir)/m$i.pid" 2>/dev/null) || continue
			pid_alive "$pid" || { echo "etcd m$i exited:" >&2; tail -n 5 "$(mh_dir)/m$i.log" >&2; return 1; }
		done
		sleep 0.2
	done
	return 1
}

mh_cmd_etcd() {
	need_up
	mh_on || die "no etcd in this lab (wgnet-lab up --hosts 2)"
	case ${1:-ls} in
	endpoints) mh_endpoints ;;
	ls)
		for i in 1 2 3; do
			pid=$(cat "$(mh_dir)/m$i.pid" 2>/dev/null)
			st=stopped
			[ -n "$pid" ] && pid_alive "$pid" && st="running (pid $pid)"
			printf 'm%s\t%s\t%s\n' "$i" "$(mh_client_sock "$i")" "$st"
		done ;;
	stop) [[ ${2:-} =~ ^[123]$ ]] || die "usage: wgnet-lab etcd stop 1|2|3"; mh_etcd_stop "$2" ;;
	start) [[ ${2:-} =~ ^[123]$ ]] || die "usage: wgnet-lab etcd start 1|2|3"; mh_etcd_start "$2" ;;
	stop-all) for i in 1 2 3; do mh_etcd_stop "$i"; done ;;
	start-all)
		for i in 1 2 3; do mh_etcd_start "$i"; done
		mh_etcd_wait || die "etcd did not become healthy (see $(mh_dir)/m*.log)" ;;
	*) die "usage: wgnet-lab etcd ls|endpoints|stop N|start N|stop-all|start-all" ;;
	esac
}

# --- machine B ------------------------------------------------------------

mh_host_b_start() {
	local log="$LAB_DIR/host-b.log" sock="$LAB_DIR/host-b.sock"
	setsid "$BIN/wgnet-host" --socket "$sock" --store "etcd+unix://$(mh_endpoints)" \
		--id B --lease-ttl "${WGNET_LAB_LEASE_TTL:-10}" \
		--guest-timeout "${WGNET_LAB_GUEST_TIMEOUT:-30}" ${WGNET_HOST_ARGS:-} \
		>>"$log" 2>&1 </dev/null &
	echo $! >"$LAB_DIR/host-b.pid"
	for _ in $(seq 100); do
		[ -S "$sock" ] && "$BIN/wgnet" -H "$sock" guest ls >/dev/null 2>&1 && return 0
		pid_alive "$(cat "$LAB_DIR/host-b.pid")" || { tail -5 "$log" >&2; die "wgnet-host B exited"; }
		sleep 0.1
	done
	die "wgnet-host B did not answer on $sock (see $log)"
}

mh_host_b_stop() {
	local sig=${1:-TERM} pid
	pid=$(cat "$LAB_DIR/host-b.pid" 2>/dev/null) || return 0
	pid_stop "$pid" "$sig"
	rm -f "$LAB_DIR/host-b.pid"
}

# wgnet-lab host CMD B
mh_cmd_host() {
	mh_on || die "no machine B in this lab (wgnet-lab up --hosts 2)"
	case ${1:-} in
	start) mh_host_b_start ;;
	stop) mh_host_b_stop TERM ;;
	kill) mh_host_b_stop KILL ;;
	restart) mh_host_b_stop TERM; mh_host_b_start ;;
	*) die "usage: wgnet-lab host start|stop|restart|kill [A|B]" ;;
	esac
}

# Before wgnet-host A starts: the etcd cluster.
mh_up_pre() {
	local n=$1 d
	[ "$n" = 2 ] || die "--hosts: only 1 or 2 machines"
	command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
		die "--hosts 2 needs etcd (apt-get install etcd-server etcd-client)"
	d=$(mh_dir)
	mkdir -p "$d"
	chmod 700 "$d"
	echo "$$-$RANDOM" >"$d/token"
	# The host connects by absolute path: it must fit sun_path.
	[ ${#d} -le 96 ] || die "--hosts 2: the lab directory $LAB_DIR is too long for etcd's unix sockets"
	mh_etcd_cluster >"$d/cluster"
	for i in 1 2 3; do mh_etcd_start "$i"; done
	mh_etcd_wait || { tail -n 5 "$d"/m*.log >&2; return 1; }
	echo "etcd cluster: $(mh_endpoints)"
}

# After wgnet-host A: machine B's underlay, the route, wgnet-host B.
mh_up_post() {
	local b
	b=$(mh_b_ns)
	ns_exists "$b" && die "namespace $b exists"
	ip netns add "$b" || die "cannot create namespace $b"
	ip -n "$b" link set lo up
	ip -n "$b" link add "$UL_BR" type bridge
	ip -n "$b" addr add "10.78.0.1/$UL_PLEN" dev "$UL_BR"
	ip -n "$b" link set "$UL_BR" up
	ul_router "$b"
	ip -n "$MH_A_NS" link add mhb type veth peer name mha netns "$b"
	ip -n "$MH_A_NS" addr add "$MH_LINK_A/30" dev mhb
	ip -n "$MH_A_NS" link set mhb up
	ip -n "$b" addr add "$MH_LINK_B/30" dev mha
	ip -n "$b" link set mha up
	ip -n "$MH_A_NS" route add 10.78.0.0/16 via "$MH_LINK_B"
	ip -n "$b" route add default via "$MH_LINK_A"
	mh_host_b_start
	echo "machine B: underlay 10.78.0.1/$UL_PLEN in netns $b, wgnet-host on $LAB_DIR/host-b.sock"
}

mh_down() {
	mh_on || return 0
	mh_host_b_stop TERM
	ip netns del "$(mh_b_ns)" 2>/dev/null
	rm -f "$LAB_DIR/host-b.sock"
	# wgnet-host A goes after this (it needs no etcd to stop).
	for i in 1 2 3; do mh_etcd_stop "$i"; done
	rm -f "$(mh_dir)/cluster"
	mh_select A
}
