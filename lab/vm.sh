# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# wgnet-lab --vm: each guest is a qemu micro-VM (software emulation) booted
# from Debian's kernel package and an initramfs built here. Sourced by
# wgnet-lab (which defines LAB_DIR, BIN, UL_NS, UL_BR, UL_GW, UL_PLEN, die,
# guest_dir); also usable alone: `bash lab/vm.sh build` builds the image.
#
#   image   build/vm/img-<hash>/{vmlinux,initrd.cpio}, rebuilt only when an
#           input changes: the kernel package, wgnet-guest, lab/vm-init, this
#           file, busybox and the tools copied in (see docs/vm.md)
#   guest   qemu in the underlay namespace, its NIC a tap "ul<num>" on the
#           bridge, two virtio-serial ports: "wgnet" (the control protocol,
#           host side <guest dir>/guest.sock) and "wgnet-exec" (a shell
#           command channel, host side <guest dir>/exec.sock)
#
# Environment: WGNET_VM_DIR (image cache, default <repo>/build/vm),
# WGNET_VM_KERNEL_PKG (e.g. linux-image-6.1.0-56-amd64; default: the one
# linux-image-amd64 depends on), WGNET_VM_MEM (MiB, default 256),
# WGNET_VM_BOOT_TIMEOUT (s, default 120), WGNET_VM_EXEC_TIMEOUT (s, 300).

# wgnet-lab sources this file by an absolute path (its own directory,
# resolved): the directory without a subshell, as every lab command pays it.
case ${BASH_SOURCE[0]} in
/*/*) VM_LIB=${BASH_SOURCE[0]%/*} ;;
*) VM_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) ;;
esac
VM_DIR=${WGNET_VM_DIR:-${VM_LIB%/*}/build/vm}
VM_MEM=${WGNET_VM_MEM:-256}
VM_QEMU=${WGNET_VM_QEMU:-qemu-system-x86_64}

vm_log() { echo "wgnet-lab: vm: $*" >&2; }
vm_die() {
	if declare -F die >/dev/null; then die "$@"; fi
	echo "wgnet-lab: error: $*" >&2
	exit 1
}

# --- the image -----------------------------------------------------------------

vm_kernel_pkg() {
	local p=${WGNET_VM_KERNEL_PKG:-}
	# 6.12 (bookworm's newer LTS) first, the 6.1 of linux-image-amd64
	# otherwise; both load the data plane.
	if [ -z "$p" ]; then
		p=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' 2>/dev/null |
			awk '{ print $1 }' | sort -V | tail -1)
	fi
	if [ -z "$p" ]; then
		p=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9].*-amd64$/ { print $2; exit }')
	fi
	if [ -z "$p" ]; then
		p=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
			awk '{ print $1 }' | sort -V | tail -1)
	fi
	if [ -z "$p" ]; then
		# Offline: the newest package already downloaded.
		p=$(ls "$VM_DIR"/dl/linux-image-*-amd64_*.deb 2>/dev/null | sort -V | tail -1)
		p=${p##*/}
		p=${p%%_*}
	fi
	[ -n "$p" ] || return 1
	echo "$p"
}

# vm_extract VMLINUZ OUT: the ELF image inside a bzImage (xz or zstd).
vm_extract() {
	local z=$1 out=$2 off
	off=$(LC_ALL=C grep -obUa $'\xfd7zXZ' "$z" | head -1 | cut -d: -f1)
	if [ -n "$off" ]; then
		tail -c +$((off + 1)) "$z" | xz -dc --single-stream >"$out" 2>/dev/null
	else
		off=$(LC_ALL=C grep -obUa $'\x28\xb5\x2f\xfd' "$z" | head -1 | cut -d: -f1)
		[ -n "$off" ] || return 1
		# zstd stops at the end of the frame; the trailer after it is
		# reported as an error, the output is complete.
		tail -c +$((off + 1)) "$z" | zstd -qdc >"$out" 2>/dev/null
	fi
	[ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ]
}

