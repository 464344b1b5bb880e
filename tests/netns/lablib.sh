# Lab-based tests (sourced after lib.sh): a private lab with unique names,
# torn down on exit even on failure.
export WGNET_LAB_DIR=$TMP/lab
export WGNET_LAB_PREFIX=${WGNET_LAB_PREFIX:-t$(( $$ % 1000 ))}
export WGNET_HOST_SOCK=$TMP/host.sock
LP=$WGNET_LAB_PREFIX
lab() { "$WGNET_BIN/wgnet-lab" "$@"; }
wgnet() { "$WGNET_BIN/wgnet" "$@"; }
at_exit 'lab down'
lab_up() { lab up >/dev/null || fail "wgnet-lab up"; }
# cip NAME [NET]: the container's IPv4 address on NET (or its first)
cip() {
	wgnet network inspect "${2:-$(first_net "$1")}" | python3 -c '
import json,sys
for n in json.load(sys.stdin):
    for c in n["Containers"].values():
        if c["Name"] == sys.argv[1]: print(c["IPv4Address"].split("/")[0])' "$1"
}
first_net() { lab exec "$1" -- true; wgnet network ls --format '{{.Name}}' | head -1; }
# reach FROM ADDR: one ping within 2 s
reach() { lab exec "$1" -- ping -c 1 -W 2 "$2" >/dev/null 2>&1; }
