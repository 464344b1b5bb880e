#!/usr/bin/env bash
# Issue 5: the stock docker CLI (28.x in the image, Debian's 20.10) against
# wgnet-host's Docker Engine API in a private lab: create with every IPAM
# flag, ls with filters and --format, inspect with -f, connect with --ip and
# --alias (traffic checked), disconnect, rm refused while attached, rm,
# prune, and each error case with the CLI's exit status and message.
# Each CLI found runs the whole scenario. No dockerd is ever started.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lablib.sh"

# --- which docker CLIs ---------------------------------------------------
CLIS=()
for d in ${WGNET_DOCKER_CLIS:-/usr/local/bin/docker /usr/bin/docker}; do
	[ -x "$d" ] && CLIS+=("$d")
done
if [ ${#CLIS[@]} -eq 0 ]; then
	# Only the client binary of Debian's docker.io is needed: unpack the
	# package instead of installing it, so no daemon can be started.
	cache=/var/cache/wgnet-test/docker.io
	if [ ! -x "$cache/usr/bin/docker" ]; then
		command -v apt-get >/dev/null || skip "no docker CLI and no apt-get"
		mkdir -p "$cache/deb"
		(cd "$cache/deb" && apt-get download docker.io >/dev/null 2>&1) ||
			{ apt-get update -qq >/dev/null 2>&1 &&
				(cd "$cache/deb" && apt-get download docker.io >/dev/null 2>&1); } ||
			skip "no docker CLI and docker.io cannot be downloaded"
		dpkg-deb -x "$cache"/deb/docker.io_*.deb "$cache" || fail "cannot unpack docker.io"
	fi
	CLIS+=("$cache/usr/bin/docker")
fi

export DOCKER_HOST=unix://$TMP/docker.sock
export WGNET_HOST_ARGS="--docker-socket $TMP/docker.sock"
# The CLI must not read or write the machine's docker config.
export DOCKER_CONFIG=$TMP/docker-config
mkdir -p "$DOCKER_CONFIG"
lab_up
[ -S "$TMP/docker.sock" ] || fail "no docker socket at $TMP/docker.sock"
[ "$(stat -c %a "$TMP/docker.sock")" = 660 ] || fail "docker socket mode is not 0660"

# run CMD...: sets $out (stdout+stderr) and $rc, never exits
run() { set +e; out=$("$@" 2>&1); rc=$?; set -e; }
# must_fail WHAT PATTERN CMD...: exit status 1 and the message
must_fail() {
	local what=$1 pat=$2; shift 2
	run "$@"
	[ $rc -eq 1 ] || fail "$what: exit status $rc (want 1): $out"
	echo "$out" | grep -qiE "$pat" || fail "$what: message lacks /$pat/: $out"
}
# names of the networks the CLI lists, sorted, on one line
names() { "$D" network ls --format '{{.Name}}' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
# the container's address on a network, from the CLI's inspect
caddr() {
	"$D" network inspect "$1" -f '{{range .Containers}}{{.Name}}={{.IPv4Address}} {{end}}' |
		tr ' ' '\n' | awk -F= -v c="$2" '$1==c{sub("/.*","",$2); print $2}'
}

round=0
for D in "${CLIS[@]}"; do
	round=$((round + 1))
	p=r$round # per-round names and subnets: rounds do not collide
	s=$((140 + round * 10))
	ver=$("$D" version --format '{{.Client.Version}}' 2>/dev/null || true)
	log "round $round: $D (client $ver)"

	api=$("$D" version --format '{{.Server.APIVersion}}') || fail "$D version"
	[ "$api" = 1.41 ] || fail "server API version seen by $D: $api"
	"$D" version --format '{{.Server.MinAPIVersion}}' | grep -qx 1.24 || fail "MinAPIVersion"
	[ "$("$D" info --format '{{.OSType}}')" = linux ] || fail "$D info"
	ok "[$ver] version: API $api negotiated; info answers"

	# --- create with every IPAM flag ------------------------------------
	run "$D" network create --subnet 10.$s.0.0/24 --ip-range 10.$s.0.128/25 \
		--gateway 10.$s.0.254 --internal --label env=test --label keep \
		-o com.example.mtu=1400 ${p}net1
	[ $rc -eq 0 ] || fail "create ${p}net1: $out"
	[[ $out =~ ^[0-9a-f]{64}$ ]] || fail "create did not print a 64-hex id: $out"
	id1=$out
	got=$("$D" network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' ${p}net1)
	[ "$got" = 10.$s.0.0/24 ] || fail "inspect Subnet: $got"
	got=$("$D" network inspect -f '{{range .IPAM.Config}}{{.Gateway}} {{.IPRange}}{{end}}' ${p}net1)
	[ "$got" = "10.$s.0.254 10.$s.0.128/25" ] || fail "inspect Gateway/IPRange: $got"
	got=$("$D" network inspect -f '{{.Id}} {{.Internal}} {{.Scope}} {{index .Labels "env"}} {{index .Options "com.example.mtu"}}' ${p}net1)
	[ "$got" = "$id1 true local test 1400" ] || fail "inspect Id/Internal/Scope/Labels/Options: $got"
	got=$("$D" network inspect -f '{{.Name}}' "${id1:0:12}")
	[ "$got" = ${p}net1 ] || fail "inspect by id prefix: $got"
	run "$D" network create --ipv6 --subnet fd00:$s::/64 --gateway fd00:$s::fe \
		--subnet 10.$((s + 1)).0.0/24 ${p}net6
	[ $rc -eq 0 ] || fail "create ${p}net6 (IPv6): $out"
	got=$("$D" network inspect -f '{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}},{{.Gateway}} {{end}}' ${p}net6)
	[ "$got" = "true 10.$((s + 1)).0.0/24,10.$((s + 1)).0.1 fd00:$s::/64,fd00:$s::fe " ] ||
		fail "inspect IPv6 network: $got"
	run "$D" network create ${p}net2
	[ $rc -eq 0 ] || fail "create ${p}net2 (default pool): $out"
	got=$("$D" network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' ${p}net2)
	[[ $got =~ ^172\.(1[89]|2[0-9]|3[01])\.0\.0/16$ ]] || fail "default pool subnet: $got"
	# the JSON output is an array of Docker-shaped objects
	"$D" network inspect ${p}net1 ${p}net2 | python3 -c '
import json,sys
d=json.load(sys.stdin)
assert len(d)==2, d
for n in d:
    for k in ("Name","Id","Created","Scope","Driver","EnableIPv6","IPAM","Internal",
              "Attachable","Ingress","ConfigFrom","ConfigOnly","Containers","Options","Labels"):
        assert k in n, k' || fail "inspect JSON shape"
	ok "[$ver] create with --subnet/--ip-range/--gateway/--internal/--label/-o/--ipv6; inspect -f"

	# --- ls with --format and filters -----------------------------------
	[ "$(names)" = "${p}net1 ${p}net2 ${p}net6" ] || fail "ls --format: $(names)"
	[ "$(names -f name=${p}net1)" = ${p}net1 ] || fail "ls -f name: $(names -f name=${p}net1)"
	[ "$(names -f name=${p}net1 -f name=${p}net2)" = "${p}net1 ${p}net2" ] || fail "ls -f name twice"
	[ "$(names -f label=env=test)" = ${p}net1 ] || fail "ls -f label=k=v"
	[ "$(names -f label=keep -f label=env=test)" = ${p}net1 ] || fail "ls -f label twice"
	[ -z "$(names -f label=env=prod)" ] || fail "ls -f label=env=prod matched"
	[ "$(names -f id="${id1:0:12}")" = ${p}net1 ] || fail "ls -f id"
	[ "$(names -f driver=wgnet)" = "${p}net1 ${p}net2 ${p}net6" ] || fail "ls -f driver"
	[ "$(names -f dangling=true)" = "${p}net1 ${p}net2 ${p}net6" ] || fail "ls -f dangling"
	[ "$("$D" network ls -q --no-trunc -f name=${p}net1)" = "$id1" ] || fail "ls -q --no-trunc"
	"$D" network ls | head -1 | grep -q "NETWORK ID *NAME *DRIVER *SCOPE" || fail "ls table header"
	"$D" network ls | grep -qE "^${id1:0:12} +${p}net1 +wgnet +local$" || fail "ls table row"
	ok "[$ver] ls --format, -q --no-trunc, -f name/label/id/driver/dangling"

	# --- errors before any container -----------------------------------
	must_fail "duplicate name" "network with name ${p}net1 already exists" \
		"$D" network create ${p}net1
	must_fail "overlapping subnet" "Pool overlaps with other one on this address space" \
		"$D" network create --subnet 10.$s.0.0/16 ${p}over
	must_fail "bad CIDR" "invalid subnet 10.$s.9.300/24" \
		"$D" network create --subnet 10.$s.9.300/24 ${p}bad
	must_fail "host bits in subnet" "invalid subnet" \
		"$D" network create --subnet 10.$((s + 2)).0.5/24 ${p}bad
	must_fail "gateway outside the subnet" "gateway|no matching subnet" \
		"$D" network create --subnet 10.$((s + 2)).0.0/24 --gateway 10.99.0.1 ${p}bad
	must_fail "unsupported driver" "not supported" \
		"$D" network create -d overlay ${p}bad
	must_fail "inspect unknown" "No such network|not found" "$D" network inspect ${p}none
	must_fail "rm unknown" "network ${p}none not found|No such network" "$D" network rm ${p}none
	must_fail "connect unknown network" "network ${p}none not found" \
		"$D" network connect ${p}none nobody
	must_fail "connect unknown container" "No such container: ${p}nobody" \
		"$D" network connect ${p}net1 ${p}nobody
	must_fail "disconnect unknown container" "${p}nobody" \
		"$D" network disconnect ${p}net1 ${p}nobody
	must_fail "unknown ls filter" "invalid filter 'bogus'" "$D" network ls -f bogus=1
	[ "$(names)" = "${p}net1 ${p}net2 ${p}net6" ] || fail "a failed command changed the networks"
	ok "[$ver] errors: exit status 1 and Docker's messages"

	# --- containers: connect with --ip/--alias, traffic, disconnect ------
	lab run --name ${p}c1 --network ${p}net2 >/dev/null || fail "lab run ${p}c1"
	lab run --name ${p}c2 --network ${p}net2 >/dev/null || fail "lab run ${p}c2"
	run "$D" network connect --ip 10.$s.0.10 --alias web --alias www ${p}net1 ${p}c2
	[ $rc -eq 0 ] && [ -z "$out" ] || fail "connect --ip --alias: rc=$rc $out"
	run "$D" network connect ${p}net1 ${p}c1
	[ $rc -eq 0 ] || fail "connect ${p}c1: $out"
	[ "$(caddr ${p}net1 ${p}c2)" = 10.$s.0.10 ] || fail "--ip not honoured: $(caddr ${p}net1 ${p}c2)"
	[ "$(caddr ${p}net1 ${p}c1)" = 10.$s.0.128 ] || fail "--ip-range not used: $(caddr ${p}net1 ${p}c1)"
	got=$("$D" network inspect -f '{{range .Containers}}{{if eq .Name "'${p}c2'"}}{{.Aliases}}{{end}}{{end}}' ${p}net1)
	[ "$got" = "[web www]" ] || fail "aliases in inspect: $got"
	lab exec ${p}c2 -- ip -4 addr show | grep -q "inet 10.$s.0.10/24" || fail "address not in ${p}c2"
	reach ${p}c1 10.$s.0.10 || fail "${p}c1 cannot reach ${p}c2 on ${p}net1"
	[ "$(names -f dangling=false)" = "${p}net1 ${p}net2" ] || fail "ls -f dangling=false: $(names -f dangling=false)"
	ok "[$ver] connect --ip --alias: address, aliases, traffic"

	must_fail "connect twice" "already exists" "$D" network connect ${p}net1 ${p}c2
	run "$D" network connect --ip 10.$((s + 1)).0.20 ${p}net6 ${p}c2
	[ $rc -eq 0 ] || fail "connect ${p}c2 to ${p}net6: $out"
	must_fail "taken --ip" "in use" "$D" network connect --ip 10.$((s + 1)).0.20 ${p}net6 ${p}c1
	run "$D" network disconnect ${p}net6 ${p}c2
	[ $rc -eq 0 ] || fail "disconnect ${p}c2 from ${p}net6: $out"
	must_fail "--ip outside the subnet" "does not belong|invalid" \
		"$D" network connect --ip 10.99.0.10 ${p}net6 ${p}c1
	must_fail "rm while attached" \
		"error while removing network: network ${p}net1 id $id1 has active endpoints" \
		"$D" network rm ${p}net1
	ok "[$ver] connect twice, bad --ip and rm while attached refused"

	run "$D" network disconnect ${p}net1 ${p}c2
	[ $rc -eq 0 ] || fail "disconnect: $out"
	[ -z "$(caddr ${p}net1 ${p}c2)" ] || fail "${p}c2 still in inspect after disconnect"
	lab exec ${p}c2 -- ip -4 addr show | grep -q "10.$s.0.10" && fail "address left in ${p}c2"
	reach_now ${p}c1 10.$s.0.10 && fail "${p}c1 still reaches the disconnected address"
	must_fail "disconnect twice" "not connected" "$D" network disconnect ${p}net1 ${p}c2
	run "$D" network disconnect -f ${p}net1 ${p}c1
	[ $rc -eq 0 ] || fail "disconnect -f: $out"
	ok "[$ver] disconnect and disconnect -f"

	# --- rm and prune ----------------------------------------------------
	run "$D" network rm ${p}net1
	[ $rc -eq 0 ] && [ "$out" = ${p}net1 ] || fail "rm: rc=$rc $out"
	must_fail "inspect removed" "No such network|not found" "$D" network inspect ${p}net1
	"$D" network create --label keep ${p}kept >/dev/null
	"$D" network create ${p}gone >/dev/null
	run "$D" network prune -f --filter label!=keep
	[ $rc -eq 0 ] || fail "prune --filter label!=keep: $out"
	echo "$out" | grep -qx ${p}gone || fail "prune did not delete ${p}gone: $out"
	echo "$out" | grep -qx ${p}net6 || fail "prune did not delete ${p}net6: $out"
	echo "$out" | grep -qx ${p}net2 && fail "prune deleted ${p}net2 (in use)"
	echo "$out" | grep -qx ${p}kept && fail "prune ignored label!=keep"
	[ "$(names)" = "${p}kept ${p}net2" ] || fail "after prune: $(names)"
	must_fail "prune with a list-only filter" "invalid filter 'name'" \
		"$D" network prune -f --filter name=x
	run "$D" network prune -f
	[ $rc -eq 0 ] || fail "prune: $out"
	[ "$(names)" = ${p}net2 ] || fail "after the second prune: $(names)"
	lab rm ${p}c1 >/dev/null
	lab rm ${p}c2 >/dev/null
	run "$D" network rm ${p}net2
	[ $rc -eq 0 ] || fail "rm ${p}net2 after its containers left: $out"
	[ -z "$(names)" ] || fail "networks left: $(names)"
	ok "[$ver] rm, prune -f (with label! filter), in-use networks kept"
done
ok "docker CLI scenario passed with ${#CLIS[@]} CLI(s): ${CLIS[*]}"