# vm_kernel PKG: download and unpack (once); prints the unpacked tree.
vm_kernel() {
	local pkg=$1 deb kdir ver off
	mkdir -p "$VM_DIR/dl"
	deb=$(ls "$VM_DIR/dl/${pkg}"_*.deb 2>/dev/null | sort -V | tail -1)
	if [ -z "$deb" ]; then
		vm_log "downloading $pkg"
		# Stale package lists name versions the mirror no longer has.
		(cd "$VM_DIR/dl" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
			{ apt-get update -qq >/dev/null 2>&1 &&
			  (cd "$VM_DIR/dl" && apt-get download -q "$pkg" >/dev/null 2>&1); } ||
			{ vm_log "apt-get download $pkg failed"; return 1; }
		deb=$(ls "$VM_DIR/dl/${pkg}"_*.deb 2>/dev/null | sort -V | tail -1)
		[ -n "$deb" ] || return 1
	fi
	kdir="$VM_DIR/kernel-$(basename "$deb" .deb)"
	if [ ! -f "$kdir/.done" ]; then
		rm -rf "$kdir"
		mkdir -p "$kdir"
		dpkg -x "$deb" "$kdir/root" || return 1
		ver=$(ls "$kdir/root/lib/modules" | head -1)
		depmod -b "$kdir/root" "$ver" || return 1
		# An uncompressed kernel boots much faster under emulation; the
		# ELF vmlinux carries a PVH note, so qemu -kernel takes it.
		if vm_extract "$kdir/root/boot/vmlinuz-$ver" "$kdir/vmlinux"; then
			:
		else
			vm_log "cannot extract vmlinux: booting the compressed kernel"
			cp "$kdir/root/boot/vmlinuz-$ver" "$kdir/vmlinux"
		fi
		echo "$ver" >"$kdir/version"
		touch "$kdir/.done"
	fi
	echo "$kdir"
}

# Modules the guest loads at boot (dependencies are added from modules.dep).
VM_MODULES="crc32c_generic virtio_pci virtio_net virtio_console virtio-rng veth wireguard
sch_ingress cls_bpf nf_tables nft_chain_nat nft_nat nft_masq nft_fib_inet
nft_fib_ipv4 nft_fib_ipv6 nft_ct"

# vm_mod_order MODDIR: the modules' paths in a loadable order.
vm_mod_order() {
	local mdir=$1
	awk -v want="$VM_MODULES" '
	FNR == NR { m = $1; sub(".*/", "", m); sub("\\.ko.*$", "", m); builtin[m] = 1; next }
	{ key = $1; sub(":$", "", key); n = split($0, f, " ")
	  deps[key] = ""; for (i = 2; i <= n; i++) deps[key] = deps[key] " " f[i]
	  m = key; sub(".*/", "", m); sub("\\.ko.*$", "", m); path[m] = key }
	function visit(p,   d, k, i) {
		if (p in seen) return
		seen[p] = 1
		k = split(deps[p], d, " ")
		for (i = k; i >= 1; i--) visit(d[i])
		print p
	}
	END { n = split(want, w, /[ \n]+/)
	      for (i = 1; i <= n; i++) {
		  if (w[i] == "" || w[i] in builtin) continue
		  if (!(w[i] in path)) { print "missing " w[i] > "/dev/stderr"; continue }
		  visit(path[w[i]]) } }' "$mdir/modules.builtin" "$mdir/modules.dep"
}

# Modules whose BTF is stripped in the image (none needed since the data
# plane stopped using the conntrack kfunc; kept as a knob).
VM_NOBTF_MODULES=""

VM_TOOLS="/usr/sbin/ip /usr/bin/ping /usr/bin/iperf3 /usr/sbin/nft /usr/sbin/bpftool"

# vm_copy_bin ROOT FILE: a binary and the shared libraries it needs.
vm_copy_bin() {
	local root=$1 f=$2 lib
	install -D -m 0755 "$f" "$root$f"
	for lib in $(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
	done
}

vm_inputs_hash() {
	local pkg=$1 guest=$2
	{
		echo "$pkg"
		sha256sum "$guest" "$VM_LIB/vm-init" "$VM_LIB/vm.sh" | awk '{ print $1 }'
		dpkg-query -W -f='${Package} ${Version}\n' busybox-static iproute2 \
			iputils-ping iperf3 nftables bpftool 2>/dev/null
		echo "$VM_MODULES $VM_NOBTF_MODULES $VM_TOOLS"
	} | sha256sum | cut -c1-16
}

# vm_image: build (or reuse) the image; prints its directory.
vm_image() {
	local guest=${WGNET_VM_GUEST_BIN:-$BIN/wgnet-guest} pkg kdir ver hash img root m t
	[ -x "$guest" ] || { vm_log "$guest is missing (run make)"; return 1; }
	command -v busybox >/dev/null || { vm_log "busybox-static is not installed"; return 1; }
	pkg=$(vm_kernel_pkg) || { vm_log "no linux-image-*-amd64 package found (apt-get update?)"; return 1; }
	kdir=$(vm_kernel "$pkg") || return 1
	ver=$(cat "$kdir/version")
	hash=$(vm_inputs_hash "$(basename "$kdir")" "$guest")
	img="$VM_DIR/img-$hash"
	if [ -f "$img/.done" ]; then
		echo "$img"
		return 0
	fi
	exec 8>"$VM_DIR/.build.lock"
	flock 8
	if [ -f "$img/.done" ]; then
		flock -u 8
		echo "$img"
		return 0
	fi
	vm_log "building image $hash (kernel $ver)"
	rm -rf "$img"
	root="$img/root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,var/lib,root}
	install -m 0755 "$(command -v busybox)" "$root/bin/busybox"
	# Applets, except where the real tool is copied in.
	for t in $(busybox --list); do
		[ "$t" = busybox ] && continue
		case " $VM_TOOLS " in */"$t "*) continue ;; esac
		ln -s busybox "$root/bin/$t"
	done
	for t in $VM_TOOLS "$guest"; do
		[ -x "$t" ] || { vm_log "skipping missing tool $t"; continue; }
		vm_copy_bin "$root" "$t"
	done
	if [ "$guest" != /usr/sbin/wgnet-guest ]; then
		mv "$root$guest" "$root/usr/sbin/wgnet-guest"
		rmdir -p "$(dirname "$root$guest")" 2>/dev/null || true
		# A build tree under /tmp took the image's /tmp with it.
		mkdir -p "$root"/{tmp,usr/sbin}
	fi
	# busybox's shell runs its applets ahead of PATH (its "ip" and "ping"
	# instead of the real ones): scripts in the VM run under dash.
	t=$(readlink -f "$(command -v dash)" 2>/dev/null)
	if [ -x "$t" ]; then
		vm_copy_bin "$root" "$t"
		ln -sf "$t" "$root/bin/sh"
	fi
	for m in $(vm_mod_order "$kdir/root/lib/modules/$ver"); do
		mkdir -p "$(dirname "$root/lib/modules/$ver/$m")"
		case $m in
		*.xz) xz -dc "$kdir/root/lib/modules/$ver/$m" >"$root/lib/modules/$ver/${m%.xz}"
		      m=${m%.xz} ;;
		*.zst) zstd -qdc "$kdir/root/lib/modules/$ver/$m" >"$root/lib/modules/$ver/${m%.zst}"
		       m=${m%.zst} ;;
		*) cp "$kdir/root/lib/modules/$ver/$m" "$root/lib/modules/$ver/$m" ;;
		esac
		case " $VM_NOBTF_MODULES " in
		*" $(basename "$m" .ko) "*)
			objcopy --remove-section=.BTF "$root/lib/modules/$ver/$m" ||
				{ flock -u 8; return 1; } ;;
		esac
		echo "$m" >>"$root/etc/modules.load"
	done
	install -m 0755 "$VM_LIB/vm-init" "$root/init"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	: >"$root/etc/resolv.conf"
	printf '127.0.0.1 localhost\n' >"$root/etc/hosts"
	(cd "$root" && find . -print0 | sort -z | cpio -o -H newc -0 --quiet) >"$img/initrd.cpio" ||
		{ flock -u 8; return 1; }
	ln -f "$kdir/vmlinux" "$img/vmlinux" 2>/dev/null || cp "$kdir/vmlinux" "$img/vmlinux"
	rm -rf "$root"
	# Older images are not needed any more.
	for t in "$VM_DIR"/img-*; do
		[ "$t" = "$img" ] || rm -rf "$t"
	done
	touch "$img/.done"
	flock -u 8
	echo "$img"
}

