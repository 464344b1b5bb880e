# Docker plugin tests (sourced after lib.sh): a "machine" is a network
# namespace with eth0 on the test's underlay, a wgnet-guest (the host-mode
# agent) and a dockerd of its own. dockerd runs in a private mount namespace
# with a tmpfs on /run, so its plugin directory (/run/docker/plugins, a bind
# mount of $TMP/NAME/plugins) and everything else it puts under /run are
# its own: the machine's /run/docker and any system dockerd are never
# touched. Data root, exec root, pidfile, API socket and containerd
# namespaces are per test and per machine. Everything is removed on exit.

command -v dockerd >/dev/null && [ -x /usr/bin/docker ] ||
	skip "needs Debian's docker.io (dockerd 20.10): apt-get install docker.io"
command -v busybox >/dev/null || skip "needs busybox-static"
DOCKER=/usr/bin/docker # the 20.10 CLI of docker.io
IMG=wgbox:$T

# dk NAME ARGS...: the docker CLI against machine NAME's dockerd
dk() { local m=$1; shift; timeout 120 "$DOCKER" -H "unix://$TMP/$m/docker.sock" "$@"; }

# dk_machine UNDERLAY_NS NAME IP/PLEN GW: namespace $T-NAME + its wgnet-guest
dk_machine() {
	local ul=$1 m=$2 addr=$3 gw=$4
	mk_host "$ul" "$T-$m" "$addr" "$gw" "p${T:0:6}$m"
	mkdir -p "$TMP/$m/plugins"
	start_guest "$T-$m" "$m"
	# last of all: the guest drops its WireGuard devices (wireguard-go)
	at_exit "timeout 10 $WGNET_BIN/wgnet-guest call -s $(gsock "$m") DeleteHub"
}

# dk_mountns NAME: the machine's private mount namespace, held by a sleep
# so that a restarted dockerd finds the mounts (container root filesystems,
# sandbox namespaces) of the one before
dk_mountns() {
	local m=$1 d="$TMP/$1"
	[ -f "$d/mnt.pid" ] && pid_alive "$(cat "$d/mnt.pid")" && return 0
	mkdir -p "$d/data" "$d/exec"
	unshare -m --propagation private -- sh -c '
		mount -t tmpfs -o mode=0755 tmpfs /run &&
		mkdir -p /run/docker/plugins &&
		mount --bind "$1/plugins" /run/docker/plugins &&
		touch "$1/mnt.ready" && exec sleep infinity' sh "$d" >>"$d/dockerd.log" 2>&1 &
	echo $! >"$d/mnt.pid"
	PIDS+=($!)
	wait_for 10 test -f "$d/mnt.ready" || fail "no mount namespace for $m"
}

# dk_dockerd_start NAME: dockerd in $T-NAME and its mount namespace
# (live-restore: containers stay up across a dockerd restart)
dk_dockerd_start() {
	local m=$1 d="$TMP/$1"
	dk_mountns "$m"
	nsenter --net="/run/netns/$T-$m" --mount="/proc/$(cat "$d/mnt.pid")/ns/mnt" -- \
		dockerd --data-root "$d/data" --exec-root "$d/exec" \
		--pidfile "$d/dockerd.pid" -H "unix://$d/docker.sock" \
		--iptables=false --ip6tables=false --bridge=none \
		--live-restore --containerd-namespace "$T-$m" \
		--containerd-plugins-namespace "$T-$m-p" >>"$d/dockerd.log" 2>&1 &
	echo $! >"$d/dockerd.launch"
	PIDS+=($!)
	wait_for 90 dk "$m" info || { tail -20 "$d/dockerd.log"; fail "dockerd on $m did not start"; }
}

# dk_dockerd_stop NAME: SIGTERM to the dockerd we started, wait for it
dk_dockerd_stop() {
	local m=$1 pid
	pid=$(cat "$TMP/$m/dockerd.launch" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	wait_for 60 dead "$pid" || fail "dockerd on $m did not stop"
}

# dk_cleanup NAME: remove every container (live-restore would keep them),
# stop dockerd, the containerd it started (live-restore leaves it running)
# and the mount namespace holder (the mounts go with it), drop its data
dk_cleanup() {
	local m=$1 d="$TMP/$1" ids pid
	[ -S "$d/docker.sock" ] && ids=$(dk "$m" ps -aq) && [ -n "$ids" ] && dk "$m" rm -f $ids
	dk_dockerd_stop "$m"
	pid=$(cat "$d/exec/containerd/containerd.pid" 2>/dev/null) &&
		[ "$(cat /proc/$pid/comm 2>/dev/null)" = containerd ] && kill "$pid" &&
		wait_for 20 dead "$pid"
	# Shims of our containerd namespace that outlived it (only ours: the
	# namespace name carries $T).
	for pid in $(pgrep -f -- "containerd-shim-runc-v2 -namespace $T-$m -id "); do
		kill "$pid"
	done
	[ -f "$d/mnt.pid" ] && kill "$(cat "$d/mnt.pid")"
	rm -rf "$d/data" "$d/exec"
}

# dk_image NAME: $IMG made offline from busybox-static (no registry)
dk_image() {
	local m=$1 r="$TMP/rootfs" a
	if [ ! -d "$r" ]; then
		mkdir -p "$r/bin" "$r/etc" "$r/www"
		cp "$(command -v busybox)" "$r/bin/busybox"
		for a in $("$r/bin/busybox" --list); do
			[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
		done
		echo "hello from wgnet" >"$r/www/index.html"
	fi
	tar -C "$r" -c . | dk "$m" import -c 'ENV PATH=/bin' - "$IMG" >/dev/null
}

# dk_host NAME [STORE] [EXTRA ARGS]: wgnet-host (in the machine's
# namespace) with the Docker plugin for machine NAME's guest, the plugin
# socket in that machine's plugin dir, names from that machine's dockerd
dk_host() {
	local m=$1 store=${2:-sqlite:$TMP/$1/state.db} d="$TMP/$1"
	shift 2 || shift $#
	nsenter --net="/run/netns/$T-$m" -- setsid "$WGNET_BIN/wgnet-host" \
		--socket "$d/host.sock" --store "$store" --id "$T-$m" \
		--docker-socket none --plugin-socket "$d/plugins/wgnet.sock" \
		--plugin-guest "$m" --plugin-state "$d/plugin.json" \
		--plugin-docker "$d/docker.sock" -v "$@" >>"$d/host.log" 2>&1 &
	echo $! >"$d/host.pid"
	PIDS+=($!)
	wait_for 10 test -S "$d/plugins/wgnet.sock" || { tail -20 "$d/host.log"; fail "wgnet-host of $m did not start"; }
}

dk_host_stop() {
	local pid
	pid=$(cat "$TMP/$1/host.pid")
	kill "$pid" 2>/dev/null
	wait_for 20 dead "$pid" || fail "wgnet-host of $1 did not stop"
}

wgh() { local m=$1; shift; "$WGNET_BIN/wgnet" -H "$TMP/$m/host.sock" "$@"; }

# dk_ip NAME CONTAINER [NETWORK]: the container's address on the network
dk_ip() {
	dk "$1" inspect -f "{{(index .NetworkSettings.Networks \"${3:-n1}\").IPAddress}}" "$2"
}

# drops NAME REASON: a BPF drop counter of the machine's guest
drops() {
	gcall "$1" GetStatus | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"].get(sys.argv[1], 0))' "$2"
}
