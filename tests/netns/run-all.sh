#!/usr/bin/env bash
# Runs every namespace integration test (tests/netns/t-*.sh), each in its own
# process; a test exits 0 (pass), 77 (skip) or anything else (fail).
# Usage: run-all.sh [PATTERN]   e.g. run-all.sh guest
set -u
here=$(cd "$(dirname "$0")" && pwd)
export WGNET_BIN=${WGNET_BIN:-$(cd "$here/../.." && pwd)/build}
pass=0 fail=0 skip=0 failed=()
[ "$(id -u)" = 0 ] || { echo "netns tests need root"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
for t in "$here"/t-*.sh; do
	name=$(basename "$t" .sh)
	[ -n "${1:-}" ] && [[ $name != *$1* ]] && continue
	start=$(date +%s)
	log=$(mktemp /tmp/wgnet-test-XXXXXX.log)
	timeout --kill-after=10 "${WGNET_TEST_TIMEOUT:-900}" bash "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS  $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP  $name: $(tail -1 "$log")" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "FAIL  $name (rc=$rc, ${secs}s)"; sed 's/^/    | /' "$log" | tail -60 ;;
	esac
	rm -f "$log"
done
echo
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