vm_need_qemu() {
	command -v "$VM_QEMU" >/dev/null && return 0
	vm_log "installing qemu-system-x86"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		qemu-system-x86 >/dev/null 2>&1 || return 1
	command -v "$VM_QEMU" >/dev/null
}

# --- the lab hooks ---------------------------------------------------------

is_vm() { [ -f "$LAB_DIR/vm" ]; }

# Called by `wgnet-lab up --vm` once the underlay exists.
vm_lab_up() {
	local img
	vm_need_qemu || { vm_log "qemu-system-x86 is not available"; return 1; }
	img=$(vm_image) || return 1
	echo "$img" >"$LAB_DIR/vm"
}

vm_qemu_pid() {
	local d pid
	d=$(guest_dir "$1")
	pid=$(cat "$d/qemu.pid" 2>/dev/null) || return 1
	# Our qemu, not a recycled pid.
	grep -q "guest=wgnet-$1," "/proc/$pid/cmdline" 2>/dev/null || return 1
	echo "$pid"
}

# vm_guest_boot NAME: the tap, qemu, and wait for the agent's Hello.
vm_guest_boot() {
	local g=$1 d img num ip mac t0 t1 pid qpid
	d=$(guest_dir "$g")
	img=$(cat "$LAB_DIR/vm")
	num=$(cat "$d/num")
	ip=$(cat "$d/ip")
	mac=$(printf '52:54:00:77:%02x:%02x' $((num / 256 % 256)) $((num % 256)))
	ip -n "$UL_NS" tuntap add dev "ul$num" mode tap || return 1
	ip -n "$UL_NS" link set "ul$num" master "$UL_BR" up || return 1
	rm -f "$d/guest.sock" "$d/exec.sock" "$d/qemu.pid"
	t0=$(date +%s%N)
	nsenter --net="/run/netns/$UL_NS" -- setsid "$VM_QEMU" \
		-name "guest=wgnet-$g,debug-threads=off" \
		-accel "${WGNET_VM_ACCEL:-tcg,thread=multi}" -cpu max -m "$VM_MEM" -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$d/console.log" -monitor none \
		-kernel "$img/vmlinux" -initrd "$img/initrd.cpio" \
		-append "console=ttyS0 quiet panic=-1 random.trust_cpu=on wgnet.name=$g wgnet.ip=$ip/$UL_PLEN wgnet.gw=$UL_GW" \
		-netdev "tap,id=n0,ifname=ul$num,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$mac" \
		-device virtio-rng-pci \
		-device virtio-serial-pci \
		-chardev "socket,id=ctl,path=$d/guest.sock,server=on,wait=off" \
		-device virtserialport,chardev=ctl,name=wgnet \
		-chardev "socket,id=exe,path=$d/exec.sock,server=on,wait=off" \
		-device virtserialport,chardev=exe,name=wgnet-exec \
		-pidfile "$d/qemu.pid" \
		>>"$d/qemu.log" 2>&1 </dev/null &
	qpid=$!
	# nsenter and setsid exec, so this is qemu's pid; record it now so a
	# failed boot is cleaned up too (qemu rewrites the same pid later).
	echo "$qpid" >"$d/qemu.pid"
	local deadline=$((SECONDS + ${WGNET_VM_BOOT_TIMEOUT:-120}))
	# Ask through the exec channel whether the agent is up before any
	# client touches the control port: a client that gives up before the
	# agent opened its port would leave a request behind, answered later
	# to whoever connects next (the port has no connection boundaries).
	while [ $SECONDS -lt $deadline ]; do
		if [ -S "$d/exec.sock" ] && [ -S "$d/guest.sock" ] &&
			WGNET_VM_EXEC_TIMEOUT=$((deadline - SECONDS + 1)) vm_exec_script "$g" \
			'while ! grep -q " ready on " /run/wgnet/agent.log 2>/dev/null; do sleep 0.1; done' \
			>/dev/null 2>&1 &&
			"$BIN/wgnet-guest" call -s "$d/guest.sock" -t 10000 Hello >/dev/null 2>&1; then
			t1=$(date +%s%N)
			echo $(((t1 - t0) / 1000000)) >"$d/boot_ms"
			pid=$(vm_qemu_pid "$g") && echo "$pid" >"$d/pid"
			return 0
		fi
		if ! pid_alive "$qpid"; then
			vm_log "qemu of $g exited"
			tail -20 "$d/qemu.log" "$d/console.log" >&2
			return 1
		fi
		sleep 0.2
	done
	vm_log "the agent of $g did not answer (see $d/console.log)"
	tail -20 "$d/console.log" >&2
	return 1
}

