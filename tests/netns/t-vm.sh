#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# wgnet-lab --vm: three qemu micro-VMs (software emulation) booted from
# Debian's kernel package, the kernel WireGuard backend, the scenario of
# vm-scenario.sh. Slow (a few minutes): one scenario only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"

# Only this test needs qemu; it installs what it uses.
missing=()
for p in qemu-system-x86 busybox-static xz-utils zstd binutils cpio python3; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}"; } >/dev/null 2>&1 ||
		skip "cannot install ${missing[*]}"
fi
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64"

# Build (or reuse) the image first: its time is not the boot time.
t=$(date +%s)
WGNET_BIN=$WGNET_BIN bash "$(dirname "$0")/../../lab/vm.sh" build >/dev/null ||
	skip "no VM image (kernel package not available?)"
log "VM image ready in $(($(date +%s) - t)) s"

scen_report() {
	local g d pid
	for g in $(ls "$WGNET_LAB_DIR/guests"); do
		d=$WGNET_LAB_DIR/guests/$g
		pid=$(cat "$d/qemu.pid")
		log "vm $g: qemu start -> agent ready $(cat "$d/boot_ms") ms, qemu RSS $(awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$pid/status") MiB"
	done
}

SCEN_UP_ARGS=--vm
SCEN_BACKEND=kernel
source "$(dirname "$0")/vm-scenario.sh"