# vm_guest_destroy NAME: kill qemu by its pid, remove the tap.
vm_guest_destroy() {
	local g=$1 d pid num
	d=$(guest_dir "$g")
	num=$(cat "$d/num" 2>/dev/null)
	if pid=$(vm_qemu_pid "$g"); then
		pid_stop "$pid" TERM
	fi
	rm -f "$d/qemu.pid" "$d/pid" "$d/guest.sock" "$d/exec.sock"
	[ -n "$num" ] && ip -n "$UL_NS" link del "ul$num" 2>/dev/null
	return 0
}

# vm_agent_start NAME: boot the VM, or (re)start the agent in a running one.
vm_agent_start() {
	local g=$1
	if vm_qemu_pid "$g" >/dev/null; then
		WGNET_VM_EXEC_TIMEOUT=30 vm_exec_script "$g" 'mv /run/wgnet/agent.log /run/wgnet/agent.log.old 2>/dev/null
rm -f /run/wgnet/agent.off
while ! grep -q " ready on " /run/wgnet/agent.log 2>/dev/null; do sleep 0.1; done' >/dev/null || return 1
		# Not asked on the control port: qemu serves it to one client,
		# and wgnet-host keeps its connection to the guest.
		return 0
	fi
	vm_guest_boot "$g"
}

# vm_agent_stop NAME [SIG]: stop the agent inside the VM (init does not
# restart it until vm_agent_start).
vm_agent_stop() {
	local g=$1 sig=${2:-TERM}
	vm_qemu_pid "$g" >/dev/null || return 0
	vm_exec "$g" sh -c "touch /run/wgnet/agent.off; p=\$(cat /run/wgnet/agent.pid 2>/dev/null) && kill -$sig \$p; for i in \$(seq 50); do kill -0 \$p 2>/dev/null || exit 0; sleep 0.1; done; kill -KILL \$p" >/dev/null 2>&1
	return 0
}

# vm_exec NAME CMD ARGS...: run in the VM (root namespace), output and exit
# status passed through. Through the "wgnet-exec" port: one line
# "TOKEN BASE64(script)" in; "BEGIN TOKEN", base64 stdout, "SEP TOKEN",
# base64 stderr, "END TOKEN RC" out. Lines before our BEGIN are the leftovers
# of an earlier client that went away; they are skipped.
# busybox's shell runs its own applet for a bare command name even when
# PATH has the real tool first (ip, ping, ...): name the program by path.
vm_quote_cmd() {
	local a q out="" first=1
	for a in "$@"; do
		q=${a//\'/\'\\\'\'}
		if [ $first = 1 ] && [[ $a != */* ]]; then
			out+="p='$q'; for d in /usr/sbin /usr/bin /sbin /bin; do [ -x \"\$d/\$p\" ] && { p=\$d/\$p; break; }; done; \"\$p\" "
		else
			out+="'$q' "
		fi
		first=0
	done
	echo "$out"
}

vm_exec() {
	local g=$1
	shift
	vm_exec_script "$g" "$(vm_quote_cmd "$@")"
}

vm_exec_script() {
	local g=$1 script=$2
	python3 - "$(guest_dir "$g")/exec.sock" "${WGNET_VM_EXEC_TIMEOUT:-300}" "$script" <<'EOF'
import base64, os, socket, sys, time
path, timeout, script = sys.argv[1], float(sys.argv[2]), sys.argv[3]
tok = "T" + os.urandom(8).hex()
deadline = time.monotonic() + timeout
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(timeout)
try:
    s.connect(path)
    s.sendall((tok + " " + base64.b64encode(script.encode()).decode() + "\n").encode())
    buf, lines, state, out, err = b"", [], 0, [], []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        s.settimeout(left)
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("the guest closed the exec channel")
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.decode(errors="replace").strip()
            if state == 0:
                if line == "BEGIN " + tok:
                    state = 1
            elif state == 1:
                if line == "SEP " + tok:
                    state = 2
                else:
                    out.append(line)
            elif state == 2:
                if line.startswith("END " + tok + " "):
                    sys.stdout.buffer.write(base64.b64decode("".join(out)))
                    sys.stdout.flush()
                    sys.stderr.buffer.write(base64.b64decode("".join(err)))
                    sys.exit(int(line.split()[2]))
                err.append(line)
except (OSError, TimeoutError, ConnectionError) as e:
    sys.stderr.write("wgnet-lab: vm exec: %s\n" % (e or "timeout"))
    sys.exit(125)
EOF
}

# Containers: a network namespace inside the VM (same name as in the
# namespace lab), its command started in the background there.
vm_ctr_create() {
	local g=$1 ns=$2 name=$3
	vm_exec_script "$g" "/usr/sbin/ip netns add '$ns' && /usr/sbin/ip -n '$ns' link set lo up &&
mkdir -p /etc/netns/$ns /run/ctr &&
echo 'nameserver 127.0.0.11' >/etc/netns/$ns/resolv.conf &&
echo '127.0.0.1 localhost $name' >/etc/netns/$ns/hosts"
}

vm_ctr_start() {
	local g=$1 ns=$2 script="" a q
	shift 2
	for a in "$@"; do
		q=${a//\'/\'\\\'\'}
		script+="'$q' "
	done
	vm_exec_script "$g" "setsid /usr/sbin/ip netns exec '$ns' $script >/run/ctr/$ns.log 2>&1 </dev/null &
echo \$! >/run/ctr/$ns.pid"
}

vm_ctr_remove() {
	local g=$1 ns=$2
	vm_qemu_pid "$g" >/dev/null || return 0
	vm_exec_script "$g" "p=\$(cat /run/ctr/$ns.pid 2>/dev/null) && kill -TERM -\$p 2>/dev/null || kill -TERM \$p 2>/dev/null
/usr/sbin/ip netns pids '$ns' 2>/dev/null | xargs -r kill -KILL 2>/dev/null
/usr/sbin/ip netns del '$ns' 2>/dev/null; rm -rf /etc/netns/$ns /run/ctr/$ns.pid; true" >/dev/null 2>&1
}

# Memory and boot time of the running VMs (docs/vm.md).
vm_stats() {
	local g d pid
	printf 'GUEST\tQEMU_PID\tRSS_MB\tBOOT_MS\n'
	for g in $(ls "$LAB_DIR/guests" 2>/dev/null); do
		d=$(guest_dir "$g")
		pid=$(vm_qemu_pid "$g") || continue
		printf '%s\t%s\t%s\t%s\n' "$g" "$pid" \
			"$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$pid/status")" \
			"$(cat "$d/boot_ms" 2>/dev/null)"
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	BIN=${WGNET_BIN:-$(cd "$VM_LIB/.." && pwd)/build}
	case ${1:-} in
	build) vm_image ;;
	*) echo "usage: vm.sh build" >&2; exit 2 ;;
	esac
fi
